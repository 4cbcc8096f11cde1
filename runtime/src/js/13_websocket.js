// isoproxy glue, part 13: WebSockets as Workers have them: WebSocketPair,
// accept(), send(), close(), events, and the socket of a subrequest that
// upgraded. https://websockets.spec.whatwg.org/ and
// https://developers.cloudflare.com/workers/runtime-apis/websockets/
// A socket stays native (a resource id) until accepted; returned in a 101
// Response it leaves untouched. Accepted, its frames are read and written
// in Rust (ops/websocket.rs) and only whole messages come here.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    ArrayIsArray, Number, Promise, RegExpTest, Set, String, Symbol, TypeError,
    NumberIsNaN, ObjectDefineProperty, PromisePrototypeThen, ReflectApply, SetPrototypeAdd, SetPrototypeHas,
    StringPrototypeSlice, uncurryThis,
  } = internal.primordials;
  const { DOMException, Event, EventTarget, TextEncoder, URL } = globalThis;
  // The original fetch(): `new WebSocket(url)` goes out through the
  // Worker's globalOutbound as any subrequest, whatever the Worker does to
  // the global.
  const fetch = globalThis.fetch;
  const { Blob, kBytes } = internal.forms;
  const EventTargetDispatch = uncurryThis(EventTarget.prototype.dispatchEvent);
  const encoder = new TextEncoder();
  const TextEncoderEncode = uncurryThis(TextEncoder.prototype.encode);

  // https://html.spec.whatwg.org/multipage/comms.html#the-messageevent-interface
  // (one class for WebSocket and EventSource messages; 14_eventsource.js
  // takes it from `internal`).
  class MessageEvent extends Event {
    #data; #origin; #lastEventId; #source; #ports;
    constructor(type, init = undefined) {
      if (arguments.length === 0) throw new TypeError("MessageEvent: 1 argument required");
      super(type, init);
      this.#data = init?.data ?? null;
      this.#origin = init?.origin === undefined ? "" : String(init.origin);
      this.#lastEventId = init?.lastEventId === undefined ? "" : String(init.lastEventId);
      this.#source = init?.source ?? null;
      this.#ports = init?.ports === undefined ? [] : [...init.ports];
    }
    get data() { return this.#data; }
    get origin() { return this.#origin; }
    get lastEventId() { return this.#lastEventId; }
    get source() { return this.#source; }
    get ports() { return this.#ports; }
  }
  internal.brand(MessageEvent, "MessageEvent");
  internal.MessageEvent = MessageEvent;

  // https://websockets.spec.whatwg.org/#the-closeevent-interface
  class CloseEvent extends Event {
    #code; #reason; #wasClean;
    constructor(type, init = {}) {
      super(type, init);
      this.#code = init?.code === undefined ? 0 : Number(init.code) & 0xffff;
      this.#reason = init?.reason === undefined ? "" : String(init.reason);
      this.#wasClean = !!init?.wasClean;
    }
    get code() { return this.#code; }
    get reason() { return this.#reason; }
    get wasClean() { return this.#wasClean; }
  }
  internal.brand(CloseEvent, "CloseEvent");

  // https://html.spec.whatwg.org/multipage/webappapis.html#errorevent
  class ErrorEvent extends Event {
    #message; #error;
    constructor(type, init = {}) {
      super(type, init);
      this.#message = init?.message === undefined ? "" : String(init.message);
      this.#error = init?.error;
    }
    get message() { return this.#message; }
    get filename() { return ""; }
    get lineno() { return 0; }
    get colno() { return 0; }
    get error() { return this.#error; }
  }
  internal.brand(ErrorEvent, "ErrorEvent");

  const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

  // The URL of `new WebSocket(url)`: ws:, wss: (or http:, https:), no
  // fragment. https://websockets.spec.whatwg.org/#dom-websocket-websocket
  function parseTarget(url) {
    let u;
    try { u = new URL(String(url)); } catch { throw new DOMException(`Invalid URL: ${url}`, "SyntaxError"); }
    if (u.hash !== "") throw new DOMException("A WebSocket URL cannot have a fragment", "SyntaxError");
    const scheme = u.protocol;
    let secure;
    if (scheme === "ws:" || scheme === "http:") secure = false;
    else if (scheme === "wss:" || scheme === "https:") secure = true;
    else throw new DOMException(`WebSocket URLs must be ws: or wss: (got ${scheme})`, "SyntaxError");
    // Everything after the scheme, the same for both forms.
    const rest = StringPrototypeSlice(u.href, scheme.length);
    return { http: `${secure ? "https:" : "http:"}${rest}`, ws: `${secure ? "wss:" : "ws:"}${rest}` };
  }
  // Passed to the constructor by the glue only: Worker code cannot reach it.
  const kInternal = Symbol("internal");
  const kHandlers = Symbol("handlers");
  let makeSocket, linkPair, takeForResponse, isWebSocket;

  // https://websockets.spec.whatwg.org/#the-websocket-interface, as a
  // Worker sees it: a socket is handed to the Worker (a WebSocketPair end,
  // or the socket of a fetch() that got a 101) and must be accept()ed
  // before it sends or receives.
  class WebSocket extends EventTarget {
    #rid = null;
    #state = OPEN;
    #accepted = false;
    // Whether this end speaks as the server (a WebSocketPair end, joined to
    // a client) or as the client (the socket of an upstream).
    #server = true;
    #partner = null;
    #url = null;
    #binaryType = "arraybuffer";
    // Resolves when the socket is closed: the request that accepted it
    // lives until then.
    #release = null;
    // The subprotocol the server chose (`new WebSocket(url, protocols)`).
    #protocol = "";
    // close() called while still connecting: the socket never opens.
    #closedEarly = false;
    // Extensions the origin agreed to in its 101 (a socket passed through
    // carries them untouched; an accepted one cannot have any).
    #extensions = "";

    // https://websockets.spec.whatwg.org/#dom-websocket-websocket
    constructor(url, protocols = undefined) {
      super();
      this[kHandlers] = { __proto__: null };
      if (url === kInternal) {
        this.#rid = protocols.rid;
        this.#server = protocols.server;
        this.#url = protocols.url;
        this.#extensions = protocols.extensions;
        return;
      }
      if (arguments.length === 0) throw new TypeError("WebSocket: 1 argument required");
      const target = parseTarget(url);
      const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : ArrayIsArray(protocols) ? protocols : [...protocols];
      const seen = new Set();
      for (let i = 0; i < list.length; i++) {
        const p = String(list[i]);
        if (!RegExpTest(TOKEN, p) || SetPrototypeHas(seen, p)) throw new DOMException(`Invalid WebSocket subprotocol: ${p}`, "SyntaxError");
        SetPrototypeAdd(seen, p);
        list[i] = p;
      }
      this.#url = target.ws;
      this.#state = CONNECTING;
      this.#server = false;
      const headers = { Upgrade: "websocket" };
      if (list.length > 0) headers["Sec-WebSocket-Protocol"] = list.join(", ");
      PromisePrototypeThen(fetch(target.http, { headers }), (response) => {
        const socket = response.webSocket;
        if (response.status !== 101 || socket === null) {
          this.#fail(`WebSocket handshake failed: the server answered ${response.status}`);
          return;
        }
        if (this.#closedEarly) { ops.ws_release(socket.#rid); socket.#rid = null; return; }
        this.#protocol = response.headers.get("sec-websocket-protocol") ?? "";
        this.#rid = socket.#rid;
        socket.#rid = null;
        this.#state = OPEN;
        this.accept();
        if (this.#state === OPEN) this.#dispatch(new Event("open"));
      }, (e) => this.#fail(`WebSocket connection failed: ${e?.message ?? e}`));
    }

    // The connection could not be made: error, then close (1006).
    #fail(message) {
      this.#state = CLOSED;
      this.#dispatch(new ErrorEvent("error", { message }));
      this.#dispatch(new CloseEvent("close", { code: 1006, reason: "", wasClean: false }));
    }

    static {
      makeSocket = (rid, server, url, extensions = "") => new WebSocket(kInternal, { rid, server, url, extensions });
      linkPair = (a, b) => { a.#partner = b; b.#partner = a; };
      isWebSocket = (o) => o !== null && typeof o === "object" && #rid in o;
      // The raw socket of a WebSocket returned in a 101 Response.
      takeForResponse = (ws) => {
        if (ws.#accepted) throw new TypeError("Can't return a WebSocket in a Response after calling accept() on it");
        if (ws.#rid === null) throw new TypeError("This WebSocket was already returned in a Response");
        const rid = ws.#rid;
        ws.#rid = null;
        return rid;
      };
    }

    static get CONNECTING() { return CONNECTING; }
    static get OPEN() { return OPEN; }
    static get CLOSING() { return CLOSING; }
    static get CLOSED() { return CLOSED; }
    get CONNECTING() { return CONNECTING; }
    get OPEN() { return OPEN; }
    get CLOSING() { return CLOSING; }
    get CLOSED() { return CLOSED; }
    // workerd's names for the same constants.
    static get READY_STATE_CONNECTING() { return CONNECTING; }
    static get READY_STATE_OPEN() { return OPEN; }
    static get READY_STATE_CLOSING() { return CLOSING; }
    static get READY_STATE_CLOSED() { return CLOSED; }
    get READY_STATE_CONNECTING() { return CONNECTING; }
    get READY_STATE_OPEN() { return OPEN; }
    get READY_STATE_CLOSING() { return CLOSING; }
    get READY_STATE_CLOSED() { return CLOSED; }

    // https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount:
    // bytes send() queued that have not gone out yet.
    get bufferedAmount() { return this.#accepted && this.#rid !== null ? ops.ws_buffered(this.#rid) : 0; }

    get readyState() { return this.#state; }
    get url() { return this.#url; }
    get protocol() { return this.#protocol; }
    get extensions() { return this.#extensions; }
    get binaryType() { return this.#binaryType; }
    set binaryType(v) {
      v = String(v);
      if (v === "arraybuffer" || v === "blob") this.#binaryType = v;
    }

    // https://developers.cloudflare.com/workers/runtime-apis/websockets/#accept
    accept() {
      if (this.#accepted) return;
      if (this.#state === CONNECTING) throw new DOMException("The WebSocket is still connecting", "InvalidStateError");
      if (this.#rid === null) throw new TypeError("This WebSocket was already returned in a Response and can no longer be accepted");
      if (this.#extensions !== "") {
        throw new TypeError(`The origin agreed to the WebSocket extension "${this.#extensions}", which isoproxy cannot decode in a Worker; remove Sec-WebSocket-Extensions from the upgrade request to accept the socket, or return the response untouched`);
      }
      // The two ends of one pair both accepted in this isolate: the second
      // speaks as the client of the first.
      const server = this.#server && !(this.#partner !== null && this.#partner.#accepted && this.#partner.#server);
      const holder = ops.ws_accept(this.#rid, server);
      this.#accepted = true;
      this.#server = server;
      const closed = new Promise((resolve) => { this.#release = resolve; });
      if (holder !== 0) internal.holdRequest(holder, closed);
      this.#next();
    }

    // https://websockets.spec.whatwg.org/#dom-websocket-send
    send(data) {
      if (this.#state === CONNECTING) throw new DOMException("The WebSocket is still connecting", "InvalidStateError");
      if (!this.#accepted) throw new TypeError("You must call accept() on this WebSocket before sending messages.");
      if (this.#state !== OPEN) throw new TypeError("Can't call WebSocket send() after close().");
      if (typeof data === "string") { ops.ws_send(this.#rid, data, true); return; }
      if (data instanceof Blob) { ops.ws_send(this.#rid, data[kBytes], false); return; }
      const bytes = internal.toBytes(data);
      if (bytes !== null) { ops.ws_send(this.#rid, bytes, false); return; }
      ops.ws_send(this.#rid, String(data), true);
    }

    // https://websockets.spec.whatwg.org/#dom-websocket-close
    close(code = undefined, reason = undefined) {
      if (code !== undefined) {
        code = Number(code);
        const reserved = code === 1004 || code === 1005 || code === 1006 || code === 1015;
        if (NumberIsNaN(code) || code < 1000 || code > 4999 || reserved) {
          throw new DOMException(`Invalid WebSocket close code: ${code}.`, "InvalidAccessError");
        }
        code = code | 0;
      }
      if (reason !== undefined) {
        reason = String(reason);
        // A close frame's payload is at most 125 bytes, the code included.
        if (TextEncoderEncode(encoder, reason).length > 123) {
          throw new DOMException("The WebSocket close reason is longer than 123 bytes.", "SyntaxError");
        }
      }
      if (this.#state === CONNECTING) {
        // Closed before the handshake finished: it never opens.
        this.#state = CLOSED;
        this.#closedEarly = true;
        this.#dispatch(new CloseEvent("close", { code: 1006, reason: "", wasClean: false }));
        return;
      }
      if (!this.#accepted) throw new TypeError("You must call accept() on this WebSocket before closing it.");
      if (this.#state !== OPEN) return;
      this.#state = CLOSING;
      ops.ws_close(this.#rid, code === undefined ? -1 : code, reason ?? "");
    }

    // Wait for the next event from Rust.
    #next() {
      internal.onOp(ops.ws_next(this.#rid), (ok, ev) => this.#event(ok, ev), () => this.#gone());
    }

    #event(ok, ev) {
      if (!ok) { this.#gone(); return; }
      switch (ev[0]) {
        case 0:
          this.#next();
          this.#dispatch(new MessageEvent("message", { data: ev[1] }));
          break;
        case 1: {
          this.#next();
          const bytes = ev[1];
          const data = this.#binaryType === "blob" ? new Blob([bytes]) : bytes.buffer;
          this.#dispatch(new MessageEvent("message", { data }));
          break;
        }
        case 3:
          this.#next();
          this.#dispatch(new ErrorEvent("error", { message: ev[1] }));
          break;
        default:
          this.#finish();
          this.#dispatch(new CloseEvent("close", { code: ev[1], reason: ev[2], wasClean: ev[3] }));
      }
    }

    // The socket is closed: free it, and let its request end.
    #finish() {
      this.#state = CLOSED;
      if (this.#rid !== null) { ops.ws_release(this.#rid); this.#rid = null; }
      const release = this.#release;
      this.#release = null;
      if (release !== null) release(undefined);
    }

    // The request that owned the socket ended: it is gone without events.
    #gone() {
      this.#state = CLOSED;
      this.#rid = null;
      const release = this.#release;
      this.#release = null;
      if (release !== null) release(undefined);
    }

    #dispatch(event) {
      EventTargetDispatch(this, event);
      const handler = this[kHandlers][event.type];
      if (typeof handler === "function") {
        try { ReflectApply(handler, this, [event]); } catch (e) { internal.reportError(e); }
      }
    }
  }
  // The event handler attributes (`onmessage = ...`).
  for (const type of ["open", "message", "close", "error"]) {
    ObjectDefineProperty(WebSocket.prototype, `on${type}`, {
      get() { return this[kHandlers][type] ?? null; },
      set(fn) { this[kHandlers][type] = typeof fn === "function" ? fn : null; },
      configurable: true,
      enumerable: true,
    });
  }
  internal.brand(WebSocket, "WebSocket");

  // https://developers.cloudflare.com/workers/runtime-apis/websockets/#websocketpair
  // Two connected ends: one goes back to the client in a 101 Response, the
  // Worker accepts the other.
  class WebSocketPair {
    constructor() {
      const rids = ops.ws_pair();
      const a = makeSocket(rids[0], true, null);
      const b = makeSocket(rids[1], true, null);
      linkPair(a, b);
      ObjectDefineProperty(this, 0, { value: a, enumerable: true, writable: true, configurable: true });
      ObjectDefineProperty(this, 1, { value: b, enumerable: true, writable: true, configurable: true });
    }
  }
  internal.brand(WebSocketPair, "WebSocketPair");

  // For 09_fetch.js: the socket of a subrequest answered with 101, and the
  // raw socket of a WebSocket returned in a Response.
  internal.upstreamSocket = (rid, url, extensions) => makeSocket(rid, false, url, extensions ?? "");
  internal.isWebSocket = isWebSocket;
  internal.socketForResponse = (ws) => takeForResponse(ws);

  internal.defineGlobals({ WebSocket, WebSocketPair, MessageEvent, CloseEvent, ErrorEvent });
})();
