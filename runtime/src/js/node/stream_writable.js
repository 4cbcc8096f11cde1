// isoproxy node compat: node:stream's writable side: Writable, Duplex,
// Transform, PassThrough. Built by node/stream.js (which owns the shared
// state symbols and Readable) through `internal.nodeStreamWritable`.
// https://nodejs.org/api/stream.html#writable-streams
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const {
    Error, Promise, Symbol, TypeError, Uint8Array, ArrayIsArray, ArrayPrototypeShift, ArrayPrototypeIndexOf,
    ArrayPrototypeSplice, ObjectDefineProperty, ObjectGetOwnPropertyDescriptor, ObjectKeys, PromisePrototypeThen,
    PromiseResolve, ReflectApply, SymbolAsyncIterator, SymbolIterator, ObjectPrototypeIsPrototypeOf,
  } = internal.primordials;
  const { ReadableStream, WritableStream, DOMException } = globalThis;

  // Microtask scheduling, as process.nextTick in workerd.
  const nextTick = (fn, ...args) => {
    PromisePrototypeThen(PromiseResolve(undefined), () => ReflectApply(fn, undefined, args));
  };

  internal.nodeStreamWritable = (ctx) => {
    const { Buffer, kR, kW, code, hwmOf, destroyImpl, Stream, Readable, rGetters, addAbortSignal } = ctx;
    // ---- Writable ----
    function Writable(options) {
      if (!ObjectPrototypeIsPrototypeOf(Writable.prototype, this) && !(this instanceof Duplex)) return new Writable(options);
      if (!(this instanceof Duplex)) ReflectApply(Stream, this, [options]);
      initWritable(this, options);
    }
    function initWritable(stream, options) {
      const objectMode = !!(options?.objectMode || options?.writableObjectMode);
      stream[kW] = {
        objectMode, highWaterMark: hwmOf(options, objectMode, "writableHighWaterMark"), decodeStrings: options?.decodeStrings !== false,
        defaultEncoding: options?.defaultEncoding ?? "utf8", queue: [], length: 0, writing: false, corked: 0, ending: false,
        ended: false, finished: false, finalCalled: false, needDrain: false, destroyed: false, errored: null, errorEmitted: false,
        closed: false, emitClose: options?.emitClose !== false, autoDestroy: options?.autoDestroy !== false, pendingCb: 0,
      };
      if (typeof options?.write === "function") stream._write = options.write;
      if (typeof options?.writev === "function") stream._writev = options.writev;
      if (typeof options?.final === "function") stream._final = options.final;
      if (typeof options?.destroy === "function") stream._destroy = options.destroy;
      if (options?.signal) addAbortSignal(options.signal, stream);
    }
    Object.setPrototypeOf(Writable.prototype, Stream.prototype);
    Object.setPrototypeOf(Writable, Stream);

    function writeOrBuffer(stream, state, chunk, encoding, cb) {
      const len = state.objectMode ? 1 : chunk.length;
      state.length += len;
      const ret = state.length < state.highWaterMark;
      if (!ret) state.needDrain = true;
      if (state.writing || state.corked > 0 || state.errored) state.queue[state.queue.length] = { chunk, encoding, cb };
      else doWrite(stream, state, chunk, encoding, cb);
      return ret && !state.errored && !state.destroyed;
    }
    function doWrite(stream, state, chunk, encoding, cb) {
      state.writing = true;
      let sync = true;
      const len = state.objectMode ? 1 : chunk.length;
      const onwrite = (err) => {
        state.writing = false;
        state.length -= len;
        const after = () => {
          if (err) {
            cb(err);
            destroyImpl(stream, err);
            return;
          }
          cb(null);
          if (state.needDrain && state.length === 0 && !state.ending && !state.destroyed) { state.needDrain = false; stream.emit("drain"); }
          clearBuffer(stream, state);
          finishMaybe(stream, state);
        };
        if (sync) nextTick(after); else after();
      };
      try { stream._write(chunk, encoding, onwrite); } catch (e) { onwrite(e); }
      sync = false;
    }
    function clearBuffer(stream, state) {
      if (state.writing || state.corked > 0 || state.destroyed || state.queue.length === 0) return;
      if (state.queue.length > 1 && typeof stream._writev === "function") {
        const batch = state.queue;
        state.queue = [];
        state.writing = true;
        const len = state.objectMode ? batch.length : batch.reduce((n, e) => n + e.chunk.length, 0);
        stream._writev(batch.map((e) => ({ chunk: e.chunk, encoding: e.encoding })), (err) => {
          state.writing = false;
          state.length -= len;
          for (const e of batch) e.cb(err ?? null);
          if (err) { destroyImpl(stream, err); return; }
          if (state.needDrain && state.length === 0 && !state.ending) { state.needDrain = false; stream.emit("drain"); }
          clearBuffer(stream, state);
          finishMaybe(stream, state);
        });
        return;
      }
      const { chunk, encoding, cb } = ArrayPrototypeShift(state.queue);
      doWrite(stream, state, chunk, encoding, cb);
    }
    function finishMaybe(stream, state) {
      if (!state.ending || state.finished || state.writing || state.queue.length > 0 || state.length > 0 || state.destroyed || state.errored) return;
      if (!state.finalCalled) {
        state.finalCalled = true;
        const done = (err) => {
          if (err) { destroyImpl(stream, err); return; }
          state.finished = true;
          nextTick(() => {
            stream.emit("finish");
            const r = stream[kR];
            if (state.autoDestroy && (r === undefined || r.endEmitted || r.destroyed)) destroyImpl(stream);
          });
        };
        if (typeof stream._final === "function") {
          try { stream._final(done); } catch (e) { done(e); }
        } else done(null);
      }
    }
    const writableMethods = {
      write(chunk, encoding, cb) {
        const state = this[kW];
        if (typeof encoding === "function") { cb = encoding; encoding = null; }
        if (typeof cb !== "function") cb = () => {};
        if (chunk === null) throw code(TypeError, "ERR_STREAM_NULL_VALUES", "May not write null values to stream");
        if (!state.objectMode) {
          if (typeof chunk === "string") {
            if (state.decodeStrings) { chunk = Buffer.from(chunk, encoding ?? state.defaultEncoding); encoding = "buffer"; }
          } else if (chunk instanceof Uint8Array) {
            if (!Buffer.isBuffer(chunk)) chunk = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            encoding = "buffer";
          } else throw internal.invalidArgType("chunk", "of type string or an instance of Buffer or Uint8Array", chunk);
        }
        let err = null;
        if (state.ending) err = code(Error, "ERR_STREAM_WRITE_AFTER_END", "write after end");
        else if (state.destroyed) err = code(Error, "ERR_STREAM_DESTROYED", "Cannot call write after a stream was destroyed");
        if (err !== null) {
          nextTick(cb, err);
          destroyImpl(this, err);
          return false;
        }
        return writeOrBuffer(this, state, chunk, encoding ?? state.defaultEncoding, cb);
      },
      end(chunk, encoding, cb) {
        const state = this[kW];
        if (typeof chunk === "function") { cb = chunk; chunk = null; encoding = null; }
        else if (typeof encoding === "function") { cb = encoding; encoding = null; }
        if (chunk !== null && chunk !== undefined) this.write(chunk, encoding);
        if (state.corked > 0) { state.corked = 1; this.uncork(); }
        if (typeof cb === "function") {
          if (state.finished) nextTick(cb, null);
          else { this.once("finish", () => cb(null)); this.once("error", cb); }
        }
        if (!state.ending) {
          state.ending = true;
          finishMaybe(this, state);
          state.ended = true;
        }
        return this;
      },
      cork() { this[kW].corked++; },
      uncork() {
        const state = this[kW];
        if (state.corked > 0) { state.corked--; if (state.corked === 0) clearBuffer(this, state); }
      },
      setDefaultEncoding(enc) { this[kW].defaultEncoding = enc; return this; },
      _write(chunk, encoding, cb) {
        if (typeof this._writev === "function") this._writev([{ chunk, encoding }], cb);
        else throw code(Error, "ERR_METHOD_NOT_IMPLEMENTED", "The _write() method is not implemented");
      },
      destroy(err, cb) { return destroyImpl(this, err, cb); },
    };
    for (const k of ObjectKeys(writableMethods)) {
      ObjectDefineProperty(Writable.prototype, k, { value: writableMethods[k], writable: true, configurable: true });
    }
    const wGetters = {
      writable() { const s = this[kW]; return !!s && !s.destroyed && !s.errored && !s.ending; },
      writableEnded() { return this[kW].ending; },
      writableFinished() { return this[kW].finished; },
      writableLength() { return this[kW].length; },
      writableHighWaterMark() { return this[kW].highWaterMark; },
      writableObjectMode() { return this[kW].objectMode; },
      writableCorked() { return this[kW].corked; },
      writableNeedDrain() { const s = this[kW]; return !s.destroyed && !s.ending && s.needDrain; },
      destroyed: rGetters.destroyed,
      closed: rGetters.closed,
      errored: rGetters.errored,
    };
    for (const k of ObjectKeys(wGetters)) ObjectDefineProperty(Writable.prototype, k, { get: wGetters[k], configurable: true });
    Writable.fromWeb = (ws) => {
      const writer = ws.getWriter();
      return new Writable({
        write(chunk, _enc, cb) { PromisePrototypeThen(writer.write(chunk), () => cb(), cb); },
        final(cb) { PromisePrototypeThen(writer.close(), () => cb(), cb); },
        destroy(err, cb) { PromisePrototypeThen(writer.abort(err ?? undefined), () => cb(err), () => cb(err)); },
      });
    };
    Writable.toWeb = (writable) => new WritableStream({
      write(chunk) {
        return new Promise((resolve, reject) => {
          if (writable.write(chunk, (e) => { if (e) reject(e); })) resolve(); else writable.once("drain", resolve);
        });
      },
      close() { return new Promise((resolve, reject) => { writable.end((e) => (e ? reject(e) : resolve())); }); },
      abort(reason) { destroyImpl(writable, reason); },
    });

    // ---- Duplex: a Readable with a Writable's state and methods ----
    function Duplex(options) {
      if (!(this instanceof Duplex)) return new Duplex(options);
      ReflectApply(Readable, this, [options]);
      initWritable(this, options);
      this.allowHalfOpen = options?.allowHalfOpen !== false;
      if (options?.readable === false) { this[kR].ended = true; this[kR].endEmitted = true; }
      if (options?.writable === false) { this[kW].ending = this[kW].ended = this[kW].finished = true; }
      if (!this.allowHalfOpen) this.once("end", () => { if (!this[kW].ending) this.end(); });
    }
    Object.setPrototypeOf(Duplex.prototype, Readable.prototype);
    Object.setPrototypeOf(Duplex, Readable);
    for (const k of ObjectKeys(writableMethods)) {
      if (k === "destroy") continue;
      ObjectDefineProperty(Duplex.prototype, k, { value: writableMethods[k], writable: true, configurable: true });
    }
    for (const k of ObjectKeys(wGetters)) {
      if (k === "destroyed" || k === "closed" || k === "errored") continue;
      ObjectDefineProperty(Duplex.prototype, k, ObjectGetOwnPropertyDescriptor(Writable.prototype, k));
    }
    ObjectDefineProperty(Writable, Symbol.hasInstance, {
      value(obj) {
        if (this !== Writable) return Function.prototype[Symbol.hasInstance].call(this, obj);
        return obj !== null && typeof obj === "object" && obj[kW] !== undefined;
      },
      configurable: true,
    });
    Duplex.from = (body) => {
      if (body instanceof Duplex) return body;
      if (body instanceof Readable || body instanceof Writable) return body;
      if (body instanceof ReadableStream) return Readable.fromWeb(body);
      if (body?.readable instanceof ReadableStream && body?.writable instanceof WritableStream) {
        const r = Readable.fromWeb(body.readable);
        const w = Writable.fromWeb(body.writable);
        return new Duplex({
          read() { r.once("readable", () => { let c; while ((c = r.read()) !== null) this.push(c); }); r.read(0); r.once("end", () => this.push(null)); },
          write(c, e, cb) { w.write(c, e, cb); },
          final(cb) { w.end(cb); },
        });
      }
      return Readable.from(body);
    };

    // ---- Transform ----
    function Transform(options) {
      if (!(this instanceof Transform)) return new Transform(options);
      ReflectApply(Duplex, this, [options]);
      this[kR].sync = false;
      this._pendingCallback = null;
      if (typeof options?.transform === "function") this._transform = options.transform;
      if (typeof options?.flush === "function") this._flush = options.flush;
    }
    Object.setPrototypeOf(Transform.prototype, Duplex.prototype);
    Object.setPrototypeOf(Transform, Duplex);
    const transformMethods = {
      _transform() { throw code(Error, "ERR_METHOD_NOT_IMPLEMENTED", "The _transform() method is not implemented"); },
      _write(chunk, encoding, callback) {
        const r = this[kR];
        this._transform(chunk, encoding, (err, data) => {
          if (err) { callback(err); return; }
          if (data !== null && data !== undefined) this.push(data);
          // Hold the writer back while the readable side is full.
          if (r.length < r.highWaterMark || r.ended || r.destroyed) callback();
          else this._pendingCallback = callback;
        });
      },
      _read() {
        const cb = this._pendingCallback;
        if (cb !== null) { this._pendingCallback = null; cb(); }
      },
      _final(cb) {
        const done = (err, data) => {
          if (err) { cb(err); return; }
          if (data !== null && data !== undefined) this.push(data);
          this.push(null);
          cb();
        };
        if (typeof this._flush === "function") {
          try { this._flush(done); } catch (e) { done(e); }
        } else done(null);
      },
    };
    for (const k of ObjectKeys(transformMethods)) {
      ObjectDefineProperty(Transform.prototype, k, { value: transformMethods[k], writable: true, configurable: true });
    }

    function PassThrough(options) {
      if (!(this instanceof PassThrough)) return new PassThrough(options);
      ReflectApply(Transform, this, [options]);
    }
    Object.setPrototypeOf(PassThrough.prototype, Transform.prototype);
    Object.setPrototypeOf(PassThrough, Transform);
    PassThrough.prototype._transform = function (chunk, _enc, cb) { cb(null, chunk); };

    return { Writable, Duplex, Transform, PassThrough };
  };
});
