// isoproxy glue, part 5: timers, queueMicrotask, structuredClone, performance.
// Specs: https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#timers,
// https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#microtask-queuing,
// https://html.spec.whatwg.org/multipage/structured-data.html#dom-structuredclone
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    Array, ArrayBuffer, BigInt, Boolean, DataView, Date, Error, EvalError, Map, Number, Object, Promise,
    RangeError, ReferenceError, RegExp, Set, String, SyntaxError, TypeError, URIError, WeakMap, WeakSet,
    globalThis: global, ArrayBufferIsView, ArrayIsArray, ArrayBufferPrototypeSlice, DateNow, MapPrototypeGet,
    MapPrototypeHas, MapPrototypeSet, ObjectCreate, ObjectDefineProperty, ObjectGetPrototypeOf,
    ObjectKeys, ObjectPrototypeToString, PromisePrototypeThen, PromiseResolve, ReflectApply, SafeMap, ObjectGetOwnPropertyDescriptor, uncurryThis,
  } = internal.primordials;
  const { DOMException } = globalThis;

  // Timer handle -> { op, cb, args, ms, repeat }
  const timers = new SafeMap();
  let nextHandle = 1;

  function arm(handle) {
    const t = timers.get(handle);
    t.op = ops.timer_start(t.ms);
    internal.onOp(t.op, () => {
      if (timers.get(handle) !== t) return;
      if (t.repeat) arm(handle); else timers.delete(handle);
      ReflectApply(t.cb, global, t.args);
    }, () => {
      // Its request ended: the timer goes, callback and all.
      if (timers.get(handle) === t) timers.delete(handle);
    });
  }

  function start(name, cb, ms, args, repeat) {
    // Code in a string is refused, as in workerd (code generation from
    // strings is off while requests run).
    if (typeof cb !== "function") {
      throw new TypeError(`The "callback" argument of ${name}() must be a function; received ${typeof cb}`);
    }
    ms = Number(ms);
    if (!(ms >= 0)) ms = 0;
    const handle = nextHandle++;
    timers.set(handle, { op: 0, cb, args, ms, repeat });
    arm(handle);
    return handle;
  }

  function clear(handle) {
    const t = timers.get(handle);
    if (t === undefined) return;
    timers.delete(handle);
    internal.forgetOp(t.op);
    ops.timer_cancel(t.op);
  }

  // https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#dom-settimeout
  function setTimeout(cb, ms = 0, ...args) { return start("setTimeout", cb, ms, args, false); }
  // https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#dom-setinterval
  function setInterval(cb, ms = 0, ...args) { return start("setInterval", cb, ms, args, true); }
  // https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#dom-cleartimeout
  function clearTimeout(handle) { clear(handle); }
  function clearInterval(handle) { clear(handle); }

  // https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#dom-queuemicrotask
  function queueMicrotask(cb) {
    if (typeof cb !== "function") throw new TypeError("queueMicrotask: callback must be a function");
    PromisePrototypeThen(PromiseResolve(undefined), () => {
      try { cb(); } catch (e) { internal.reportError(e); }
    });
  }

  // https://html.spec.whatwg.org/multipage/structured-data.html#structuredserializeinternal
  function clone(v, memo) {
    if (v === null || (typeof v !== "object" && typeof v !== "function")) {
      if (typeof v === "symbol") throw new DOMException("Symbol cannot be cloned", "DataCloneError");
      return v;
    }
    if (typeof v === "function") throw new DOMException("function could not be cloned", "DataCloneError");
    if (MapPrototypeHas(memo, v)) return MapPrototypeGet(memo, v);
    let out;
    if (v instanceof Boolean) out = new Boolean(v.valueOf());
    else if (v instanceof Number) out = new Number(v.valueOf());
    else if (v instanceof String) out = new String(v.valueOf());
    else if (ObjectPrototypeToString(v) === "[object BigInt]") out = Object(v.valueOf());
    else if (v instanceof Date) out = new Date(v.getTime());
    else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
    else if (v instanceof ArrayBuffer) out = ArrayBufferPrototypeSlice(v, 0);
    else if (ArrayBufferIsView(v)) {
      const buf = clone(v.buffer, memo);
      out = v instanceof DataView ? new DataView(buf, v.byteOffset, v.byteLength) : new v.constructor(buf, v.byteOffset, v.length);
    } else if (v instanceof Map) {
      out = new Map();
      MapPrototypeSet(memo, v, out);
      for (const [k, x] of v) out.set(clone(k, memo), clone(x, memo));
      return out;
    } else if (v instanceof Set) {
      out = new Set();
      MapPrototypeSet(memo, v, out);
      for (const x of v) out.add(clone(x, memo));
      return out;
    } else if (v instanceof Error) {
      const ctor = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError }[v.name] ?? Error;
      out = ObjectCreate(ctor.prototype);
      MapPrototypeSet(memo, v, out);
      ObjectDefineProperty(out, "message", { value: String(v.message), writable: true, configurable: true });
      if (v.stack !== undefined) ObjectDefineProperty(out, "stack", { value: String(v.stack), writable: true, configurable: true });
      if ("cause" in v) ObjectDefineProperty(out, "cause", { value: clone(v.cause, memo), writable: true, configurable: true });
      return out;
    } else if (ArrayIsArray(v)) {
      out = new Array(v.length);
      MapPrototypeSet(memo, v, out);
      const keys = ObjectKeys(v);
      for (let i = 0; i < keys.length; i++) out[keys[i]] = clone(v[keys[i]], memo);
      return out;
    } else {
      const proto = ObjectGetPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null && !(v instanceof Object && proto.constructor === Object)) {
        const tag = ObjectPrototypeToString(v);
        if (tag !== "[object Object]" || v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
          throw new DOMException(`${tag} could not be cloned`, "DataCloneError");
        }
      }
      out = {};
      MapPrototypeSet(memo, v, out);
      const keys = ObjectKeys(v);
      for (let i = 0; i < keys.length; i++) out[keys[i]] = clone(v[keys[i]], memo);
      return out;
    }
    MapPrototypeSet(memo, v, out);
    return out;
  }

  const abDetached = uncurryThis(ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, "detached").get);
  const abTransfer = uncurryThis(ArrayBuffer.prototype.transfer);
  const ArrayFrom = Array.from;
  // https://html.spec.whatwg.org/multipage/structured-data.html#dom-structuredclone
  function structuredClone(value, options = undefined) {
    if (arguments.length === 0) throw new TypeError("structuredClone: 1 argument required");
    // Only ArrayBuffers can be transferred. The clone copies their bytes and
    // the originals are then detached, which is what a move looks like.
    const list = options?.transfer === undefined ? [] : ArrayFrom(options.transfer);
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      if (!(t instanceof ArrayBuffer)) throw new DOMException("Value not transferable", "DataCloneError");
      if (abDetached(t)) throw new DOMException("An ArrayBuffer is detached and could not be cloned", "DataCloneError");
      for (let j = 0; j < i; j++) if (list[j] === t) throw new DOMException("ArrayBuffer listed twice in transfer", "DataCloneError");
    }
    const out = clone(value, new Map());
    for (let i = 0; i < list.length; i++) abTransfer(list[i]);
    return out;
  }

  // Reset when the Worker starts (the glue may come from a snapshot).
  let origin = DateNow();
  internal.resetClock = () => { origin = DateNow(); };
  // https://w3c.github.io/hr-time/#the-performance-attribute
  const performance = {
    get timeOrigin() { return origin; },
    now: () => DateNow() - origin,
    toJSON() { return { timeOrigin: origin }; },
  };

  internal.defineGlobals({ setTimeout, setInterval, clearTimeout, clearInterval, queueMicrotask, structuredClone, performance });
})();
