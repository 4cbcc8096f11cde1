// isoproxy node compat: node:stream's finished, pipeline, addAbortSignal
// and the promise forms (node:stream/promises), plus node:stream/consumers.
// Built by node/stream.js through `internal.nodeStreamPipeline`.
// https://nodejs.org/api/stream.html#streampipelinesource-transforms-destination-callback
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

  internal.nodeStreamPipeline = (ctx) => {
    const { kR, kW, code, destroyImpl, Stream, Readable, Writable } = ctx;
    // ---- finished, pipeline ----
    function finished(stream, options, callback) {
      if (typeof options === "function") { callback = options; options = {}; }
      const r = stream[kR], w = stream[kW];
      const wantRead = options?.readable !== false && r !== undefined && !(w !== undefined && r.endEmitted && r.ended && false);
      const wantWrite = options?.writable !== false && w !== undefined;
      let called = false;
      const done = (err) => {
        if (called) return;
        called = true;
        cleanup();
        callback.call(stream, err);
      };
      let readDone = !wantRead || r.endEmitted;
      let writeDone = !wantWrite || w.finished;
      const onEnd = () => { readDone = true; if (writeDone) done(); };
      const onFinish = () => { writeDone = true; if (readDone) done(); };
      const onError = (e) => done(e);
      const onClose = () => {
        if (readDone && writeDone) { done(); return; }
        done(code(Error, "ERR_STREAM_PREMATURE_CLOSE", "Premature close"));
      };
      stream.on("end", onEnd);
      stream.on("finish", onFinish);
      if (options?.error !== false) stream.on("error", onError);
      stream.on("close", onClose);
      const cleanup = () => {
        stream.removeListener("end", onEnd);
        stream.removeListener("finish", onFinish);
        stream.removeListener("error", onError);
        stream.removeListener("close", onClose);
      };
      const state = r ?? w;
      if (state?.errored) nextTick(done, state.errored);
      else if (readDone && writeDone) nextTick(done);
      else if (state?.closed) nextTick(onClose);
      return cleanup;
    }
    function pipeline(...streams) {
      const callback = typeof streams[streams.length - 1] === "function" ? streams.pop() : null;
      if (streams.length === 1 && ArrayIsArray(streams[0])) streams = streams[0];
      if (streams.length < 2) throw code(TypeError, "ERR_MISSING_ARGS", 'The "streams" argument must be specified');
      streams = streams.map((s, i) => {
        if (s instanceof ReadableStream) return Readable.fromWeb(s);
        if (s instanceof WritableStream) return Writable.fromWeb(s);
        if (i === 0 && !(s instanceof Stream) && (s?.[SymbolAsyncIterator] || s?.[SymbolIterator])) return Readable.from(s);
        if (typeof s === "function") {
          // An async generator function over the previous stream.
          return { __fn: s };
        }
        return s;
      });
      for (let i = 1; i < streams.length; i++) {
        if (streams[i]?.__fn) streams[i] = Readable.from(streams[i].__fn(streams[i - 1]));
      }
      let error = null;
      let remaining = streams.length;
      let finishedAll = false;
      const last = streams[streams.length - 1];
      const destroys = [];
      const settle = (err) => {
        if (err && error === null) {
          error = err;
          for (const s of streams) if (!s.destroyed) destroyImpl(s, err);
        }
        if (--remaining === 0 || err) {
          if (finishedAll) return;
          finishedAll = true;
          if (callback) nextTick(callback, error ?? undefined, undefined);
        }
      };
      for (let i = 0; i < streams.length; i++) {
        const s = streams[i];
        const isLast = i === streams.length - 1;
        destroys[i] = finished(s, { readable: isLast ? s[kR] !== undefined && s[kW] === undefined : i === 0 || s[kR] === undefined ? s[kW] === undefined : true, writable: i > 0 }, (err) => settle(err));
        if (i > 0) streams[i - 1].pipe(s);
      }
      return last;
    }
    function addAbortSignal(signal, stream) {
      const abort = () => destroyImpl(stream, new DOMException("The operation was aborted", "AbortError"));
      if (signal.aborted) nextTick(abort);
      else signal.addEventListener("abort", abort, { once: true });
      return stream;
    }
    const promises = {
      __proto__: null,
      pipeline: (...streams) => new Promise((resolve, reject) => {
        pipeline(...streams, (err, v) => (err ? reject(err) : resolve(v)));
      }),
      finished: (stream, options) => new Promise((resolve, reject) => {
        finished(stream, options ?? {}, (err) => (err ? reject(err) : resolve()));
      }),
    };
    internal.streamPromises = promises;
    return { finished, pipeline, addAbortSignal, promises };
  };
  // node:stream/consumers: read a whole Node or Web stream (any async
  // iterable of chunks). https://nodejs.org/api/webstreams.html#utility-consumers
  internal.registerBuiltin("node:stream/consumers", () => {
    const { Buffer } = internal.requireBuiltin("node:buffer");
    async function chunks(stream) {
      const list = [];
      for await (const c of stream) list[list.length] = typeof c === "string" ? Buffer.from(c) : internal.toBytes(c) ?? Buffer.from(`${c}`);
      return list;
    }
    const buffer = async (stream) => Buffer.concat(await chunks(stream));
    const text = async (stream) => (await buffer(stream)).toString("utf8");
    return {
      __proto__: null,
      buffer,
      text,
      json: async (stream) => JSON.parse(await text(stream)),
      arrayBuffer: async (stream) => { const b = await buffer(stream); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); },
      blob: async (stream) => new internal.forms.Blob(await chunks(stream)),
    };
  });
  internal.registerBuiltin("node:stream/promises", () => {
    internal.requireBuiltin("node:stream");
    return { __proto__: null, ...internal.streamPromises };
  });
});
