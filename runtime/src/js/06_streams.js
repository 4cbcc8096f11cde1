// isoproxy glue, part 6: ReadableStream and its default reader and
// controller, plus native bodies exposed as ReadableStreams that can be
// handed back to Rust untouched. Spec: https://streams.spec.whatwg.org/
// WritableStream, TransformStream and the queuing strategies are in
// 06_streams_writable.js; byte streams (ReadableByteStreamController, BYOB
// readers) in 06_streams_bytes.js. Both use what this file shares in
// `internal.streams`.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    Number, Promise, RangeError, String, Symbol, TypeError, Uint8Array, ArrayPrototypePush, ArrayPrototypeShift,
    NumberIsNaN, PromisePrototypeThen, PromiseReject, PromiseResolve, ReflectApply, SafePromiseAllSettled,
    TypedArrayPrototypeSet,
  } = internal.primordials;
  const { TextEncoder } = globalThis;
  const noop = () => {};

  const kState = Symbol("state");
  const kNative = Symbol("nativeBody");
  let creating = false;
  // Filled by 06_streams_bytes.js (loaded next): the byte-stream controller.
  const hooks = {};

  const resolved = (v) => PromiseResolve(v);
  // A read request: what the stream does with the reader's next chunk
  // (https://streams.spec.whatwg.org/#read-request). `readResult` is the
  // promise-backed one that read() hands out.
  function readResult() {
    const d = deferred();
    return {
      promise: d.promise,
      chunk: (value) => d.resolve({ value, done: false }),
      close: (value) => d.resolve({ value, done: true }),
      error: d.reject,
    };
  }
  function deferred() {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    PromisePrototypeThen(promise, undefined, noop);
    return { promise, resolve, reject };
  }
  function call(obj, name, args, fallback = undefined) {
    const f = obj?.[name];
    if (f === undefined || f === null) return fallback;
    if (typeof f !== "function") throw new TypeError(`${name} must be a function`);
    return ReflectApply(f, obj, args);
  }
  function promiseCall(obj, name, args) {
    try { return resolved(call(obj, name, args)); } catch (e) { return PromiseReject(e); }
  }
  function strategyOf(strategy, defaultHwm) {
    const hwm = strategy?.highWaterMark === undefined ? defaultHwm : Number(strategy.highWaterMark);
    if (NumberIsNaN(hwm) || hwm < 0) throw new RangeError("highWaterMark must be a non-negative number");
    const size = strategy?.size;
    if (size !== undefined && typeof size !== "function") throw new TypeError("size must be a function");
    return { hwm, size: size ? (c) => ReflectApply(size, undefined, [c]) : () => 1 };
  }

  // https://streams.spec.whatwg.org/#rs-default-controller-class
  class ReadableStreamDefaultController {
    constructor() { if (!creating) throw new TypeError("Illegal constructor"); }
    get desiredSize() { return desiredSize(this[kState].stream); }
    close() {
      const c = this[kState];
      if (c.closeRequested || c.stream[kState].state !== "readable") throw new TypeError("The stream is not in a state that permits close");
      c.closeRequested = true;
      if (c.queue.length === 0) { clearAlgorithms(c); closeStream(c.stream); }
    }
    enqueue(chunk) {
      const c = this[kState];
      if (c.closeRequested || c.stream[kState].state !== "readable") throw new TypeError("The stream is not in a state that permits enqueue");
      const s = c.stream[kState];
      if (s.reader && s.reader[kState].requests.length > 0) {
        ArrayPrototypeShift(s.reader[kState].requests).chunk(chunk);
      } else {
        let size;
        try { size = c.size(chunk); if (!(size >= 0) || size === Infinity) throw new RangeError("invalid chunk size"); } catch (e) { errorStream(c.stream, e); throw e; }
        ArrayPrototypePush(c.queue, { chunk, size });
        c.queueSize += size;
      }
      pullIfNeeded(c);
    }
    error(e) { if (this[kState].stream[kState].state === "readable") errorStream(this[kState].stream, e); }
  }
  internal.brand(ReadableStreamDefaultController, "ReadableStreamDefaultController");

  function desiredSize(stream) {
    const s = stream[kState];
    if (s.state === "errored") return null;
    if (s.state === "closed") return 0;
    return s.controller[kState].hwm - s.controller[kState].queueSize;
  }
  function clearAlgorithms(c) { c.pull = null; c.cancel = null; }

  function pullIfNeeded(c) {
    const s = c.stream[kState];
    if (!c.started || c.closeRequested || s.state !== "readable" || !c.pull) return;
    const wanted = (s.reader && s.reader[kState].requests.length > 0) || desiredSize(c.stream) > 0;
    if (!wanted) return;
    if (c.pulling) { c.pullAgain = true; return; }
    c.pulling = true;
    PromisePrototypeThen(c.pull(), () => {
      c.pulling = false;
      if (c.pullAgain) { c.pullAgain = false; pullIfNeeded(c); }
    }, (e) => { if (c.stream[kState].state === "readable") errorStream(c.stream, e); });
  }

  function closeStream(stream) {
    const s = stream[kState];
    s.state = "closed";
    const r = s.reader;
    if (!r) return;
    r[kState].closed.resolve(undefined);
    if (r[kState].byob) return;
    const requests = r[kState].requests;
    r[kState].requests = [];
    for (let i = 0; i < requests.length; i++) requests[i].close(undefined);
  }
  function errorStream(stream, e) {
    const s = stream[kState];
    if (s.state !== "readable") return;
    s.state = "errored";
    s.error = e;
    clearAlgorithms(s.controller[kState]);
    if (s.controller[kState].isBytes) hooks.clearPendingPullIntos(s.controller[kState]);
    s.controller[kState].queue = [];
    s.controller[kState].queueSize = 0;
    const r = s.reader;
    if (!r) return;
    r[kState].closed.reject(e);
    const requests = r[kState].requests;
    r[kState].requests = [];
    for (let i = 0; i < requests.length; i++) requests[i].error(e);
  }

  // https://streams.spec.whatwg.org/#readable-stream-cancel
  function cancelStream(stream, reason) {
    const s = stream[kState];
    s.disturbed = true;
    if (s.state === "closed") return resolved(undefined);
    if (s.state === "errored") return PromiseReject(s.error);
    const c = s.controller[kState];
    closeStream(stream);
    if (s.reader && s.reader[kState].byob) {
      const requests = s.reader[kState].requests;
      s.reader[kState].requests = [];
      for (let i = 0; i < requests.length; i++) requests[i].close(undefined);
    }
    if (c.isBytes) hooks.clearPendingPullIntos(c);
    c.queue = [];
    c.queueSize = 0;
    const cancel = c.cancel;
    clearAlgorithms(c);
    return PromisePrototypeThen(cancel ? cancel(reason) : resolved(), noop);
  }

  // https://streams.spec.whatwg.org/#rs-class
  class ReadableStream {
    // https://streams.spec.whatwg.org/#rs-constructor
    constructor(source = undefined, strategy = {}) {
      if (source === null) throw new TypeError("underlyingSource must not be null");
      const type = source?.type === undefined ? undefined : String(source.type);
      if (type !== undefined && type !== "bytes") throw new TypeError(`invalid type ${type}`);
      if (type === "bytes") {
        if (strategy?.size !== undefined) throw new RangeError("a byte stream's strategy cannot have a size");
        const { hwm } = strategyOf(strategy, 0);
        this[kState] = { state: "readable", reader: null, error: undefined, disturbed: false, controller: null };
        hooks.setUpByteController(this, source, hwm);
        return;
      }
      const names = ["cancel", "pull", "start"];
      for (let i = 0; i < names.length; i++) {
        const f = source?.[names[i]];
        if (f !== undefined && typeof f !== "function") throw new TypeError(`${names[i]} must be a function`);
      }
      const { hwm, size } = strategyOf(strategy, 1);
      this[kState] = { state: "readable", reader: null, error: undefined, disturbed: false, controller: null };
      creating = true;
      let controller;
      try { controller = new ReadableStreamDefaultController(); } finally { creating = false; }
      const c = {
        stream: this, queue: [], queueSize: 0, hwm, size, isBytes: false,
        started: false, pulling: false, pullAgain: false, closeRequested: false,
        pull: source?.pull ? () => promiseCall(source, "pull", [controller]) : () => resolved(),
        cancel: (r) => promiseCall(source, "cancel", [r]),
      };
      controller[kState] = c;
      this[kState].controller = controller;
      const startResult = call(source, "start", [controller]);
      PromisePrototypeThen(resolved(startResult), () => { c.started = true; pullIfNeeded(c); }, (e) => errorStream(this, e));
    }
    get locked() { return this[kState].reader !== null; }
    // https://streams.spec.whatwg.org/#rs-cancel
    cancel(reason = undefined) {
      if (this.locked) return PromiseReject(new TypeError("Cannot cancel a locked stream"));
      return cancelStream(this, reason);
    }
    // https://streams.spec.whatwg.org/#rs-get-reader
    getReader(options = {}) {
      if (options !== null && typeof options !== "object" && typeof options !== "function") throw new TypeError("getReader: options must be an object");
      if (options?.mode !== undefined) {
        if (String(options.mode) !== "byob") throw new TypeError("invalid reader mode");
        return new hooks.ReadableStreamBYOBReader(this);
      }
      return new ReadableStreamDefaultReader(this);
    }
    // https://streams.spec.whatwg.org/#rs-pipe-through
    pipeThrough(transform, options = {}) {
      if (this.locked) throw new TypeError("The stream is locked");
      if (transform?.writable?.locked) throw new TypeError("The writable is locked");
      PromisePrototypeThen(this.pipeTo(transform.writable, options), undefined, noop);
      return transform.readable;
    }
    // https://streams.spec.whatwg.org/#rs-pipe-to
    pipeTo(dest, options = {}) {
      if (!(dest instanceof internal.streams.WritableStream)) return PromiseReject(new TypeError("pipeTo: destination must be a WritableStream"));
      if (this.locked || dest.locked) return PromiseReject(new TypeError("pipeTo: a stream is locked"));
      const { preventClose = false, preventAbort = false, preventCancel = false, signal } = options ?? {};
      const reader = this.getReader();
      const writer = dest.getWriter();
      return new Promise((resolve, reject) => {
        let done = false;
        const finish = (err, isError) => {
          if (done) return;
          done = true;
          reader.releaseLock();
          writer.releaseLock();
          if (isError) reject(err); else resolve(undefined);
        };
        const onAbort = () => {
          const reason = signal.reason;
          const actions = [];
          if (!preventAbort) ArrayPrototypePush(actions, writer.abort(reason));
          if (!preventCancel) ArrayPrototypePush(actions, reader.cancel(reason));
          PromisePrototypeThen(SafePromiseAllSettled(actions), () => finish(reason, true));
        };
        if (signal) {
          if (signal.aborted) { onAbort(); return; }
          signal.addEventListener("abort", onAbort, { once: true });
        }
        PromisePrototypeThen(writer.closed, undefined, (e) => {
          if (done) return;
          if (!preventCancel) PromisePrototypeThen(reader.cancel(e), undefined, noop);
          finish(e, true);
        });
        const step = () => {
          if (done) return;
          const failed = (e) => {
            if (done) return;
            if (preventAbort) finish(e, true);
            else PromisePrototypeThen(writer.abort(e), () => finish(e, true), () => finish(e, true));
          };
          PromisePrototypeThen(writer.ready, () => PromisePrototypeThen(reader.read(), ({ value, done: end }) => {
            if (done) return;
            if (end) {
              if (preventClose) finish(undefined, false);
              else PromisePrototypeThen(writer.close(), () => finish(undefined, false), (e) => finish(e, true));
              return;
            }
            PromisePrototypeThen(writer.write(value), undefined, noop);
            step();
          }, failed), failed);
        };
        step();
      });
    }
    // https://streams.spec.whatwg.org/#rs-tee
    tee() {
      const rid = takeNative(this);
      if (rid !== undefined) {
        const pair = ops.body_tee(rid);
        return [nativeStream(pair[0]), nativeStream(pair[1])];
      }
      if (this[kState].controller[kState].isBytes) return hooks.tee(this);
      const reader = this.getReader();
      let canceled1 = false, canceled2 = false, reason1, reason2, reading = false;
      const cancelDone = deferred();
      let c1, c2;
      const pull = () => {
        if (reading) return resolved();
        reading = true;
        PromisePrototypeThen(reader.read(), ({ value, done }) => {
          reading = false;
          if (done) {
            if (!canceled1) try { c1.close(); } catch {}
            if (!canceled2) try { c2.close(); } catch {}
            cancelDone.resolve();
            return;
          }
          if (!canceled1) c1.enqueue(value);
          if (!canceled2) c2.enqueue(canceled1 ? value : structuredCloneChunk(value));
        }, (e) => { reading = false; c1.error(e); c2.error(e); cancelDone.resolve(); });
        return resolved();
      };
      const b1 = new ReadableStream({
        start: (c) => { c1 = c; }, pull,
        cancel: (r) => { canceled1 = true; reason1 = r; if (canceled2) PromisePrototypeThen(reader.cancel([reason1, reason2]), cancelDone.resolve, cancelDone.reject); return cancelDone.promise; },
      });
      const b2 = new ReadableStream({
        start: (c) => { c2 = c; }, pull,
        cancel: (r) => { canceled2 = true; reason2 = r; if (canceled1) PromisePrototypeThen(reader.cancel([reason1, reason2]), cancelDone.resolve, cancelDone.reject); return cancelDone.promise; },
      });
      PromisePrototypeThen(reader.closed, undefined, (e) => { c1.error(e); c2.error(e); if (!canceled1 || !canceled2) cancelDone.resolve(); });
      return [b1, b2];
    }
    // https://streams.spec.whatwg.org/#rs-asynciterator
    values({ preventCancel = false } = {}) {
      const reader = this.getReader();
      let finished = false;
      return {
        next() {
          if (finished) return resolved({ value: undefined, done: true });
          return PromisePrototypeThen(reader.read(), (r) => { if (r.done) { finished = true; reader.releaseLock(); } return r; }, (e) => { finished = true; reader.releaseLock(); throw e; });
        },
        return(value) {
          if (finished) return resolved({ value, done: true });
          finished = true;
          if (!preventCancel) { const p = reader.cancel(value); reader.releaseLock(); return PromisePrototypeThen(p, () => ({ value, done: true })); }
          reader.releaseLock();
          return resolved({ value, done: true });
        },
        [Symbol.asyncIterator]() { return this; },
      };
    }
    [Symbol.asyncIterator](options) { return this.values(options); }
    // https://streams.spec.whatwg.org/#rs-from
    static from(iterable) {
      if (iterable instanceof ReadableStream) return iterable;
      const it = iterable?.[Symbol.asyncIterator]?.() ?? iterable?.[Symbol.iterator]?.();
      if (!it || typeof it.next !== "function") throw new TypeError("ReadableStream.from: argument is not iterable");
      return new ReadableStream({
        pull: async (c) => {
          const { value, done } = await it.next();
          if (done) c.close(); else c.enqueue(await value);
        },
        cancel: async (r) => { if (typeof it.return === "function") await it.return(r); },
      }, { highWaterMark: 0 });
    }
  }
  internal.brand(ReadableStream, "ReadableStream");

  function structuredCloneChunk(v) {
    return v;
  }

  // https://streams.spec.whatwg.org/#default-reader-class
  class ReadableStreamDefaultReader {
    constructor(stream) {
      if (!(stream instanceof ReadableStream)) throw new TypeError("ReadableStreamDefaultReader: argument must be a ReadableStream");
      if (stream.locked) throw new TypeError("ReadableStream is locked");
      const s = stream[kState];
      s.reader = this;
      this[kState] = { stream, requests: [], closed: deferred() };
      if (s.state === "closed") this[kState].closed.resolve(undefined);
      if (s.state === "errored") this[kState].closed.reject(s.error);
    }
    get closed() { return this[kState].closed.promise; }
    // https://streams.spec.whatwg.org/#default-reader-read
    read() {
      const stream = this[kState].stream;
      if (!stream) return PromiseReject(new TypeError("The reader was released"));
      const s = stream[kState];
      s.disturbed = true;
      if (s.state === "closed") return resolved({ value: undefined, done: true });
      if (s.state === "errored") return PromiseReject(s.error);
      const c = s.controller[kState];
      if (c.isBytes) {
        const req = readResult();
        hooks.pullSteps(c, req);
        return req.promise;
      }
      if (c.queue.length > 0) {
        const { chunk, size } = ArrayPrototypeShift(c.queue);
        c.queueSize -= size;
        if (c.queue.length === 0) c.queueSize = 0;
        if (c.closeRequested && c.queue.length === 0) { clearAlgorithms(c); closeStream(stream); } else pullIfNeeded(c);
        return resolved({ value: chunk, done: false });
      }
      const req = readResult();
      ArrayPrototypePush(this[kState].requests, req);
      pullIfNeeded(c);
      return req.promise;
    }
    // https://streams.spec.whatwg.org/#default-reader-release-lock
    releaseLock() {
      const stream = this[kState].stream;
      if (!stream) return;
      releaseReader(this);
    }
    // https://streams.spec.whatwg.org/#generic-reader-cancel
    cancel(reason = undefined) {
      const stream = this[kState].stream;
      if (!stream) return PromiseReject(new TypeError("The reader was released"));
      return cancelStream(stream, reason);
    }
  }
  internal.brand(ReadableStreamDefaultReader, "ReadableStreamDefaultReader");

  // https://streams.spec.whatwg.org/#readable-stream-reader-generic-release,
  // then the reader's pending requests fail.
  function releaseReader(reader) {
    const stream = reader[kState].stream;
    const err = new TypeError("The reader was released");
    if (stream[kState].state === "readable") reader[kState].closed.reject(err);
    else { reader[kState].closed = deferred(); reader[kState].closed.reject(err); }
    const c = stream[kState].controller[kState];
    if (c.isBytes) hooks.releaseSteps(c);
    stream[kState].reader = null;
    reader[kState].stream = null;
    const requests = reader[kState].requests;
    reader[kState].requests = [];
    for (let i = 0; i < requests.length; i++) requests[i].error(err);
  }

  // A ReadableStream over a native body; Rust reads it only when JS does.
  function nativeStream(rid) {
    const stream = new ReadableStream({
      type: "bytes",
      pull(c) {
        return PromisePrototypeThen(internal.opPromise(ops.body_read(rid)), (chunk) => {
          // A BYOB read waiting at the end is answered "done" (the byte
          // source's duty once it closes).
          if (chunk === null) { c.close(); c.byobRequest?.respond(0); } else c.enqueue(chunk);
        });
      },
      cancel() { ops.body_close(rid); },
    }, { highWaterMark: 0 });
    stream[kNative] = rid;
    return stream;
  }
  // The native body behind an untouched stream, taking it (the stream is
  // then used); `undefined` if the stream is not such a stream.
  function takeNative(stream) {
    const rid = stream[kNative];
    if (rid === undefined) return undefined;
    const s = stream[kState];
    if (s.reader !== null || s.disturbed || s.state !== "readable" || s.controller[kState].queue.length > 0 || s.controller[kState].pulling) return undefined;
    delete stream[kNative];
    s.disturbed = true;
    clearAlgorithms(s.controller[kState]);
    closeStream(stream);
    return rid;
  }
  // What 06_streams_bytes.js needs from this file.
  internal.streams = {
    kState, hooks, deferred, readResult, resolved, call, promiseCall, noop, strategyOf, closeStream, errorStream, cancelStream,
    pullIfNeeded, clearAlgorithms, desiredSize, releaseReader, ReadableStream, ReadableStreamDefaultReader,
    allowConstruct: (f) => { creating = true; try { return f(); } finally { creating = false; } },
  };
  internal.nativeStream = nativeStream;
  internal.takeNative = takeNative;
  internal.isDisturbed = (stream) => stream[kState].disturbed;
  internal.isNativeUntouched = (stream) => stream[kNative] !== undefined && !stream[kState].disturbed && stream[kState].reader === null;

  // Read a whole stream into one Uint8Array.
  internal.readAll = async (stream) => {
    const rid = takeNative(stream);
    if (rid !== undefined) return await internal.opPromise(ops.body_read_all(rid));
    const reader = stream.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      // https://fetch.spec.whatwg.org/#body-fully-read: chunks must be Uint8Arrays.
      if (!(value instanceof Uint8Array)) {
        const e = new TypeError("body stream chunks must be Uint8Arrays");
        PromisePrototypeThen(reader.cancel(e), undefined, noop);
        throw e;
      }
      const bytes = value;
      ArrayPrototypePush(chunks, bytes);
      total += bytes.length;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (let i = 0; i < chunks.length; i++) { TypedArrayPrototypeSet(out, chunks[i], off); off += chunks[i].length; }
    return out;
  };

  // Copy a JS stream into a native body writer (backpressure per chunk).
  internal.pumpToWriter = async (stream, writerRid) => {
    const reader = stream.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const bytes = typeof value === "string" ? new TextEncoder().encode(value) : internal.toBytes(value);
        if (bytes === null) throw new TypeError("body stream chunks must be Uint8Arrays");
        if (bytes.length === 0) continue;
        const alive = await internal.opPromise(ops.body_write(writerRid, bytes));
        if (!alive) { await reader.cancel(); break; }
      }
      ops.body_close(writerRid);
    } catch (e) {
      ops.body_abort(writerRid, String(e));
      try { await reader.cancel(e); } catch {}
    }
  };


  internal.defineGlobals({ ReadableStream, ReadableStreamDefaultReader, ReadableStreamDefaultController });
})();
