// isoproxy glue, part 3: URL and URLSearchParams; parsing is the Rust `url`
// crate (WHATWG URL Standard). Spec: https://url.spec.whatwg.org/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    Object, Reflect, String, Symbol, TypeError,
    ArrayPrototypePush, ArrayPrototypeSplice, StringPrototypeCharCodeAt, StringPrototypeSlice,
    StringPrototypeToWellFormed,
  } = internal.primordials;
  const kParts = Symbol("parts");
  const kParams = Symbol("params");
  const kList = Symbol("list");
  const kUrl = Symbol("url");

  const HREF = 0, ORIGIN = 1, PROTOCOL = 2, USERNAME = 3, PASSWORD = 4, HOST = 5, HOSTNAME = 6, PORT = 7, PATHNAME = 8, SEARCH = 9, HASH = 10;

  // https://url.spec.whatwg.org/#url-class
  class URL {
    // https://url.spec.whatwg.org/#dom-url-url
    constructor(url, base = undefined) {
      if (arguments.length === 0) throw new TypeError("URL: 1 argument required");
      const parts = ops.url_parse(String(url), base === undefined ? undefined : String(base));
      if (parts === null) throw new TypeError(`Invalid URL: ${url}`);
      this[kParts] = parts;
      this[kParams] = null;
    }
    // https://url.spec.whatwg.org/#dom-url-canparse
    static canParse(url, base = undefined) {
      if (arguments.length === 0) throw new TypeError("URL.canParse: 1 argument required");
      return ops.url_parse(String(url), base === undefined ? undefined : String(base)) !== null;
    }
    // https://url.spec.whatwg.org/#dom-url-parse
    static parse(url, base = undefined) {
      try { return new URL(url, base); } catch { return null; }
    }
    #set(field, value) {
      const parts = ops.url_set(this[kParts][HREF], field, String(value));
      if (parts !== null) this[kParts] = parts;
      if ((field === HREF || field === SEARCH) && this[kParams] !== null) {
        const list = this[kParams][kList];
        ArrayPrototypeSplice(list, 0, list.length);
        const parsed = parse(this[kParts][SEARCH]);
        for (let i = 0; i < parsed.length; i++) ArrayPrototypePush(list, parsed[i]);
      }
    }
    get href() { return this[kParts][HREF]; }
    set href(v) { this.#set(HREF, v); }
    get origin() { return this[kParts][ORIGIN]; }
    get protocol() { return this[kParts][PROTOCOL]; }
    set protocol(v) { this.#set(PROTOCOL, v); }
    get username() { return this[kParts][USERNAME]; }
    set username(v) { this.#set(USERNAME, v); }
    get password() { return this[kParts][PASSWORD]; }
    set password(v) { this.#set(PASSWORD, v); }
    get host() { return this[kParts][HOST]; }
    set host(v) { this.#set(HOST, v); }
    get hostname() { return this[kParts][HOSTNAME]; }
    set hostname(v) { this.#set(HOSTNAME, v); }
    get port() { return this[kParts][PORT]; }
    set port(v) { this.#set(PORT, v); }
    get pathname() { return this[kParts][PATHNAME]; }
    set pathname(v) { this.#set(PATHNAME, v); }
    get search() { return this[kParts][SEARCH]; }
    set search(v) { this.#set(SEARCH, v); }
    // https://url.spec.whatwg.org/#dom-url-searchparams
    get searchParams() {
      if (this[kParams] === null) {
        const p = new URLSearchParams(this[kParts][SEARCH]);
        p[kUrl] = this;
        this[kParams] = p;
      }
      return this[kParams];
    }
    get hash() { return this[kParts][HASH]; }
    set hash(v) { this.#set(HASH, v); }
    toString() { return this[kParts][HREF]; }
    toJSON() { return this[kParts][HREF]; }
  }
  internal.brand(URL, "URL");

  function parse(query) {
    const flat = ops.url_params_parse(StringPrototypeCharCodeAt(query, 0) === 0x3f ? StringPrototypeSlice(query, 1) : query);
    const list = [];
    for (let i = 0; i < flat.length; i += 2) list[list.length] = [flat[i], flat[i + 1]];
    return list;
  }

  function usv(s) {
    return StringPrototypeToWellFormed(String(s));
  }

  // https://url.spec.whatwg.org/#interface-urlsearchparams
  class URLSearchParams {
    // https://url.spec.whatwg.org/#dom-urlsearchparams-urlsearchparams
    constructor(init = "") {
      this[kUrl] = null;
      if (init !== null && typeof init === "object" || typeof init === "function") {
        if (typeof init[Symbol.iterator] === "function") {
          this[kList] = [];
          for (const pair of init) {
            const p = [...pair];
            if (p.length !== 2) throw new TypeError("URLSearchParams: each pair must have exactly two items");
            this[kList].push([usv(p[0]), usv(p[1])]);
          }
        } else {
          this[kList] = Reflect.ownKeys(init)
            .filter((k) => typeof k === "string" && Object.getOwnPropertyDescriptor(init, k)?.enumerable)
            .map((k) => [usv(k), usv(init[k])]);
        }
      } else {
        this[kList] = parse(usv(init));
      }
    }
    #update() {
      const url = this[kUrl];
      if (url === null) return;
      const s = this.toString();
      const parts = ops.url_set(url[kParts][HREF], SEARCH, s);
      if (parts !== null) {
        url[kParts] = parts;
        // An empty query removes the "?" entirely.
        if (s === "") url[kParts] = ops.url_parse(url[kParts][HREF].replace(/\?(?=#|$)/, "")) ?? parts;
      }
    }
    get size() { return this[kList].length; }
    append(name, value) { this[kList].push([usv(name), usv(value)]); this.#update(); }
    delete(name, value = undefined) {
      name = usv(name);
      this[kList] = this[kList].filter(([k, v]) => !(k === name && (value === undefined || v === usv(value))));
      this.#update();
    }
    get(name) { name = usv(name); const e = this[kList].find(([k]) => k === name); return e ? e[1] : null; }
    getAll(name) { name = usv(name); return this[kList].filter(([k]) => k === name).map(([, v]) => v); }
    has(name, value = undefined) {
      name = usv(name);
      return this[kList].some(([k, v]) => k === name && (value === undefined || v === usv(value)));
    }
    set(name, value) {
      name = usv(name); value = usv(value);
      const i = this[kList].findIndex(([k]) => k === name);
      if (i < 0) this[kList].push([name, value]);
      else {
        this[kList][i][1] = value;
        this[kList] = this[kList].filter(([k], j) => j <= i || k !== name);
      }
      this.#update();
    }
    // https://url.spec.whatwg.org/#dom-urlsearchparams-sort (stable, by code units)
    sort() {
      this[kList] = this[kList].map((e, i) => [e, i]).sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1])).map(([e]) => e);
      this.#update();
    }
    forEach(cb, thisArg = undefined) {
      for (let i = 0; i < this[kList].length; i++) cb.call(thisArg, this[kList][i][1], this[kList][i][0], this);
    }
    *entries() { for (let i = 0; i < this[kList].length; i++) yield [this[kList][i][0], this[kList][i][1]]; }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return ops.url_params_serialize(this[kList].flat()); }
  }
  internal.brand(URLSearchParams, "URLSearchParams");

  internal.defineGlobals({ URL, URLSearchParams });
})();
