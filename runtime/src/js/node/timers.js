// isoproxy node compat: node:timers, node:timers/promises, and aliases of
// other modules under their other names (node:util/types, node:sys,
// node:stream/web). https://nodejs.org/api/timers.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const { Promise, PromisePrototypeThen, PromiseResolve, SymbolAsyncIterator } = internal.primordials;
  const { setTimeout, clearTimeout, setInterval, clearInterval, DOMException } = globalThis;

  const setImmediate = (fn, ...args) => setTimeout(fn, 0, ...args);
  const clearImmediate = (handle) => clearTimeout(handle);

  const aborted = (signal) => signal.reason ?? new DOMException("The operation was aborted", "AbortError");

  // A promise for `value` after `ms`, rejected early by `options.signal`.
  function delay(ms, value, options) {
    const signal = options?.signal;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) { reject(aborted(signal)); return; }
      const onAbort = () => { clearTimeout(handle); reject(aborted(signal)); };
      const handle = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(value); }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  const promises = {
    __proto__: null,
    setTimeout: (ms, value, options) => delay(ms, value, options),
    setImmediate: (value, options) => delay(0, value, options),
    // An async iterator yielding `value` every `ms`.
    setInterval(ms, value, options) {
      const signal = options?.signal;
      let stopped = false;
      return {
        next() {
          if (stopped) return PromiseResolve({ value: undefined, done: true });
          return PromisePrototypeThen(delay(ms, value, options), (v) => ({ value: v, done: false }));
        },
        return() { stopped = true; return PromiseResolve({ value: undefined, done: true }); },
        [SymbolAsyncIterator]() { return this; },
        get signal() { return signal; },
      };
    },
    scheduler: { wait: (ms, options) => delay(ms, undefined, options), yield: () => delay(0) },
  };

  internal.registerBuiltin("node:timers", () => ({
    __proto__: null, setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, promises,
  }));
  internal.registerBuiltin("node:timers/promises", () => ({ __proto__: null, ...promises }));
  internal.registerBuiltin("node:util/types", () => {
    const { types } = internal.requireBuiltin("node:util");
    const out = { __proto__: null };
    for (const k in types) out[k] = types[k];
    return out;
  });
  internal.registerBuiltin("node:sys", () => ({ __proto__: null, ...internal.requireBuiltin("node:util") }));
  // node:stream/web: the Web stream classes the runtime has, as the glue
  // defined them (captured now: a Worker may replace the globals).
  const webStreams = { __proto__: null };
  for (const k of ["ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader", "ReadableStreamBYOBRequest",
    "ReadableByteStreamController", "ReadableStreamDefaultController", "TransformStream", "TransformStreamDefaultController",
    "WritableStream", "WritableStreamDefaultWriter", "WritableStreamDefaultController", "ByteLengthQueuingStrategy",
    "CountQueuingStrategy", "TextEncoderStream", "TextDecoderStream", "CompressionStream", "DecompressionStream"]) {
    if (typeof globalThis[k] === "function") webStreams[k] = globalThis[k];
  }
  internal.registerBuiltin("node:stream/web", () => ({ __proto__: null, ...webStreams }));
});
