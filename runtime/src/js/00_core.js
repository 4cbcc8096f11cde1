// isoproxy glue, part 0: the built-ins the glue uses (captured before any
// Worker code runs), the private namespace shared by the glue files, the
// table of pending async ops and small helpers. Runs first; Rust removes the
// `__ops` and `__internal` globals after the glue has loaded.
"use strict";
(function () {
  const ops = globalThis.__ops;

  // The built-ins the glue relies on, captured here, before any Worker code
  // runs (this file is part of the startup snapshot), so that a Worker that
  // replaces `Map.prototype.get`, `Promise.prototype.then`, `JSON.parse` or a
  // global such as `Uint8Array` changes its own code only, never the
  // runtime's bookkeeping. Methods come "uncurried": `MapPrototypeGet(map,
  // key)` calls the original `Map.prototype.get` with `map` as `this`, through
  // a `Function.prototype.call` bound now. The other glue files take what
  // they need from `internal.primordials` and shadow the globals with it.
  const { bind, call } = Function.prototype;
  const uncurryThis = bind.call(bind, call);
  const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
  const primordials = {
    __proto__: null,
    Array, ArrayBuffer, BigInt, Boolean, DataView, Date, Error, EvalError, Map, Math, Number, Object,
    Promise, RangeError, ReferenceError, Reflect, RegExp, Set, String, Symbol, SyntaxError, TypeError,
    URIError, Uint8Array, WeakMap, WeakSet, JSON, globalThis,
    SymbolIterator: Symbol.iterator,
    SymbolAsyncIterator: Symbol.asyncIterator,
    SymbolToStringTag: Symbol.toStringTag,
    ArrayIsArray: Array.isArray,
    ArrayPrototypeFilter: uncurryThis(Array.prototype.filter),
    ArrayPrototypeFindIndex: uncurryThis(Array.prototype.findIndex),
    ArrayPrototypeIncludes: uncurryThis(Array.prototype.includes),
    ArrayPrototypeIndexOf: uncurryThis(Array.prototype.indexOf),
    ArrayPrototypeJoin: uncurryThis(Array.prototype.join),
    ArrayPrototypeMap: uncurryThis(Array.prototype.map),
    ArrayPrototypePop: uncurryThis(Array.prototype.pop),
    ArrayPrototypePush: uncurryThis(Array.prototype.push),
    ArrayPrototypeShift: uncurryThis(Array.prototype.shift),
    ArrayPrototypeSlice: uncurryThis(Array.prototype.slice),
    ArrayPrototypeSome: uncurryThis(Array.prototype.some),
    ArrayPrototypeSort: uncurryThis(Array.prototype.sort),
    ArrayPrototypeSplice: uncurryThis(Array.prototype.splice),
    ArrayBufferIsView: ArrayBuffer.isView,
    ArrayBufferPrototypeSlice: uncurryThis(ArrayBuffer.prototype.slice),
    DateNow: Date.now,
    FunctionPrototypeCall: uncurryThis(call),
    JSONParse: JSON.parse,
    JSONStringify: JSON.stringify,
    MapPrototypeDelete: uncurryThis(Map.prototype.delete),
    MapPrototypeGet: uncurryThis(Map.prototype.get),
    MapPrototypeHas: uncurryThis(Map.prototype.has),
    MapPrototypeSet: uncurryThis(Map.prototype.set),
    MathMax: Math.max,
    MathMin: Math.min,
    NumberIsInteger: Number.isInteger,
    NumberIsNaN: Number.isNaN,
    NumberIsFinite: Number.isFinite,
    ObjectCreate: Object.create,
    ObjectDefineProperty: Object.defineProperty,
    ObjectEntries: Object.entries,
    ObjectFreeze: Object.freeze,
    ObjectGetOwnPropertyDescriptor: Object.getOwnPropertyDescriptor,
    ObjectGetOwnPropertyNames: Object.getOwnPropertyNames,
    ObjectGetPrototypeOf: Object.getPrototypeOf,
    ObjectHasOwn: Object.hasOwn,
    ObjectKeys: Object.keys,
    ObjectPrototypeIsPrototypeOf: uncurryThis(Object.prototype.isPrototypeOf),
    ObjectPrototypeToString: uncurryThis(Object.prototype.toString),
    ObjectSetPrototypeOf: Object.setPrototypeOf,
    PromisePrototypeThen: uncurryThis(Promise.prototype.then),
    PromiseReject: bind.call(Promise.reject, Promise),
    PromiseResolve: bind.call(Promise.resolve, Promise),
    ReflectApply: Reflect.apply,
    ReflectOwnKeys: Reflect.ownKeys,
    RegExpPrototypeExec: uncurryThis(RegExp.prototype.exec),
    SetPrototypeAdd: uncurryThis(Set.prototype.add),
    SetPrototypeDelete: uncurryThis(Set.prototype.delete),
    SetPrototypeHas: uncurryThis(Set.prototype.has),
    StringPrototypeCharCodeAt: uncurryThis(String.prototype.charCodeAt),
    StringPrototypeIndexOf: uncurryThis(String.prototype.indexOf),
    StringPrototypeSlice: uncurryThis(String.prototype.slice),
    StringPrototypeToLowerCase: uncurryThis(String.prototype.toLowerCase),
    StringPrototypeToUpperCase: uncurryThis(String.prototype.toUpperCase),
    StringPrototypeToWellFormed: uncurryThis(String.prototype.toWellFormed),
    StringPrototypeTrim: uncurryThis(String.prototype.trim),
    TypedArrayPrototypeSet: uncurryThis(TypedArrayPrototype.set),
    TypedArrayPrototypeSlice: uncurryThis(TypedArrayPrototype.slice),
    TypedArrayPrototypeSubarray: uncurryThis(TypedArrayPrototype.subarray),
    uncurryThis,
  };

  // Map and Set subclasses whose methods are copied, now, onto their own
  // prototypes: the glue calls them as plain methods on its internal maps
  // (inline-cached, as fast as on a Map), and no Worker can reach those
  // prototypes to replace them.
  const makeSafe = (Base, Safe) => {
    const keys = Reflect.ownKeys(Base.prototype);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] !== "constructor") Object.defineProperty(Safe.prototype, keys[i], Object.getOwnPropertyDescriptor(Base.prototype, keys[i]));
    }
    Object.freeze(Safe.prototype);
    return Safe;
  };
  primordials.SafeMap = makeSafe(Map, class SafeMap extends Map {});
  primordials.SafeSet = makeSafe(Set, class SafeSet extends Set {});

  // Whether `re` matches `s`, through the original `RegExp.prototype.exec`
  // (`re.test(s)` would look `exec` up on the regexp).
  primordials.RegExpTest = (re, s) => primordials.RegExpPrototypeExec(re, s) !== null;

  // `Promise.allSettled` for the glue: settles once every promise now in
  // `list` settled, using no method a Worker can replace.
  const NativePromise = Promise;
  primordials.SafePromiseAllSettled = (list) => new NativePromise((resolve) => {
    let left = list.length;
    if (left === 0) { resolve(undefined); return; }
    const one = () => { if (--left === 0) resolve(undefined); };
    for (let i = 0; i < list.length; i++) primordials.PromisePrototypeThen(primordials.PromiseResolve(list[i]), one, one);
  });
  Object.freeze(primordials);

  Object.defineProperty(globalThis, "__internal", { value: { ops, primordials }, configurable: true, writable: true });
})();

