// isoproxy glue, part 1: `console`, written into the proxy's log.
// Spec: https://console.spec.whatwg.org/ (formatting follows Node/workerd style)
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    ArrayBuffer, Date, Error, Map, Number, RegExp, Set, String, Symbol,
    ArrayIsArray, ArrayBufferIsView, DateNow, JSONStringify, MapPrototypeDelete, MapPrototypeGet, MapPrototypeSet,
    ObjectHasOwn, ObjectKeys, RegExpTest, SetPrototypeAdd, SetPrototypeDelete, SetPrototypeHas, StringPrototypeIndexOf,
    SymbolToStringTag, uncurryThis,
  } = internal.primordials;
  const MapPrototypeEntries = uncurryThis(Map.prototype.entries);
  const MapIteratorNext = uncurryThis(Object.getPrototypeOf(new Map().entries()).next);
  const SetPrototypeValues = uncurryThis(Set.prototype.values);
  const SetIteratorNext = uncurryThis(Object.getPrototypeOf(new Set().values()).next);
  const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);
  const SymbolPrototypeToString = uncurryThis(Symbol.prototype.toString);
  const parseInt = globalThis.parseInt;

  // `f` applied to each item of an array-like or iterator, joined by ", ";
  // index loops and captured iterator steps, so the formatting of the
  // runtime's own messages does not depend on what a Worker replaced.
  function joinMapped(list, f) {
    let out = "";
    for (let i = 0; i < list.length; i++) out += (i === 0 ? "" : ", ") + f(list[i]);
    return out;
  }
  function collect(iter, next) {
    const out = [];
    for (let r = next(iter); !r.done; r = next(iter)) out[out.length] = r.value;
    return out;
  }

  const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
  const SUBSTITUTION = /%[sdifoOjc%]/g;
  const RegExpPrototypeSymbolReplace = uncurryThis(RegExp.prototype[Symbol.replace]);

  // A readable rendering of any value (https://console.spec.whatwg.org/#formatter).
  function inspect(v, depth = 0, seen = new Set()) {
    switch (typeof v) {
      case "string": return depth === 0 ? v : JSONStringify(v);
      case "number": case "boolean": case "undefined": return String(v);
      case "bigint": return `${v}n`;
      case "symbol": return SymbolPrototypeToString(v);
      case "function": return `[Function: ${v.name || "(anonymous)"}]`;
    }
    if (v === null) return "null";
    if (v instanceof Error) return v.stack || `${v.name}: ${v.message}`;
    if (SetPrototypeHas(seen, v)) return "[Circular]";
    if (depth > 2) return ArrayIsArray(v) ? "[Array]" : "[Object]";
    SetPrototypeAdd(seen, v);
    try {
      if (ArrayIsArray(v)) {
        if (v.length === 0) return "[]";
        return `[ ${joinMapped(v, (x) => inspect(x, depth + 1, seen))} ]`;
      }
      if (v instanceof Map) {
        const items = collect(MapPrototypeEntries(v), MapIteratorNext);
        const text = joinMapped(items, (e) => `${inspect(e[0], depth + 1, seen)} => ${inspect(e[1], depth + 1, seen)}`);
        return `Map(${v.size}) { ${text}${items.length ? " " : ""}}`;
      }
      if (v instanceof Set) {
        const items = collect(SetPrototypeValues(v), SetIteratorNext);
        return `Set(${v.size}) { ${joinMapped(items, (x) => inspect(x, depth + 1, seen))}${items.length ? " " : ""}}`;
      }
      if (v instanceof Date) return DatePrototypeToISOString(v);
      if (v instanceof RegExp) return String(v);
      if (ArrayBufferIsView(v)) return `${v.constructor.name}(${v.length}) [ ${joinMapped(v, String)} ]`;
      if (v instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${v.byteLength} }`;
      if (typeof v.then === "function") return "Promise { <pending> }";
      const tag = v[SymbolToStringTag];
      const keys = ObjectKeys(v);
      const prefix = tag && !ObjectHasOwn(v, SymbolToStringTag) ? `${tag} ` : "";
      if (keys.length === 0) return `${prefix}{}`;
      const key = (k) => (RegExpTest(IDENTIFIER, k) ? k : JSONStringify(k));
      return `${prefix}{ ${joinMapped(keys, (k) => `${key(k)}: ${inspect(v[k], depth + 1, seen)}`)} }`;
    } finally {
      SetPrototypeDelete(seen, v);
    }
  }
  internal.inspect = inspect;

  // printf-style substitutions (https://console.spec.whatwg.org/#formatter).
  function format(args) {
    if (args.length === 0) return "";
    let out;
    let from;
    if (typeof args[0] === "string" && StringPrototypeIndexOf(args[0], "%") >= 0) {
      let i = 1;
      const first = RegExpPrototypeSymbolReplace(SUBSTITUTION, args[0], (m) => {
        if (m === "%%") return "%";
        if (i >= args.length) return m;
        const a = args[i++];
        switch (m) {
          case "%s": return typeof a === "string" ? a : inspect(a, 1);
          case "%d": case "%i": return String(parseInt(a, 10));
          case "%f": return String(Number(a));
          case "%c": return "";
          default: return inspect(a, 1);
        }
      });
      out = first;
      from = i;
    } else {
      out = inspect(args[0]);
      from = 1;
    }
    for (let j = from; j < args.length; j++) out += ` ${inspect(args[j])}`;
    return out;
  }

  const emit = (level) => (...args) => { ops.console_log(level, format(args)); };
  // For the runtime's own reports (an uncaught error in `waitUntil` work, a
  // listener): the captured formatter, whatever the Worker did to `console`.
  internal.logError = emit(3);
  const counts = new Map();
  const timers = new Map();
  const console = {
    debug: emit(0), log: emit(1), info: emit(1), warn: emit(2), error: emit(3), trace: emit(0),
    dir: (v) => ops.console_log(1, inspect(v, 1)),
    table: (v) => ops.console_log(1, inspect(v, 1)),
    assert: (cond, ...args) => { if (!cond) ops.console_log(3, `Assertion failed${args.length ? ": " + format(args) : ""}`); },
    count: (label = "default") => { const n = (MapPrototypeGet(counts, label) || 0) + 1; MapPrototypeSet(counts, label, n); ops.console_log(1, `${label}: ${n}`); },
    countReset: (label = "default") => { MapPrototypeDelete(counts, label); },
    time: (label = "default") => { MapPrototypeSet(timers, label, DateNow()); },
    timeEnd: (label = "default") => { const t = MapPrototypeGet(timers, label); MapPrototypeDelete(timers, label); if (t !== undefined) ops.console_log(1, `${label}: ${DateNow() - t}ms`); },
    timeLog: (label = "default", ...args) => { const t = MapPrototypeGet(timers, label); if (t !== undefined) { const rest = format(args); ops.console_log(1, `${label}: ${DateNow() - t}ms${rest === "" ? "" : ` ${rest}`}`); } },
    group: () => {}, groupEnd: () => {}, groupCollapsed: () => {},
  };
  internal.defineGlobals({ console });
})();
