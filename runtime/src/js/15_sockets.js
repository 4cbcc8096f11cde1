// isoproxy glue, part 15: `cloudflare:sockets` connect(): a TCP connection
// through the Worker's globalOutbound (or, `env.NET.connect()`, a binding's
// service), which must be a network service (its allow/deny rules and
// connectPorts decide). The runtime sends it as a
// `CONNECT host:port` subrequest whose body is what the Worker writes and
// whose response body is what the peer sends. TLS (`secureTransport: "on"`,
// `startTls()`) runs in the runtime over those two channels (socket_tls op).
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

  // "host:port", "[v6]:port" or { hostname, port } -> "host:port".
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

  // Layer TLS on a connection's channels: resolves to the plaintext ones
  // once the handshake is done (the raw ones are then taken over).
  function upgradeTls(channels, serverName) {
    if (channels.reader === null) throw new TypeError("the socket is closed");
    const t = ops.socket_tls(channels.writer, channels.reader, serverName);
    return PromisePrototypeThen(internal.opPromise(t[2]), () => ({ reader: t[1], writer: t[0] }), (e) => {
      ops.body_close(t[0]);
      ops.body_close(t[1]);
      throw e;
    });
  }

  // https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/#socket
  // `connected` resolves to the CONNECT answer (its [2]: the peer's bytes),
  // `writerRid` takes what the Worker writes. `options.secureTransport`
  // "on" runs TLS (server name `options.serverName`) before `opened`;
  // "starttls" allows startTls().
  class Socket {
    #readable; #writable; #opened; #closed; #closeClosed; #failClosed; #writer = null; #rawWriter; #rid = null; #done = false;
    #channels; #secure; #serverName; #authority; #upgraded; #tlsStarted = false; #onUse;
    // `onUse`, if given, is called before the first read or write (the
    // connect handler's socket answers the client's CONNECT then).
    constructor(connected, writerRid, authority, onUse = undefined, options = undefined) {
      this.#rawWriter = writerRid;
      this.#authority = authority;
      this.#onUse = onUse;
      this.#secure = options?.secureTransport ?? "off";
      this.#serverName = options?.serverName;
      this.#upgraded = options?.upgraded === true;
      let channels = PromisePrototypeThen(connected, (answer) => ({ reader: answer[2], writer: writerRid }));
      if (this.#secure === "on") channels = PromisePrototypeThen(channels, (c) => upgradeTls(c, this.#serverName));
      // Plain: what the Worker writes goes to the connection at once (it
      // waits there until the connection is open); TLS: after the handshake.
      else this.#writer = writerRid;
      this.#channels = channels;
      this.#closed = new Promise((resolve, reject) => { this.#closeClosed = resolve; this.#failClosed = reject; });
      // Mark handled: a Worker need not watch `closed`.
      PromisePrototypeThen(this.#closed, undefined, () => {});
      const rid = PromisePrototypeThen(channels, (c) => { this.#rid = c.reader; this.#writer = c.writer; return c.reader; });
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
          if (id === null || this.#done) { c.close(); c.byobRequest?.respond(0); return; }
          const chunk = await internal.opPromise(ops.body_read(id));
          if (chunk === null) { c.close(); c.byobRequest?.respond(0); this.#finish(); } else c.enqueue(chunk);
        },
        cancel: () => { this.close(); },
      }, { highWaterMark: 0 });
      this.#writable = new WritableStream({
        write: async (chunk) => {
          const bytes = typeof chunk === "string" ? encoder.encode(chunk) : internal.toBytes(chunk);
          if (bytes === null) throw new TypeError("a socket takes Uint8Array, ArrayBuffer or string chunks");
          if (this.#done) throw new TypeError("the socket is closed");
          this.#used();
          const writer = this.#writer ?? (await this.#channels).writer;
          const alive = await internal.opPromise(ops.body_write(writer, bytes.slice()));
          if (!alive) {
            // The connection failed or went away: the failure to connect,
            // if that is what happened, is the better error.
            await this.#opened;
            throw new TypeError("the socket is closed");
          }
        },
        close: async () => {
          if (this.#tlsStarted) return;
          ops.body_close(this.#writer ?? (await this.#channels).writer);
        },
        abort: (reason) => {
          if (this.#tlsStarted) return;
          if (this.#writer !== null) ops.body_abort(this.#writer, String(reason)); else this.close();
        },
      });
    }
    get readable() { return this.#readable; }
    get writable() { return this.#writable; }
    get opened() { return this.#opened; }
    get closed() { return this.#closed; }
    get upgraded() { return this.#upgraded; }
    get secureTransport() { return this.#secure; }
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
      if (this.#tlsStarted) {
        // The socket startTls() returned owns the connection now.
      } else if (this.#secure === "on") {
        // Before the handshake the raw connection ends; after it, the
        // plaintext channels (which ends the TLS session).
        if (this.#writer === null) ops.body_close(this.#rawWriter);
        PromisePrototypeThen(this.#channels, (c) => { ops.body_close(c.writer); ops.body_close(c.reader); }, () => {});
      } else {
        ops.body_close(this.#rawWriter);
        if (this.#rid !== null) ops.body_close(this.#rid);
      }
      this.#finish();
      return PromiseResolve(undefined);
    }
    // https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/#opportunistic-tls-starttls
    // A new socket runs TLS over this connection; this one ends (its
    // `closed` resolves) and must not be used any more.
    startTls(options = undefined) {
      if (this.#secure !== "starttls") throw new TypeError('startTls() can only be called on a socket opened with secureTransport: "starttls"');
      if (this.#tlsStarted) throw new TypeError("startTls() can only be called once");
      if (this.#done) throw new TypeError("the socket is closed");
      this.#tlsStarted = true;
      const serverName = options?.expectedServerHostname === undefined ? this.#serverName : String(options.expectedServerHostname);
      const connected = PromisePrototypeThen(this.#channels, (c) => [null, null, c.reader]);
      const socket = new Socket(connected, this.#rawWriter, this.#authority, undefined, { secureTransport: "on", serverName, upgraded: true });
      this.#finish();
      return socket;
    }
  }
  internal.brand(Socket, "Socket");
  internal.Socket = Socket;

  // `target`: a service binding's index, or -1 for the globalOutbound.
  internal.socketConnect = (target, address, options) => {
    const authority = authorityOf(address);
    const secure = options?.secureTransport === undefined ? "off" : String(options.secureTransport);
    if (secure !== "off" && secure !== "on" && secure !== "starttls") {
      throw new TypeError(`connect(): secureTransport must be "off", "on" or "starttls", not "${secure}"`);
    }
    const pair = ops.body_writer();
    let op;
    try {
      op = ops.fetch_send(target, "CONNECT", authority, "", pair[1]);
    } catch (e) {
      ops.body_close(pair[0]);
      throw e;
    }
    const serverName = StringPrototypeSlice(authority, 0, StringPrototypeLastIndexOf(authority, ":"));
    return new Socket(internal.opPromise(op), pair[0], authority, undefined, { secureTransport: secure, serverName });
  };
  const connect = (address, options = undefined) => internal.socketConnect(-1, address, options);

  internal.registerBuiltin("cloudflare:sockets", () => ({ __proto__: null, connect, Socket }));
})();