(function () {
  const internal = globalThis.__internal;
  const { primordials } = internal;
  const {
    ArrayBuffer, Promise, SafeMap, TypeError, Uint8Array, globalThis: global,
    ArrayBufferIsView, ObjectDefineProperty, ObjectKeys, SymbolToStringTag,
  } = primordials;

  const ops = internal.ops;

  // Pending async ops by id: each is a { resolve, reject } pair or a callback.
  const waiters = new SafeMap();

  // A promise for the async op `id` (an op's result arrives via `complete`).
  // (Null-prototype records: a Worker's `Object.prototype.fn` cannot leak in.)
  internal.opPromise = (id) => new Promise((resolve, reject) => { waiters.set(id, { __proto__: null, resolve, reject }); });

  // Call `fn(ok, value)` when the async op `id` completes, or `drop()` if
  // it is cancelled with its request instead.
  // Once an AsyncLocalStorage has held a value (node:async_hooks), such a
  // callback runs in the async context frame current when it was
  // registered, as a promise continuation would.
  internal.onOp = (id, fn, drop) => {
    if (internal.asyncContextUsed) {
      const frame = ops.async_context_get();
      const inner = fn;
      fn = (ok, value) => internal.runInFrame(frame, inner, undefined, [ok, value]);
    }
    waiters.set(id, { __proto__: null, fn, drop });
  };

  // Call `fn` with `self` and `args` with the AsyncLocalStorage stores of
  // async context `frame` (see ops/context.rs), then restore the frame
  // current before. The request tag stays that of the code running now, so
  // that a frame captured by one request never makes another request's
  // work look like the first one's.
  internal.asyncContextUsed = false;
  internal.runInFrame = (frame, fn, self, args) => {
    const before = ops.async_context_get();
    const tag = primordials.ArrayIsArray(before) ? before[0] : before;
    ops.async_context_set(primordials.ArrayIsArray(frame) ? [tag, frame[1]] : tag);
    try {
      return primordials.ReflectApply(fn, self, args);
    } finally {
      ops.async_context_set(before);
    }
  };

  internal.forgetOp = (id) => { waiters.delete(id); };

  // Called by Rust when an op completes. A failed op's value is a message.
  internal.complete = (id, ok, value) => {
    const w = waiters.get(id);
    if (w === undefined) return;
    waiters.delete(id);
    if (w.fn !== undefined) { w.fn(ok, value); return; }
    if (ok) w.resolve(value); else w.reject(new TypeError(`${value}`));
  };

  // The request that started ops `ids` ended and Rust aborted them: what
  // waits for them is let go (a promise stays pending and is collected).
  internal.dropOps = (ids) => {
    for (let i = 0; i < ids.length; i++) {
      const w = waiters.get(ids[i]);
      if (w === undefined) continue;
      waiters.delete(ids[i]);
      if (w.drop !== undefined) w.drop();
    }
  };

  // Bytes of a BufferSource as a Uint8Array view (no copy).
  internal.toBytes = (x) => {
    if (x instanceof Uint8Array) return x;
    if (ArrayBufferIsView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    if (x instanceof ArrayBuffer) return new Uint8Array(x);
    // Looked up now: the global may appear after the snapshot was made.
    const SharedArrayBuffer = global.SharedArrayBuffer;
    if (typeof SharedArrayBuffer === "function" && x instanceof SharedArrayBuffer) return new Uint8Array(x);
    return null;
  };

  // Define non-enumerable globals, as WebIDL interfaces are.
  internal.defineGlobals = (obj) => {
    const keys = ObjectKeys(obj);
    for (let i = 0; i < keys.length; i++) {
      ObjectDefineProperty(global, keys[i], { value: obj[keys[i]], writable: true, configurable: true, enumerable: false });
    }
  };

  // Make class prototype methods/getters non-enumerable-safe and give it a
  // Symbol.toStringTag, as WebIDL does.
  internal.brand = (cls, name) => {
    ObjectDefineProperty(cls.prototype, SymbolToStringTag, { value: name, configurable: true });
  };

  internal.defineGlobals({ self: global });
})();
