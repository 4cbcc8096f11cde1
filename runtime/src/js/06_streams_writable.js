// isoproxy glue, part 6 (continued): WritableStream and its writer and
// controller, TransformStream, the queuing strategies, and
// TextEncoderStream / TextDecoderStream. ReadableStream is in 06_streams.js,
// whose shared pieces (`internal.streams`) this file uses.
// Spec: https://streams.spec.whatwg.org/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const {
    Number, Promise, RangeError, String, TypeError, ArrayPrototypePush, ArrayPrototypeShift, PromisePrototypeThen,
    PromiseReject,
  } = internal.primordials;
  const { AbortController, TextDecoder, TextEncoder } = globalThis;
  const S = internal.streams;
  const { kState, deferred, resolved, call, promiseCall, strategyOf, ReadableStream } = S;
  // Lets this file's controllers be constructed only by their streams.
  let creating = false;
  // Set by IdentityTransformStream just before it calls TransformStream: its
  // readable side is then a byte stream.
  let nextTransformIsBytes = false;
  S.markNextTransformBytes = () => { nextTransformIsBytes = true; };

  // https://streams.spec.whatwg.org/#ws-default-controller-class
  class WritableStreamDefaultController {
    constructor() { if (!creating) throw new TypeError("Illegal constructor"); }
    get signal() { return this[kState].abort.signal; }
    error(e) { const w = this[kState].stream; if (w[kState].state === "writable") startErroring(w, e); }
  }
  internal.brand(WritableStreamDefaultController, "WritableStreamDefaultController");

  function wsDesired(ws) {
    const s = ws[kState];
    if (s.state === "errored" || s.state === "erroring") return null;
    if (s.state === "closed") return 0;
    return s.hwm - s.queueSize;
  }
  function updateBackpressure(ws) {
    const s = ws[kState];
    const bp = wsDesired(ws) <= 0;
    if (s.writer && bp !== s.backpressure && s.state === "writable") {
      if (bp) s.writer[kState].ready = deferred();
      else s.writer[kState].ready.resolve(undefined);
    }
    s.backpressure = bp;
  }
  function startErroring(ws, e) {
    const s = ws[kState];
    if (s.state !== "writable") return;
    s.state = "erroring";
    s.error = e;
    if (s.writer) { const r = s.writer[kState]; r.ready = deferred(); r.ready.reject(e); }
    if (!s.inFlight && s.started) finishErroring(ws);
  }
  function finishErroring(ws) {
    const s = ws[kState];
    s.state = "errored";
    for (let i = 0; i < s.queue.length; i++) s.queue[i].reject(s.error);
    s.queue = [];
    s.queueSize = 0;
    const done = () => {
      if (s.closeRequest) { s.closeRequest.reject(s.error); s.closeRequest = null; }
      if (s.writer) s.writer[kState].closed.reject(s.error);
    };
    if (s.pendingAbort) {
      const a = s.pendingAbort;
      s.pendingAbort = null;
      if (a.wasAlreadyErroring) { a.reject(s.error); done(); return; }
      PromisePrototypeThen(promiseCall(s.sink, "abort", [a.reason]), () => { a.resolve(); done(); }, (e) => { a.reject(e); done(); });
      return;
    }
    done();
  }
  function advance(ws) {
    const s = ws[kState];
    if (!s.started || s.inFlight) return;
    if (s.state === "erroring") { finishErroring(ws); return; }
    if (s.state !== "writable") return;
    if (s.queue.length === 0) {
      if (s.closeRequest) {
        const req = s.closeRequest;
        s.inFlight = true;
        PromisePrototypeThen(promiseCall(s.sink, "close", []), () => {
          s.inFlight = false;
          s.state = "closed";
          req.resolve(undefined);
          s.closeRequest = null;
          if (s.writer) s.writer[kState].closed.resolve(undefined);
        }, (e) => { s.inFlight = false; s.closeRequest = null; req.reject(e); startErroring(ws, e); finishErroring(ws); });
      }
      return;
    }
    const w = s.queue[0];
    s.inFlight = true;
    PromisePrototypeThen(promiseCall(s.sink, "write", [w.chunk, s.controller]), () => {
      s.inFlight = false;
      ArrayPrototypeShift(s.queue);
      s.queueSize -= w.size;
      w.resolve(undefined);
      updateBackpressure(ws);
      advance(ws);
    }, (e) => {
      s.inFlight = false;
      ArrayPrototypeShift(s.queue);
      w.reject(e);
      if (s.state === "writable") startErroring(ws, e);
      finishErroring(ws);
    });
  }

  // https://streams.spec.whatwg.org/#ws-class
  class WritableStream {
    constructor(sink = undefined, strategy = {}) {
      if (sink?.type !== undefined) throw new RangeError("invalid type");
      const { hwm, size } = strategyOf(strategy, 1);
      creating = true;
      let controller;
      try { controller = new WritableStreamDefaultController(); } finally { creating = false; }
      this[kState] = {
        state: "writable", error: undefined, writer: null, sink: sink ?? {}, hwm, size, queue: [], queueSize: 0,
        inFlight: false, closeRequest: null, pendingAbort: null, started: false, backpressure: false, controller,
      };
      controller[kState] = { stream: this, abort: new AbortController() };
      updateBackpressure(this);
      PromisePrototypeThen(resolved(call(sink, "start", [controller])), () => { this[kState].started = true; advance(this); },
        (e) => { this[kState].started = true; startErroring(this, e); finishErroring(this); });
    }
    get locked() { return this[kState].writer !== null; }
    // https://streams.spec.whatwg.org/#ws-abort
    abort(reason = undefined) {
      if (this.locked) return PromiseReject(new TypeError("The stream is locked"));
      return abortStream(this, reason);
    }
    // https://streams.spec.whatwg.org/#ws-close
    close() {
      if (this.locked) return PromiseReject(new TypeError("The stream is locked"));
      return closeWritable(this);
    }
    getWriter() { return new WritableStreamDefaultWriter(this); }
  }
  internal.brand(WritableStream, "WritableStream");

  function abortStream(ws, reason) {
    const s = ws[kState];
    if (s.state === "closed" || s.state === "errored") return resolved(undefined);
    s.controller[kState].abort.abort(reason);
    if (s.pendingAbort) return s.pendingAbort.promise;
    const wasAlreadyErroring = s.state === "erroring";
    const d = deferred();
    s.pendingAbort = { ...d, reason: wasAlreadyErroring ? undefined : reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) startErroring(ws, reason);
    return d.promise;
  }
  function closeWritable(ws) {
    const s = ws[kState];
    if (s.state === "closed" || s.state === "errored") return PromiseReject(new TypeError("The stream is closed or errored"));
    if (s.closeRequest) return PromiseReject(new TypeError("The stream is already closing"));
    const d = deferred();
    s.closeRequest = d;
    if (s.writer && s.backpressure && s.state === "writable") s.writer[kState].ready.resolve(undefined);
    advance(ws);
    return d.promise;
  }

  // https://streams.spec.whatwg.org/#default-writer-class
  class WritableStreamDefaultWriter {
    constructor(stream) {
      if (!(stream instanceof WritableStream)) throw new TypeError("WritableStreamDefaultWriter: argument must be a WritableStream");
      if (stream.locked) throw new TypeError("WritableStream is locked");
      const s = stream[kState];
      s.writer = this;
      this[kState] = { stream, ready: deferred(), closed: deferred() };
      if (s.state === "writable") {
        if (!s.backpressure || s.closeRequest) this[kState].ready.resolve(undefined);
      } else if (s.state === "erroring") {
        this[kState].ready.reject(s.error);
      } else if (s.state === "closed") {
        this[kState].ready.resolve(undefined);
        this[kState].closed.resolve(undefined);
      } else {
        this[kState].ready.reject(s.error);
        this[kState].closed.reject(s.error);
      }
    }
    get closed() { return this[kState].closed.promise; }
    get ready() { return this[kState].ready.promise; }
    get desiredSize() {
      if (!this[kState].stream) throw new TypeError("The writer was released");
      return wsDesired(this[kState].stream);
    }
    abort(reason = undefined) {
      if (!this[kState].stream) return PromiseReject(new TypeError("The writer was released"));
      return abortStream(this[kState].stream, reason);
    }
    close() {
      if (!this[kState].stream) return PromiseReject(new TypeError("The writer was released"));
      return closeWritable(this[kState].stream);
    }
    // https://streams.spec.whatwg.org/#default-writer-write
    write(chunk = undefined) {
      const ws = this[kState].stream;
      if (!ws) return PromiseReject(new TypeError("The writer was released"));
      const s = ws[kState];
      let size = 1;
      try { size = s.size(chunk); } catch (e) { startErroring(ws, e); return PromiseReject(e); }
      if (s.state === "errored" || s.state === "erroring") return PromiseReject(s.error);
      if (s.closeRequest || s.state === "closed") return PromiseReject(new TypeError("The stream is closing or closed"));
      const d = deferred();
      ArrayPrototypePush(s.queue, { chunk, size, resolve: d.resolve, reject: d.reject });
      s.queueSize += size;
      updateBackpressure(ws);
      advance(ws);
      return d.promise;
    }
    releaseLock() {
      const ws = this[kState].stream;
      if (!ws) return;
      const err = new TypeError("The writer was released");
      this[kState].ready = deferred();
      this[kState].ready.reject(err);
      this[kState].closed = deferred();
      this[kState].closed.reject(err);
      ws[kState].writer = null;
      this[kState].stream = null;
    }
  }
  internal.brand(WritableStreamDefaultWriter, "WritableStreamDefaultWriter");

  // https://streams.spec.whatwg.org/#ts-default-controller-class
  class TransformStreamDefaultController {
    constructor() { if (!creating) throw new TypeError("Illegal constructor"); }
    get desiredSize() { return this[kState].readableController.desiredSize; }
    enqueue(chunk) { this[kState].readableController.enqueue(chunk); }
    error(e) { this[kState].readableController.error(e); this[kState].writableController.error(e); }
    terminate() {
      try { this[kState].readableController.close(); } catch {}
      this[kState].writableController.error(new TypeError("The transform stream was terminated"));
    }
  }
  internal.brand(TransformStreamDefaultController, "TransformStreamDefaultController");

  // https://streams.spec.whatwg.org/#ts-class
  class TransformStream {
    constructor(transformer = undefined, writableStrategy = {}, readableStrategy = { highWaterMark: 0 }) {
      if (transformer?.readableType !== undefined || transformer?.writableType !== undefined) throw new RangeError("invalid type");
      const bytes = nextTransformIsBytes;
      nextTransformIsBytes = false;
      creating = true;
      let controller;
      try { controller = new TransformStreamDefaultController(); } finally { creating = false; }
      // https://streams.spec.whatwg.org/#transformstream-backpressure
      const st = { readableController: null, writableController: null, backpressure: true, waiter: deferred() };
      controller[kState] = st;
      const started = deferred();
      this.readableStream = null;
      const readable = new ReadableStream({
        type: bytes ? "bytes" : undefined,
        start: (c) => { st.readableController = c; return started.promise; },
        pull: () => { st.backpressure = false; st.waiter.resolve(); },
        cancel: (r) => { st.writableController.error(r ?? new TypeError("The readable side was canceled")); return promiseCall(transformer, "cancel", [r]); },
      }, readableStrategy);
      const transform = (chunk) => (transformer?.transform ? promiseCall(transformer, "transform", [chunk, controller]) : (controller.enqueue(chunk), resolved()));
      const writable = new WritableStream({
        start: (c) => { st.writableController = c; return started.promise; },
        write: (chunk) => {
          const go = () => PromisePrototypeThen(transform(chunk), () => {
            // https://streams.spec.whatwg.org/#rs-default-controller-has-backpressure:
            // a read that is waiting is not backpressure.
            const r = readable[kState].reader;
            const waiting = r !== null && r[kState].requests.length > 0;
            if (!st.backpressure && !waiting && st.readableController.desiredSize <= 0) { st.backpressure = true; st.waiter = deferred(); }
          });
          if (!st.backpressure) return go();
          return new Promise((resolve, reject) => {
            PromisePrototypeThen(st.waiter.promise, () => PromisePrototypeThen(go(), resolve, reject), reject);
          });
        },
        close: () => PromisePrototypeThen(promiseCall(transformer, "flush", [controller]), () => { try { st.readableController.close(); } catch {} }, (e) => { st.readableController.error(e); throw e; }),
        abort: (r) => { st.readableController.error(r); return promiseCall(transformer, "cancel", [r]); },
      }, writableStrategy);
      this[kState] = { readable, writable };
      delete this.readableStream;
      try {
        PromisePrototypeThen(resolved(call(transformer, "start", [controller])), started.resolve, started.reject);
      } catch (e) { started.reject(e); throw e; }
    }
    get readable() { return this[kState].readable; }
    get writable() { return this[kState].writable; }
  }
  internal.brand(TransformStream, "TransformStream");

  // https://streams.spec.whatwg.org/#cqs-class
  class CountQueuingStrategy {
    #hwm;
    constructor(init) { this.#hwm = Number(init?.highWaterMark); }
    get highWaterMark() { return this.#hwm; }
    get size() { return () => 1; }
  }
  // https://streams.spec.whatwg.org/#blqs-class
  class ByteLengthQueuingStrategy {
    #hwm;
    constructor(init) { this.#hwm = Number(init?.highWaterMark); }
    get highWaterMark() { return this.#hwm; }
    get size() { return (chunk) => chunk.byteLength; }
  }

  // https://encoding.spec.whatwg.org/#interface-textencoderstream
  class TextEncoderStream extends TransformStream {
    constructor() {
      const enc = new TextEncoder();
      super({ transform(chunk, c) { const b = enc.encode(String(chunk)); if (b.length) c.enqueue(b); } });
    }
    get encoding() { return "utf-8"; }
  }
  // https://encoding.spec.whatwg.org/#interface-textdecoderstream
  class TextDecoderStream extends TransformStream {
    #dec;
    constructor(label = "utf-8", options = {}) {
      const dec = new TextDecoder(label, options);
      super({
        transform(chunk, c) { const s = dec.decode(chunk, { stream: true }); if (s) c.enqueue(s); },
        flush(c) { const s = dec.decode(); if (s) c.enqueue(s); },
      });
      this.#dec = dec;
    }
    get encoding() { return this.#dec.encoding; }
    get fatal() { return this.#dec.fatal; }
    get ignoreBOM() { return this.#dec.ignoreBOM; }
  }

  S.WritableStream = WritableStream;
  internal.defineGlobals({
    WritableStream, WritableStreamDefaultWriter, WritableStreamDefaultController,
    TransformStream, TransformStreamDefaultController, CountQueuingStrategy, ByteLengthQueuingStrategy,
    TextEncoderStream, TextDecoderStream,
  });
})();
