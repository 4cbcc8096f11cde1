// isoproxy glue, part 15: `cloudflare:sockets` connect(): a TCP connection
// through the Worker's globalOutbound (or, `env.NET.connect()`, a binding's
// service), which must be a network service (its allow/deny rules and
// connectPorts decide). The runtime sends it as a
// `CONNECT host:port` subrequest whose body is what the Worker writes and
// whose response body is what the peer sends.
// https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    Number, Promise, String, TypeError, NumberIsInteger, PromisePrototypeThen, PromiseResolve,
    RegExpPrototypeExec, StringPrototypeIndexOf, StringPrototypeSlice, uncurryThis,
  } = internal.primordials;
  const StringPrototypeLastIndexOf = uncurryThis(String.prototype.lastIndexOf);
  const { ReadableStream, WritableStream, TextEncoder } = globalThis;
  const encoder = new TextEncoder();

  // "host:port", "[v6]:port" or { hostname, port } → "host:port".
  function authorityOf(address) {
    let host, port;
    if (typeof address === "string") {
      const colon = StringPrototypeLastIndexOf(address, ":");
      if (colon <= 0) throw new TypeError(`connect(): the address must be "host:port", not "${address}"`);
      host = StringPrototypeSlice(address, 0, colon);
      port = Number(StringPrototypeSlice(address, colon + 1));
    } else if (address !== null && typeof address === "object") {
      host = String(address.hostname ?? "");
      port = Number(address.port);
    } else {
      throw new TypeError("connect(): the address must be a string or { hostname, port }");
    }
    // As in workerd, only a malformed address throws here; an empty host
    // or port 0 fails the connection (`opened` rejects).
    if (RegExpPrototypeExec(/[\s/?#@]/, host) !== null) throw new TypeError(`connect(): invalid host "${host}"`);
    if (!NumberIsInteger(port) || port < 0 || port > 65535) throw new TypeError(`connect(): invalid port ${port}`);
    const bracketed = host[0] !== "[" && StringPrototypeIndexOf(host, ":") !== -1 ? `[${host}]` : host;
    return `${bracketed}:${port}`;
  }

  class Socket {
    #readable; #writable; #opened; #closed; #closeClosed; #failClosed; #writer; #rid = null; #done = false; #onUse;
    // `onUse`, if given, is called before the first read or write (the
    // connect handler's socket answers the client's CONNECT then).
    constructor(connected, writerRid, authority, onUse = undefined) {
      this.#writer = writerRid;
      this.#onUse = onUse;
      this.#closed = new Promise((resolve, reject) => { this.#closeClosed = resolve; this.#failClosed = reject; });
      // Mark handled: a Worker need not watch `closed`.
      PromisePrototypeThen(this.#closed, undefined, () => {});
      const rid = PromisePrototypeThen(connected, (answer) => { this.#rid = answer[2]; return answer[2]; });
      this.#opened = PromisePrototypeThen(rid, () => ({ remoteAddress: authority, localAddress: null }), (e) => {
        this.#finish(e);
        throw e;
      });
      PromisePrototypeThen(this.#opened, undefined, () => {});
      this.#readable = new ReadableStream({
        type: "bytes",
        pull: async (c) => {
          this.#used();
          const id = await rid;
          if (id === null || this.#done) { c.close(); return; }
          const chunk = await internal.opPromise(ops.body_read(id));
          if (chunk === null) { c.close(); this.#finish(); } else c.enqueue(chunk);
        },
        cancel: () => { this.close(); },
      }, { highWaterMark: 0 });
      this.#writable = new WritableStream({
        write: async (chunk) => {
          const bytes = typeof chunk === "string" ? encoder.encode(chunk) : internal.toBytes(chunk);
          if (bytes === null) throw new TypeError("a socket takes Uint8Array, ArrayBuffer or string chunks");
          if (this.#done) throw new TypeError("the socket is closed");
          this.#used();
          const alive = await internal.opPromise(ops.body_write(this.#writer, bytes.slice()));
          if (!alive) {
            // The connection failed or went away: the failure to connect,
            // if that is what happened, is the better error.
            await this.#opened;
            throw new TypeError("the socket is closed");
          }
        },
        close: () => { ops.body_close(this.#writer); },
        abort: (reason) => { ops.body_abort(this.#writer, String(reason)); },
      });
    }
    get readable() { return this.#readable; }
    get writable() { return this.#writable; }
    get opened() { return this.#opened; }
    get closed() { return this.#closed; }
    get upgraded() { return false; }
    get secureTransport() { return "off"; }
    #used() {
      const f = this.#onUse;
      if (f !== undefined) { this.#onUse = undefined; f(); }
    }
    #finish(error) {
      if (this.#done) return;
      this.#done = true;
      if (error === undefined) this.#closeClosed(undefined); else this.#failClosed(error);
    }
    // Close both directions; `closed` resolves.
    close() {
      ops.body_close(this.#writer);
      if (this.#rid !== null) ops.body_close(this.#rid);
      this.#finish();
      return PromiseResolve(undefined);
    }
    startTls() {
      throw new TypeError("startTls() is not supported by isoproxy yet");
    }
  }
  internal.brand(Socket, "Socket");
  internal.Socket = Socket;

  // `target`: a service binding's index, or -1 for the globalOutbound.
  internal.socketConnect = (target, address, options) => {
    const authority = authorityOf(address);
    const secure = options?.secureTransport ?? "off";
    if (secure !== "off") throw new TypeError(`connect(): secureTransport "${secure}" is not supported by isoproxy yet (only "off")`);
    const pair = ops.body_writer();
    let op;
    try {
      op = ops.fetch_send(target, "CONNECT", authority, [], pair[1]);
    } catch (e) {
      ops.body_close(pair[0]);
      throw e;
    }
    return new Socket(internal.opPromise(op), pair[0], authority);
  };
  const connect = (address, options = undefined) => internal.socketConnect(-1, address, options);

  internal.registerBuiltin("cloudflare:sockets", () => ({ __proto__: null, connect, Socket }));
})();
