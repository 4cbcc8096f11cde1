// isoproxy node compat: node:stream: the Stream base, destroy, Readable (with
// async iteration and the conversions to and from Web streams), and the
// module itself; the writable side is in stream_writable.js, pipeline and
// finished in stream_pipeline.js. https://nodejs.org/api/stream.html
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

  internal.registerBuiltin("node:stream", () => {
    const EventEmitter = internal.requireBuiltin("node:events").EventEmitter;
    const { Buffer } = internal.requireBuiltin("node:buffer");
    const kR = Symbol("readableState");
    const kW = Symbol("writableState");
    const code = (Ctor, c, msg) => internal.nodeError(Ctor, c, msg);

    let defaultHWM = 65536;
    const hwmOf = (options, objectMode, key) => {
      const v = options?.[key] ?? options?.highWaterMark;
      if (v === undefined) return objectMode ? 16 : defaultHWM;
      if (!(v >= 0)) throw code(TypeError, "ERR_INVALID_ARG_VALUE", `The property 'options.${key}' is invalid. Received ${v}`);
      return MathFloor(v);
    };
    const MathFloor = Math.floor;
    const sizeOf = (state, chunk) => (state.objectMode ? 1 : chunk.length);

    // The legacy base class: an EventEmitter with pipe().
    function Stream(opts) { ReflectApply(EventEmitter, this, [opts]); }
    Object.setPrototypeOf(Stream.prototype, EventEmitter.prototype);
    Object.setPrototypeOf(Stream, EventEmitter);
    Stream.prototype.pipe = function (dest, options) { return Readable.prototype.pipe.call(this, dest, options); };

    function destroyImpl(stream, err, cb) {
      const r = stream[kR], w = stream[kW];
      const state = r ?? w;
      if (state.destroyed) { if (typeof cb === "function") cb(err); return stream; }
      if (r) r.destroyed = true;
      if (w) w.destroyed = true;
      const done = (e) => {
        if (e) {
          if (r) r.errored = e;
          if (w) w.errored = e;
        }
        nextTick(() => {
          if (e && !state.errorEmitted) { state.errorEmitted = true; stream.emit("error", e); }
          if (state.emitClose !== false) { state.closed = true; if (r) r.closed = true; if (w) w.closed = true; stream.emit("close"); }
          if (typeof cb === "function") cb(e);
        });
      };
      if (typeof stream._destroy === "function") {
        try { stream._destroy(err ?? null, (e) => done(e ?? err)); } catch (e) { done(e); }
      } else done(err);
      return stream;
    }

    // ---- Readable ----
    function Readable(options) {
      if (!(this instanceof Readable)) return new Readable(options);
      ReflectApply(Stream, this, [options]);
      const objectMode = !!(options?.objectMode || options?.readableObjectMode);
      this[kR] = {
        objectMode, highWaterMark: hwmOf(options, objectMode, "readableHighWaterMark"), buffer: [], length: 0,
        flowing: null, ended: false, endEmitted: false, reading: false, sync: false, destroyed: false, errored: null,
        errorEmitted: false, closed: false, emitClose: options?.emitClose !== false, autoDestroy: options?.autoDestroy !== false,
        decoder: null, encoding: null, readableListening: false, needReadable: false, emittedReadable: false, pipes: [],
        dataEmitted: false, readScheduled: false,
      };
      if (options?.encoding) this.setEncoding(options.encoding);
      if (typeof options?.read === "function") this._read = options.read;
      if (typeof options?.destroy === "function") this._destroy = options.destroy;
      if (typeof options?.construct === "function") this._construct = options.construct;
      if (options?.signal) addAbortSignal(options.signal, this);
    }
    Object.setPrototypeOf(Readable.prototype, Stream.prototype);
    Object.setPrototypeOf(Readable, Stream);

    function addChunk(stream, state, chunk) {
      if (state.flowing && state.length === 0 && state.buffer.length === 0) {
        state.dataEmitted = true;
        stream.emit("data", chunk);
      } else {
        state.buffer[state.buffer.length] = chunk;
        state.length += sizeOf(state, chunk);
        if (state.needReadable || state.readableListening) emitReadable(stream, state);
      }
      maybeReadMore(stream, state);
    }
    function readableAddChunk(stream, chunk, encoding, unshift) {
      const state = stream[kR];
      if (chunk === null) {
        if (!state.ended) {
          state.ended = true;
          if (state.decoder !== null) {
            const rest = state.decoder.end();
            if (rest.length > 0) { state.buffer[state.buffer.length] = rest; state.length += state.objectMode ? 1 : rest.length; }
          }
          if (state.length > 0 || state.readableListening) emitReadable(stream, state);
          else maybeEnd(stream, state);
        }
        state.reading = false;
        return false;
      }
      if (!state.objectMode) {
        // Nothing to add (undefined or empty), as in Node: not an error,
        // and no end of stream either.
        if (chunk === undefined || ((typeof chunk === "string" || chunk instanceof Uint8Array) && chunk.length === 0)) {
          state.reading = false;
          if (!state.ended) maybeReadMore(stream, state);
          return state.length < state.highWaterMark;
        }
        if (typeof chunk === "string") {
          if (state.encoding === null || encoding !== state.encoding) chunk = Buffer.from(chunk, encoding);
        } else if (chunk instanceof Uint8Array) {
          if (!Buffer.isBuffer(chunk)) chunk = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        } else {
          const e = internal.invalidArgType("chunk", "of type string or an instance of Buffer or Uint8Array", chunk);
          destroyImpl(stream, e);
          return false;
        }
      }
      if (state.ended && !unshift) {
        destroyImpl(stream, code(Error, "ERR_STREAM_PUSH_AFTER_EOF", "stream.push() after EOF"));
        return false;
      }
      if (state.destroyed) return false;
      state.reading = false;
      if (state.decoder !== null && !state.objectMode && typeof chunk !== "string") {
        chunk = state.decoder.write(chunk);
        if (chunk.length === 0) { maybeReadMore(stream, state); return state.length < state.highWaterMark; }
      }
      if (unshift) {
        ArrayPrototypeSplice(state.buffer, 0, 0, chunk);
        state.length += sizeOf(state, chunk);
      } else addChunk(stream, state, chunk);
      return state.length < state.highWaterMark || state.length === 0;
    }
    function emitReadable(stream, state) {
      state.needReadable = false;
      if (state.emittedReadable) return;
      state.emittedReadable = true;
      nextTick(() => {
        if (!state.destroyed && (state.length > 0 || state.ended)) stream.emit("readable");
        state.emittedReadable = false;
        state.needReadable = !state.flowing && !state.ended && state.length <= state.highWaterMark;
        flow(stream, state);
      });
    }
    function maybeReadMore(stream, state) {
      if (state.readScheduled) return;
      state.readScheduled = true;
      nextTick(() => {
        state.readScheduled = false;
        while (!state.reading && !state.ended && !state.destroyed &&
          (state.length < state.highWaterMark || (state.flowing && state.length === 0))) {
          const before = state.length;
          stream.read(0);
          if (before === state.length) break;
        }
      });
    }
    function maybeEnd(stream, state) {
      if (state.endEmitted || !state.ended || state.length > 0) return;
      nextTick(() => {
        if (state.endEmitted || state.length > 0 || state.destroyed && state.errored) return;
        state.endEmitted = true;
        stream.emit("end");
        const w = stream[kW];
        if (state.autoDestroy && (w === undefined || w.finished || w.autoDestroy === false || stream.allowHalfOpen === false && false)) {
          if (w === undefined || w.finished) destroyImpl(stream);
        }
      });
    }
    function take(state, n) {
      if (state.objectMode) { state.length--; return ArrayPrototypeShift(state.buffer); }
      if (n === undefined || n >= state.length) {
        const all = state.buffer;
        state.buffer = [];
        state.length = 0;
        if (state.decoder !== null || typeof all[0] === "string") {
          let s = "";
          for (let i = 0; i < all.length; i++) s += all[i];
          return s;
        }
        return all.length === 1 ? all[0] : Buffer.concat(all);
      }
      // Exactly n units from the front.
      if (state.decoder !== null || typeof state.buffer[0] === "string") {
        let s = "";
        while (s.length < n) {
          const head = state.buffer[0];
          const want = n - s.length;
          if (head.length <= want) { s += head; ArrayPrototypeShift(state.buffer); } else { s += head.slice(0, want); state.buffer[0] = head.slice(want); }
        }
        state.length -= n;
        return s;
      }
      const out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const head = state.buffer[0];
        const want = n - at;
        if (head.length <= want) { out.set(head, at); at += head.length; ArrayPrototypeShift(state.buffer); }
        else { out.set(head.subarray(0, want), at); at += want; state.buffer[0] = head.subarray(want); }
      }
      state.length -= n;
      return out;
    }
    function flow(stream, state) {
      while (state.flowing && !state.destroyed) {
        const chunk = stream.read();
        if (chunk === null) break;
      }
    }

    const readableMethods = {
      push(chunk, encoding) { return readableAddChunk(this, chunk, encoding, false); },
      unshift(chunk, encoding) { return readableAddChunk(this, chunk, encoding, true); },
      read(n) {
        const state = this[kR];
        if (n !== undefined && typeof n !== "number") n = Number.parseInt(n, 10);
        if (n === 0 && state.length >= state.highWaterMark && !state.ended) { emitReadable(this, state); return null; }
        const want = n === undefined || n !== n ? (state.objectMode ? 1 : state.length) : n;
        if (state.ended && state.length === 0) { maybeEnd(this, state); return null; }
        let doRead = state.length - (n === 0 ? 0 : want) < state.highWaterMark && !state.ended && !state.reading && !state.destroyed;
        if (doRead) {
          state.reading = true;
          state.sync = true;
          try { this._read(state.highWaterMark); } catch (e) { destroyImpl(this, e); }
          state.sync = false;
        }
        let ret = null;
        if (n !== 0 && state.length > 0) {
          if (state.objectMode) ret = take(state);
          else if (n === undefined || n !== n) ret = state.flowing ? take(state, undefined) : take(state, undefined);
          else if (n <= state.length) ret = take(state, n);
          else if (state.ended) ret = take(state, undefined);
        }
        if (ret === null) {
          state.needReadable = state.length <= state.highWaterMark;
          if (state.ended && state.length === 0) maybeEnd(this, state);
        } else {
          state.dataEmitted = true;
          this.emit("data", ret);
          if (state.ended && state.length === 0) maybeEnd(this, state);
          else maybeReadMore(this, state);
        }
        return ret;
      },
      _read() { throw code(Error, "ERR_METHOD_NOT_IMPLEMENTED", "The _read() method is not implemented"); },
      setEncoding(enc) {
        const { StringDecoder } = internal.requireBuiltin("node:string_decoder");
        const state = this[kR];
        state.decoder = new StringDecoder(enc);
        state.encoding = state.decoder.encoding;
        let s = "";
        for (let i = 0; i < state.buffer.length; i++) s += typeof state.buffer[i] === "string" ? state.buffer[i] : state.decoder.write(state.buffer[i]);
        state.buffer = s === "" ? [] : [s];
        state.length = s.length;
        return this;
      },
      pause() {
        const state = this[kR];
        if (state.flowing !== false) { state.flowing = false; this.emit("pause"); }
        return this;
      },
      resume() {
        const state = this[kR];
        if (!state.flowing) {
          state.flowing = !state.readableListening;
          nextTick(() => {
            if (!state.reading) this.read(0);
            this.emit("resume");
            flow(this, state);
            if (state.flowing && !state.reading) this.read(0);
          });
        }
        return this;
      },
      isPaused() { return this[kR].flowing === false; },
      on(ev, fn) {
        const res = EventEmitter.prototype.on.call(this, ev, fn);
        const state = this[kR];
        if (ev === "data") {
          if (state.flowing !== false) this.resume();
        } else if (ev === "readable") {
          if (!state.endEmitted && !state.readableListening) {
            state.readableListening = state.needReadable = true;
            state.flowing = false;
            state.emittedReadable = false;
            if (state.length > 0) emitReadable(this, state);
            else if (!state.reading) nextTick(() => this.read(0));
          }
        }
        return res;
      },
      pipe(dest, options) {
        const src = this;
        const state = src[kR];
        state.pipes[state.pipes.length] = dest;
        const doEnd = options?.end !== false;
        const ondata = (chunk) => {
          if (dest.write(chunk) === false) src.pause();
        };
        const ondrain = () => { if (src.isPaused()) src.resume(); };
        const onend = () => { if (doEnd) dest.end(); };
        const cleanup = () => {
          src.removeListener("data", ondata);
          src.removeListener("end", onend);
          dest.removeListener("drain", ondrain);
          dest.removeListener("close", cleanup);
          dest.removeListener("finish", cleanup);
        };
        src.on("data", ondata);
        dest.on("drain", ondrain);
        src.once("end", onend);
        dest.once("close", cleanup);
        dest.once("finish", cleanup);
        src._unpipe = src._unpipe ?? [];
        src._unpipe[src._unpipe.length] = [dest, cleanup];
        dest.emit("pipe", src);
        if (!state.flowing) src.resume();
        return dest;
      },
      unpipe(dest) {
        const list = this._unpipe ?? [];
        for (let i = list.length - 1; i >= 0; i--) {
          if (dest === undefined || list[i][0] === dest) {
            list[i][1]();
            list[i][0].emit("unpipe", this);
            ArrayPrototypeSplice(list, i, 1);
            const p = ArrayPrototypeIndexOf(this[kR].pipes, list[i]?.[0]);
            if (p >= 0) ArrayPrototypeSplice(this[kR].pipes, p, 1);
          }
        }
        if (this[kR].pipes.length === 0 || dest === undefined) this[kR].pipes = [];
        return this;
      },
      destroy(err, cb) { return destroyImpl(this, err, cb); },
      [SymbolAsyncIterator]() { return iterate(this); },
      async *iterator() { yield* iterate(this); },
      wrap(old) {
        old.on("data", (c) => { if (!this.push(c)) old.pause?.(); });
        old.on("end", () => this.push(null));
        old.on("error", (e) => destroyImpl(this, e));
        this._read = () => old.resume?.();
        return this;
      },
    };
    for (const k of Reflect.ownKeys(readableMethods)) {
      ObjectDefineProperty(Readable.prototype, k, { value: readableMethods[k], writable: true, configurable: true });
    }
    Readable.prototype.addListener = Readable.prototype.on;
    const rGetters = {
      readable() { const s = this[kR]; return !!s && !s.destroyed && !s.errorEmitted && !s.endEmitted; },
      readableEnded() { return this[kR].endEmitted; },
      readableFlowing() { return this[kR].flowing; },
      readableLength() { return this[kR].length; },
      readableHighWaterMark() { return this[kR].highWaterMark; },
      readableObjectMode() { return this[kR].objectMode; },
      readableEncoding() { return this[kR].encoding; },
      readableAborted() { const s = this[kR]; return s.destroyed && !s.endEmitted; },
      readableDidRead() { return this[kR].dataEmitted; },
      destroyed() { return (this[kR] ?? this[kW]).destroyed; },
      closed() { return (this[kR] ?? this[kW]).closed; },
      errored() { return (this[kR] ?? this[kW]).errored; },
    };
    for (const k of ObjectKeys(rGetters)) ObjectDefineProperty(Readable.prototype, k, { get: rGetters[k], configurable: true });

    // Async iteration: one chunk per `next()`, errors rethrown, the stream
    // destroyed if the loop breaks early.
    function iterate(stream) {
      const state = stream[kR];
      let error = null;
      let finished = false;
      let wake = null;
      const signal = () => { if (wake !== null) { const w = wake; wake = null; w(); } };
      stream.on("readable", signal);
      const onEnd = () => { finished = true; signal(); };
      stream.on("end", onEnd);
      stream.on("error", (e) => { error = e; signal(); });
      stream.on("close", onEnd);
      const it = {
        async next() {
          for (;;) {
            if (error !== null) throw error;
            const chunk = state.destroyed ? null : stream.read();
            if (chunk !== null) return { value: chunk, done: false };
            if (error !== null) throw error;
            if (finished || state.endEmitted || state.destroyed) return { value: undefined, done: true };
            await new Promise((resolve) => { wake = resolve; });
          }
        },
        async return() {
          if (!state.endEmitted) destroyImpl(stream, null);
          return { value: undefined, done: true };
        },
        [SymbolAsyncIterator]() { return this; },
      };
      return it;
    }

    Readable.from = (iterable, options) => {
      if (typeof iterable === "string" || iterable instanceof Uint8Array) {
        return new Readable({ objectMode: true, ...options, read() { this.push(iterable); this.push(null); } });
      }
      let it;
      if (iterable?.[SymbolAsyncIterator]) it = iterable[SymbolAsyncIterator]();
      else if (iterable?.[SymbolIterator]) it = iterable[SymbolIterator]();
      else throw internal.invalidArgType("iterable", "an instance of Iterable", iterable);
      let reading = false;
      return new Readable({
        objectMode: true,
        ...options,
        read() {
          if (reading) return;
          reading = true;
          const step = async () => {
            try {
              for (;;) {
                const { value, done } = await it.next();
                if (done) { this.push(null); break; }
                const v = await value;
                if (v === null) throw code(TypeError, "ERR_STREAM_NULL_VALUES", "May not write null values to stream");
                if (!this.push(v)) break;
              }
            } catch (e) { destroyImpl(this, e); }
            reading = false;
          };
          step();
        },
        destroy(err, cb) {
          PromisePrototypeThen(PromiseResolve(typeof it.return === "function" ? it.return() : undefined), () => cb(err), () => cb(err));
        },
      });
    };
    // https://nodejs.org/api/stream.html#streamreadablefromwebreadablestream-options
    Readable.fromWeb = (rs, options) => {
      const reader = rs.getReader();
      return new Readable({
        ...options,
        read() {
          PromisePrototypeThen(reader.read(), ({ value, done }) => {
            if (done) this.push(null); else this.push(value);
          }, (e) => destroyImpl(this, e));
        },
        destroy(err, cb) {
          PromisePrototypeThen(reader.cancel(err ?? undefined), () => cb(err), () => cb(err));
        },
      });
    };
    Readable.toWeb = (readable) => {
      const it = iterate(readable);
      return new ReadableStream({
        async pull(controller) {
          const { value, done } = await it.next();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel(reason) { destroyImpl(readable, reason); },
      }, { highWaterMark: 1 });
    };

    // The writable side and pipeline are in stream_writable.js and
    // stream_pipeline.js; `addAbortSignal` is reached through a thunk as
    // the pipeline part is built last.
    const parts = { Buffer, kR, kW, code, hwmOf, destroyImpl, Stream, Readable, rGetters, addAbortSignal: (s, t) => addAbortSignal(s, t) };
    const { Writable, Duplex, Transform, PassThrough } = internal.nodeStreamWritable(parts);
    const { finished, pipeline, addAbortSignal, promises } = internal.nodeStreamPipeline({ ...parts, Writable });

    Stream.Stream = Stream;
    Stream.Readable = Readable;
    Stream.Writable = Writable;
    Stream.Duplex = Duplex;
    Stream.Transform = Transform;
    Stream.PassThrough = PassThrough;
    Stream.pipeline = pipeline;
    Stream.finished = finished;
    Stream.promises = promises;
    Stream.addAbortSignal = addAbortSignal;
    const isDestroyed = (s) => !!(s[kR] ?? s[kW])?.destroyed;
    return {
      __proto__: null,
      default: Stream,
      Stream, Readable, Writable, Duplex, Transform, PassThrough, pipeline, finished, promises, addAbortSignal,
      destroy: (s, err) => destroyImpl(s, err),
      isDestroyed,
      isReadable: (s) => !!s?.readable,
      isWritable: (s) => !!s?.writable,
      isErrored: (s) => !!(s[kR] ?? s[kW])?.errored,
      isDisturbed: (s) => s instanceof ReadableStream ? internal.isDisturbed(s) : !!s[kR]?.dataEmitted,
      getDefaultHighWaterMark: (objectMode) => (objectMode ? 16 : defaultHWM),
      setDefaultHighWaterMark: (objectMode, v) => { if (!objectMode) defaultHWM = v; },
    };
  });
});
