// isoproxy node compat: the client side of node:http and node:https over
// the Worker's fetch() (its globalOutbound and that service's rules), as
// workerd provides it: request(), get(), ClientRequest, IncomingMessage,
// Agent, STATUS_CODES, METHODS. A server (createServer) is not provided.
// https://developers.cloudflare.com/workers/runtime-apis/nodejs/http/
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const { Error, TypeError, ObjectKeys, PromisePrototypeThen } = internal.primordials;

  const STATUS_CODES = {
    __proto__: null,
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information", 204: "No Content",
    205: "Reset Content", 206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
    409: "Conflict", 410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Payload Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable", 417: "Expectation Failed",
    418: "I'm a Teapot", 421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
    424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required", 428: "Precondition Required",
    429: "Too Many Requests", 431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported", 506: "Variant Also Negotiates",
    507: "Insufficient Storage", 508: "Loop Detected", 509: "Bandwidth Limit Exceeded", 510: "Not Extended",
    511: "Network Authentication Required",
  };
  const METHODS = ["ACL", "BIND", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LINK", "LOCK", "M-SEARCH", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "NOTIFY", "OPTIONS", "PATCH", "POST", "PROPFIND", "PROPPATCH", "PURGE", "PUT", "QUERY", "REBIND", "REPORT", "SEARCH", "SOURCE", "SUBSCRIBE", "TRACE", "UNBIND", "UNLINK", "UNLOCK", "UNSUBSCRIBE"];

  function make(defaultProtocol) {
    const { Readable, Writable } = internal.requireBuiltin("node:stream");
    const { Buffer } = internal.requireBuiltin("node:buffer");

    class Agent {
      constructor(options = {}) { this.options = options; this.keepAlive = !!options.keepAlive; this.maxSockets = options.maxSockets ?? Infinity; this.sockets = {}; this.requests = {}; this.freeSockets = {}; }
      destroy() {}
    }
    const globalAgent = new Agent();

    class IncomingMessage extends Readable {
      constructor(response) {
        super();
        this.statusCode = response.status;
        this.statusMessage = response.statusText || STATUS_CODES[response.status] || "";
        this.httpVersion = "1.1";
        this.httpVersionMajor = 1;
        this.httpVersionMinor = 1;
        this.headers = {};
        this.rawHeaders = [];
        for (const [k, v] of response.headers) {
          this.rawHeaders.push(k, v);
          if (k === "set-cookie") (this.headers[k] ??= []).push(v);
          else this.headers[k] = this.headers[k] === undefined ? v : `${this.headers[k]}, ${v}`;
        }
        this.trailers = {};
        this.rawTrailers = [];
        this.complete = false;
        this.url = response.url;
        this.socket = null;
        this.#reader = response.body === null ? null : response.body.getReader();
      }
      #reader;
      _read() {
        if (this.#reader === null) { this.complete = true; this.push(null); return; }
        PromisePrototypeThen(this.#reader.read(), ({ done, value }) => {
          if (done) { this.complete = true; this.push(null); return; }
          this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        }, (e) => this.destroy(e));
      }
      _destroy(err, callback) {
        if (this.#reader !== null && !this.complete) PromisePrototypeThen(this.#reader.cancel(err ?? undefined), undefined, () => {});
        callback(err);
      }
      setTimeout(_ms, cb) { if (cb) this.once("timeout", cb); return this; }
    }

    class ClientRequest extends Writable {
      #url; #headers = {}; #chunks = []; #sent = false; #abort = new AbortController();
      constructor(url, options, callback) {
        // Not destroyed when the body ends: the response is still to come.
        super({ autoDestroy: false });
        if (typeof url === "string" || url instanceof URL) {
          if (typeof options === "function") { callback = options; options = {}; }
          const u = new URL(`${url}`);
          options = { ...urlOptions(u), ...(options ?? {}) };
        } else {
          callback = options;
          options = url ?? {};
        }
        const protocol = options.protocol ?? defaultProtocol;
        if (protocol !== "http:" && protocol !== "https:") {
          throw internal.nodeError(TypeError, "ERR_INVALID_PROTOCOL", `Protocol "${protocol}" not supported. Expected "${defaultProtocol}"`);
        }
        const host = options.hostname ?? options.host ?? "localhost";
        const port = options.port !== undefined && options.port !== null && `${options.port}` !== "" ? `:${options.port}` : "";
        const bracketed = host.includes(":") && host[0] !== "[" ? `[${host}]` : host;
        this.#url = `${protocol}//${bracketed}${port}${options.path ?? "/"}`;
        this.method = `${options.method ?? "GET"}`.toUpperCase();
        this.path = options.path ?? "/";
        this.host = host;
        this.protocol = protocol;
        this.reusedSocket = false;
        const headers = options.headers ?? {};
        if (Array.isArray(headers)) {
          for (let i = 0; i + 1 < headers.length; i += 2) this.setHeader(headers[i], headers[i + 1]);
        } else {
          for (const k of ObjectKeys(headers)) this.setHeader(k, headers[k]);
        }
        if (options.auth && !this.hasHeader("authorization")) this.setHeader("authorization", `Basic ${Buffer.from(options.auth).toString("base64")}`);
        if (options.signal) options.signal.addEventListener("abort", () => this.destroy(options.signal.reason), { once: true });
        if (typeof callback === "function") this.once("response", callback);
      }
      setHeader(name, value) {
        if (this.#sent) throw internal.nodeError(Error, "ERR_HTTP_HEADERS_SENT", "Cannot set headers after they are sent to the client");
        this.#headers[`${name}`.toLowerCase()] = [`${name}`, value];
        return this;
      }
      getHeader(name) { return this.#headers[`${name}`.toLowerCase()]?.[1]; }
      getHeaders() { const o = {}; for (const k of ObjectKeys(this.#headers)) o[k] = this.#headers[k][1]; return o; }
      getHeaderNames() { return ObjectKeys(this.#headers); }
      hasHeader(name) { return this.#headers[`${name}`.toLowerCase()] !== undefined; }
      removeHeader(name) { delete this.#headers[`${name}`.toLowerCase()]; }
      get headersSent() { return this.#sent; }
      flushHeaders() {}
      setTimeout(_ms, cb) { if (cb) this.once("timeout", cb); return this; }
      setNoDelay() {}
      setSocketKeepAlive() {}
      abort() { this.destroy(); }
      _write(chunk, encoding, callback) {
        this.#chunks.push(typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk);
        callback();
      }
      _final(callback) {
        this.#sent = true;
        const headers = new Headers();
        for (const k of ObjectKeys(this.#headers)) {
          const [, v] = this.#headers[k];
          if (Array.isArray(v)) for (const x of v) headers.append(k, `${x}`); else headers.set(k, `${v}`);
        }
        const body = this.#chunks.length === 0 || this.method === "GET" || this.method === "HEAD" ? undefined : Buffer.concat(this.#chunks);
        PromisePrototypeThen(
          fetch(this.#url, { method: this.method, headers, body, redirect: "manual", signal: this.#abort.signal }),
          (response) => {
            const res = new IncomingMessage(response);
            res.req = this;
            this.res = res;
            if (this.listenerCount("response") === 0) res.resume();
            this.emit("response", res);
            this.emit("close");
          },
          (e) => { this.emit("error", e); },
        );
        callback();
      }
      _destroy(err, callback) {
        this.#abort.abort(err ?? undefined);
        callback(err);
      }
    }

    function urlOptions(u) {
      return { protocol: u.protocol, hostname: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, auth: u.username ? `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}` : undefined };
    }
    const request = (url, options, callback) => new ClientRequest(url, options, callback);
    const get = (url, options, callback) => {
      const req = new ClientRequest(url, options, callback);
      req.end();
      return req;
    };
    const createServer = () => {
      throw new Error("node:http createServer() is not supported by isoproxy: a Worker serves requests with its fetch handler");
    };
    const mod = {
      Agent, globalAgent, ClientRequest, IncomingMessage, STATUS_CODES, METHODS, request, get, createServer,
      maxHeaderSize: 16384,
      validateHeaderName(name) { if (typeof name !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw internal.nodeError(TypeError, "ERR_INVALID_HTTP_TOKEN", `Header name must be a valid HTTP token ["${name}"]`); },
      validateHeaderValue(name, value) { if (value === undefined) throw internal.nodeError(TypeError, "ERR_HTTP_INVALID_HEADER_VALUE", `Invalid value "${value}" for header "${name}"`); },
    };
    return { __proto__: null, ...mod, default: mod };
  }

  internal.registerBuiltin("node:http", () => make("http:"));
  internal.registerBuiltin("node:https", () => make("https:"));
});
