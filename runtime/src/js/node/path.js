// isoproxy node compat: node:path (POSIX rules; `win32`'s functions throw,
// as in workerd). https://nodejs.org/api/path.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const { ArrayPrototypeJoin, StringPrototypeCharCodeAt, StringPrototypeSlice, StringPrototypeIndexOf } = internal.primordials;
  const SLASH = 47, DOT = 46;

  function check(p, name = "path") {
    if (typeof p !== "string") throw internal.invalidArgType(name, "of type string", p);
  }
  // Resolve "." and ".." in `path` (no leading slash handling).
  function normalizeString(path, allowAboveRoot) {
    const out = [];
    const parts = path.split("/");
    for (let i = 0; i < parts.length; i++) {
      const seg = parts[i];
      if (seg === "" || seg === ".") continue;
      if (seg === "..") {
        if (out.length > 0 && out[out.length - 1] !== "..") out.length--;
        else if (allowAboveRoot) out[out.length] = "..";
        continue;
      }
      out[out.length] = seg;
    }
    return ArrayPrototypeJoin(out, "/");
  }
  function normalize(path) {
    check(path);
    if (path.length === 0) return ".";
    const abs = StringPrototypeCharCodeAt(path, 0) === SLASH;
    const trailing = StringPrototypeCharCodeAt(path, path.length - 1) === SLASH;
    let p = normalizeString(path, !abs);
    if (p.length === 0) return abs ? "/" : trailing ? "./" : ".";
    if (trailing) p += "/";
    return abs ? `/${p}` : p;
  }
  function isAbsolute(path) { check(path); return path.length > 0 && StringPrototypeCharCodeAt(path, 0) === SLASH; }
  function join(...paths) {
    let joined;
    for (let i = 0; i < paths.length; i++) {
      check(paths[i]);
      if (paths[i].length > 0) joined = joined === undefined ? paths[i] : `${joined}/${paths[i]}`;
    }
    return joined === undefined ? "." : normalize(joined);
  }
  // The working directory of a Worker is "/".
  function resolve(...paths) {
    let resolved = "";
    let abs = false;
    for (let i = paths.length - 1; i >= -1 && !abs; i--) {
      const p = i >= 0 ? paths[i] : "/";
      check(p);
      if (p.length === 0) continue;
      resolved = `${p}/${resolved}`;
      abs = StringPrototypeCharCodeAt(p, 0) === SLASH;
    }
    const n = normalizeString(resolved, !abs);
    return abs ? `/${n}` : n.length > 0 ? n : ".";
  }
  function relative(from, to) {
    check(from, "from"); check(to, "to");
    if (from === to) return "";
    const f = resolve(from).split("/").filter((s) => s !== "");
    const t = resolve(to).split("/").filter((s) => s !== "");
    let i = 0;
    while (i < f.length && i < t.length && f[i] === t[i]) i++;
    const up = [];
    for (let j = i; j < f.length; j++) up[up.length] = "..";
    return ArrayPrototypeJoin([...up, ...t.slice(i)], "/");
  }
  function dirname(path) {
    check(path);
    if (path.length === 0) return ".";
    const abs = StringPrototypeCharCodeAt(path, 0) === SLASH;
    let end = -1;
    let matched = true;
    for (let i = path.length - 1; i >= 1; --i) {
      if (StringPrototypeCharCodeAt(path, i) === SLASH) {
        if (!matched) { end = i; break; }
      } else matched = false;
    }
    if (end === -1) return abs ? "/" : ".";
    if (abs && end === 1) return "//";
    return StringPrototypeSlice(path, 0, end);
  }
  function basename(path, suffix) {
    check(path);
    if (suffix !== undefined) check(suffix, "suffix");
    let end = path.length;
    while (end > 0 && StringPrototypeCharCodeAt(path, end - 1) === SLASH) end--;
    let start = end;
    while (start > 0 && StringPrototypeCharCodeAt(path, start - 1) !== SLASH) start--;
    let base = StringPrototypeSlice(path, start, end);
    if (suffix !== undefined && suffix !== base && base.endsWith(suffix)) base = StringPrototypeSlice(base, 0, base.length - suffix.length);
    return base;
  }
  function extname(path) {
    check(path);
    const base = basename(path);
    const dot = base.lastIndexOf(".");
    if (dot <= 0 || (dot === 1 && StringPrototypeCharCodeAt(base, 0) === DOT && base.length === 2)) return "";
    return StringPrototypeSlice(base, dot);
  }
  function parse(path) {
    check(path);
    const root = path.length > 0 && StringPrototypeCharCodeAt(path, 0) === SLASH ? "/" : "";
    if (path.length === 0) return { root: "", dir: "", base: "", ext: "", name: "" };
    const base = basename(path);
    const ext = extname(path);
    let dir = dirname(path);
    if (dir === "." && StringPrototypeIndexOf(path, "/") === -1) dir = "";
    return { root, dir, base, ext, name: ext ? StringPrototypeSlice(base, 0, base.length - ext.length) : base };
  }
  function format(obj) {
    if (obj === null || typeof obj !== "object") throw internal.invalidArgType("pathObject", "of type object", obj);
    const dir = obj.dir || obj.root;
    const base = obj.base || `${obj.name || ""}${obj.ext ? (obj.ext[0] === "." ? "" : ".") + obj.ext : ""}`;
    if (!dir) return base;
    return dir === obj.root ? `${dir}${base}` : `${dir}/${base}`;
  }
  function matchesGlob() { throw new Error("path.matchesGlob is not implemented"); }

  const posix = {
    sep: "/", delimiter: ":", normalize, isAbsolute, join, resolve, relative, dirname, basename, extname, parse, format,
    toNamespacedPath: (p) => p, matchesGlob,
  };
  // Windows paths are not implemented, as in workerd: each function
  // throws, naming itself.
  const win32 = { sep: "\\", delimiter: ";" };
  for (const name of ["normalize", "isAbsolute", "join", "resolve", "relative", "dirname", "basename", "extname", "parse", "format", "toNamespacedPath", "matchesGlob"]) {
    win32[name] = () => { throw new Error(`path.win32.${name}() is not implemented.`); };
  }
  posix.posix = posix;
  posix.win32 = win32;
  win32.posix = posix;
  win32.win32 = win32;
  internal.registerBuiltin("node:path", () => ({ __proto__: null, ...posix, default: posix }));
  internal.registerBuiltin("node:path/posix", () => ({ __proto__: null, ...posix, default: posix }));
  internal.registerBuiltin("node:path/win32", () => ({ __proto__: null, ...win32, default: win32 }));
  internal.path = posix;
});
