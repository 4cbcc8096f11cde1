// isoproxy glue, part 9: Headers, Request, Response, fetch() and Fetcher.
// Spec: https://fetch.spec.whatwg.org/ . Bodies from the network stay native
// (a resource id in Rust) until JS reads them, so a Worker that passes a body
// along never copies it into the isolate.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const { Blob, File, FormData, kBytes, encodeMultipart, parseMultipart } = internal.forms;

  const kList = Symbol("list");
  const kGuard = Symbol("guard");
  // The sorted-and-combined view of a header list, kept until the list
  // changes: iterating (and copying a Headers into a new Request or
  // Response) would otherwise sort the list again at every step.
  const kSorted = Symbol("sorted");
  let sortedOf, isHeaders;
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
  const NORMAL_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"]);

  // https://fetch.spec.whatwg.org/#concept-header-value-normalize
  function normalizeValue(v) {
    return String(v).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  }
  function checkName(name) {
    name = String(name);
    if (!TOKEN.test(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
    return name.toLowerCase();
  }
  function checkValue(value) {
    value = normalizeValue(value);
    if (/[\0\r\n]/.test(value) || /[^\0-\xff]/.test(value)) throw new TypeError(`Invalid header value: ${JSON.stringify(value)}`);
    return value;
  }

  // https://fetch.spec.whatwg.org/#headers-class
  class Headers {
    // https://fetch.spec.whatwg.org/#dom-headers
    constructor(init = undefined) {
      this[kList] = [];
      this[kSorted] = null;
      this[kGuard] = "none";
      if (init !== undefined && init !== null) fill(this, init);
      else if (init === null) throw new TypeError("Headers: init must not be null");
    }
    #mutable() {
      if (this[kGuard] === "immutable") throw new TypeError("Can't modify immutable headers");
    }
    // https://fetch.spec.whatwg.org/#dom-headers-append
    append(name, value) {
      this.#mutable();
      this[kList].push([checkName(name), checkValue(value)]);
      this[kSorted] = null;
    }
    // https://fetch.spec.whatwg.org/#dom-headers-delete
    delete(name) {
      this.#mutable();
      name = checkName(name);
      this[kList] = this[kList].filter(([k]) => k !== name);
      this[kSorted] = null;
    }
    // https://fetch.spec.whatwg.org/#dom-headers-get
    get(name) {
      name = checkName(name);
      const vals = this[kList].filter(([k]) => k === name).map(([, v]) => v);
      return vals.length === 0 ? null : vals.join(", ");
    }
    // https://fetch.spec.whatwg.org/#dom-headers-getsetcookie
    getSetCookie() { return this[kList].filter(([k]) => k === "set-cookie").map(([, v]) => v); }
    // https://fetch.spec.whatwg.org/#dom-headers-has
    has(name) { name = checkName(name); return this[kList].some(([k]) => k === name); }
    // https://fetch.spec.whatwg.org/#dom-headers-set
    set(name, value) {
      this.#mutable();
      name = checkName(name);
      value = checkValue(value);
      this[kSorted] = null;
      const i = this[kList].findIndex(([k]) => k === name);
      if (i < 0) { this[kList].push([name, value]); return; }
      this[kList][i][1] = value;
      this[kList] = this[kList].filter(([k], j) => j <= i || k !== name);
    }
    // https://fetch.spec.whatwg.org/#concept-header-list-sort-and-combine
    // Names are lower case already; a stable sort keeps the values of one
    // name in order, and set-cookie values stay separate.
    #sorted() {
      const cached = this[kSorted];
      if (cached !== null) return cached;
      const list = this[kList];
      const order = list.map((_, i) => i);
      order.sort((a, b) => {
        const x = list[a][0], y = list[b][0];
        return x < y ? -1 : x > y ? 1 : a - b;
      });
      const out = [];
      for (const i of order) {
        const [k, v] = list[i];
        const last = out.length > 0 ? out[out.length - 1] : undefined;
        if (last !== undefined && last[0] === k && k !== "set-cookie") last[1] += ", " + v;
        else out.push([k, v]);
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
        const [k, v] = list[i];
        yield kind === "keys" ? k : kind === "values" ? v : [k, v];
      }
    }
    forEach(cb, thisArg = undefined) {
      for (const [k, v] of this.#iterate("entries")) cb.call(thisArg, v, k, this);
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
      if (init !== null && isHeaders(init) && init[Symbol.iterator] === headersIterator &&
          headers[kGuard] !== "immutable") {
        // Another Headers whose iteration nobody replaced: its pairs are
        // valid already, so copy the sorted view once instead of iterating
        // it (which re-validates every name and value).
        for (const [k, v] of sortedOf(init)) headers[kList].push([k, v]);
        headers[kSorted] = null;
        return;
      }
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const p = [...pair];
          if (p.length !== 2) throw new TypeError("Headers: each header must be a [name, value] pair");
          headers.append(p[0], p[1]);
        }
      } else {
        for (const k of Reflect.ownKeys(init)) {
          const d = Object.getOwnPropertyDescriptor(init, k);
          if (d === undefined || !d.enumerable) continue;
          if (typeof k === "symbol") throw new TypeError("Headers: symbol keys are not allowed");
          headers.append(k, init[k]);
        }
      }
    } else {
      throw new TypeError("Headers: init must be an object");
    }
  }
  const headersIterator = Headers.prototype[Symbol.iterator];
  function headersFrom(flat, guard) {
    const h = new Headers();
    for (let i = 0; i < flat.length; i += 2) h[kList].push([flat[i], flat[i + 1]]);
    h[kGuard] = guard;
    return h;
  }
  function headersFlat(h) {
    const out = [];
    for (const [k, v] of h[kList]) out.push(k, v);
    return out;
  }

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
      if (this.rid !== null) { const r = this.rid; this.rid = null; return internal.opPromise(ops.body_read_all(r)); }
      if (this.bytes !== null) return this.bytes;
      if (this.stream !== null) return internal.readAll(this.stream);
      return new Uint8Array(0);
    }
    // https://fetch.spec.whatwg.org/#concept-body-clone
    clone() {
      if (this.bodyUsed) throw new TypeError("Body has already been used");
      if (this.rid !== null) {
        const [a, b] = ops.body_tee(this.rid);
        this.rid = a;
        return new Body(null, b, null);
      }
      if (this.bytes !== null) return new Body(this.bytes, null, null);
      if (this.stream !== null) {
        const [a, b] = this.stream.tee();
        this.stream = a;
        return new Body(null, null, b);
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
    if (init instanceof Blob) return [new Body(init[kBytes].slice()), init.type === "" ? null : init.type];
    if (init instanceof FormData) { const [bytes, type] = encodeMultipart(init); return [new Body(bytes), type]; }
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
    async arrayBuffer() { const b = await this[kBody].consume(); return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer; },
    async bytes() { return new Uint8Array(await this[kBody].consume()); },
    async text() { return new TextDecoder().decode(await this[kBody].consume()); },
    async json() { return JSON.parse(new TextDecoder().decode(await this[kBody].consume())); },
    // https://fetch.spec.whatwg.org/#dom-body-formdata
    async formData() {
      const type = this[kHeaders].get("content-type") ?? "";
      const essence = type.split(";")[0].trim().toLowerCase();
      const bytes = await this[kBody].consume();
      if (essence === "multipart/form-data") return parseMultipart(bytes, type);
      if (essence === "application/x-www-form-urlencoded") {
        const fd = new FormData();
        for (const [k, v] of new URLSearchParams(new TextDecoder().decode(bytes))) fd.append(k, v);
        return fd;
      }
      throw new TypeError("formData(): the Content-Type is neither multipart/form-data nor application/x-www-form-urlencoded");
    },
    async blob() { return new Blob([await this[kBody].consume()], { type: this[kHeaders].get("content-type") ?? "" }); },
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
      if (init[name] !== undefined && !allowed.includes(String(init[name]))) throw new TypeError(`Invalid ${name}: ${init[name]}`);
    };
    if (init.window !== undefined && init.window !== null) throw new TypeError("RequestInit.window must be null");
    oneOf("mode", MODES);
    oneOf("credentials", CREDENTIALS);
    oneOf("cache", CACHES);
    oneOf("referrerPolicy", POLICIES);
    if (init.mode === "navigate") throw new TypeError("Request mode cannot be navigate");
    if (init.cache === "only-if-cached" && init.mode !== "same-origin") throw new TypeError("only-if-cached requires mode same-origin");
    if (init.mode === "no-cors" && !["GET", "HEAD", "POST"].includes(method)) throw new TypeError(`${method} is not allowed in no-cors mode`);
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
        if (!TOKEN.test(m)) throw new TypeError(`Invalid method: ${m}`);
        if (FORBIDDEN_METHODS.has(m.toUpperCase())) throw new TypeError(`Forbidden method: ${m}`);
        if (NORMAL_METHODS.has(m.toUpperCase())) m = m.toUpperCase();
        inner.method = m;
      }
      if (init.redirect !== undefined) {
        if (!["follow", "error", "manual"].includes(init.redirect)) throw new TypeError(`Invalid redirect: ${init.redirect}`);
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
      this[kHeaders][kGuard] = "request";
      const hasInitBody = init.body !== undefined && init.body !== null;
      if ((hasInitBody || (inputBody !== null && !inputBody.isNull && init.body === undefined)) && (inner.method === "GET" || inner.method === "HEAD")) {
        throw new TypeError("Request with GET/HEAD method cannot have body.");
      }
      if (init.body !== undefined) {
        const [body, type] = extract(init.body);
        this[kBody] = body;
        if (type !== null && !this[kHeaders].has("content-type")) this[kHeaders].append("content-type", type);
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
      const r = Object.create(Request.prototype);
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
      if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError(`Response status must be between 200 and 599 (got ${init.status})`);
      const statusText = init.statusText === undefined ? "" : String(init.statusText);
      if (/[^\t\x20-\x7e\x80-\xff]/.test(statusText)) throw new TypeError("Invalid statusText");
      this[kInner] = { status, statusText, type: "default", url: "", redirected: false, webSocket: init.webSocket ?? null };
      this[kHeaders] = new Headers(init.headers instanceof Headers ? init.headers : init.headers ?? undefined);
      this[kHeaders][kGuard] = "response";
      if (body !== null && body !== undefined) {
        if (NULL_BODY_STATUS.has(status)) throw new TypeError(`Response with null body status ${status} cannot have body`);
        const [b, type] = extract(body);
        this[kBody] = b;
        if (type !== null && !this[kHeaders].has("content-type")) this[kHeaders].append("content-type", type);
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
      if (!REDIRECT_STATUS.has(status)) throw new RangeError(`Invalid redirect status ${status}`);
      const r = new Response(null, { status, headers: { location: parsed.href } });
      r[kHeaders][kGuard] = "immutable";
      return r;
    }
    // https://fetch.spec.whatwg.org/#dom-response-json
    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Response.json: data is not JSON-serializable");
      const r = new Response(text, init);
      r[kHeaders].set("content-type", "application/json");
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
      const r = Object.create(Response.prototype);
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
  function responseFromNative(status, flat, rid, url) {
    const r = Object.create(Response.prototype);
    r[kInner] = { status, statusText: "", type: "basic", url, redirected: false, webSocket: null };
    r[kHeaders] = headersFrom(flat, "immutable");
    r[kBody] = new Body(null, rid, null);
    return r;
  }

  // The incoming request of a Worker invocation.
  internal.incomingRequest = (method, url, flat, rid) => {
    const r = Object.create(Request.prototype);
    r[kInner] = { method, url, redirect: "manual", signal: null, cf: undefined };
    r[kHeaders] = headersFrom(flat, "immutable");
    r[kBody] = new Body(null, rid, null);
    return r;
  };

  // What Rust needs to send a request or response body: null, bytes, a
  // resource id, or a resource id fed from a JS stream in the background.
  function bodyForRust(body, onPump) {
    const b = body.take();
    if (b === null || typeof b === "number" || b instanceof Uint8Array) return b;
    const [writer, rid] = ops.body_writer();
    const pump = internal.pumpToWriter(b.stream, writer);
    if (onPump) onPump(pump);
    return rid;
  }

  // Send `response` as the answer to invocation `id`; resolves when its
  // body (if produced by JS) has been written.
  internal.sendResponse = (id, response) => {
    if (!(response instanceof Response)) throw new TypeError("The fetch handler must return a Response");
    let pump = null;
    const status = response.status === 0 ? 500 : response.status;
    const body = response[kBody].isNull ? null : bodyForRust(response[kBody], (p) => { pump = p; });
    ops.response_send(id, status, headersFlat(response[kHeaders]), body);
    return pump ?? Promise.resolve();
  };

  // Send a request through binding `target` (-1: the global outbound).
  // https://fetch.spec.whatwg.org/#fetch-method
  function fetchVia(target, input, init) {
    let request;
    try {
      request = new Request(input, init);
    } catch (e) {
      return Promise.reject(e);
    }
    const signal = request[kInner].signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let body;
    try {
      body = request[kBody].isNull ? null : bodyForRust(request[kBody]);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = send(target, request.method, request.url, headersFlat(request[kHeaders]), body, request.redirect, 0);
    if (!signal) return p;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      p.then((r) => { signal.removeEventListener("abort", onAbort); resolve(r); }, (e) => { signal.removeEventListener("abort", onAbort); reject(e); });
    });
  }

  // Send one request and follow redirects when `mode` is "follow".
  // https://fetch.spec.whatwg.org/#http-redirect-fetch
  async function send(target, method, url, flat, body, mode, count) {
    const [status, rflat, rid] = await internal.opPromise(ops.fetch_send(target, method, url, flat, body));
    const response = responseFromNative(status, rflat, rid, url);
    if (!REDIRECT_STATUS.has(status) || mode === "manual") {
      if (count > 0) response[kInner].redirected = true;
      return response;
    }
    const location = response[kHeaders].get("location");
    if (location === null) return response;
    if (mode === "error") { if (rid !== null) ops.body_close(rid); throw new TypeError(`redirect to ${location} with redirect mode "error"`); }
    if (rid !== null) ops.body_close(rid);
    if (count >= 20) throw new TypeError("too many redirects");
    let next;
    try { next = new URL(location, url); } catch { throw new TypeError(`invalid redirect location: ${location}`); }
    if (next.protocol !== "http:" && next.protocol !== "https:") throw new TypeError(`redirect to a non-HTTP URL: ${next.href}`);
    let nextFlat = flat;
    if ((status === 303 && method !== "GET" && method !== "HEAD") || ((status === 301 || status === 302) && method === "POST")) {
      method = "GET";
      body = null;
      const drop = new Set(["content-type", "content-length", "content-encoding", "content-language", "content-location"]);
      nextFlat = [];
      for (let i = 0; i < flat.length; i += 2) if (!drop.has(flat[i])) nextFlat.push(flat[i], flat[i + 1]);
    } else if (typeof body === "number") {
      throw new TypeError("cannot follow a redirect with a streamed request body; use redirect: \"manual\"");
    }
    if (new URL(url).origin !== next.origin) nextFlat = nextFlat.filter((_, i, a) => i % 2 === 0 ? a[i] !== "authorization" : a[i - 1] !== "authorization");
    return send(target, method, next.href, nextFlat, body, mode, count + 1);
  }

  // https://fetch.spec.whatwg.org/#fetch-method
  function fetch(input, init = undefined) {
    return fetchVia(-1, input, init);
  }

  const kTarget = Symbol("target");
  // A service binding: https://developers.cloudflare.com/workers/runtime-apis/bindings/service-bindings/
  class Fetcher {
    constructor() { throw new TypeError("Illegal constructor"); }
    fetch(input, init = undefined) {
      if (typeof input === "string" && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(input)) input = new URL(input, "http://fake-host/").href;
      return fetchVia(this[kTarget], input, init);
    }
    connect() { throw new TypeError("Fetcher.connect() is not supported"); }
  }
  internal.brand(Fetcher, "Fetcher");
  internal.newFetcher = (target) => {
    const f = Object.create(Fetcher.prototype);
    Object.defineProperty(f, kTarget, { value: target });
    return f;
  };

  internal.defineGlobals({ Headers, Request, Response, FormData, Blob, File, fetch });
})();
