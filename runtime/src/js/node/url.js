// isoproxy node compat: node:url: the WHATWG URL classes, file URL helpers
// and the legacy parse/format/resolve. https://nodejs.org/api/url.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const { TypeError, RegExpPrototypeExec, StringPrototypeSlice, StringPrototypeToLowerCase, StringPrototypeIndexOf } = internal.primordials;
  const { URL, URLSearchParams } = globalThis;

  internal.registerBuiltin("node:url", () => {
    const invalid = (code, msg) => { const e = new TypeError(msg); e.code = code; return e; };
    function fileURLToPath(input) {
      const url = typeof input === "string" ? new URL(input) : input;
      if (!(url instanceof URL)) throw internal.invalidArgType("path", "of type string or an instance of URL", input);
      if (url.protocol !== "file:") throw invalid("ERR_INVALID_URL_SCHEME", "The URL must be of scheme file");
      if (url.hostname !== "") throw invalid("ERR_INVALID_FILE_URL_HOST", 'File URL host must be "localhost" or empty on linux');
      const p = url.pathname;
      if (/%2f/i.test(p)) throw invalid("ERR_INVALID_FILE_URL_PATH", "File URL path must not include encoded / characters");
      return decodeURIComponent(p);
    }
    function pathToFileURL(path) {
      let resolved = internal.path.resolve(path);
      if (path.endsWith("/") && !resolved.endsWith("/")) resolved += "/";
      const encoded = resolved.replace(/%/g, "%25").replace(/\\/g, "%5C").replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/\t/g, "%09").replace(/#/g, "%23").replace(/\?/g, "%3F");
      return new URL(`file://${encoded}`);
    }
    function domainToASCII(domain) {
      try { return new URL(`ws://${domain}`).hostname; } catch { return ""; }
    }
    // Without an IDNA decoder in the glue, only names that need none
    // (no "xn--" labels) come back changed (lower-cased).
    const domainToUnicode = domainToASCII;
    function urlToHttpOptions(url) {
      const out = {
        __proto__: null,
        protocol: url.protocol,
        hostname: typeof url.hostname === "string" && url.hostname.startsWith("[") ? StringPrototypeSlice(url.hostname, 1, -1) : url.hostname,
        hash: url.hash,
        search: url.search,
        pathname: url.pathname,
        path: `${url.pathname || ""}${url.search || ""}`,
        href: url.href,
      };
      if (url.port !== "") out.port = Number(url.port);
      if (url.username || url.password) out.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      return out;
    }

    // ---- the legacy API ----
    const SLASHED = { "http:": true, "https:": true, "ftp:": true, "gopher:": true, "file:": true, "ws:": true, "wss:": true };
    function Url() {
      this.protocol = null; this.slashes = null; this.auth = null; this.host = null; this.port = null; this.hostname = null;
      this.hash = null; this.search = null; this.query = null; this.pathname = null; this.path = null; this.href = null;
    }
    function parse(input, parseQueryString, slashesDenoteHost) {
      if (input instanceof Url) return input;
      if (typeof input !== "string") throw internal.invalidArgType("url", "of type string", input);
      const u = new Url();
      let rest = input.trim();
      const hashAt = StringPrototypeIndexOf(rest, "#");
      if (hashAt !== -1) { u.hash = StringPrototypeSlice(rest, hashAt); rest = StringPrototypeSlice(rest, 0, hashAt); }
      const qAt = StringPrototypeIndexOf(rest, "?");
      if (qAt !== -1) {
        u.search = StringPrototypeSlice(rest, qAt);
        u.query = StringPrototypeSlice(rest, qAt + 1);
        rest = StringPrototypeSlice(rest, 0, qAt);
      } else if (parseQueryString) { u.search = ""; u.query = {}; }
      if (parseQueryString && typeof u.query === "string") u.query = internal.requireBuiltin("node:querystring").parse(u.query);
      rest = rest.replace(/\\/g, "/");
      const proto = RegExpPrototypeExec(/^([a-z0-9.+-]+:)/i, rest);
      if (proto !== null) {
        u.protocol = StringPrototypeToLowerCase(proto[1]);
        rest = StringPrototypeSlice(rest, proto[1].length);
      }
      if (slashesDenoteHost || proto !== null || rest.startsWith("//")) {
        const slashes = rest.startsWith("//");
        if (slashes && !(u.protocol === "javascript:")) { rest = StringPrototypeSlice(rest, 2); u.slashes = true; }
        if (slashes || (u.protocol !== null && SLASHED[u.protocol] === true && u.protocol !== "file:")) {
          let end = rest.length;
          for (const c of ["/", "?", "#"]) { const i = StringPrototypeIndexOf(rest, c); if (i !== -1 && i < end) end = i; }
          let authority = StringPrototypeSlice(rest, 0, end);
          rest = StringPrototypeSlice(rest, end);
          const at = authority.lastIndexOf("@");
          if (at !== -1) { u.auth = decodeURIComponent(StringPrototypeSlice(authority, 0, at)); authority = StringPrototypeSlice(authority, at + 1); }
          const port = RegExpPrototypeExec(/:([0-9]*)$/, authority);
          if (port !== null) {
            if (port[1] !== "") u.port = port[1];
            authority = StringPrototypeSlice(authority, 0, authority.length - port[0].length);
          }
          u.hostname = StringPrototypeToLowerCase(authority);
          u.host = u.port !== null ? `${u.hostname}:${u.port}` : u.hostname;
        }
      }
      u.pathname = rest === "" ? (u.hostname !== null && SLASHED[u.protocol] === true ? "/" : null) : rest;
      if (u.pathname !== null || u.search !== null) u.path = `${u.pathname ?? ""}${u.search ?? ""}`;
      u.href = format(u);
      return u;
    }
    function format(obj, options) {
      if (typeof obj === "string") obj = parse(obj);
      else if (obj instanceof URL) {
        let s = obj.href;
        if (options?.fragment === false) s = s.replace(/#.*$/, "");
        if (options?.search === false) s = s.replace(/\?[^#]*/, "");
        return s;
      } else if (obj === null || typeof obj !== "object") throw internal.invalidArgType("urlObject", "one of type object or string", obj);
      const auth = obj.auth ? `${encodeURIComponent(obj.auth).replace(/%3A/i, ":")}@` : "";
      let protocol = obj.protocol || "";
      if (protocol && !protocol.endsWith(":")) protocol += ":";
      let host = "";
      if (obj.host) host = auth + obj.host;
      else if (obj.hostname) host = auth + (obj.hostname.includes(":") && !obj.hostname.startsWith("[") ? `[${obj.hostname}]` : obj.hostname) + (obj.port ? `:${obj.port}` : "");
      let pathname = obj.pathname || "";
      let search = obj.search || "";
      if (!search && obj.query && typeof obj.query === "object") {
        const q = internal.requireBuiltin("node:querystring").stringify(obj.query);
        if (q) search = `?${q}`;
      }
      if (search && search[0] !== "?") search = `?${search}`;
      let hash = obj.hash || "";
      if (hash && hash[0] !== "#") hash = `#${hash}`;
      if (obj.slashes || ((!protocol || SLASHED[protocol] === true) && host !== "")) {
        host = `//${host}`;
        if (pathname && pathname[0] !== "/") pathname = `/${pathname}`;
      }
      pathname = pathname.replace(/[?#]/g, encodeURIComponent);
      search = search.replace(/#/g, "%23");
      return `${protocol}${host}${pathname}${search}${hash}`;
    }
    function resolve(from, to) {
      const base = new URL(from, "resolve://");
      const r = new URL(to, base);
      if (r.protocol === "resolve:") return `${r.pathname}${r.search}${r.hash}`;
      return r.toString();
    }
    Url.prototype.parse = function (s, q, sl) { const u = parse(s, q, sl); for (const k of Object.keys(u)) this[k] = u[k]; return this; };
    Url.prototype.format = function () { return format(this); };
    Url.prototype.resolve = function (to) { return resolve(this.href, to); };
    return {
      __proto__: null, URL, URLSearchParams, Url, parse, format, resolve, resolveObject: (a, b) => parse(resolve(a, b)),
      fileURLToPath, pathToFileURL, domainToASCII, domainToUnicode, urlToHttpOptions,
    };
  });

  // node:querystring, used by the legacy url.parse(..., true).
  internal.registerBuiltin("node:querystring", () => {
    const unescape = (s) => { try { return decodeURIComponent(s.replace(/\+/g, " ")); } catch { return s; } };
    const escape = (s) => encodeURIComponent(s);
    function parse(str, sep = "&", eq = "=", options) {
      const out = { __proto__: null };
      if (typeof str !== "string" || str.length === 0) return out;
      const max = options?.maxKeys ?? 1000;
      const parts = str.split(sep);
      for (let i = 0; i < parts.length && (max === 0 || i < max); i++) {
        if (parts[i] === "") continue;
        const at = StringPrototypeIndexOf(parts[i], eq);
        const k = unescape(at === -1 ? parts[i] : StringPrototypeSlice(parts[i], 0, at));
        const v = at === -1 ? "" : unescape(StringPrototypeSlice(parts[i], at + eq.length));
        if (out[k] === undefined) out[k] = v;
        else if (Array.isArray(out[k])) out[k].push(v);
        else out[k] = [out[k], v];
      }
      return out;
    }
    const value = (v) => (typeof v === "string" ? v : typeof v === "number" && isFinite(v) ? `${v}` : typeof v === "bigint" || typeof v === "boolean" ? `${v}` : "");
    function stringify(obj, sep = "&", eq = "=") {
      if (obj === null || typeof obj !== "object") return "";
      const parts = [];
      for (const k of Object.keys(obj)) {
        const v = obj[k];
        if (Array.isArray(v)) for (const x of v) parts.push(`${escape(k)}${eq}${escape(value(x))}`);
        else parts.push(`${escape(k)}${eq}${escape(value(v))}`);
      }
      return parts.join(sep);
    }
    return { __proto__: null, parse, stringify, decode: parse, encode: stringify, escape, unescape };
  });
});
