// isoproxy node compat: node:util (inspect, format, promisify, callbackify,
// inherits, types, TextEncoder/TextDecoder, ...) and node:assert.
// https://nodejs.org/api/util.html, https://nodejs.org/api/assert.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const P = internal.primordials;
  const {
    ArrayBuffer, DataView, Date, Error, Map, Object, Promise, RegExp, Set, String, Symbol, TypeError, WeakMap, WeakSet,
    ArrayIsArray, FunctionPrototypeCall, ObjectDefineProperty, ObjectGetOwnPropertyDescriptor, ObjectGetPrototypeOf,
    ObjectKeys, ObjectPrototypeToString, ObjectSetPrototypeOf, ReflectApply, uncurryThis,
  } = internal.primordials;
  const { TextEncoder, TextDecoder } = globalThis;
  const customInspect = Symbol.for("nodejs.util.inspect.custom");
  const promisifyCustom = Symbol.for("nodejs.util.promisify.custom");

  // A getter or method of a built-in prototype as a brand check: true if
  // calling it on `v` does not throw.
  const brand = (fn) => (v) => {
    if (v === null || typeof v !== "object") return false;
    try { FunctionPrototypeCall(fn, v); return true; } catch { return false; }
  };
  const getter = (proto, name) => ObjectGetOwnPropertyDescriptor(proto, name).get;
  const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
  const typedArrayTag = uncurryThis(getter(TypedArrayPrototype, Symbol.toStringTag));
  const tagIs = (name) => (v) => v !== null && (typeof v === "object" || typeof v === "function") && ObjectPrototypeToString(v) === `[object ${name}]`;
  const isTypedArray = (v) => typedArrayTag(v) !== undefined;
  const typedIs = (name) => (v) => typedArrayTag(v) === name;
  const sab = globalThis.SharedArrayBuffer;

  const types = {
    __proto__: null,
    isDate: brand(Date.prototype.getTime),
    isMap: brand(getter(Map.prototype, "size")),
    isSet: brand(getter(Set.prototype, "size")),
    isWeakMap: brand(function () { return WeakMap.prototype.has.call(this, {}); }),
    isWeakSet: brand(function () { return WeakSet.prototype.has.call(this, {}); }),
    isArrayBuffer: brand(getter(ArrayBuffer.prototype, "byteLength")),
    isSharedArrayBuffer: typeof sab === "function" ? brand(getter(sab.prototype, "byteLength")) : () => false,
    isAnyArrayBuffer: (v) => types.isArrayBuffer(v) || types.isSharedArrayBuffer(v),
    isDataView: brand(getter(DataView.prototype, "byteLength")),
    isArrayBufferView: (v) => ArrayBuffer.isView(v),
    isTypedArray,
    isUint8Array: typedIs("Uint8Array"),
    isUint8ClampedArray: typedIs("Uint8ClampedArray"),
    isUint16Array: typedIs("Uint16Array"),
    isUint32Array: typedIs("Uint32Array"),
    isInt8Array: typedIs("Int8Array"),
    isInt16Array: typedIs("Int16Array"),
    isInt32Array: typedIs("Int32Array"),
    isFloat32Array: typedIs("Float32Array"),
    isFloat64Array: typedIs("Float64Array"),
    isBigInt64Array: typedIs("BigInt64Array"),
    isBigUint64Array: typedIs("BigUint64Array"),
    isPromise: tagIs("Promise"),
    isNativeError: (v) => v instanceof Error || tagIs("Error")(v),
    isAsyncFunction: tagIs("AsyncFunction"),
    isGeneratorFunction: (v) => tagIs("GeneratorFunction")(v) || tagIs("AsyncGeneratorFunction")(v),
    isGeneratorObject: tagIs("Generator"),
    isMapIterator: tagIs("Map Iterator"),
    isSetIterator: tagIs("Set Iterator"),
    isBoxedPrimitive: (v) => v !== null && typeof v === "object" && (v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof Symbol || v instanceof BigInt),
    isNumberObject: (v) => v instanceof Number,
    isStringObject: (v) => v instanceof String,
    isBooleanObject: (v) => v instanceof Boolean,
    isSymbolObject: (v) => v instanceof Symbol,
    isBigIntObject: (v) => v instanceof BigInt,
    isArgumentsObject: tagIs("Arguments"),
    isModuleNamespaceObject: (v) => v !== null && typeof v === "object" && ObjectGetPrototypeOf(v) === null && v[Symbol.toStringTag] === "Module",
    isCryptoKey: (v) => v instanceof globalThis.CryptoKey,
    isKeyObject: () => false,
  };
  // A RegExp (the `source` getter's brand check), not RegExp.prototype.
  types.isRegExp = (v) => {
    if (v === null || typeof v !== "object") return false;
    try { FunctionPrototypeCall(getter(RegExp.prototype, "source"), v); } catch { return false; }
    return v !== RegExp.prototype;
  };

  const { inspect, format, formatWithOptions } = internal.nodeInspect;

  function promisify(original) {
    if (typeof original !== "function") throw internal.invalidArgType("original", "of type function", original);
    if (typeof original[promisifyCustom] === "function") return original[promisifyCustom];
    function fn(...args) {
      return new Promise((resolve, reject) => {
        ReflectApply(original, this, [...args, (err, ...values) => {
          if (err) reject(err); else resolve(values.length > 1 ? values : values[0]);
        }]);
      });
    }
    ObjectSetPrototypeOf(fn, ObjectGetPrototypeOf(original));
    ObjectDefineProperty(fn, promisifyCustom, { value: fn, configurable: true });
    return fn;
  }
  promisify.custom = promisifyCustom;

  function callbackify(original) {
    if (typeof original !== "function") throw internal.invalidArgType("original", "of type function", original);
    return function (...args) {
      const cb = args.pop();
      if (typeof cb !== "function") throw internal.invalidArgType("last argument", "of type function", cb);
      P.PromisePrototypeThen(P.PromiseResolve(ReflectApply(original, this, args)),
        (v) => cb(null, v),
        (e) => {
          if (!e) {
            const wrapped = new Error("Promise was rejected with a falsy value");
            wrapped.code = "ERR_FALSY_VALUE_REJECTION";
            wrapped.reason = e;
            e = wrapped;
          }
          cb(e);
        });
    };
  }

  function inherits(ctor, superCtor) {
    if (typeof ctor !== "function") throw internal.invalidArgType("ctor", "of type function", ctor);
    if (typeof superCtor !== "function" || superCtor.prototype === undefined) throw internal.invalidArgType("superCtor", "of type function", superCtor);
    ObjectDefineProperty(ctor, "super_", { value: superCtor, writable: true, configurable: true });
    ObjectSetPrototypeOf(ctor.prototype, superCtor.prototype);
  }

  function deprecate(fn, msg, code) {
    let warned = false;
    return function (...args) {
      if (!warned) { warned = true; internal.ops.console_log(2, `DeprecationWarning${code ? ` [${code}]` : ""}: ${msg}`); }
      return new.target ? Reflect.construct(fn, args, new.target) : ReflectApply(fn, this, args);
    };
  }

  // Deep equality as node:assert defines it (strict: same prototypes and
  // Object.is for primitives; loose: == for primitives).
  function deepEqual(a, b, strict, memo) {
    if (strict ? Object.is(a, b) : (a === b || (a == b && (a === null || typeof a !== "object") && (b === null || typeof b !== "object")))) return true;
    if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
      if (!strict && (a === null || typeof a !== "object") && (b === null || typeof b !== "object")) return a == b || (a !== a && b !== b);
      return false;
    }
    if (strict && ObjectGetPrototypeOf(a) !== ObjectGetPrototypeOf(b)) return false;
    if (ObjectPrototypeToString(a) !== ObjectPrototypeToString(b)) return false;
    memo = memo ?? new Map();
    if (memo.get(a) === b) return true;
    memo.set(a, b);
    if (types.isDate(a)) { if (a.getTime() !== b.getTime()) return false; }
    else if (types.isRegExp(a)) { if (String(a) !== String(b) || a.lastIndex !== b.lastIndex) return false; }
    else if (a instanceof Error) { if (a.message !== b.message || a.name !== b.name) return false; }
    else if (ArrayBuffer.isView(a)) {
      if (a.byteLength !== b.byteLength) return false;
      const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    } else if (types.isAnyArrayBuffer(a)) {
      if (!deepEqual(new Uint8Array(a), new Uint8Array(b), strict, memo)) return false;
    } else if (types.isBoxedPrimitive(a)) {
      if (!Object.is(a.valueOf(), b.valueOf())) return false;
    }
    if (types.isMap(a)) {
      if (a.size !== b.size) return false;
      for (const [k, v] of a) {
        if (b.has(k)) { if (!deepEqual(v, b.get(k), strict, memo)) return false; continue; }
        let found = false;
        for (const [k2, v2] of b) if (deepEqual(k, k2, strict, memo) && deepEqual(v, v2, strict, memo)) { found = true; break; }
        if (!found) return false;
      }
    } else if (types.isSet(a)) {
      if (a.size !== b.size) return false;
      for (const v of a) {
        if (b.has(v)) continue;
        let found = false;
        for (const v2 of b) if (deepEqual(v, v2, strict, memo)) { found = true; break; }
        if (!found) return false;
      }
    }
    const ka = ObjectKeys(a), kb = ObjectKeys(b);
    if (ka.length !== kb.length) return false;
    if (ArrayIsArray(a) && a.length !== b.length) return false;
    for (let i = 0; i < ka.length; i++) {
      if (!Object.prototype.propertyIsEnumerable.call(b, ka[i])) return false;
      if (!deepEqual(a[ka[i]], b[ka[i]], strict, memo)) return false;
    }
    return true;
  }
  internal.deepEqual = deepEqual;

  internal.registerBuiltin("node:util", () => ({
    __proto__: null,
    inspect,
    format,
    formatWithOptions,
    promisify,
    callbackify,
    inherits,
    deprecate,
    types,
    isDeepStrictEqual: (a, b) => deepEqual(a, b, true),
    TextEncoder,
    TextDecoder,
    isArray: ArrayIsArray,
    isBoolean: (v) => typeof v === "boolean",
    isNull: (v) => v === null,
    isNullOrUndefined: (v) => v === null || v === undefined,
    isNumber: (v) => typeof v === "number",
    isString: (v) => typeof v === "string",
    isSymbol: (v) => typeof v === "symbol",
    isUndefined: (v) => v === undefined,
    isObject: (v) => v !== null && typeof v === "object",
    isFunction: (v) => typeof v === "function",
    isPrimitive: (v) => v === null || (typeof v !== "object" && typeof v !== "function"),
    isRegExp: types.isRegExp,
    isDate: types.isDate,
    isError: types.isNativeError,
    debuglog: () => { const f = () => {}; f.enabled = false; return f; },
    debug: () => { const f = () => {}; f.enabled = false; return f; },
    toUSVString: (s) => P.StringPrototypeToWellFormed(`${s}`),
    stripVTControlCharacters: (s) => `${s}`.replace(/[\u001B\u009B][[\]()#;?]*(?:(?:(?:(?:;[-a-zA-Z\d/#&.:=?%@~_]+)*|[a-zA-Z\d]+(?:;[-a-zA-Z\d/#&.:=?%@~_]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PR-TZcf-ntqry=><~]))/g, ""),
    aborted: (signal) => new Promise((resolve) => {
      if (signal.aborted) resolve(undefined); else signal.addEventListener("abort", () => resolve(undefined), { once: true });
    }),
  }));

  // ---- node:assert ----
  internal.registerBuiltin("node:assert", () => {
    class AssertionError extends Error {
      constructor(options) {
        const { message, actual, expected, operator } = options ?? {};
        super(message !== undefined ? `${message}` : `${inspect(actual)} ${operator} ${inspect(expected)}`);
        this.name = "AssertionError";
        this.code = "ERR_ASSERTION";
        this.actual = actual;
        this.expected = expected;
        this.operator = operator;
        this.generatedMessage = message === undefined;
      }
    }
    const fail = (actual, expected, message, operator, defaultMessage) => {
      if (message instanceof Error) throw message;
      const e = new AssertionError({ message: message ?? defaultMessage, actual, expected, operator });
      e.generatedMessage = message === undefined;
      throw e;
    };
    function ok(value, message) {
      if (arguments.length === 0) fail(undefined, true, "No value argument passed to `assert.ok()`", "==");
      if (!value) fail(value, true, message, "==", `${inspect(value)} == true`);
    }
    function assert(value, message) {
      if (arguments.length === 0) fail(undefined, true, "No value argument passed to `assert.ok()`", "==");
      if (!value) fail(value, true, message, "==", `${inspect(value)} == true`);
    }
    const errorMatches = (e, expected) => {
      if (expected === undefined) return true;
      if (typeof expected === "function") {
        if (expected.prototype !== undefined && e instanceof expected) return true;
        if (Error.isPrototypeOf(expected) || expected === Error) return false;
        return ReflectApply(expected, {}, [e]) === true;
      }
      if (types.isRegExp(expected)) return expected.test(String(e));
      if (expected !== null && typeof expected === "object") {
        for (const k of ObjectKeys(expected)) {
          const want = expected[k];
          if (types.isRegExp(want) && typeof e?.[k] === "string") { if (!want.test(e[k])) return false; }
          else if (!deepEqual(e?.[k], want, true)) return false;
        }
        return true;
      }
      return true;
    };
    const api = {
      ok,
      fail(message = "Failed") { if (message instanceof Error) throw message; throw new AssertionError({ message, operator: "fail" }); },
      // As in workerd, the comparisons are the strict ones under both
      // names (`equal` is `strictEqual`, `deepEqual` is `deepStrictEqual`).
      strictEqual(a, b, m) { if (!Object.is(a, b)) fail(a, b, m, "strictEqual", `Values are not strictly equal:\n\n${inspect(a)} !== ${inspect(b)}\n`); },
      notStrictEqual(a, b, m) { if (Object.is(a, b)) fail(a, b, m, "notStrictEqual", "Expected actual to be strictly unequal to expected"); },
      deepStrictEqual(a, b, m) { if (!deepEqual(a, b, true)) fail(a, b, m, "deepStrictEqual", `Expected values to be strictly deep-equal:\n+ actual - expected\n\n+ ${inspect(a)}\n- ${inspect(b)}`); },
      notDeepStrictEqual(a, b, m) { if (deepEqual(a, b, true)) fail(a, b, m, "notDeepStrictEqual", `Expected "actual" not to be strictly deep-equal to: ${inspect(b)}`); },
      throws(fn, expected, message) {
        if (typeof expected === "string") { message = expected; expected = undefined; }
        try { fn(); } catch (e) {
          if (!errorMatches(e, expected)) throw e;
          return;
        }
        fail(undefined, expected, message, "throws", "Missing expected exception.");
      },
      doesNotThrow(fn, expected, message) {
        if (typeof expected === "string") { message = expected; expected = undefined; }
        try { fn(); } catch (e) { fail(e, expected, message, "doesNotThrow", `Got unwanted exception.\nActual message: "${e?.message}"`); }
      },
      async rejects(p, expected, message) {
        if (typeof expected === "string") { message = expected; expected = undefined; }
        try { await (typeof p === "function" ? p() : p); } catch (e) {
          if (!errorMatches(e, expected)) throw e;
          return;
        }
        fail(undefined, expected, message, "rejects", "Missing expected rejection.");
      },
      async doesNotReject(p, expected, message) {
        if (typeof expected === "string") { message = expected; expected = undefined; }
        try { await (typeof p === "function" ? p() : p); } catch (e) { fail(e, expected, message, "doesNotReject", `Got unwanted rejection.\nActual message: "${e?.message}"`); }
      },
      match(s, re, m) { if (!re.test(s)) fail(s, re, m, "match", `actual: ${JSON.stringify(s)} expected to match: "${String(re)}"`); },
      doesNotMatch(s, re, m) { if (re.test(s)) fail(s, re, m, "doesNotMatch", `actual: ${JSON.stringify(s)} expected not to match: "${String(re)}"`); },
      ifError(v) { if (v !== null && v !== undefined) { if (v instanceof Error) throw v; fail(v, null, undefined, "ifError", `ifError got unwanted exception: ${inspect(v)}`); } },
      AssertionError,
    };
    api.equal = api.strictEqual;
    api.notEqual = api.notStrictEqual;
    api.deepEqual = api.deepStrictEqual;
    api.notDeepEqual = api.notDeepStrictEqual;
    for (const k of ObjectKeys(api)) assert[k] = api[k];
    // assert.strict: the same functions with the strict comparisons.
    function strict(value, message) { return ReflectApply(assert, this, arguments); }
    for (const k of ObjectKeys(api)) strict[k] = api[k];
    strict.strict = strict;
    assert.strict = strict;
    return { __proto__: null, default: assert, ...api, strict };
  });
  internal.registerBuiltin("node:assert/strict", () => {
    const s = internal.requireBuiltin("node:assert").strict;
    const out = { __proto__: null, default: s };
    for (const k of ObjectKeys(s)) out[k] = s[k];
    return out;
  });
});
