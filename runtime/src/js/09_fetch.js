// isoproxy glue, part 9: Headers, Request, Response, fetch() and Fetcher.
// Spec: https://fetch.spec.whatwg.org/ . Bodies from the network stay native
// (a resource id in Rust) until JS reads them, so a Worker that passes a body
// along never copies it into the isolate.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    Number, Object, Promise, RangeError, Set, String, Symbol, TypeError, Uint8Array,
    ArrayPrototypeFilter, ArrayPrototypeIncludes, ArrayPrototypeSort, JSONParse, JSONStringify,
    NumberIsInteger, ObjectCreate, ObjectDefineProperty, ObjectGetOwnPropertyDescriptor, ObjectGetOwnPropertyNames,
    PromisePrototypeThen, PromiseReject, PromiseResolve, ReflectApply, ReflectOwnKeys, RegExpTest, SetPrototypeHas,
    StringPrototypeCharCodeAt, StringPrototypeIndexOf, StringPrototypeSlice, StringPrototypeToLowerCase,
    StringPrototypeToUpperCase, StringPrototypeTrim, SymbolIterator, TypedArrayPrototypeSlice, uncurryThis,
  } = internal.primordials;
  const { AbortSignal, ReadableStream, TextDecoder, TextEncoder, URL, URLSearchParams } = globalThis;
  const { Blob, File, FormData, kBytes, encodeMultipart, parseMultipart } = internal.forms;

  const kList = Symbol("list");
  const kGuard = Symbol("guard");
  // The sorted-and-combined view of a header list, kept until the list
  // changes: iterating (and copying a Headers into a new Request or
  // Response) would otherwise sort the list again at every step.
  const kSorted = Symbol("sorted");
  // Set once a value the headers of a Request or Response could not take
  // (a control character) was added, so that adopting a list needs no scan
  // in the usual case.
  const kUnsendable = Symbol("unsendable");
  let sortedOf, isHeaders;
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
  const NORMAL_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"]);

  // https://fetch.spec.whatwg.org/#http-whitespace-byte
  const isHttpWhitespace = (c) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  // https://fetch.spec.whatwg.org/#concept-header-value-normalize
  function normalizeValue(v) {
    v = String(v);
    let start = 0;
    let end = v.length;
    while (start < end && isHttpWhitespace(StringPrototypeCharCodeAt(v, start))) start++;
    while (end > start && isHttpWhitespace(StringPrototypeCharCodeAt(v, end - 1))) end--;
    return start === 0 && end === v.length ? v : StringPrototypeSlice(v, start, end);
  }
  function checkName(name) {
    name = String(name);
    if (!RegExpTest(TOKEN, name)) throw new TypeError(`Invalid header name: ${JSONStringify(name)}`);
    return StringPrototypeToLowerCase(name);
  }
  // https://fetch.spec.whatwg.org/#header-value: no NUL, CR or LF, and (a
  // byte string) nothing beyond Latin-1.
  const INVALID_VALUE = /[\0\r\n]|[^\0-\xff]/;
  // What isoproxy can send: no control character but tab. A standalone
  // Headers may hold other control characters, as the spec allows; the
  // headers of a Request or Response may not, so that a Worker learns of
  // such a value where it gives it (a TypeError it can catch) rather than
  // from an uncatchable 500 when the response is sent.
  const UNSENDABLE_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
  // A value for an error message, control characters as \xNN escapes.
  const HEX = "0123456789abcdef";
  function quote(v) {
    let out = "\"";
    for (let i = 0; i < v.length; i++) {
      const n = StringPrototypeCharCodeAt(v, i);
      if (n === 0x22 || n === 0x5c) out += `\\${v[i]}`;
      else if (n >= 0x20 && n <= 0x7e) out += v[i];
      else if (n <= 0xff) out += `\\x${HEX[n >> 4]}${HEX[n & 15]}`;
      else out += `\\u${HEX[n >> 12]}${HEX[(n >> 8) & 15]}${HEX[(n >> 4) & 15]}${HEX[n & 15]}`;
    }
    return `${out}"`;
  }
  // The normalized `value` for headers `h` (one regexp test when it is
  // fine, the usual case).
  function checkValue(value, h) {
    value = normalizeValue(value);
    if (RegExpTest(UNSENDABLE_VALUE, value)) {
      if (RegExpTest(INVALID_VALUE, value)) throw new TypeError(`Invalid header value: ${quote(value)}`);
      if (h[kGuard] !== "none") throw unsendable(value);
      h[kUnsendable] = true;
    }
    return value;
  }
  function unsendable(value) {
    return new TypeError(`Invalid header value: ${quote(value)} (a request or response header cannot hold a control character)`);
  }
  // Headers `h` become those of a Request or Response.
  function checkSendable(h) {
    if (!h[kUnsendable]) return;
    const list = h[kList];
    for (let i = 0; i < list.length; i++) {
      if (RegExpTest(UNSENDABLE_VALUE, list[i][1])) throw unsendable(list[i][1]);
    }
    h[kUnsendable] = false;
  }

  // https://fetch.spec.whatwg.org/#headers-class
  class Headers {
    // https://fetch.spec.whatwg.org/#dom-headers
    constructor(init = undefined) {
      this[kList] = [];
      this[kSorted] = null;
      this[kGuard] = "none";
      this[kUnsendable] = false;
      if (init !== undefined && init !== null) fill(this, init);
      else if (init === null) throw new TypeError("Headers: init must not be null");
    }
    #mutable() {
      if (this[kGuard] === "immutable") throw new TypeError("Can't modify immutable headers");
    }
    // https://fetch.spec.whatwg.org/#dom-headers-append
    append(name, value) {
      this.#mutable();
      const list = this[kList];
      list[list.length] = [checkName(name), checkValue(value, this)];
      this[kSorted] = null;
    }
    // https://fetch.spec.whatwg.org/#dom-headers-delete
    delete(name) {
      this.#mutable();
      name = checkName(name);
      this[kList] = ArrayPrototypeFilter(this[kList], (e) => e[0] !== name);
      this[kSorted] = null;
    }
    // https://fetch.spec.whatwg.org/#dom-headers-get
    get(name) {
      name = checkName(name);
      const list = this[kList];
      let out = null;
      for (let i = 0; i < list.length; i++) {
        if (list[i][0] === name) out = out === null ? list[i][1] : `${out}, ${list[i][1]}`;
      }
      return out;
    }
    // https://fetch.spec.whatwg.org/#dom-headers-getsetcookie
    getSetCookie() {
      const list = this[kList];
      const out = [];
      for (let i = 0; i < list.length; i++) if (list[i][0] === "set-cookie") out[out.length] = list[i][1];
      return out;
    }
    // https://fetch.spec.whatwg.org/#dom-headers-has
    has(name) {
      name = checkName(name);
      const list = this[kList];
      for (let i = 0; i < list.length; i++) if (list[i][0] === name) return true;
      return false;
    }
    // https://fetch.spec.whatwg.org/#dom-headers-set
    set(name, value) {
      this.#mutable();
      name = checkName(name);
      value = checkValue(value, this);
      this[kSorted] = null;
      const list = this[kList];
      let i = 0;
      while (i < list.length && list[i][0] !== name) i++;
      if (i === list.length) { list[i] = [name, value]; return; }
      list[i][1] = value;
      this[kList] = ArrayPrototypeFilter(list, (e, j) => j <= i || e[0] !== name);
    }
    // https://fetch.spec.whatwg.org/#concept-header-list-sort-and-combine
    // Names are lower case already; a stable sort keeps the values of one
    // name in order, and set-cookie values stay separate.
    #sorted() {
      const cached = this[kSorted];
      if (cached !== null) return cached;
      const list = this[kList];
      const order = [];
      for (let i = 0; i < list.length; i++) order[i] = i;
      ArrayPrototypeSort(order, (a, b) => {
        const x = list[a][0], y = list[b][0];
        return x < y ? -1 : x > y ? 1 : a - b;
      });
      const out = [];
      for (let j = 0; j < order.length; j++) {
        const k = list[order[j]][0], v = list[order[j]][1];
        const last = out.length > 0 ? out[out.length - 1] : undefined;
        if (last !== undefined && last[0] === k && k !== "set-cookie") last[1] += ", " + v;
        else out[out.length] = [k, v];
      }
      this[kSorted] = out;
      return out;
    }
    static {
      sortedOf = (h) => h.#sorted();
      // A brand check that runs no user code (a Proxy's traps included).
      isHeaders = (o) => #sorted in o;
    }
    // https://webidl.spec.whatwg.org/#es-iterable: the pairs are recomputed
    // at each step, so changes during iteration are seen.
    *#iterate(kind) {
      for (let i = 0; ; i++) {
        const list = this.#sorted();
        if (i >= list.length) return;
        const k = list[i][0], v = list[i][1];
        yield kind === "keys" ? k : kind === "values" ? v : [k, v];
      }
    }
    forEach(cb, thisArg = undefined) {
      if (typeof cb !== "function") throw new TypeError("Headers.forEach: callback must be a function");
      for (let i = 0; ; i++) {
        const list = this.#sorted();
        if (i >= list.length) return;
        ReflectApply(cb, thisArg, [list[i][1], list[i][0], this]);
      }
    }
    entries() { return this.#iterate("entries"); }
    keys() { return this.#iterate("keys"); }
    values() { return this.#iterate("values"); }
    [Symbol.iterator]() { return this.#iterate("entries"); }
  }
  internal.brand(Headers, "Headers");

  // https://fetch.spec.whatwg.org/#concept-headers-fill
  function fill(headers, init) {
    if (typeof init === "object" || typeof init === "function") {
      if (init !== null && isHeaders(init) && init[SymbolIterator] === headersIterator &&
          headers[kGuard] !== "immutable") {
        // Another Headers whose iteration nobody replaced: its pairs are
        // valid already, so copy the sorted view once instead of iterating
        // it (which re-validates every name and value).
        const sorted = sortedOf(init);
        const list = headers[kList];
        for (let i = 0; i < sorted.length; i++) list[list.length] = [sorted[i][0], sorted[i][1]];
        headers[kSorted] = null;
        if (init[kUnsendable]) headers[kUnsendable] = true;
        return;
      }
      if (typeof init[SymbolIterator] === "function") {
        for (const pair of init) {
          const p = [...pair];
          if (p.length !== 2) throw new TypeError("Headers: each header must be a [name, value] pair");
          HeadersAppend(headers, p[0], p[1]);
        }
      } else {
        const keys = ReflectOwnKeys(init);
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i];
          const d = ObjectGetOwnPropertyDescriptor(init, k);
          if (d === undefined || !d.enumerable) continue;
          if (typeof k === "symbol") throw new TypeError("Headers: symbol keys are not allowed");
          HeadersAppend(headers, k, init[k]);
        }
      }
    } else {
      throw new TypeError("Headers: init must be an object");
    }
  }
  const headersIterator = Headers.prototype[SymbolIterator];
  // The glue's own uses of Headers methods, whatever a Worker does to the
  // prototype.
  const HeadersAppend = uncurryThis(Headers.prototype.append);
  const HeadersGet = uncurryThis(Headers.prototype.get);
  const HeadersHas = uncurryThis(Headers.prototype.has);
  const HeadersSet = uncurryThis(Headers.prototype.set);
  function headersFrom(flat, guard) {
    const h = new Headers();
    const list = h[kList];
    for (let i = 0; i < flat.length; i += 2) list[i >> 1] = [flat[i], flat[i + 1]];
    h[kGuard] = guard;
    return h;
  }
  // A Headers' list as Rust takes it: "name\nvalue\n" per entry (names are
  // tokens and values never hold a newline, so the split is exact).
  function flatten(list) {
    let out = "";
    for (let i = 0; i < list.length; i++) out += list[i][0] + "\n" + list[i][1] + "\n";
    return out;
  }
  const headersFlat = (h) => flatten(h[kList]);

  // The body of a Request or Response: nothing, bytes in JS, a native body
  // (resource id) or a JS ReadableStream. https://fetch.spec.whatwg.org/#concept-body
  class Body {
    constructor(bytes = null, rid = null, stream = null) {
      this.bytes = bytes;
      this.rid = rid;
      this.stream = stream;
      this.used = false;
    }
    get isNull() { return this.bytes === null && this.rid === null && this.stream === null; }
    // https://fetch.spec.whatwg.org/#dom-body-body
    readable() {
      if (this.stream === null) {
        if (this.rid !== null) { this.stream = internal.nativeStream(this.rid); this.rid = null; }
        else if (this.bytes !== null) {
          const bytes = this.bytes;
          this.bytes = null;
          this.stream = new ReadableStream({ type: "bytes", start(c) { if (bytes.length) c.enqueue(new Uint8Array(bytes)); c.close(); } });
          this.bytesSource = bytes;
        } else return null;
      }
      return this.stream;
    }
    get bodyUsed() {
      if (this.stream !== null) return this.used || internal.isDisturbed(this.stream);
      return this.used && this.wasNonNull === true;
    }
    // What to hand to Rust: null, a Uint8Array, a resource id, or { stream }.
    take() {
      if (this.bodyUsed) throw new TypeError("Body has already been used");
      if (this.isNull) return null;
      this.wasNonNull = true;
      this.used = true;
      if (this.rid !== null) { const r = this.rid; this.rid = null; return r; }
      if (this.bytes !== null) return this.bytes;
      if (this.stream !== null) {
        if (this.bytesSource && !internal.isDisturbed(this.stream) && !this.stream.locked) {
          this.stream.cancel();
          return this.bytesSource;
        }
        const rid = internal.takeNative(this.stream);
        if (rid !== undefined) return rid;
        return { stream: this.stream };
      }
      return null;
    }
    // https://fetch.spec.whatwg.org/#concept-body-consume-body
    async consume() {
      if (this.bodyUsed) throw new TypeError("Body has already been used");
      if (this.stream !== null && this.stream.locked) throw new TypeError("The body stream is locked");
      if (this.isNull) return new Uint8Array(0);
      this.wasNonNull = true;
      this.used = true;
      if (this.rid !== null) { const r = this.rid; this.rid = null; return await internal.opPromise(ops.body_read_all(r)); }
      if (this.bytes !== null) return this.bytes;
      if (this.stream !== null) return await internal.readAll(this.stream);
      return new Uint8Array(0);
    }
    // https://fetch.spec.whatwg.org/#concept-body-clone
    clone() {
      if (this.bodyUsed) throw new TypeError("Body has already been used");
      if (this.rid !== null) {
        const pair = ops.body_tee(this.rid);
        this.rid = pair[0];
        return new Body(null, pair[1], null);
      }
      if (this.bytes !== null) return new Body(this.bytes, null, null);
      if (this.stream !== null) {
        const pair = this.stream.tee();
        this.stream = pair[0];
        return new Body(null, null, pair[1]);
      }
      return new Body();
    }
  }

  // https://fetch.spec.whatwg.org/#concept-bodyinit-extract
  function extract(init) {
    if (init === null || init === undefined) return [new Body(), null];
    if (typeof init === "string") return [new Body(new TextEncoder().encode(init)), "text/plain;charset=UTF-8"];
    if (init instanceof ReadableStream) {
      if (init.locked || internal.isDisturbed(init)) throw new TypeError("ReadableStream is locked or disturbed");
      if (internal.isNativeUntouched(init)) {
        const rid = internal.takeNative(init);
        return [new Body(null, rid, null), null];
      }
      return [new Body(null, null, init), null];
    }
    if (init instanceof Blob) return [new Body(TypedArrayPrototypeSlice(init[kBytes])), init.type === "" ? null : init.type];
    if (init instanceof FormData) { const encoded = encodeMultipart(init); return [new Body(encoded[0]), encoded[1]]; }
    if (init instanceof URLSearchParams) return [new Body(new TextEncoder().encode(init.toString())), "application/x-www-form-urlencoded;charset=UTF-8"];
    const b = internal.toBytes(init);
    if (b !== null) return [new Body(new Uint8Array(b)), null];
    return [new Body(new TextEncoder().encode(String(init))), "text/plain;charset=UTF-8"];
  }

  const kBody = Symbol("body");
  const kHeaders = Symbol("headers");
  const kInner = Symbol("inner");

  // The methods Request and Response share. https://fetch.spec.whatwg.org/#body-mixin
  const BodyMixin = {
    get body() { return this[kBody].readable(); },
    get bodyUsed() { return this[kBody].bodyUsed; },
    async arrayBuffer() { const b = await this[kBody].consume(); return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : TypedArrayPrototypeSlice(b).buffer; },
    async bytes() { return new Uint8Array(await this[kBody].consume()); },
    async text() { return new TextDecoder().decode(await this[kBody].consume()); },
    async json() { return JSONParse(new TextDecoder().decode(await this[kBody].consume())); },
    // https://fetch.spec.whatwg.org/#dom-body-formdata
    async formData() {
      const type = HeadersGet(this[kHeaders], "content-type") ?? "";
      const semicolon = StringPrototypeIndexOf(type, ";");
      const essence = StringPrototypeToLowerCase(StringPrototypeTrim(semicolon < 0 ? type : StringPrototypeSlice(type, 0, semicolon)));
      const bytes = await this[kBody].consume();
      if (essence === "multipart/form-data") return parseMultipart(bytes, type);
      if (essence === "application/x-www-form-urlencoded") {
        const fd = new FormData();
        for (const [k, v] of new URLSearchParams(new TextDecoder().decode(bytes))) fd.append(k, v);
        return fd;
      }
      throw new TypeError("formData(): the Content-Type is neither multipart/form-data nor application/x-www-form-urlencoded");
    },
    async blob() { return new Blob([await this[kBody].consume()], { type: HeadersGet(this[kHeaders], "content-type") ?? "" }); },
  };
  function mixBody(cls) {
    for (const k of Object.getOwnPropertyNames(BodyMixin)) {
      Object.defineProperty(cls.prototype, k, Object.getOwnPropertyDescriptor(BodyMixin, k));
    }
  }


  const MODES = ["same-origin", "no-cors", "cors", "navigate"];
  const CREDENTIALS = ["omit", "same-origin", "include"];
  const CACHES = ["default", "no-store", "reload", "no-cache", "force-cache", "only-if-cached"];
  const POLICIES = ["", "no-referrer", "no-referrer-when-downgrade", "same-origin", "origin", "strict-origin", "origin-when-cross-origin", "strict-origin-when-cross-origin", "unsafe-url"];

  // The RequestInit checks of https://fetch.spec.whatwg.org/#dom-request
  // for members isoproxy otherwise ignores.
  function checkInit(init, method) {
    const oneOf = (name, allowed) => {
      if (init[name] !== undefined && !ArrayPrototypeIncludes(allowed, String(init[name]))) throw new TypeError(`Invalid ${name}: ${init[name]}`);
    };
    if (init.window !== undefined && init.window !== null) throw new TypeError("RequestInit.window must be null");
    oneOf("mode", MODES);
    oneOf("credentials", CREDENTIALS);
    oneOf("cache", CACHES);
    oneOf("referrerPolicy", POLICIES);
    if (init.mode === "navigate") throw new TypeError("Request mode cannot be navigate");
    if (init.cache === "only-if-cached" && init.mode !== "same-origin") throw new TypeError("only-if-cached requires mode same-origin");
    if (init.mode === "no-cors" && !ArrayPrototypeIncludes(["GET", "HEAD", "POST"], method)) throw new TypeError(`${method} is not allowed in no-cors mode`);
    if (init.referrer !== undefined && init.referrer !== "") {
      const base = typeof globalThis.location === "object" && globalThis.location !== null ? String(globalThis.location.href) : undefined;
      if (!URL.canParse(String(init.referrer), base)) throw new TypeError(`Invalid referrer: ${init.referrer}`);
    }
    if (init.duplex !== undefined && init.duplex !== "half") throw new TypeError("duplex must be 'half'");
  }

  // https://fetch.spec.whatwg.org/#request-class
  class Request {
    // https://fetch.spec.whatwg.org/#dom-request
    constructor(input, init = {}) {
      if (arguments.length === 0) throw new TypeError("Request: 1 argument required");
      init = init ?? {};
      let inner;
      let inputBody = null;
      if (input instanceof Request) {
        const src = input[kInner];
        inner = { method: src.method, url: src.url, redirect: src.redirect, signal: src.signal, cf: src.cf };
        inputBody = input[kBody];
        this[kHeaders] = new Headers(input[kHeaders]);
      } else {
        let url;
        // Relative URLs resolve against `location` when the global has one
        // (the WPT runner sets it; Workers have none).
        const base = typeof globalThis.location === "object" && globalThis.location !== null ? String(globalThis.location.href) : undefined;
        try { url = new URL(String(input), base); } catch { throw new TypeError(`Invalid URL: ${input}`); }
        if (url.username || url.password) throw new TypeError("Request URL must not include credentials");
        inner = { method: "GET", url: url.href, redirect: "follow", signal: null, cf: undefined };
        this[kHeaders] = new Headers();
      }
      if (init.method !== undefined) {
        let m = String(init.method);
        if (!RegExpTest(TOKEN, m)) throw new TypeError(`Invalid method: ${m}`);
        const upper = StringPrototypeToUpperCase(m);
        if (SetPrototypeHas(FORBIDDEN_METHODS, upper)) throw new TypeError(`Forbidden method: ${m}`);
        if (SetPrototypeHas(NORMAL_METHODS, upper)) m = upper;
        inner.method = m;
      }
      if (init.redirect !== undefined) {
        if (!ArrayPrototypeIncludes(["follow", "error", "manual"], init.redirect)) throw new TypeError(`Invalid redirect: ${init.redirect}`);
        inner.redirect = init.redirect;
      }
      if (init.signal !== undefined) {
        if (init.signal !== null && !(init.signal instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
        inner.signal = init.signal;
      }
      if (init.cf !== undefined) inner.cf = init.cf;
      checkInit(init, inner.method);
      if (init.headers !== undefined) {
        const h = new Headers(init.headers);
        this[kHeaders] = h;
      }
      checkSendable(this[kHeaders]);
      this[kHeaders][kGuard] = "request";
      const hasInitBody = init.body !== undefined && init.body !== null;
      if ((hasInitBody || (inputBody !== null && !inputBody.isNull && init.body === undefined)) && (inner.method === "GET" || inner.method === "HEAD")) {
        throw new TypeError("Request with GET/HEAD method cannot have body.");
      }
      if (init.body !== undefined) {
        const extracted = extract(init.body);
        this[kBody] = extracted[0];
        const type = extracted[1];
        if (type !== null && !HeadersHas(this[kHeaders], "content-type")) HeadersAppend(this[kHeaders], "content-type", type);
      } else if (inputBody !== null) {
        if (inputBody.bodyUsed) throw new TypeError("Cannot construct a Request with a Request object that has already been used.");
        if (inputBody.stream !== null && inputBody.stream.locked) throw new TypeError("Cannot construct a Request from a Request whose body is locked.");
        // Transfer the body: the input request's body becomes used.
        const b = new Body(inputBody.bytes, inputBody.rid, inputBody.stream);
        b.bytesSource = inputBody.bytesSource;
        if (inputBody.stream !== null && internal.isNativeUntouched(inputBody.stream)) {
          b.rid = internal.takeNative(inputBody.stream);
          b.stream = null;
        }
        if (!inputBody.isNull) { inputBody.rid = null; inputBody.bytes = null; inputBody.used = true; inputBody.wasNonNull = true; }
        this[kBody] = b;
      } else {
        this[kBody] = new Body();
      }
      this[kInner] = inner;
    }
    get method() { return this[kInner].method; }
    get url() { return this[kInner].url; }
    get headers() { return this[kHeaders]; }
    get redirect() { return this[kInner].redirect; }
    get signal() { return this[kInner].signal ?? (this[kInner].signal = internal.newSignal()); }
    get cf() { return this[kInner].cf; }
    get destination() { return ""; }
    get referrer() { return "about:client"; }
    get referrerPolicy() { return ""; }
    get mode() { return "cors"; }
    get credentials() { return "same-origin"; }
    get cache() { return "default"; }
    get integrity() { return ""; }
    get keepalive() { return false; }
    get duplex() { return "half"; }
    // https://fetch.spec.whatwg.org/#dom-request-clone
    clone() {
      if (this.bodyUsed) throw new TypeError("Body has already been used");
      const r = ObjectCreate(Request.prototype);
      r[kInner] = { ...this[kInner] };
      r[kHeaders] = new Headers(this[kHeaders]);
      r[kHeaders][kGuard] = this[kHeaders][kGuard];
      r[kBody] = this[kBody].clone();
      return r;
    }
  }
  mixBody(Request);
  internal.brand(Request, "Request");

  const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
  const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

  // https://fetch.spec.whatwg.org/#response-class
  class Response {
    // https://fetch.spec.whatwg.org/#dom-response
    constructor(body = null, init = {}) {
      init = init ?? {};
      const status = init.status === undefined ? 200 : Number(init.status);
      // A WebSocket goes back to the client with a 101, and only with it
      // (as workerd has it).
      const webSocket = init.webSocket ?? null;
      if (webSocket !== null) {
        if (!internal.isWebSocket(webSocket)) throw new TypeError("Response: webSocket must be a WebSocket");
        if (status !== 101) throw new RangeError("Responses with a WebSocket must have status code 101.");
      } else if (!NumberIsInteger(status) || status < 200 || status > 599) throw new RangeError(`Response status must be between 200 and 599 (got ${init.status})`);
      const statusText = init.statusText === undefined ? "" : String(init.statusText);
      if (RegExpTest(UNSENDABLE_VALUE, statusText)) throw new TypeError("Invalid statusText");
      // workerd's extension: "manual" means the body is already in the
      // Content-Encoding the headers name.
      const encodeBody = init.encodeBody === undefined ? "automatic" : String(init.encodeBody);
      if (encodeBody !== "automatic" && encodeBody !== "manual") throw new TypeError(`encodeBody must be "automatic" or "manual" (got ${encodeBody})`);
      this[kInner] = { status, statusText, type: "default", url: "", redirected: false, webSocket, encodeBody };
      this[kHeaders] = new Headers(init.headers instanceof Headers ? init.headers : init.headers ?? undefined);
      checkSendable(this[kHeaders]);
      this[kHeaders][kGuard] = "response";
      if (body !== null && body !== undefined) {
        if (SetPrototypeHas(NULL_BODY_STATUS, status)) throw new TypeError(`Response with null body status ${status} cannot have body`);
        const extracted = extract(body);
        this[kBody] = extracted[0];
        const type = extracted[1];
        if (type !== null && !HeadersHas(this[kHeaders], "content-type")) HeadersAppend(this[kHeaders], "content-type", type);
      } else {
        this[kBody] = new Body();
      }
    }
    // https://fetch.spec.whatwg.org/#dom-response-error
    static error() {
      const r = new Response(null, { status: 200 });
      r[kInner].status = 0;
      r[kInner].type = "error";
      r[kHeaders][kGuard] = "immutable";
      return r;
    }
    // https://fetch.spec.whatwg.org/#dom-response-redirect
    static redirect(url, status = 302) {
      const base = typeof globalThis.location === "object" && globalThis.location !== null ? String(globalThis.location.href) : undefined;
      const parsed = new URL(String(url), base);
      if (!SetPrototypeHas(REDIRECT_STATUS, status)) throw new RangeError(`Invalid redirect status ${status}`);
      const r = new Response(null, { status, headers: { location: parsed.href } });
      r[kHeaders][kGuard] = "immutable";
      return r;
    }
    // https://fetch.spec.whatwg.org/#dom-response-json
    static json(data, init = {}) {
      const text = JSONStringify(data);
      if (text === undefined) throw new TypeError("Response.json: data is not JSON-serializable");
      const r = new Response(text, init);
      HeadersSet(r[kHeaders], "content-type", "application/json");
      return r;
    }
    get type() { return this[kInner].type; }
    get url() { return this[kInner].url; }
    get redirected() { return this[kInner].redirected; }
    get status() { return this[kInner].status; }
    get ok() { return this[kInner].status >= 200 && this[kInner].status <= 299; }
    get statusText() { return this[kInner].statusText; }
    get headers() { return this[kHeaders]; }
    get webSocket() { return this[kInner].webSocket; }
    // https://fetch.spec.whatwg.org/#dom-response-clone
    clone() {
      if (this.bodyUsed) throw new TypeError("Body has already been used");
      const r = ObjectCreate(Response.prototype);
      r[kInner] = { ...this[kInner] };
      r[kHeaders] = new Headers(this[kHeaders]);
      r[kHeaders][kGuard] = this[kHeaders][kGuard];
      r[kBody] = this[kBody].clone();
      return r;
    }
  }
  mixBody(Response);
  internal.brand(Response, "Response");

  // A Response for a subrequest's answer (headers immutable, body native).
  function responseFromNative(status, flat, rid, url, socket) {
    const r = ObjectCreate(Response.prototype);
    r[kHeaders] = headersFrom(flat, "immutable");
    const webSocket = socket === undefined ? null : internal.upstreamSocket(socket, url, HeadersGet(r[kHeaders], "sec-websocket-extensions"));
    r[kInner] = { status, statusText: "", type: "basic", url, redirected: false, webSocket };
    r[kBody] = new Body(null, rid, null);
    return r;
  }

  // The incoming request of a Worker invocation.
  internal.incomingRequest = (method, url, flat, rid) => {
    const r = ObjectCreate(Request.prototype);
    // https://developers.cloudflare.com/workers/runtime-apis/request/#incomingrequestcfproperties:
    // what the proxy knows of the client's connection.
    r[kInner] = { method, url, redirect: "manual", signal: null, cf: ops.request_cf() };
    r[kHeaders] = headersFrom(flat, "immutable");
    r[kBody] = new Body(null, rid, null);
    return r;
  };

  // What Rust needs to send a request or response body: null, bytes, a
  // resource id, or a resource id fed from a JS stream in the background.
  function bodyForRust(body, onPump) {
    const b = body.take();
    if (b === null || typeof b === "number" || b instanceof Uint8Array) return b;
    const writer = ops.body_writer(internal.knownLength(b.stream));
    const rid = writer[1];
    const pump = internal.pumpToWriter(b.stream, writer[0]);
    if (onPump) onPump(pump);
    return rid;
  }

  // For the Cache API (16_cache.js).
  internal.cacheGlue = { responseFromNative, bodyForRust, headersFlat, kBody, kHeaders };

  // Send `response` as the answer to invocation `id`; resolves when its
  // body (if produced by JS) has been written.
  internal.sendResponse = (id, response) => {
    if (!(response instanceof Response)) throw new TypeError("The fetch handler must return a Response");
    let pump = null;
    const status = response.status === 0 ? 500 : response.status;
    const body = response[kBody].isNull ? null : bodyForRust(response[kBody], (p) => { pump = p; });
    const webSocket = response[kInner].webSocket;
    const socket = webSocket === null ? null : internal.socketForResponse(webSocket);
    ops.response_send(id, status, headersFlat(response[kHeaders]), body, socket, response[kInner].encodeBody === "manual");
    return pump ?? PromiseResolve(undefined);
  };

  // Send a request through binding `target` (-1: the global outbound).
  // https://fetch.spec.whatwg.org/#fetch-method
  function fetchVia(target, input, init) {
    let request;
    try {
      request = new Request(input, init);
    } catch (e) {
      return PromiseReject(e);
    }
    const signal = request[kInner].signal;
    if (signal?.aborted) return PromiseReject(signal.reason);
    let body;
    try {
      body = request[kBody].isNull ? null : bodyForRust(request[kBody]);
    } catch (e) {
      return PromiseReject(e);
    }
    const p = send(target, request.method, request.url, headersFlat(request[kHeaders]), body, request.redirect, 0);
    if (!signal) return p;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      PromisePrototypeThen(p, (r) => { signal.removeEventListener("abort", onAbort); resolve(r); }, (e) => { signal.removeEventListener("abort", onAbort); reject(e); });
    });
  }

  // The request-body-header names, dropped when a redirect turns the request
  // into a GET: https://fetch.spec.whatwg.org/#request-body-header-name
  const REQUEST_BODY_HEADERS = new Set(["content-type", "content-length", "content-encoding", "content-language", "content-location"]);

  // Send one request and follow redirects when `mode` is "follow".
  // https://fetch.spec.whatwg.org/#http-redirect-fetch
  async function send(target, method, url, flat, body, mode, count) {
    const answer = await internal.opPromise(ops.fetch_send(target, method, url, flat, body));
    const status = answer[0], rid = answer[2];
    const response = responseFromNative(status, answer[1], rid, url, answer[3]);
    if (!SetPrototypeHas(REDIRECT_STATUS, status) || mode === "manual") {
      if (count > 0) response[kInner].redirected = true;
      return response;
    }
    const location = HeadersGet(response[kHeaders], "location");
    if (location === null) return response;
    if (mode === "error") { if (rid !== null) ops.body_close(rid); throw new TypeError(`redirect to ${location} with redirect mode "error"`); }
    if (rid !== null) ops.body_close(rid);
    if (count >= 20) throw new TypeError("too many redirects");
    let next;
    try { next = new URL(location, url); } catch { throw new TypeError(`invalid redirect location: ${location}`); }
    if (next.protocol !== "http:" && next.protocol !== "https:") throw new TypeError(`redirect to a non-HTTP URL: ${next.href}`);
    // The headers as they were sent (a later change to the Request's
    // Headers does not reach a redirect), back as [name, value] pairs.
    let list = [];
    for (let at = 0; at < flat.length;) {
      const sep = StringPrototypeIndexOf(flat, "\n", at);
      const end = StringPrototypeIndexOf(flat, "\n", sep + 1);
      list[list.length] = [StringPrototypeSlice(flat, at, sep), StringPrototypeSlice(flat, sep + 1, end)];
      at = end + 1;
    }
    if ((status === 303 && method !== "GET" && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")) {
      method = "GET";
      body = null;
      list = ArrayPrototypeFilter(list, (e) => !SetPrototypeHas(REQUEST_BODY_HEADERS, e[0]));
    } else if (typeof body === "number") {
      throw new TypeError("cannot follow a redirect with a streamed request body; use redirect: \"manual\"");
    }
    if (new URL(url).origin !== next.origin) list = ArrayPrototypeFilter(list, (e) => e[0] !== "authorization");
    return await send(target, method, next.href, flatten(list), body, mode, count + 1);
  }

  // https://fetch.spec.whatwg.org/#fetch-method
  function fetch(input, init = undefined) {
    return fetchVia(-1, input, init);
  }

  const kTarget = Symbol("target");
  const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
  // A service binding: https://developers.cloudflare.com/workers/runtime-apis/bindings/service-bindings/
  class Fetcher {
    constructor() { throw new TypeError("Illegal constructor"); }
    fetch(input, init = undefined) {
      if (typeof input === "string" && !RegExpTest(SCHEME, input)) input = new URL(input, "http://fake-host/").href;
      return fetchVia(this[kTarget], input, init);
    }
    // A TCP connection through this binding's service (cloudflare:sockets).
    connect(address, options = undefined) { return internal.socketConnect(this[kTarget], address, options); }
  }
  internal.brand(Fetcher, "Fetcher");
  internal.newFetcher = (target) => {
    const f = ObjectCreate(Fetcher.prototype);
    ObjectDefineProperty(f, kTarget, { value: target });
    return f;
  };

  internal.defineGlobals({ Headers, Request, Response, FormData, Blob, File, fetch });
})();
