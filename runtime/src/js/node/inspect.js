// isoproxy node compat: util.inspect and util.format, in Node's output
// style (quoting, `[Object]` past the depth, `<ref *1>` for cycles, entries
// on one line when they fit, short array items in columns).
// https://nodejs.org/api/util.html#utilinspectobject-options
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const ops = internal.ops;
  const {
    ArrayBuffer, BigInt, Boolean, Date, Error, Map, Math, Number, Object, RegExp, Set, String, Symbol, WeakMap, WeakSet,
    ArrayIsArray, ArrayPrototypeJoin, FunctionPrototypeCall, JSONStringify, ObjectGetOwnPropertyDescriptor,
    ObjectGetOwnPropertyNames, ObjectGetPrototypeOf, ObjectHasOwn, ObjectKeys, ReflectOwnKeys, RegExpTest,
    StringPrototypeCharCodeAt, StringPrototypeIndexOf, StringPrototypeSlice, uncurryThis,
  } = internal.primordials;
  const customInspect = Symbol.for("nodejs.util.inspect.custom");
  const SymbolPrototypeToString = uncurryThis(Symbol.prototype.toString);
  const DatePrototypeGetTime = uncurryThis(Date.prototype.getTime);
  const DatePrototypeToISOString = uncurryThis(Date.prototype.toISOString);
  const RegExpPrototypeToString = uncurryThis(RegExp.prototype.toString);
  const ErrorPrototypeToString = uncurryThis(Error.prototype.toString);
  const FunctionPrototype = Function.prototype;
  const FunctionPrototypeToString = uncurryThis(FunctionPrototype.toString);
  const MapEntries = uncurryThis(Map.prototype.entries);
  const SetValues = uncurryThis(Set.prototype.values);
  const MapSize = uncurryThis(ObjectGetOwnPropertyDescriptor(Map.prototype, "size").get);
  const SetSize = uncurryThis(ObjectGetOwnPropertyDescriptor(Set.prototype, "size").get);
  const ArrayBufferByteLength = uncurryThis(ObjectGetOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get);
  const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
  const TypedArrayTag = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get);
  const TypedArrayLength = uncurryThis(ObjectGetOwnPropertyDescriptor(TypedArrayPrototype, "length").get);
  const isEnumerable = uncurryThis(Object.prototype.propertyIsEnumerable);
  const parseInt = globalThis.parseInt, parseFloat = globalThis.parseFloat;

  const is = (check) => (v) => { try { check(v); return true; } catch { return false; } };
  const isMap = is(MapSize), isSet = is(SetSize), isDate = is(DatePrototypeGetTime), isArrayBuffer = is(ArrayBufferByteLength);
  const isRegExp = (v) => { try { FunctionPrototypeCall(ObjectGetOwnPropertyDescriptor(RegExp.prototype, "source").get, v); return v !== RegExp.prototype; } catch { return false; } };
  const isTypedArray = (v) => TypedArrayTag(v) !== undefined;
  const isError = (v) => v instanceof Error || (v !== null && typeof v === "object" && internal.primordials.ObjectPrototypeToString(v) === "[object Error]");

  const IDENT = /^[a-zA-Z_][a-zA-Z_0-9]*$/;
  const META = [];
  for (let i = 0; i < 32; i++) META[i] = `\\x${i < 16 ? "0" : ""}${i.toString(16).toUpperCase()}`;
  META[8] = "\\b"; META[9] = "\\t"; META[10] = "\\n"; META[12] = "\\f"; META[13] = "\\r";
  META[127] = "\\x7F";

  // A string literal: single quotes unless the text has some and can avoid
  // them with double quotes or backticks.
  function quote(s) {
    let q = "'";
    if (StringPrototypeIndexOf(s, "'") !== -1) {
      if (StringPrototypeIndexOf(s, '"') === -1) q = '"';
      else if (StringPrototypeIndexOf(s, "`") === -1 && StringPrototypeIndexOf(s, "${") === -1) q = "`";
    }
    let out = "";
    let from = 0;
    for (let i = 0; i < s.length; i++) {
      const c = StringPrototypeCharCodeAt(s, i);
      let rep;
      if (c < 32 || c === 127) rep = META[c];
      else if (c === 92) rep = "\\\\";
      else if (c === StringPrototypeCharCodeAt(q, 0)) rep = `\\${q}`;
      else continue;
      out += StringPrototypeSlice(s, from, i) + rep;
      from = i + 1;
    }
    return q + out + StringPrototypeSlice(s, from) + q;
  }

  function formatNumber(n) { return n === 0 && 1 / n < 0 ? "-0" : `${n}`; }
  function formatPrimitive(v) {
    switch (typeof v) {
      case "string": return quote(v);
      case "number": return formatNumber(v);
      case "bigint": return `${v}n`;
      case "symbol": return SymbolPrototypeToString(v);
      default: return `${v}`;
    }
  }

  // The name of the nearest constructor on the prototype chain (null for a
  // null-prototype object).
  function constructorName(obj) {
    let o = obj;
    for (let i = 0; o !== null && i < 100; i++) {
      const d = ObjectGetOwnPropertyDescriptor(o, "constructor");
      if (d !== undefined && typeof d.value === "function" && typeof d.value.name === "string" && d.value.name !== "") return d.value.name;
      o = ObjectGetPrototypeOf(o);
    }
    return null;
  }
  function prefixOf(ctor, tag, fallback, size = "") {
    if (ctor === null) return tag !== "" && fallback !== tag ? `[${fallback}${size}: null prototype] [${tag}] ` : `[${fallback}${size}: null prototype] `;
    if (tag !== "" && ctor !== tag) return `${ctor}${size} [${tag}] `;
    return `${ctor}${size} `;
  }

  function functionBase(fn, ctor, tag) {
    let src = "";
    try { src = FunctionPrototypeToString(fn); } catch { /* a revoked proxy */ }
    if (StringPrototypeSlice(src, 0, 5) === "class" && /^class(\s|\{)/.test(src)) {
      let base = `[class ${fn.name || "(anonymous)"}`;
      const sup = ObjectGetPrototypeOf(fn);
      if (sup !== null && sup !== FunctionPrototype && sup.name) base += ` extends ${sup.name}`;
      return `${base}]`;
    }
    let type = "Function";
    if (ctor === "AsyncFunction") type = "AsyncFunction";
    else if (ctor === "GeneratorFunction") type = "GeneratorFunction";
    else if (ctor === "AsyncGeneratorFunction") type = "AsyncGeneratorFunction";
    let base = `[${type}`;
    if (ctor === null) base += " (null prototype)";
    base += fn.name === "" ? " (anonymous)" : `: ${fn.name}`;
    base += "]";
    if (ctor !== type && ctor !== null) base += ` ${ctor}`;
    if (tag !== "" && ctor !== tag) base += ` [${tag}]`;
    return base;
  }

  function formatError(err, ctor, keys) {
    let stack;
    try { stack = err.stack; } catch { stack = undefined; }
    if (typeof stack !== "string" || stack === "") {
      try { stack = ErrorPrototypeToString(err); } catch { stack = "Error"; }
      stack = `[${stack}]`;
    }
    // Own `name`/`message` already in the stack are not listed again.
    for (const k of ["name", "message", "stack"]) {
      const i = keys.indexOf(k);
      if (i !== -1 && typeof err[k] === "string" && (k === "stack" || stack.includes(err[k]))) keys.splice(i, 1);
    }
    void ctor;
    return stack;
  }

  function newContext(opts) {
    const ctx = {
      depth: 2, breakLength: 128, compact: 3, maxArrayLength: 100, maxStringLength: 10000, customInspect: true,
      showHidden: false, sorted: false, getters: false,
      seen: [], circular: undefined, indentationLvl: 0, currentDepth: 0, budget: {},
    };
    if (opts !== null && typeof opts === "object") {
      for (const k of ObjectKeys(opts)) if (k in ctx && k !== "seen") ctx[k] = opts[k];
      if (ctx.depth === Infinity) ctx.depth = null;
      if (opts.breakLength === undefined && opts.compact === false) ctx.breakLength = 80;
    }
    return ctx;
  }

  function formatValue(ctx, value, recurseTimes, typedArray) {
    if (value === null || (typeof value !== "object" && typeof value !== "function")) {
      if (typeof value === "string" && ctx.maxStringLength !== null && value.length > ctx.maxStringLength) {
        const rest = value.length - ctx.maxStringLength;
        return `${quote(StringPrototypeSlice(value, 0, ctx.maxStringLength))}... ${rest} more character${rest > 1 ? "s" : ""}`;
      }
      return formatPrimitive(value);
    }
    if (ctx.customInspect) {
      let hook;
      try { hook = value[customInspect]; } catch { hook = undefined; }
      if (typeof hook === "function" && hook !== inspect && !(ObjectGetOwnPropertyDescriptor(value, "constructor")?.value?.prototype === value)) {
        const depth = ctx.depth === null ? null : ctx.depth - recurseTimes;
        const r = FunctionPrototypeCall(hook, value, depth, { ...ctx, seen: undefined, budget: undefined, stylize: (s) => s }, inspect);
        if (r !== value) {
          if (typeof r !== "string") return formatValue(ctx, r, recurseTimes);
          return r.replaceAll("\n", `\n${" ".repeat(ctx.indentationLvl)}`);
        }
      }
    }
    if (ctx.seen.includes(value)) {
      let index = 1;
      if (ctx.circular === undefined) {
        ctx.circular = new Map();
        ctx.circular.set(value, index);
      } else if (ctx.circular.has(value)) index = ctx.circular.get(value);
      else { index = ctx.circular.size + 1; ctx.circular.set(value, index); }
      return `[Circular *${index}]`;
    }
    return formatRaw(ctx, value, recurseTimes, typedArray);
  }

  const kObject = 0, kArray = 1;

  function formatRaw(ctx, value, recurseTimes, typedArray) {
    const ctor = constructorName(value);
    let tag = "";
    try { const t = value[Symbol.toStringTag]; if (typeof t === "string") tag = t; } catch { /* a throwing getter */ }
    let keys;
    if (ctx.showHidden) keys = ObjectGetOwnPropertyNames(value);
    else keys = ObjectKeys(value);
    const symbols = ReflectOwnKeys(value).filter((k) => typeof k === "symbol" && (ctx.showHidden || isEnumerable(value, k)));
    let base = "";
    let braces;
    let formatter = () => [];
    let extras = kObject;
    let noIterator = true;
    const depthExceeded = ctx.depth !== null && recurseTimes > ctx.depth;

    if (ArrayIsArray(value)) {
      noIterator = false;
      keys = keys.filter((k) => !isIndex(k));
      const prefix = ctor !== "Array" || tag !== "" ? prefixOf(ctor, tag, "Array", `(${value.length})`) : "";
      braces = [`${prefix}[`, "]"];
      if (value.length === 0 && keys.length === 0 && symbols.length === 0) return `${braces[0]}]`;
      extras = kArray;
      formatter = formatArray;
    } else if (isSet(value)) {
      noIterator = false;
      const size = SetSize(value);
      const prefix = prefixOf(ctor, tag, "Set", `(${size})`);
      formatter = formatSet;
      if (size === 0 && keys.length === 0 && symbols.length === 0) return `${prefix}{}`;
      braces = [`${prefix}{`, "}"];
    } else if (isMap(value)) {
      noIterator = false;
      const size = MapSize(value);
      const prefix = prefixOf(ctor, tag, "Map", `(${size})`);
      formatter = formatMap;
      if (size === 0 && keys.length === 0 && symbols.length === 0) return `${prefix}{}`;
      braces = [`${prefix}{`, "}"];
    } else if (isTypedArray(value)) {
      noIterator = false;
      keys = keys.filter((k) => !isIndex(k));
      const name = TypedArrayTag(value);
      const length = TypedArrayLength(value);
      const prefix = prefixOf(ctor, tag === name ? "" : tag, name, `(${length})`);
      braces = [`${prefix}[`, "]"];
      if (length === 0 && keys.length === 0) return `${braces[0]}]`;
      formatter = formatTypedArray;
      extras = kArray;
    }
    if (noIterator) {
      if (tag === "Object" || tag === ctor) tag = "";
      if (typeof value === "function") {
        base = functionBase(value, ctor, tag);
        keys = keys.filter((k) => k !== "prototype");
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (isRegExp(value)) {
        base = RegExpPrototypeToString(ctor !== null ? value : new RegExp(value));
        const prefix = prefixOf(ctor, tag, "RegExp");
        if (prefix !== "RegExp ") base = `${prefix}${base}`;
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (isDate(value)) {
        const t = DatePrototypeGetTime(value);
        base = t !== t ? "Invalid Date" : DatePrototypeToISOString(value);
        const prefix = prefixOf(ctor, tag, "Date");
        if (prefix !== "Date ") base = `${prefix}${base}`;
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (isError(value)) {
        base = formatError(value, ctor, keys);
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (isArrayBuffer(value)) {
        const prefix = prefixOf(ctor, tag, "ArrayBuffer");
        if (depthExceeded) return `[${prefix.trim()}]`;
        braces = [`${prefix}{`, "}"];
        formatter = formatArrayBuffer;
      } else if (isPromise(value)) {
        braces = [`${prefixOf(ctor, tag, "Promise")}{`, "}"];
        formatter = formatPromise;
      } else if (value instanceof WeakMap || value instanceof WeakSet) {
        braces = [`${prefixOf(ctor, tag, value instanceof WeakMap ? "WeakMap" : "WeakSet")}{`, "}"];
        formatter = () => ["<items unknown>"];
      } else if (isBoxed(value)) {
        const prim = value.valueOf();
        const type = typeof prim === "string" ? "String" : typeof prim === "number" ? "Number" : typeof prim === "boolean" ? "Boolean" : typeof prim === "bigint" ? "BigInt" : "Symbol";
        base = `[${type}${ctor !== type ? ctor === null ? " (null prototype)" : ` (${ctor})` : ""}: ${formatPrimitive(prim)}]`;
        if (typeof prim === "string") keys = keys.filter((k) => !isIndex(k));
        if (keys.length === 0 && symbols.length === 0) return base;
      } else if (ctor === "Object" && tag === "" && isArguments(value)) {
        keys = keys.filter((k) => !isIndex(k));
        braces = ["[Arguments] [", "]"];
        extras = kArray;
        formatter = formatArray;
      } else {
        if (keys.length === 0 && symbols.length === 0) {
          return `${ctor === "Object" && tag === "" ? "" : prefixOf(ctor, tag, "Object")}{}`;
        }
        braces = [`${ctor === "Object" && tag === "" ? "" : prefixOf(ctor, tag, "Object")}{`, "}"];
      }
    }
    if (braces === undefined) braces = ["{", "}"];
    if (depthExceeded) {
      const name = (ctor ?? tag) || "Object";
      return ArrayIsArray(value) ? "[Array]" : `[${name}]`;
    }
    ctx.seen.push(value);
    ctx.currentDepth = recurseTimes;
    let output;
    try {
      output = formatter(ctx, value, recurseTimes, typedArray);
      for (let i = 0; i < keys.length; i++) output.push(formatProperty(ctx, value, recurseTimes, keys[i], kObject));
      for (let i = 0; i < symbols.length; i++) output.push(formatProperty(ctx, value, recurseTimes, symbols[i], kObject));
    } finally {
      ctx.seen.pop();
    }
    if (ctx.circular !== undefined && ctx.circular.has(value)) {
      const ref = `<ref *${ctx.circular.get(value)}>`;
      if (base === "") braces[0] = `${ref} ${braces[0]}`;
      else base = `${ref} ${base}`;
    }
    if (ctx.sorted) output.sort();
    return reduceToSingleString(ctx, output, base, braces, extras, recurseTimes, value);
  }

  const isIndex = (k) => typeof k === "string" && RegExpTest(/^(0|[1-9][0-9]*)$/, k) && Number(k) < 2 ** 32 - 1;
  const isArguments = (v) => internal.primordials.ObjectPrototypeToString(v) === "[object Arguments]";
  const isBoxed = (v) => v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt || v instanceof Symbol;
  const isPromise = (v) => ops.node_promise_state(v) !== undefined;

  function formatProperty(ctx, value, recurseTimes, key, type) {
    let str;
    const desc = ObjectGetOwnPropertyDescriptor(value, key) ?? { value: value[key], enumerable: true };
    if (desc.value !== undefined || !("get" in desc || "set" in desc)) {
      const diff = ctx.compact !== true ? (type === kObject ? 2 : 3) : 2;
      ctx.indentationLvl += diff;
      str = formatValue(ctx, desc.value, recurseTimes + 1);
      ctx.indentationLvl -= diff;
    } else if (desc.get !== undefined) {
      str = desc.set !== undefined ? "[Getter/Setter]" : "[Getter]";
    } else str = desc.set !== undefined ? "[Setter]" : "undefined";
    if (type === kArray) return str;
    let name;
    if (typeof key === "symbol") name = `[${SymbolPrototypeToString(key)}]`;
    else if (RegExpTest(IDENT, key)) name = key;
    else name = quote(key);
    if (desc.enumerable === false) name = `[${name}]`;
    return `${name}: ${str}`;
  }

  function formatArray(ctx, value, recurseTimes) {
    const output = [];
    const len = value.length;
    const max = Math.min(ctx.maxArrayLength ?? Infinity, len);
    let holes = 0;
    let i = 0;
    for (; i < len && output.length < max; i++) {
      if (!ObjectHasOwn(value, i)) { holes++; continue; }
      if (holes > 0) { output.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`); holes = 0; if (output.length >= max) break; }
      output.push(formatProperty(ctx, value, recurseTimes, i, kArray));
    }
    if (holes > 0 && output.length < max) { output.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`); holes = 0; }
    const rest = len - i + holes;
    if (rest > 0 && i < len) output.push(`... ${rest} more item${rest > 1 ? "s" : ""}`);
    return output;
  }
  function formatTypedArray(ctx, value) {
    const len = TypedArrayLength(value);
    const max = Math.min(ctx.maxArrayLength ?? Infinity, len);
    const output = [];
    for (let i = 0; i < max; i++) output.push(formatPrimitive(value[i]));
    if (len > max) output.push(`... ${len - max} more item${len - max > 1 ? "s" : ""}`);
    if (ctx.showHidden) {
      ctx.indentationLvl += 2;
      for (const k of ["BYTES_PER_ELEMENT", "length", "byteLength", "byteOffset", "buffer"]) output.push(`[${k}]: ${formatValue(ctx, value[k], ctx.currentDepth + 1, true)}`);
      ctx.indentationLvl -= 2;
    }
    return output;
  }
  function formatSet(ctx, value, recurseTimes) {
    const output = [];
    ctx.indentationLvl += 2;
    const it = SetValues(value);
    for (let r = it.next(); !r.done; r = it.next()) output.push(formatValue(ctx, r.value, recurseTimes + 1));
    ctx.indentationLvl -= 2;
    return output;
  }
  function formatMap(ctx, value, recurseTimes) {
    const output = [];
    ctx.indentationLvl += 2;
    const it = MapEntries(value);
    for (let r = it.next(); !r.done; r = it.next()) {
      output.push(`${formatValue(ctx, r.value[0], recurseTimes + 1)} => ${formatValue(ctx, r.value[1], recurseTimes + 1)}`);
    }
    ctx.indentationLvl -= 2;
    return output;
  }
  function formatArrayBuffer(ctx, value) {
    const bytes = new Uint8Array(value);
    const n = Math.min(ctx.maxArrayLength ?? Infinity, bytes.length);
    let hex = "";
    for (let i = 0; i < n; i++) hex += `${i === 0 ? "" : " "}${bytes[i] < 16 ? "0" : ""}${bytes[i].toString(16)}`;
    if (bytes.length > n) hex += ` ... ${bytes.length - n} more byte${bytes.length - n > 1 ? "s" : ""}`;
    return [`[Uint8Contents]: <${hex}>`, `byteLength: ${formatNumber(bytes.length)}`];
  }
  function formatPromise(ctx, value, recurseTimes) {
    const st = ops.node_promise_state(value);
    if (st[0] === 0) return ["<pending>"];
    ctx.indentationLvl += 2;
    const str = formatValue(ctx, st[1], recurseTimes + 1);
    ctx.indentationLvl -= 2;
    return [st[0] === 2 ? `<rejected> ${str}` : str];
  }

  // Several short array items per line, in columns, as Node prints long
  // arrays of numbers: the column count aims at a block about as tall as it
  // is wide, within the line length.
  function groupArrayElements(ctx, output, value) {
    let total = 0;
    let longest = 0;
    let count = output.length;
    if (ctx.maxArrayLength !== null && ctx.maxArrayLength < value.length && count > 0) count--;
    const gap = 2;
    const lengths = [];
    for (let i = 0; i < count; i++) {
      lengths[i] = output[i].length;
      total += lengths[i] + gap;
      if (longest < lengths[i]) longest = lengths[i];
    }
    const cell = longest + gap;
    if (!(cell * 3 + ctx.indentationLvl < ctx.breakLength && (total / cell > 5 || longest <= 6))) return output;
    const bias = Math.sqrt(cell - total / output.length);
    const biased = Math.max(cell - 3 - bias, 1);
    const columns = Math.min(
      Math.round(Math.sqrt(2.5 * biased * count) / biased),
      Math.floor((ctx.breakLength - ctx.indentationLvl) / cell),
      ctx.compact * 4,
      15,
    );
    if (columns <= 1) return output;
    const widths = [];
    for (let c = 0; c < columns; c++) {
      let w = 0;
      for (let j = c; j < output.length; j += columns) if (lengths[j] > w) w = lengths[j];
      widths.push(w + gap);
    }
    let numeric = true;
    for (let i = 0; i < output.length && numeric; i++) if (typeof value[i] !== "number" && typeof value[i] !== "bigint") numeric = false;
    const rows = [];
    for (let i = 0; i < count; i += columns) {
      const end = Math.min(i + columns, count);
      let line = "";
      for (let j = i; j < end - 1; j++) {
        const cellText = `${output[j]}, `;
        line += numeric ? cellText.padStart(widths[j - i], " ") : cellText.padEnd(widths[j - i], " ");
      }
      line += numeric ? output[end - 1].padStart(widths[end - 1 - i] - gap, " ") : output[end - 1];
      rows.push(line);
    }
    if (count < output.length) rows.push(output[count]);
    return rows;
  }

  function reduceToSingleString(ctx, output, base, braces, extras, recurseTimes, value) {
    if (ctx.compact !== true) {
      if (typeof ctx.compact === "number" && ctx.compact >= 1) {
        const entries = output.length;
        if (extras === kArray && entries > 6) output = groupArrayElements(ctx, output, value);
        if (ctx.currentDepth - recurseTimes < ctx.compact && entries === output.length) {
          const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
          if (fitsOnLine(ctx, output, start, base)) {
            const joined = ArrayPrototypeJoin(output, ", ");
            if (StringPrototypeIndexOf(joined, "\n") === -1) {
              return `${base ? `${base} ` : ""}${braces[0]} ${joined} ${braces[1]}`;
            }
          }
        }
      }
      const indent = `\n${" ".repeat(ctx.indentationLvl)}`;
      return `${base ? `${base} ` : ""}${braces[0]}${indent}  ${ArrayPrototypeJoin(output, `,${indent}  `)}${indent}${braces[1]}`;
    }
    if (fitsOnLine(ctx, output, 0, base)) {
      return `${braces[0]}${base ? ` ${base}` : ""} ${ArrayPrototypeJoin(output, ", ")} ${braces[1]}`;
    }
    const indent = " ".repeat(ctx.indentationLvl);
    const ln = base === "" && braces[0].length === 1 ? " " : `${base ? ` ${base}` : ""}\n${indent}  `;
    return `${braces[0]}${ln}${ArrayPrototypeJoin(output, `,\n${indent}  `)} ${braces[1]}`;
  }
  function fitsOnLine(ctx, output, start, base) {
    let total = output.length + start;
    if (total + output.length > ctx.breakLength) return false;
    for (let i = 0; i < output.length; i++) {
      total += output[i].length;
      if (total > ctx.breakLength) return false;
    }
    return base === "" || StringPrototypeIndexOf(base, "\n") === -1;
  }

  function inspect(value, opts, ...legacy) {
    if (typeof opts === "boolean") opts = { showHidden: opts, depth: legacy[0] };
    const ctx = newContext(opts);
    return formatValue(ctx, value, 0);
  }
  inspect.custom = customInspect;
  inspect.defaultOptions = { depth: 2, breakLength: 128, compact: 3, maxArrayLength: 100, maxStringLength: 10000, showHidden: false, colors: false, customInspect: true, sorted: false, getters: false };
  inspect.colors = { __proto__: null };
  inspect.styles = { __proto__: null };

  // https://nodejs.org/api/util.html#utilformatformat-args
  function formatWithOptions(opts, ...args) {
    const first = args[0];
    let out = "";
    let next = 0;
    const show = (v) => (typeof v === "string" ? v : inspect(v, { ...opts, compact: 3, colors: false, depth: 0 }));
    if (typeof first === "string") {
      if (args.length === 1) return first;
      next = 1;
      let from = 0;
      for (let i = 0; i < first.length - 1; i++) {
        if (StringPrototypeCharCodeAt(first, i) !== 37) continue;
        const c = first[i + 1];
        if (c === "%") { out += StringPrototypeSlice(first, from, i) + "%"; from = i + 2; i++; continue; }
        if (next >= args.length) continue;
        let rep;
        const a = args[next];
        switch (c) {
          case "s":
            if (typeof a === "number") rep = formatNumber(a);
            else if (typeof a === "bigint") rep = `${a}n`;
            else if (a !== null && typeof a === "object" && !hasOwnToString(a)) rep = inspect(a, { ...opts, depth: 0, colors: false, compact: 3 });
            else rep = String(a);
            break;
          case "j": try { rep = JSONStringify(a); } catch { rep = "[Circular]"; } break;
          case "d": rep = typeof a === "bigint" ? `${a}n` : typeof a === "symbol" ? "NaN" : formatNumber(Number(a)); break;
          case "i": rep = typeof a === "bigint" ? `${a}n` : typeof a === "symbol" ? "NaN" : formatNumber(parseInt(a)); break;
          case "f": rep = typeof a === "symbol" ? "NaN" : formatNumber(parseFloat(a)); break;
          case "o": rep = inspect(a, { ...opts, showHidden: true, depth: 4 }); break;
          case "O": rep = inspect(a, opts); break;
          case "c": rep = ""; break;
          default: continue;
        }
        out += StringPrototypeSlice(first, from, i) + rep;
        from = i + 2;
        i++;
        next++;
      }
      out += StringPrototypeSlice(first, from);
    }
    for (; next < args.length; next++) out += (out === "" && next === 0 ? "" : " ") + show(args[next]);
    return out;
  }
  // Whether `%s` should call the object's toString rather than inspect it:
  // only when that toString is the Worker's own, not a built-in one.
  const BUILTIN_PROTOTYPES = new internal.primordials.SafeSet([
    Object.prototype, Array.prototype, Error.prototype, Date.prototype, RegExp.prototype, FunctionPrototype,
    Number.prototype, String.prototype, Boolean.prototype, Symbol.prototype, BigInt.prototype, TypedArrayPrototype,
  ]);
  function hasOwnToString(obj) {
    let o = obj;
    for (let i = 0; o !== null && i < 100; i++) {
      if (ObjectHasOwn(o, "toString")) return !BUILTIN_PROTOTYPES.has(o);
      o = ObjectGetPrototypeOf(o);
    }
    return false;
  }
  const format = (...args) => formatWithOptions(undefined, ...args);

  internal.nodeInspect = { inspect, format, formatWithOptions };
});
