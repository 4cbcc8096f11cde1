// isoproxy glue, part 1: `console`, written into the proxy's log.
// Spec: https://console.spec.whatwg.org/ (formatting follows Node/workerd style)
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;

  // A readable rendering of any value (https://console.spec.whatwg.org/#formatter).
  function inspect(v, depth = 0, seen = new Set()) {
    switch (typeof v) {
      case "string": return depth === 0 ? v : JSON.stringify(v);
      case "number": case "boolean": case "undefined": return String(v);
      case "bigint": return `${v}n`;
      case "symbol": return v.toString();
      case "function": return `[Function: ${v.name || "(anonymous)"}]`;
    }
    if (v === null) return "null";
    if (v instanceof Error) return v.stack || `${v.name}: ${v.message}`;
    if (seen.has(v)) return "[Circular]";
    if (depth > 2) return Array.isArray(v) ? "[Array]" : "[Object]";
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        if (v.length === 0) return "[]";
        return `[ ${v.map((x) => inspect(x, depth + 1, seen)).join(", ")} ]`;
      }
      if (v instanceof Map) {
        const items = [...v].map(([k, x]) => `${inspect(k, depth + 1, seen)} => ${inspect(x, depth + 1, seen)}`);
        return `Map(${v.size}) { ${items.join(", ")}${items.length ? " " : ""}}`;
      }
      if (v instanceof Set) {
        const items = [...v].map((x) => inspect(x, depth + 1, seen));
        return `Set(${v.size}) { ${items.join(", ")}${items.length ? " " : ""}}`;
      }
      if (v instanceof Date) return v.toISOString();
      if (v instanceof RegExp) return String(v);
      if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.length}) [ ${Array.prototype.join.call(v, ", ")} ]`;
      if (v instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${v.byteLength} }`;
      if (typeof v.then === "function") return "Promise { <pending> }";
      const tag = v[Symbol.toStringTag];
      const keys = Object.keys(v);
      const prefix = tag && !Object.prototype.hasOwnProperty.call(v, Symbol.toStringTag) ? `${tag} ` : "";
      if (keys.length === 0) return `${prefix}{}`;
      const key = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));
      return `${prefix}{ ${keys.map((k) => `${key(k)}: ${inspect(v[k], depth + 1, seen)}`).join(", ")} }`;
    } finally {
      seen.delete(v);
    }
  }
  internal.inspect = inspect;

  // printf-style substitutions (https://console.spec.whatwg.org/#formatter).
  function format(args) {
    if (args.length === 0) return "";
    let out = [];
    let rest = args;
    if (typeof args[0] === "string" && args[0].includes("%")) {
      let i = 1;
      const first = args[0].replace(/%[sdifoOjc%]/g, (m) => {
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
      out.push(first);
      rest = args.slice(i);
    } else {
      out.push(inspect(args[0]));
      rest = args.slice(1);
    }
    for (const a of rest) out.push(inspect(a));
    return out.join(" ");
  }

  const emit = (level) => (...args) => { ops.console_log(level, format(args)); };
  const counts = new Map();
  const timers = new Map();
  const console = {
    debug: emit(0), log: emit(1), info: emit(1), warn: emit(2), error: emit(3), trace: emit(0),
    dir: (v) => ops.console_log(1, inspect(v, 1)),
    table: (v) => ops.console_log(1, inspect(v, 1)),
    assert: (cond, ...args) => { if (!cond) ops.console_log(3, `Assertion failed${args.length ? ": " + format(args) : ""}`); },
    count: (label = "default") => { const n = (counts.get(label) || 0) + 1; counts.set(label, n); ops.console_log(1, `${label}: ${n}`); },
    countReset: (label = "default") => { counts.delete(label); },
    time: (label = "default") => { timers.set(label, Date.now()); },
    timeEnd: (label = "default") => { const t = timers.get(label); timers.delete(label); if (t !== undefined) ops.console_log(1, `${label}: ${Date.now() - t}ms`); },
    timeLog: (label = "default", ...args) => { const t = timers.get(label); if (t !== undefined) ops.console_log(1, `${label}: ${Date.now() - t}ms ${format(args)}`.trimEnd()); },
    group: () => {}, groupEnd: () => {}, groupCollapsed: () => {},
  };
  internal.defineGlobals({ console });
})();
