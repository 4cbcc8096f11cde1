// isoproxy glue, part 8: Blob, File and FormData, with the multipart/form-data
// encoding that Request and Response bodies use (09_fetch.js).
// Specs: https://w3c.github.io/FileAPI/ , https://xhr.spec.whatwg.org/#interface-formdata
"use strict";
(function () {
  const internal = globalThis.__internal;

  const kBytes = Symbol("bytes");
  // https://w3c.github.io/FileAPI/#blob-section (in-memory only)
  class Blob {
    constructor(parts = [], options = {}) {
      const chunks = [];
      if (parts !== undefined && parts !== null) {
        if (typeof parts !== "object" || typeof parts[Symbol.iterator] !== "function") throw new TypeError("Blob: parts must be a sequence");
        for (const p of parts) {
          if (p instanceof Blob) chunks.push(p[kBytes]);
          else {
            const b = internal.toBytes(p);
            chunks.push(b !== null ? new Uint8Array(b) : new TextEncoder().encode(String(p)));
          }
        }
      }
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const bytes = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) { bytes.set(c, off); off += c.length; }
      this[kBytes] = bytes;
      const type = options?.type === undefined ? "" : String(options.type);
      this.#type = /[^\x20-\x7e]/.test(type) ? "" : type.toLowerCase();
    }
    #type;
    get size() { return this[kBytes].length; }
    get type() { return this.#type; }
    // https://w3c.github.io/FileAPI/#dfn-slice
    slice(start = 0, end = undefined, type = "") {
      const n = this[kBytes].length;
      const rel = (x) => (x < 0 ? Math.max(n + x, 0) : Math.min(x, n));
      const from = rel(Math.trunc(Number(start)) || 0);
      const to = end === undefined ? n : rel(Math.trunc(Number(end)) || 0);
      const b = new Blob([], { type });
      b[kBytes] = this[kBytes].slice(from, Math.max(from, to));
      return b;
    }
    async text() { return new TextDecoder().decode(this[kBytes]); }
    async arrayBuffer() { return this[kBytes].slice().buffer; }
    async bytes() { return this[kBytes].slice(); }
    stream() {
      const bytes = this[kBytes].slice();
      return new ReadableStream({ type: "bytes", start(c) { if (bytes.length) c.enqueue(bytes); c.close(); } });
    }
  }
  internal.brand(Blob, "Blob");

  // https://w3c.github.io/FileAPI/#file-section
  class File extends Blob {
    #name; #lastModified;
    constructor(parts, name, options = {}) {
      if (arguments.length < 2) throw new TypeError("File: 2 arguments required");
      super(parts, options);
      this.#name = String(name);
      this.#lastModified = options?.lastModified === undefined ? Date.now() : Number(options.lastModified);
    }
    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
  }
  internal.brand(File, "File");

  const toUSV = (v) => { const s = String(v); return typeof s.toWellFormed === "function" ? s.toWellFormed() : s; };

  // https://xhr.spec.whatwg.org/#create-an-entry
  function entry(name, value, filename) {
    name = toUSV(name);
    if (value instanceof Blob) {
      if (!(value instanceof File) || filename !== undefined) {
        const f = new File([], filename === undefined ? (value instanceof File ? value.name : "blob") : toUSV(filename), {
          type: value.type,
          lastModified: value instanceof File ? value.lastModified : undefined,
        });
        f[kBytes] = value[kBytes];
        value = f;
      }
      return [name, value];
    }
    return [name, toUSV(value)];
  }

  // https://xhr.spec.whatwg.org/#interface-formdata (no form elements here)
  class FormData {
    #list = [];
    constructor(form = undefined) {
      if (form !== undefined) throw new TypeError("FormData: there are no form elements in a Worker");
    }
    append(name, value, filename = undefined) {
      if (arguments.length < 2) throw new TypeError("FormData.append: 2 arguments required");
      this.#list.push(entry(name, value, filename));
    }
    delete(name) { name = toUSV(name); this.#list = this.#list.filter(([n]) => n !== name); }
    get(name) { name = toUSV(name); const e = this.#list.find(([n]) => n === name); return e ? e[1] : null; }
    getAll(name) { name = toUSV(name); return this.#list.filter(([n]) => n === name).map(([, v]) => v); }
    has(name) { name = toUSV(name); return this.#list.some(([n]) => n === name); }
    // Replace the first entry named `name` and drop the others.
    set(name, value, filename = undefined) {
      if (arguments.length < 2) throw new TypeError("FormData.set: 2 arguments required");
      const e = entry(name, value, filename);
      const i = this.#list.findIndex(([n]) => n === e[0]);
      if (i < 0) { this.#list.push(e); return; }
      this.#list[i] = e;
      this.#list = this.#list.filter(([n], j) => j <= i || n !== e[0]);
    }
    *entries() { for (const [k, v] of this.#list.slice()) yield [k, v]; }
    *keys() { for (const [k] of this.#list.slice()) yield k; }
    *values() { for (const [, v] of this.#list.slice()) yield v; }
    forEach(cb, thisArg = undefined) {
      if (typeof cb !== "function") throw new TypeError("FormData.forEach: callback is not a function");
      for (const [k, v] of this.#list.slice()) cb.call(thisArg, v, k, this);
    }
    [Symbol.iterator]() { return this.entries(); }
  }

  const CRLF = "\r\n";
  // Line breaks in names and string values become CRLF.
  const normalizeNewlines = (s) => s.replace(/\r(?!\n)|(?<!\r)\n/g, CRLF);
  // Names and file names inside a quoted Content-Disposition parameter.
  const escapeQuoted = (s) => s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");

  // https://html.spec.whatwg.org/multipage/form-control-infrastructure.html#multipart/form-data-encoding-algorithm
  function encodeMultipart(fd) {
    const rnd = new Uint8Array(12);
    crypto.getRandomValues(rnd);
    const boundary = "----isoproxyFormBoundary" + Array.from(rnd, (b) => b.toString(16).padStart(2, "0")).join("");
    const enc = new TextEncoder();
    const chunks = [];
    for (const [name, value] of fd) {
      let head = `--${boundary}${CRLF}Content-Disposition: form-data; name="${escapeQuoted(normalizeNewlines(name))}"`;
      if (typeof value === "string") {
        chunks.push(enc.encode(`${head}${CRLF}${CRLF}${normalizeNewlines(value)}${CRLF}`));
      } else {
        head += `; filename="${escapeQuoted(value.name)}"${CRLF}Content-Type: ${value.type || "application/octet-stream"}${CRLF}${CRLF}`;
        chunks.push(enc.encode(head), value[kBytes], enc.encode(CRLF));
      }
    }
    // An empty form is an empty body (what browsers send, and what WPT's
    // request-consume-empty expects), not a lone closing delimiter.
    if (chunks.length > 0) chunks.push(enc.encode(`--${boundary}--${CRLF}`));
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const bytes = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) { bytes.set(c, off); off += c.length; }
    return [bytes, `multipart/form-data; boundary=${boundary}`];
  }

  // A parameter of a header value such as `form-data; name="a"`, unquoted.
  function headerParam(value, key) {
    const re = /;\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
    let m;
    while ((m = re.exec(value)) !== null) {
      if (m[1].toLowerCase() !== key) continue;
      const v = m[2].trim();
      return v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v;
    }
    return null;
  }

  function indexOfBytes(hay, needle, from) {
    const first = needle[0];
    const last = hay.length - needle.length;
    outer: for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
      for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }

  // Parse a multipart/form-data body (RFC 7578) into a FormData.
  function parseMultipart(bytes, contentType) {
    const fail = (why) => { throw new TypeError(`formData(): invalid multipart/form-data body: ${why}`); };
    const boundary = headerParam(contentType, "boundary");
    if (!boundary) fail("no boundary in the Content-Type");
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const dash = enc.encode(`--${boundary}`);
    const delim = enc.encode(`\r\n--${boundary}`);
    // The first delimiter opens the body or follows a preamble line.
    let pos = 0;
    if (indexOfBytes(bytes, dash, 0) !== 0) {
      const at = indexOfBytes(bytes, delim, 0);
      if (at < 0) fail("no boundary");
      pos = at + 2;
    }
    pos += dash.length;
    const fd = new FormData();
    for (;;) {
      if (bytes[pos] === 0x2d && bytes[pos + 1] === 0x2d) return fd;
      while (bytes[pos] === 0x20 || bytes[pos] === 0x09) pos++;
      if (bytes[pos] !== 0x0d || bytes[pos + 1] !== 0x0a) fail("no line break after a boundary");
      pos += 2;
      const headEnd = indexOfBytes(bytes, enc.encode("\r\n\r\n"), pos);
      const emptyHead = bytes[pos] === 0x0d && bytes[pos + 1] === 0x0a;
      if (headEnd < 0 && !emptyHead) fail("part without a blank line after its headers");
      const headText = emptyHead ? "" : dec.decode(bytes.subarray(pos, headEnd));
      const bodyStart = emptyHead ? pos + 2 : headEnd + 4;
      const bodyEnd = indexOfBytes(bytes, delim, bodyStart);
      if (bodyEnd < 0) fail("unterminated part");
      let disposition = null;
      let type = null;
      for (const line of headText.split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const key = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (key === "content-disposition") disposition = value;
        else if (key === "content-type") type = value;
      }
      if (disposition === null || !/^form-data\s*(;|$)/i.test(disposition)) fail("part without Content-Disposition: form-data");
      const name = headerParam(disposition, "name");
      if (name === null) fail("part without a name");
      const filename = headerParam(disposition, "filename");
      const body = bytes.slice(bodyStart, bodyEnd);
      if (filename !== null) fd.append(name, new File([body], filename, { type: type ?? "text/plain" }));
      else fd.append(name, dec.decode(body));
      pos = bodyEnd + delim.length;
    }
  }
  internal.brand(FormData, "FormData");

  // For 09_fetch.js, which defines the globals.
  internal.forms = { Blob, File, FormData, kBytes, encodeMultipart, parseMultipart };
})();
