// isoproxy glue, part 6b: readable byte streams. ReadableByteStreamController,
// ReadableStreamBYOBRequest, ReadableStreamBYOBReader (with `min`), and the
// tee of a byte stream. Plugs into 06_streams.js through `internal.streams`.
// Spec: https://streams.spec.whatwg.org/#rbs-controller-class
"use strict";
(function () {
  const internal = globalThis.__internal;
  const {
    ArrayBuffer, DataView, Number, Promise, RangeError, TypeError, Uint8Array,
    ArrayBufferIsView, ArrayPrototypePush, ArrayPrototypeShift, MathMin, NumberIsNaN, NumberIsFinite,
    ObjectGetOwnPropertyDescriptor, ObjectGetPrototypeOf, PromisePrototypeThen, PromiseReject, TypedArrayPrototypeSet,
    ObjectCreate, SymbolToStringTag, uncurryThis,
  } = internal.primordials;
  const { floor: MathFloor } = Math;
  const { queueMicrotask } = globalThis;
  const MAX_SAFE_INTEGER = 2 ** 53 - 1;
  const S = internal.streams;
  const { kState, hooks, deferred, readResult, resolved, noop } = S;

  // --- ArrayBuffer helpers --------------------------------------------------
  const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
  const typedArrayName = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, SymbolToStringTag).get);
  const viewBuffer = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, "buffer").get);
  const viewByteOffset = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, "byteOffset").get);
  const viewByteLength = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, "byteLength").get);
  const viewLength = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, "length").get);
  const dvBuffer = uncurryThis(ObjectGetOwnPropertyDescriptor(DataView.prototype, "buffer").get);
  const dvByteOffset = uncurryThis(ObjectGetOwnPropertyDescriptor(DataView.prototype, "byteOffset").get);
  const dvByteLength = uncurryThis(ObjectGetOwnPropertyDescriptor(DataView.prototype, "byteLength").get);
  const abByteLength = uncurryThis(ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get);
  const abDetached = uncurryThis(ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, "detached").get);
  const abTransfer = uncurryThis(ArrayBuffer.prototype.transfer);
  const abSlice = uncurryThis(ArrayBuffer.prototype.slice);
  const ctors = {
    __proto__: null, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  };
  if (typeof Float16Array === "function") ctors.Float16Array = Float16Array;

  // The facts of an ArrayBufferView, read through the intrinsic getters (a
  // Worker cannot fake them); null if `v` is not a view.
  function viewInfo(v) {
    if (!ArrayBufferIsView(v)) return null;
    const name = typedArrayName(v);
    if (name !== undefined) {
      const ctor = ctors[name];
      return { buffer: viewBuffer(v), byteOffset: viewByteOffset(v), byteLength: viewByteLength(v), length: viewLength(v), elementSize: ctor.BYTES_PER_ELEMENT, ctor };
    }
    return { buffer: dvBuffer(v), byteOffset: dvByteOffset(v), byteLength: dvByteLength(v), length: dvByteLength(v), elementSize: 1, ctor: DataView };
  }
  function isDetached(buffer) {
    try { return abDetached(buffer); } catch { return false; } // a SharedArrayBuffer is never detached
  }
  // https://streams.spec.whatwg.org/#transfer-array-buffer: throws a TypeError
  // for buffers that cannot be detached (SharedArrayBuffer, wasm memory).
  function transfer(buffer) {
    return abTransfer(buffer);
  }
  function copyBytes(dest, destOffset, src, srcOffset, n) {
    TypedArrayPrototypeSet(new Uint8Array(dest, destOffset, n), new Uint8Array(src, srcOffset, n));
  }
  // https://webidl.spec.whatwg.org/#EnforceRange for unsigned long long.
  function enforceRange(v, what) {
    const n = Number(v);
    if (NumberIsNaN(n) || !NumberIsFinite(n)) throw new TypeError(`${what} must be a finite number`);
    const t = n < 0 ? -MathFloor(-n) : MathFloor(n);
    if (t < 0 || t > MAX_SAFE_INTEGER) throw new TypeError(`${what} is out of range`);
    return t;
  }

  // --- controller -------------------------------------------------------------
  // https://streams.spec.whatwg.org/#rbs-controller-class
  class ReadableByteStreamController {
    constructor() { throw new TypeError("Illegal constructor"); }
    get byobRequest() { return getBYOBRequest(state(this)); }
    get desiredSize() { return S.desiredSize(state(this).stream); }
    // https://streams.spec.whatwg.org/#rbs-controller-close
    close() {
      const c = state(this);
      if (c.closeRequested) throw new TypeError("The stream is already closing");
      if (c.stream[kState].state !== "readable") throw new TypeError("The stream is not readable");
      closeController(c);
    }
    // https://streams.spec.whatwg.org/#rbs-controller-enqueue
    enqueue(chunk) {
      const c = state(this);
      const info = viewInfo(chunk);
      if (info === null) throw new TypeError("chunk must be an ArrayBufferView");
      if (info.byteLength === 0) throw new TypeError("chunk must not be empty");
      if (abByteLength(info.buffer) === 0) throw new TypeError("chunk's buffer must not be empty");
      if (c.closeRequested) throw new TypeError("The stream is closing");
      if (c.stream[kState].state !== "readable") throw new TypeError("The stream is not readable");
      enqueue(c, info);
    }
    // https://streams.spec.whatwg.org/#rbs-controller-error
    error(e = undefined) { errorController(state(this), e); }
  }
  internal.brand(ReadableByteStreamController, "ReadableByteStreamController");
  function state(controller) {
    const c = controller?.[kState];
    if (!c || !c.isBytes) throw new TypeError("Illegal invocation");
    return c;
  }

  // https://streams.spec.whatwg.org/#rs-byob-request-class
  class ReadableStreamBYOBRequest {
    constructor() { throw new TypeError("Illegal constructor"); }
    get view() { return request(this).view; }
    // https://streams.spec.whatwg.org/#rs-byob-request-respond
    respond(bytesWritten) {
      const r = request(this);
      const n = enforceRange(bytesWritten, "bytesWritten");
      if (r.controller === undefined) throw new TypeError("This BYOB request has been invalidated");
      if (isDetached(viewInfo(r.view).buffer)) throw new TypeError("The view's buffer has been detached");
      respond(r.controller, n);
    }
    // https://streams.spec.whatwg.org/#rs-byob-request-respond-with-new-view
    respondWithNewView(view) {
      const r = request(this);
      const info = viewInfo(view);
      if (info === null) throw new TypeError("view must be an ArrayBufferView");
      if (r.controller === undefined) throw new TypeError("This BYOB request has been invalidated");
      if (isDetached(info.buffer)) throw new TypeError("The view's buffer has been detached");
      respondWithNewView(r.controller, info);
    }
  }
  internal.brand(ReadableStreamBYOBRequest, "ReadableStreamBYOBRequest");
  function request(r) {
    const s = r?.[kState];
    if (!s || !s.isRequest) throw new TypeError("Illegal invocation");
    return s;
  }

  // https://streams.spec.whatwg.org/#set-up-readable-byte-stream-controller-from-underlying-source
  function setUpByteController(stream, source, hwm) {
    let autoAllocateChunkSize;
    if (source?.autoAllocateChunkSize !== undefined) {
      autoAllocateChunkSize = enforceRange(source.autoAllocateChunkSize, "autoAllocateChunkSize");
      if (autoAllocateChunkSize === 0) throw new TypeError("autoAllocateChunkSize must be greater than 0");
    }
    const start = source?.start;
    if (start !== undefined && typeof start !== "function") throw new TypeError("start must be a function");
    if (source?.pull !== undefined && typeof source.pull !== "function") throw new TypeError("pull must be a function");
    if (source?.cancel !== undefined && typeof source.cancel !== "function") throw new TypeError("cancel must be a function");
    let controller;
    const c = setUpController(stream, hwm, autoAllocateChunkSize, (ctl) => { controller = ctl; },
      () => (source?.pull ? S.promiseCall(source, "pull", [controller]) : resolved()),
      (r) => S.promiseCall(source, "cancel", [r]));
    start2(c, () => S.call(source, "start", [controller]));
  }
  function setUpController(stream, hwm, autoAllocateChunkSize, publish, pull, cancel) {
    const controller = ObjectCreate(ReadableByteStreamController.prototype);
    const c = {
      stream, isBytes: true, queue: [], queueSize: 0, hwm, autoAllocateChunkSize, pendingPullIntos: [], byobRequest: null,
      started: false, pulling: false, pullAgain: false, closeRequested: false, pull, cancel, controller,
    };
    controller[kState] = c;
    stream[kState].controller = controller;
    publish(controller);
    return c;
  }
  function start2(c, start) {
    const startResult = start();
    PromisePrototypeThen(resolved(startResult), () => { c.started = true; S.pullIfNeeded(c); }, (e) => errorController(c, e));
  }

  function invalidateBYOBRequest(c) {
    if (c.byobRequest === null) return;
    const r = c.byobRequest[kState];
    r.controller = undefined;
    r.view = null;
    c.byobRequest = null;
  }
  function clearPendingPullIntos(c) {
    invalidateBYOBRequest(c);
    c.pendingPullIntos = [];
  }
  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-error
  function errorController(c, e) {
    if (c.stream[kState].state !== "readable") return;
    S.errorStream(c.stream, e); // clears the pull-intos, the queue and the algorithms
  }
  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-close
  function closeController(c) {
    const stream = c.stream;
    if (c.closeRequested || stream[kState].state !== "readable") return;
    if (c.queueSize > 0) { c.closeRequested = true; return; }
    if (c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      if (first.bytesFilled % first.elementSize !== 0) {
        const e = new TypeError("Insufficient bytes to fill elements in the given buffer");
        errorController(c, e);
        throw e;
      }
    }
    S.clearAlgorithms(c);
    S.closeStream(stream);
  }
  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-get-byob-request
  function getBYOBRequest(c) {
    if (c.byobRequest === null && c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      const view = new Uint8Array(first.buffer, first.byteOffset + first.bytesFilled, first.byteLength - first.bytesFilled);
      const r = ObjectCreate(ReadableStreamBYOBRequest.prototype);
      r[kState] = { isRequest: true, controller: c, view };
      c.byobRequest = r;
    }
    return c.byobRequest;
  }

  function hasReader(stream, byob) {
    const r = stream[kState].reader;
    return r !== null && !!r[kState].byob === byob;
  }
  function numRequests(stream) { return stream[kState].reader[kState].requests.length; }
  function enqueueChunk(c, buffer, byteOffset, byteLength) {
    ArrayPrototypePush(c.queue, { buffer, byteOffset, byteLength });
    c.queueSize += byteLength;
  }
  function enqueueClonedChunk(c, buffer, byteOffset, byteLength) {
    let clone;
    try { clone = abSlice(buffer, byteOffset, byteOffset + byteLength); } catch (e) { errorController(c, e); throw e; }
    enqueueChunk(c, clone, 0, byteLength);
  }
  function enqueueDetachedPullIntoToQueue(c, pid) {
    if (pid.bytesFilled > 0) enqueueClonedChunk(c, pid.buffer, pid.byteOffset, pid.bytesFilled);
    shiftPendingPullInto(c);
  }
  function shiftPendingPullInto(c) { return ArrayPrototypeShift(c.pendingPullIntos); }
  function handleQueueDrain(c) {
    if (c.queueSize === 0 && c.closeRequested) { S.clearAlgorithms(c); S.closeStream(c.stream); } else S.pullIfNeeded(c);
  }
  function fillReadRequestFromQueue(c, req) {
    const entry = ArrayPrototypeShift(c.queue);
    c.queueSize -= entry.byteLength;
    handleQueueDrain(c);
    req.chunk(new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
  }
  function processReadRequestsUsingQueue(c) {
    const r = c.stream[kState].reader[kState];
    while (r.requests.length > 0) {
      if (c.queueSize === 0) return;
      fillReadRequestFromQueue(c, ArrayPrototypeShift(r.requests));
    }
  }
  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-fill-pull-into-descriptor-from-queue
  function fillPullIntoFromQueue(c, pid) {
    const maxBytesToCopy = MathMin(c.queueSize, pid.byteLength - pid.bytesFilled);
    const maxBytesFilled = pid.bytesFilled + maxBytesToCopy;
    let remaining = maxBytesToCopy;
    let ready = false;
    const maxAlignedBytes = maxBytesFilled - (maxBytesFilled % pid.elementSize);
    if (maxAlignedBytes >= pid.minimumFill) { remaining = maxAlignedBytes - pid.bytesFilled; ready = true; }
    while (remaining > 0) {
      const head = c.queue[0];
      const n = MathMin(remaining, head.byteLength);
      copyBytes(pid.buffer, pid.byteOffset + pid.bytesFilled, head.buffer, head.byteOffset, n);
      if (head.byteLength === n) ArrayPrototypeShift(c.queue);
      else { head.byteOffset += n; head.byteLength -= n; }
      c.queueSize -= n;
      pid.bytesFilled += n;
      remaining -= n;
    }
    return ready;
  }
  function processPullIntosUsingQueue(c) {
    const filled = [];
    while (c.pendingPullIntos.length > 0) {
      if (c.queueSize === 0) break;
      const pid = c.pendingPullIntos[0];
      if (fillPullIntoFromQueue(c, pid)) { shiftPendingPullInto(c); ArrayPrototypePush(filled, pid); }
    }
    return filled;
  }
  function convertPullInto(pid) {
    const buffer = transfer(pid.buffer);
    return new pid.ctor(buffer, pid.byteOffset, pid.bytesFilled / pid.elementSize);
  }
  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-commit-pull-into-descriptor
  function commitPullInto(stream, pid) {
    const done = stream[kState].state === "closed";
    const view = convertPullInto(pid);
    const req = ArrayPrototypeShift(stream[kState].reader[kState].requests);
    if (pid.readerType === "default") { if (done) req.close(undefined); else req.chunk(view); } else if (done) req.close(view); else req.chunk(view);
  }
  function commitAll(stream, list) { for (let i = 0; i < list.length; i++) commitPullInto(stream, list[i]); }

  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-enqueue
  function enqueue(c, info) {
    const stream = c.stream;
    if (c.closeRequested || stream[kState].state !== "readable") return;
    const { byteOffset, byteLength } = info;
    if (isDetached(info.buffer)) throw new TypeError("chunk's buffer is detached");
    const buffer = transfer(info.buffer);
    if (c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      if (isDetached(first.buffer)) throw new TypeError("The BYOB request's buffer has been detached");
      invalidateBYOBRequest(c);
      first.buffer = transfer(first.buffer);
      if (first.readerType === "none") enqueueDetachedPullIntoToQueue(c, first);
    }
    if (hasReader(stream, false)) {
      processReadRequestsUsingQueue(c);
      if (numRequests(stream) === 0) enqueueChunk(c, buffer, byteOffset, byteLength);
      else {
        if (c.pendingPullIntos.length > 0) shiftPendingPullInto(c);
        ArrayPrototypeShift(stream[kState].reader[kState].requests).chunk(new Uint8Array(buffer, byteOffset, byteLength));
      }
    } else if (hasReader(stream, true)) {
      enqueueChunk(c, buffer, byteOffset, byteLength);
      commitAll(stream, processPullIntosUsingQueue(c));
    } else {
      enqueueChunk(c, buffer, byteOffset, byteLength);
    }
    S.pullIfNeeded(c);
  }

  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-respond
  function respond(c, bytesWritten) {
    const first = c.pendingPullIntos[0];
    if (c.stream[kState].state === "closed") {
      if (bytesWritten !== 0) throw new TypeError("bytesWritten must be 0 when calling respond() on a closed stream");
    } else {
      if (bytesWritten === 0) throw new TypeError("bytesWritten must be greater than 0 when calling respond() on a readable stream");
      if (first.bytesFilled + bytesWritten > first.byteLength) throw new RangeError("bytesWritten out of range");
    }
    first.buffer = transfer(first.buffer);
    respondInternal(c, bytesWritten);
  }
  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-respond-with-new-view
  function respondWithNewView(c, info) {
    const first = c.pendingPullIntos[0];
    if (c.stream[kState].state === "closed") {
      if (info.byteLength !== 0) throw new TypeError("The view's length must be 0 when calling respondWithNewView() on a closed stream");
    } else if (info.byteLength === 0) {
      throw new TypeError("The view's length must be greater than 0 when calling respondWithNewView() on a readable stream");
    }
    if (first.byteOffset + first.bytesFilled !== info.byteOffset) throw new RangeError("The region specified by view does not match byobRequest");
    if (first.bufferByteLength !== abByteLength(info.buffer)) throw new RangeError("The buffer of view has different capacity than byobRequest");
    if (first.bytesFilled + info.byteLength > first.byteLength) throw new RangeError("The region specified by view is larger than byobRequest");
    first.buffer = transfer(info.buffer);
    respondInternal(c, info.byteLength);
  }
  function respondInternal(c, bytesWritten) {
    const first = c.pendingPullIntos[0];
    invalidateBYOBRequest(c);
    const stream = c.stream;
    if (stream[kState].state === "closed") {
      if (first.readerType === "none") shiftPendingPullInto(c);
      if (hasReader(stream, true)) {
        const filled = [];
        while (filled.length < numRequests(stream)) ArrayPrototypePush(filled, shiftPendingPullInto(c));
        commitAll(stream, filled);
      }
    } else {
      respondInReadableState(c, bytesWritten, first);
    }
    S.pullIfNeeded(c);
  }
  function respondInReadableState(c, bytesWritten, pid) {
    pid.bytesFilled += bytesWritten;
    if (pid.readerType === "none") {
      enqueueDetachedPullIntoToQueue(c, pid);
      commitAll(c.stream, processPullIntosUsingQueue(c));
      return;
    }
    if (pid.bytesFilled < pid.minimumFill) return;
    shiftPendingPullInto(c);
    const remainder = pid.bytesFilled % pid.elementSize;
    if (remainder > 0) enqueueClonedChunk(c, pid.buffer, pid.byteOffset + pid.bytesFilled - remainder, remainder);
    pid.bytesFilled -= remainder;
    const filled = processPullIntosUsingQueue(c);
    commitPullInto(c.stream, pid);
    commitAll(c.stream, filled);
  }

  // https://streams.spec.whatwg.org/#rbs-controller-private-pull
  function pullSteps(c, req) {
    const stream = c.stream;
    if (c.queueSize > 0) { fillReadRequestFromQueue(c, req); return; }
    if (c.autoAllocateChunkSize !== undefined) {
      let buffer;
      try { buffer = new ArrayBuffer(c.autoAllocateChunkSize); } catch (e) { req.error(e); return; }
      ArrayPrototypePush(c.pendingPullIntos, {
        buffer, bufferByteLength: c.autoAllocateChunkSize, byteOffset: 0, byteLength: c.autoAllocateChunkSize,
        bytesFilled: 0, minimumFill: 1, elementSize: 1, ctor: Uint8Array, readerType: "default",
      });
    }
    ArrayPrototypePush(stream[kState].reader[kState].requests, req);
    S.pullIfNeeded(c);
  }
  // https://streams.spec.whatwg.org/#rbs-controller-private-release
  function releaseSteps(c) {
    if (c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      first.readerType = "none";
      c.pendingPullIntos = [first];
    }
  }

  // https://streams.spec.whatwg.org/#readable-byte-stream-controller-pull-into
  function pullInto(c, info, min, req) {
    const stream = c.stream;
    const minimumFill = min * info.elementSize;
    let buffer;
    try { buffer = transfer(info.buffer); } catch (e) { req.error(e); return; }
    const pid = {
      buffer, bufferByteLength: abByteLength(buffer), byteOffset: info.byteOffset, byteLength: info.byteLength,
      bytesFilled: 0, minimumFill, elementSize: info.elementSize, ctor: info.ctor, readerType: "byob",
    };
    if (c.pendingPullIntos.length > 0) {
      ArrayPrototypePush(c.pendingPullIntos, pid);
      ArrayPrototypePush(stream[kState].reader[kState].requests, req);
      return;
    }
    if (stream[kState].state === "closed") { req.close(new pid.ctor(pid.buffer, pid.byteOffset, 0)); return; }
    if (c.queueSize > 0) {
      if (fillPullIntoFromQueue(c, pid)) {
        const view = convertPullInto(pid);
        handleQueueDrain(c);
        req.chunk(view);
        return;
      }
      if (c.closeRequested) {
        const e = new TypeError("Insufficient bytes to fill elements in the given buffer");
        errorController(c, e);
        req.error(e);
        return;
      }
    }
    ArrayPrototypePush(c.pendingPullIntos, pid);
    ArrayPrototypePush(stream[kState].reader[kState].requests, req);
    S.pullIfNeeded(c);
  }

  // --- BYOB reader --------------------------------------------------------------
  // https://streams.spec.whatwg.org/#byob-reader-class
  class ReadableStreamBYOBReader {
    constructor(stream) {
      if (!(stream instanceof S.ReadableStream)) throw new TypeError("ReadableStreamBYOBReader: argument must be a ReadableStream");
      if (stream.locked) throw new TypeError("ReadableStream is locked");
      const s = stream[kState];
      if (!s.controller[kState].isBytes) throw new TypeError("Cannot use a BYOB reader with a non-byte stream");
      s.reader = this;
      this[kState] = { stream, requests: [], closed: deferred(), byob: true };
      if (s.state === "closed") this[kState].closed.resolve(undefined);
      if (s.state === "errored") this[kState].closed.reject(s.error);
    }
    get closed() { return reader(this).closed.promise; }
    // https://streams.spec.whatwg.org/#byob-reader-read
    read(view, options = {}) {
      let r, info, min;
      try {
        r = reader(this);
        info = viewInfo(view);
        if (info === null) throw new TypeError("view must be an ArrayBufferView");
        if (options !== undefined && options !== null && typeof options !== "object" && typeof options !== "function") throw new TypeError("options must be an object");
        min = options?.min === undefined ? 1 : enforceRange(options.min, "min");
      } catch (e) { return PromiseReject(e); }
      if (info.byteLength === 0) return PromiseReject(new TypeError("view must have non-zero byteLength"));
      if (abByteLength(info.buffer) === 0) return PromiseReject(new TypeError("view's buffer must have non-zero byteLength"));
      if (isDetached(info.buffer)) return PromiseReject(new TypeError("view's buffer has been detached"));
      if (min === 0) return PromiseReject(new TypeError("options.min must be greater than 0"));
      if (min > info.length) return PromiseReject(new RangeError("options.min must be no more than the view's length"));
      if (!r.stream) return PromiseReject(new TypeError("The reader was released"));
      const req = readResult();
      byobRead(r.stream, info, min, req);
      return req.promise;
    }
    releaseLock() {
      const r = reader(this);
      if (!r.stream) return;
      S.releaseReader(this);
    }
    cancel(reason = undefined) {
      const r = reader(this);
      if (!r.stream) return PromiseReject(new TypeError("The reader was released"));
      return S.cancelStream(r.stream, reason);
    }
  }
  internal.brand(ReadableStreamBYOBReader, "ReadableStreamBYOBReader");
  function reader(x) {
    const r = x?.[kState];
    if (!r || !r.byob) throw new TypeError("Illegal invocation");
    return r;
  }
  function byobRead(stream, info, min, req) {
    const s = stream[kState];
    s.disturbed = true;
    if (s.state === "errored") req.error(s.error);
    else pullInto(s.controller[kState], info, min, req);
  }

  // --- tee --------------------------------------------------------------------------
  // https://streams.spec.whatwg.org/#abstract-opdef-readablebytestreamtee
  function tee(stream) {
    let rd = new S.ReadableStreamDefaultReader(stream);
    let reading = false, again1 = false, again2 = false, canceled1 = false, canceled2 = false, reason1, reason2;
    const cancelDone = deferred();
    let c1, c2;
    const cloneBytes = (view) => {
      const info = viewInfo(view);
      return new Uint8Array(abSlice(info.buffer, info.byteOffset, info.byteOffset + info.byteLength));
    };
    const forwardReaderError = (thisReader) => {
      PromisePrototypeThen(thisReader[kState].closed.promise, undefined, (e) => {
        if (thisReader !== rd) return;
        errorController(c1, e);
        errorController(c2, e);
        if (!canceled1 || !canceled2) cancelDone.resolve(undefined);
      });
    };
    const pullAgain = () => { if (again1) pull1(); else if (again2) pull2(); };
    const failBoth = (e) => {
      errorController(c1, e);
      errorController(c2, e);
      cancelDone.resolve(S.cancelStream(stream, e));
    };
    const pullWithDefaultReader = () => {
      if (rd[kState].byob) {
        S.releaseReader(rd);
        rd = new S.ReadableStreamDefaultReader(stream);
        forwardReaderError(rd);
      }
      const req = {
        chunk: (chunk) => queueMicrotask(() => {
          again1 = false; again2 = false;
          let chunk2 = chunk;
          if (!canceled1 && !canceled2) {
            try { chunk2 = cloneBytes(chunk); } catch (e) { failBoth(e); return; }
          }
          if (!canceled1) enqueue(c1, viewInfo(chunk));
          if (!canceled2) enqueue(c2, viewInfo(chunk2));
          reading = false;
          pullAgain();
        }),
        close: () => {
          reading = false;
          if (!canceled1) closeController(c1);
          if (!canceled2) closeController(c2);
          if (c1.pendingPullIntos.length > 0) respond(c1, 0);
          if (c2.pendingPullIntos.length > 0) respond(c2, 0);
          if (!canceled1 || !canceled2) cancelDone.resolve(undefined);
        },
        error: () => { reading = false; },
      };
      const s = stream[kState];
      s.disturbed = true;
      if (s.state === "closed") req.close(undefined);
      else if (s.state === "errored") req.error(s.error);
      else pullSteps(s.controller[kState], req);
    };
    const pullWithBYOBReader = (view, forBranch2) => {
      if (!rd[kState].byob) {
        S.releaseReader(rd);
        rd = new ReadableStreamBYOBReader(stream);
        forwardReaderError(rd);
      }
      const byobC = forBranch2 ? c2 : c1;
      const otherC = forBranch2 ? c1 : c2;
      const req = {
        chunk: (chunk) => queueMicrotask(() => {
          again1 = false; again2 = false;
          const byobCanceled = forBranch2 ? canceled2 : canceled1;
          const otherCanceled = forBranch2 ? canceled1 : canceled2;
          if (!otherCanceled) {
            let clone;
            try { clone = cloneBytes(chunk); } catch (e) { failBoth(e); return; }
            if (!byobCanceled) respondWithNewView(byobC, viewInfo(chunk));
            enqueue(otherC, viewInfo(clone));
          } else if (!byobCanceled) {
            respondWithNewView(byobC, viewInfo(chunk));
          }
          reading = false;
          pullAgain();
        }),
        close: (chunk) => {
          reading = false;
          const byobCanceled = forBranch2 ? canceled2 : canceled1;
          const otherCanceled = forBranch2 ? canceled1 : canceled2;
          if (!byobCanceled) closeController(byobC);
          if (!otherCanceled) closeController(otherC);
          if (chunk !== undefined) {
            if (!byobCanceled) respondWithNewView(byobC, viewInfo(chunk));
            if (!otherCanceled && otherC.pendingPullIntos.length > 0) respond(otherC, 0);
          }
          if (!byobCanceled || !otherCanceled) cancelDone.resolve(undefined);
        },
        error: () => { reading = false; },
      };
      byobRead(stream, viewInfo(view), 1, req);
    };
    const pullBranch = (c, forBranch2) => {
      if (reading) { if (forBranch2) again2 = true; else again1 = true; return resolved(); }
      reading = true;
      const byobRequest = getBYOBRequest(c);
      if (byobRequest === null) pullWithDefaultReader();
      else pullWithBYOBReader(byobRequest[kState].view, forBranch2);
      return resolved();
    };
    const pull1 = () => pullBranch(c1, false);
    const pull2 = () => pullBranch(c2, true);
    const cancel1 = (r) => {
      canceled1 = true; reason1 = r;
      if (canceled2) cancelDone.resolve(S.cancelStream(stream, [reason1, reason2]));
      return cancelDone.promise;
    };
    const cancel2 = (r) => {
      canceled2 = true; reason2 = r;
      if (canceled1) cancelDone.resolve(S.cancelStream(stream, [reason1, reason2]));
      return cancelDone.promise;
    };
    const b1 = createByteStream(pull1, cancel1);
    const b2 = createByteStream(pull2, cancel2);
    c1 = b1[kState].controller[kState];
    c2 = b2[kState].controller[kState];
    forwardReaderError(rd);
    return [b1, b2];
  }
  // https://streams.spec.whatwg.org/#abstract-opdef-createreadablebytestream
  function createByteStream(pull, cancel) {
    const stream = ObjectCreate(S.ReadableStream.prototype);
    stream[kState] = { state: "readable", reader: null, error: undefined, disturbed: false, controller: null };
    const c = setUpController(stream, 0, undefined, noop, pull, cancel);
    start2(c, () => undefined);
    return stream;
  }

  hooks.setUpByteController = setUpByteController;
  hooks.clearPendingPullIntos = clearPendingPullIntos;
  hooks.pullSteps = pullSteps;
  hooks.releaseSteps = releaseSteps;
  hooks.tee = tee;
  hooks.ReadableStreamBYOBReader = ReadableStreamBYOBReader;
  internal.defineGlobals({ ReadableByteStreamController, ReadableStreamBYOBReader, ReadableStreamBYOBRequest });
})();
