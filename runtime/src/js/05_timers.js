// isoproxy glue, part 5: timers, queueMicrotask, structuredClone, performance.
// Specs: https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#timers,
// https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#microtask-queuing,
// https://html.spec.whatwg.org/multipage/structured-data.html#dom-structuredclone
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;

  // Timer handle -> { op, cb, args, ms, repeat }
  const timers = new Map();
  let nextHandle = 1;

  function arm(handle) {
    const t = timers.get(handle);
    t.op = ops.timer_start(t.ms);
    internal.onOp(t.op, () => {
      if (timers.get(handle) !== t) return;
      if (t.repeat) arm(handle); else timers.delete(handle);
      if (typeof t.cb === "function") t.cb(...t.args);
      else (0, eval)(String(t.cb));
    }, () => {
      // Its request ended: the timer goes, callback and all.
      if (timers.get(handle) === t) timers.delete(handle);
    });
  }

  function start(cb, ms, args, repeat) {
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
  function setTimeout(cb, ms = 0, ...args) { return start(cb, ms, args, false); }
  // https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#dom-setinterval
  function setInterval(cb, ms = 0, ...args) { return start(cb, ms, args, true); }
  // https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#dom-cleartimeout
  function clearTimeout(handle) { clear(handle); }
  function clearInterval(handle) { clear(handle); }

  // https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#dom-queuemicrotask
  function queueMicrotask(cb) {
    if (typeof cb !== "function") throw new TypeError("queueMicrotask: callback must be a function");
    Promise.resolve().then(() => {
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
    if (memo.has(v)) return memo.get(v);
    let out;
    if (v instanceof Boolean) out = new Boolean(v.valueOf());
    else if (v instanceof Number) out = new Number(v.valueOf());
    else if (v instanceof String) out = new String(v.valueOf());
    else if (typeof BigInt !== "undefined" && Object.prototype.toString.call(v) === "[object BigInt]") out = Object(v.valueOf());
    else if (v instanceof Date) out = new Date(v.getTime());
    else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
    else if (v instanceof ArrayBuffer) out = v.slice(0);
    else if (ArrayBuffer.isView(v)) {
      const buf = clone(v.buffer, memo);
      out = v instanceof DataView ? new DataView(buf, v.byteOffset, v.byteLength) : new v.constructor(buf, v.byteOffset, v.length);
    } else if (v instanceof Map) {
      out = new Map();
      memo.set(v, out);
      for (const [k, x] of v) out.set(clone(k, memo), clone(x, memo));
      return out;
    } else if (v instanceof Set) {
      out = new Set();
      memo.set(v, out);
      for (const x of v) out.add(clone(x, memo));
      return out;
    } else if (v instanceof Error) {
      const ctor = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError }[v.name] ?? Error;
      out = Object.create(ctor.prototype);
      memo.set(v, out);
      Object.defineProperty(out, "message", { value: String(v.message), writable: true, configurable: true });
      if (v.stack !== undefined) Object.defineProperty(out, "stack", { value: String(v.stack), writable: true, configurable: true });
      if ("cause" in v) Object.defineProperty(out, "cause", { value: clone(v.cause, memo), writable: true, configurable: true });
      return out;
    } else if (Array.isArray(v)) {
      out = new Array(v.length);
      memo.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
      return out;
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null && !(v instanceof Object && proto.constructor === Object)) {
        const tag = Object.prototype.toString.call(v);
        if (tag !== "[object Object]" || v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
          throw new DOMException(`${tag} could not be cloned`, "DataCloneError");
        }
      }
      out = {};
      memo.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k], memo);
      return out;
    }
    memo.set(v, out);
    return out;
  }

  // https://html.spec.whatwg.org/multipage/structured-data.html#dom-structuredclone
  function structuredClone(value, options = undefined) {
    if (arguments.length === 0) throw new TypeError("structuredClone: 1 argument required");
    return clone(value, new Map());
  }

  // Reset when the Worker starts (the glue may come from a snapshot).
  let origin = Date.now();
  internal.resetClock = () => { origin = Date.now(); };
  // https://w3c.github.io/hr-time/#the-performance-attribute
  const performance = {
    get timeOrigin() { return origin; },
    now: () => Date.now() - origin,
    toJSON() { return { timeOrigin: origin }; },
  };

  internal.defineGlobals({ setTimeout, setInterval, clearTimeout, clearInterval, queueMicrotask, structuredClone, performance });
})();
