// isoproxy glue, part 14: MessageEvent and EventSource (server-sent events
// over the Worker's fetch()), with workerd's extensions: a `fetcher` option
// and `EventSource.from(readableStream)`.
// https://html.spec.whatwg.org/multipage/server-sent-events.html
"use strict";
(function () {
  const internal = globalThis.__internal;
  const {
    Number, String, TypeError, PromisePrototypeThen, RegExpTest, StringPrototypeCharCodeAt,
    StringPrototypeIndexOf, StringPrototypeSlice,
  } = internal.primordials;
  const { Event, EventTarget, DOMException, URL, TextDecoder, AbortController, Headers, ReadableStream, fetch, setTimeout, clearTimeout } = globalThis;
  const PromiseResolved = internal.primordials.PromiseResolve(undefined);

  // Defined with WebSocket (13_websocket.js): one MessageEvent class.
  const MessageEvent = internal.MessageEvent;

  const CONNECTING = 0, OPEN = 1, CLOSED = 2;
  const DIGITS = /^[0-9]+$/;

  // https://html.spec.whatwg.org/multipage/server-sent-events.html#the-eventsource-interface
  class EventSource extends EventTarget {
    #url; #withCredentials; #fetcher; #stream;
    #readyState = CONNECTING;
    #lastEventId = "";
    #retryMs = 3000;
    #abort = null;
    #timer = null;
    #handlers = { __proto__: null, open: null, message: null, error: null };

    constructor(url, init = undefined) {
      if (arguments.length === 0) throw new TypeError("EventSource: 1 argument required");
      super();
      if (url !== undefined) {
        let parsed;
        try { parsed = new URL(String(url)); } catch { throw new DOMException(`Invalid URL: ${url}`, "SyntaxError"); }
        this.#url = parsed.href;
      }
      this.#withCredentials = !!init?.withCredentials;
      this.#fetcher = init?.fetcher;
      if (this.#fetcher !== undefined && typeof this.#fetcher?.fetch !== "function") throw new TypeError("EventSource: fetcher must have a fetch() method");
      this.#stream = init?.stream;
      // A given stream is open at once (no open event), as in workerd.
      if (this.#stream !== undefined) this.#readyState = OPEN;
      // The connection starts after the constructor returns, so that
      // handlers set right away see the open event.
      PromisePrototypeThen(PromiseResolved, () => this.#connect());
    }

    // workerd's extension: an EventSource over a stream of event-stream
    // bytes; it does not reconnect.
    static from(stream) {
      if (!(stream instanceof ReadableStream)) throw new TypeError("EventSource.from: argument must be a ReadableStream");
      return new EventSource(undefined, { stream });
    }

    get url() { return this.#url ?? ""; }
    get withCredentials() { return this.#withCredentials; }
    get readyState() { return this.#readyState; }
    get onopen() { return this.#handlers.open; }
    set onopen(f) { this.#setHandler("open", f); }
    get onmessage() { return this.#handlers.message; }
    set onmessage(f) { this.#setHandler("message", f); }
    get onerror() { return this.#handlers.error; }
    set onerror(f) { this.#setHandler("error", f); }

    #setHandler(type, f) {
      const old = this.#handlers[type];
      if (old !== null) this.removeEventListener(type, old);
      this.#handlers[type] = typeof f === "function" ? f : null;
      if (this.#handlers[type] !== null) this.addEventListener(type, this.#handlers[type]);
    }

    // https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource-close
    close() {
      this.#readyState = CLOSED;
      if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null; }
      if (this.#abort !== null) { this.#abort.abort(); this.#abort = null; }
    }

    #fail(error) {
      if (this.#readyState === CLOSED) return;
      this.close();
      const ev = new Event("error");
      ev.error = error;
      this.dispatchEvent(ev);
    }

    // https://html.spec.whatwg.org/multipage/server-sent-events.html#reestablish-the-connection
    #reconnect() {
      if (this.#readyState === CLOSED) return;
      if (this.#stream !== undefined) {
        // A stream given to EventSource.from() is not reopened: it ends
        // closed, with an error event, as in workerd.
        this.close();
        this.dispatchEvent(new Event("error"));
        return;
      }
      this.#readyState = CONNECTING;
      this.dispatchEvent(new Event("error"));
      if (this.#readyState !== CONNECTING) return;
      this.#timer = setTimeout(() => { this.#timer = null; this.#connect(); }, this.#retryMs);
    }

    async #connect() {
      if (this.#readyState === CLOSED) return;
      let body;
      if (this.#stream !== undefined) {
        body = this.#stream;
      } else {
        const headers = new Headers({ accept: "text/event-stream", "cache-control": "no-store" });
        if (this.#lastEventId !== "") headers.set("last-event-id", this.#lastEventId);
        const ac = new AbortController();
        this.#abort = ac;
        let response;
        try {
          const init = { headers, signal: ac.signal };
          response = this.#fetcher !== undefined ? await this.#fetcher.fetch(this.#url, init) : await fetch(this.#url, init);
        } catch {
          // A network error: try again later (https://html.spec.whatwg.org/multipage/server-sent-events.html#reestablish-the-connection).
          if (this.#readyState !== CLOSED) this.#reconnect();
          return;
        }
        if (this.#readyState === CLOSED) return;
        const type = response.headers.get("content-type") ?? "";
        // https://html.spec.whatwg.org/multipage/server-sent-events.html#processField
        if (response.status !== 200 || StringPrototypeSlice(type.toLowerCase(), 0, 17) !== "text/event-stream" || response.body === null) {
          this.#fail(new TypeError(`EventSource: the server answered ${response.status} ${type}`));
          return;
        }
        body = response.body;
      }
      if (this.#readyState === CONNECTING) {
        this.#readyState = OPEN;
        this.dispatchEvent(new Event("open"));
      }
      try {
        await this.#read(body);
      } catch {
        // The stream failed: as its end, reconnect (unless closed).
      }
      this.#reconnect();
    }

    // https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
    async #read(body) {
      const reader = body.getReader();
      const decoder = new TextDecoder("utf-8");
      let pending = "";
      let data = "";
      let event = "";
      let id = null;
      let first = true;
      const line = (l) => {
        if (l === "") {
          if (id !== null) this.#lastEventId = id;
          id = null;
          if (data === "") { event = ""; return; }
          if (StringPrototypeCharCodeAt(data, data.length - 1) === 10) data = StringPrototypeSlice(data, 0, -1);
          const ev = new MessageEvent(event === "" ? "message" : event, {
            data,
            origin: this.#url === undefined ? "" : new URL(this.#url).origin,
            lastEventId: this.#lastEventId,
          });
          data = "";
          event = "";
          if (this.#readyState !== CLOSED) this.dispatchEvent(ev);
          return;
        }
        if (StringPrototypeCharCodeAt(l, 0) === 58) return;
        const colon = StringPrototypeIndexOf(l, ":");
        const field = colon === -1 ? l : StringPrototypeSlice(l, 0, colon);
        let value = colon === -1 ? "" : StringPrototypeSlice(l, colon + 1);
        if (StringPrototypeCharCodeAt(value, 0) === 32) value = StringPrototypeSlice(value, 1);
        switch (field) {
          case "event": event = value; break;
          case "data": data += `${value}\n`; break;
          case "id": if (StringPrototypeIndexOf(value, "\0") === -1) id = value; break;
          case "retry": if (RegExpTest(DIGITS, value)) this.#retryMs = Number(value); break;
          default: break;
        }
      };
      for (;;) {
        const { value, done } = await reader.read();
        if (this.#readyState === CLOSED) { reader.cancel().catch(() => {}); return; }
        let text = done ? decoder.decode() : decoder.decode(value, { stream: true });
        if (first && text.length > 0) {
          if (StringPrototypeCharCodeAt(text, 0) === 0xfeff) text = StringPrototypeSlice(text, 1);
          first = false;
        }
        pending += text;
        // Lines end at CRLF, LF or CR; a CR at the very end may be half of
        // a CRLF, so it waits for the next chunk unless the stream ended.
        let start = 0;
        for (let i = 0; i < pending.length; i++) {
          const c = StringPrototypeCharCodeAt(pending, i);
          if (c !== 10 && c !== 13) continue;
          if (c === 13 && i + 1 === pending.length && !done) break;
          line(StringPrototypeSlice(pending, start, i));
          if (c === 13 && StringPrototypeCharCodeAt(pending, i + 1) === 10) i++;
          start = i + 1;
        }
        pending = StringPrototypeSlice(pending, start);
        if (done) return;
      }
    }
  }
  for (const [k, v] of [["CONNECTING", CONNECTING], ["OPEN", OPEN], ["CLOSED", CLOSED]]) {
    Object.defineProperty(EventSource, k, { value: v, enumerable: true });
    Object.defineProperty(EventSource.prototype, k, { value: v, enumerable: true });
  }
  internal.brand(EventSource, "EventSource");
  internal.defineGlobals({ EventSource });
})();
