// isoproxy glue, part 10: the Worker entry points. Builds `env` from the
// bindings, finds the fetch handler (ES module `export default { fetch }` or
// a service-worker `addEventListener("fetch", ...)`, or a named export
// chosen by the caller's `entrypoint`), and runs one invocation per request:
// https://developers.cloudflare.com/workers/runtime-apis/handlers/fetch/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const {
    Error, Promise, SafeMap, String, TypeError, globalThis: global,
    ArrayPrototypeIndexOf, ArrayPrototypePush, ArrayPrototypeSplice, JSONParse, ObjectDefineProperty, ObjectEntries,
    ObjectHasOwn, PromisePrototypeThen, PromiseReject, PromiseResolve, ReflectApply, SafePromiseAllSettled,
  } = internal.primordials;
  const { DOMException } = globalThis;

  let env = {};
  internal.env = () => env;
  let handler = null;
  // A modules Worker's namespace object, for named entrypoints.
  let exports = null;
  const fetchListeners = [];

  // Service-worker syntax: https://w3c.github.io/ServiceWorker/#fetchevent-interface
  class FetchEvent extends Event {
    #request; #ctx; #response = null;
    constructor(type, init) {
      super(type);
      this.#request = init?.request;
      this.#ctx = init?.ctx;
    }
    get request() { return this.#request; }
    // https://w3c.github.io/ServiceWorker/#fetch-event-respondwith
    respondWith(r) {
      if (this.#response !== null) throw new DOMException("respondWith() was already called", "InvalidStateError");
      this.#response = PromiseResolve(r);
    }
    waitUntil(p) { this.#ctx.waitUntil(p); }
    passThroughOnException() { this.#ctx.passThroughOnException(); }
    get _response() { return this.#response; }
  }
  internal.brand(FetchEvent, "FetchEvent");

  // addEventListener on the global scope (service-worker syntax).
  function addEventListener(type, listener) {
    if (type === "fetch") {
      if (typeof listener !== "function" && typeof listener?.handleEvent !== "function") throw new TypeError("listener must be a function");
      ArrayPrototypePush(fetchListeners, listener);
    }
  }
  function removeEventListener(type, listener) {
    const i = ArrayPrototypeIndexOf(fetchListeners, listener);
    if (type === "fetch" && i >= 0) ArrayPrototypeSplice(fetchListeners, i, 1);
  }

  // https://developers.cloudflare.com/workers/runtime-apis/context/
  class ExecutionContext {
    #id; #waits; #props;
    constructor(id, waits, props) { this.#id = id; this.#waits = waits; this.#props = props; }
    waitUntil(p) {
      const waits = this.#waits;
      waits[waits.length] = PromisePrototypeThen(PromiseResolve(p), undefined, (e) => internal.reportError(e));
    }
    passThroughOnException() { ops.request_pass_through(this.#id); }
    // What the caller's binding or socket passed along (`props` in the
    // config); an empty object when it passed nothing.
    get props() { return this.#props; }
  }
  internal.brand(ExecutionContext, "ExecutionContext");

  // Called once by Rust before the Worker's code runs.
  // `node`: [nodejs_compat modules, nodejs_compat_v2 globals, process.env
  // filled from the bindings, node:async_hooks alone (nodejs_als)].
  internal.setup = (bindings, isModules, node) => {
    internal.resetClock();
    const out = {};
    for (const [name, kind, value] of bindings) {
      let v;
      try {
        switch (kind) {
          case "text": v = value; break;
          case "json": v = JSONParse(value); break;
          case "data": v = value.buffer; break;
          case "wasm": v = new WebAssembly.Module(value); break;
          case "fetcher": v = internal.newFetcher(value); break;
          default: v = null;
        }
      } catch (e) {
        // Rust reports this message as the reason the Worker cannot start.
        throw `binding "${name}" (${kind === "wasm" ? "wasmModule" : kind}): ${e.name}: ${e.message}`;
      }
      out[name] = v;
    }
    env = out;
    internal.startNode(node, bindings);
    if (!isModules) {
      const entries = ObjectEntries(out);
      for (let i = 0; i < entries.length; i++) {
        ObjectDefineProperty(global, entries[i][0], { value: entries[i][1], writable: true, configurable: true, enumerable: true });
      }
      internal.defineGlobals({ addEventListener, removeEventListener, FetchEvent });
    }
  };

  // The fetch handler of one export: an object with `fetch(req, env, ctx)`,
  // or a class (WorkerEntrypoint style) constructed per request with
  // `(ctx, env)` whose instances have `fetch(req)`. Null if it has none.
  function handlerOf(exported) {
    if (typeof exported === "function" && typeof exported.prototype?.fetch === "function") {
      return (req, ctx) => new exported(ctx, env).fetch(req);
    }
    if (exported !== null && typeof exported === "object" && typeof exported.fetch === "function") {
      return (req, ctx) => exported.fetch(req, env, ctx);
    }
    return null;
  }

  // The connect handler of one export (`connect(socket, env, ctx)`, or a
  // class whose instances have `connect(socket)`), or null.
  // https://developers.cloudflare.com/workers/runtime-apis/tcp-sockets/
  function connectHandlerOf(exported) {
    if (typeof exported === "function" && typeof exported.prototype?.connect === "function") {
      return (socket, ctx) => new exported(ctx, env).connect(socket);
    }
    if (exported !== null && typeof exported === "object" && typeof exported.connect === "function") {
      return (socket, ctx) => exported.connect(socket, env, ctx);
    }
    return null;
  }

  // Whether a module Worker without a default fetch handler still serves
  // something: a default connect handler, or (no default export) a named
  // entrypoint with a fetch or connect handler.
  function connectOnly(ns) {
    if (ns.default !== undefined) return connectHandlerOf(ns.default) !== null;
    const entries = ObjectEntries(ns);
    for (let i = 0; i < entries.length; i++) {
      const x = entries[i][1];
      if (handlerOf(x) !== null || connectHandlerOf(x) !== null) return true;
    }
    return false;
  }

  // Called once by Rust after the Worker's code ran, with the main module's
  // namespace object (undefined for service-worker scripts).
  internal.setHandler = (ns) => {
    if (ns !== undefined) {
      exports = ns;
      handler = handlerOf(ns.default);
      if (handler === null) {
        // A Worker that only takes CONNECT tunnels loads; an HTTP request
        // to it fails (500), as in workerd.
        if (!connectOnly(ns)) throw new TypeError("The main module's default export has no fetch() handler");
        handler = () => { throw new TypeError("The Worker does not export a fetch() handler"); };
      }
      return;
    }
    if (fetchListeners.length === 0) throw new TypeError("No fetch handler: export default { fetch } or addEventListener('fetch', ...)");
    handler = (req, ctx) => {
      const ev = new FetchEvent("fetch", { request: req, ctx });
      for (let i = 0; i < fetchListeners.length; i++) {
        const l = fetchListeners[i];
        if (typeof l === "function") ReflectApply(l, global, [ev]); else l.handleEvent(ev);
        if (ev._response !== null) break;
      }
      if (ev._response === null) throw new Error("No event listener called respondWith()");
      return ev._response;
    };
  };

  // Incoming requests by invocation id, until the invocation ends.
  const live = new SafeMap();
  // The waitUntil list of each invocation still running.
  const waitsOf = new SafeMap();

  // Keep invocation `id` going until `p` settles (an accepted WebSocket
  // holds its request until it closes).
  internal.holdRequest = (id, p) => {
    const waits = waitsOf.get(id);
    if (waits !== undefined) waits[waits.length] = p;
  };

  // Called by Rust when the caller stopped waiting for the response (the
  // client went away, the wall-time limit passed; `abort`: abort the
  // request's signal, https://dom.spec.whatwg.org/#abortsignal-signal-abort)
  // or when nothing can resume the handler any more (`abort` false). The
  // request is forgotten here either way, with the callbacks of `dropped`,
  // its ops that Rust aborted when the request ended.
  internal.cancel = (id, abort, dropped) => {
    const request = live.get(id);
    live.delete(id);
    waitsOf.delete(id);
    internal.fsRequestDone?.(id);
    internal.dropOps(dropped);
    if (abort && request !== undefined) internal.signalAbort(request.signal, new DOMException("The client disconnected", "AbortError"));
  };

  // Finish invocation `id` once `done` (the response, body included) and
  // every waitUntil promise settled; Rust ends it anyway at its grace
  // period after `done`.
  function finish(id, done, waits) {
    const settle = () => {
      const n = waits.length;
      const settled = () => {
        if (waits.length > n) { settle(); return; }
        live.delete(id);
        waitsOf.delete(id);
        internal.fsRequestDone?.(id);
        internal.dropOps(ops.request_done(id));
      };
      // One microtask later even without waitUntil work, so that work
      // registered right after the response still counts.
      PromisePrototypeThen(n === 0 ? PromiseResolve(undefined) : SafePromiseAllSettled(waits), settled);
    };
    // The grace period for waitUntil work starts when the response is done.
    const responded = () => {
      ops.request_responded(id);
      settle();
    };
    PromisePrototypeThen(done, responded, responded);
  }

  function fail(id, e) {
    let message = "uncaught exception";
    let stack = "";
    try {
      if (e instanceof Error) {
        message = `${e.name}: ${e.message}`;
        if (e.stack) stack = `${e.stack}`;
      } else {
        message = String(e);
      }
    } catch {
      // An exception that throws when described: the generic message.
    }
    ops.response_error(id, message, stack);
  }

  // The handler for entrypoint `name` (null or "default": the main one).
  function entrypoint(name) {
    if (name === null || name === "default") return handler;
    const h = exports !== null && ObjectHasOwn(exports, name) ? handlerOf(exports[name]) : null;
    if (h === null) throw new TypeError(`The Worker has no entrypoint named "${name}" with a fetch() handler`);
    return h;
  }

  // A CONNECT tunnel handed to the Worker's connect handler: `authority`
  // is the target the client asked for, `rid` the bytes the client sends.
  // The client's CONNECT is answered `200` when the handler first reads or
  // writes the socket, or when it returns; the tunnel ends when the
  // handler's promise settles (as in workerd). Before it used the socket,
  // the handler may refuse the tunnel by returning a Response (sent as the
  // answer) or by throwing (500).
  function dispatchConnect(id, authority, rid, entry, ctx, waits) {
    const exported = entry === null || entry === "default" ? exports?.default : (exports !== null && ObjectHasOwn(exports, entry) ? exports[entry] : undefined);
    const h = exported === undefined ? null : connectHandlerOf(exported);
    if (h === null) {
      const refusal = new globalThis.Response("The Worker does not export a connect() handler\n", { status: 405 });
      finish(id, internal.sendResponse(id, refusal), waits);
      return;
    }
    const pair = ops.body_writer();
    let answered = false;
    const accept = () => {
      if (answered) return;
      answered = true;
      ops.tunnel_open(id);
      ops.response_send(id, 200, "", pair[1], null, false);
    };
    const socket = new internal.Socket(PromiseResolve([200, [], rid ?? null]), pair[0], authority, accept);
    let result;
    try {
      result = PromiseResolve(h(socket, ctx));
    } catch (e) {
      result = PromiseReject(e);
    }
    const done = new Promise((resolve) => {
      PromisePrototypeThen(result, (value) => {
        if (!answered && value instanceof globalThis.Response) {
          answered = true;
          socket.close();
          let written;
          try {
            written = internal.sendResponse(id, value);
          } catch (e) {
            fail(id, e);
            resolve(undefined);
            return;
          }
          PromisePrototypeThen(written, resolve, resolve);
          return;
        }
        accept();
        socket.close();
        resolve(undefined);
      }, (e) => {
        if (answered) internal.reportError(e);
        else {
          answered = true;
          fail(id, e);
        }
        socket.close();
        resolve(undefined);
      });
    });
    finish(id, done, waits);
  }

  // Called by Rust for each request.
  internal.dispatch = (id, method, url, flat, rid, entry, propsJson) => {
    const waits = [];
    waitsOf.set(id, waits);
    let result;
    let ctx;
    try {
      ctx = new ExecutionContext(id, waits, propsJson === null ? {} : JSONParse(propsJson));
      if (method === "CONNECT") {
        dispatchConnect(id, url, rid, entry, ctx, waits);
        return;
      }
      const h = entrypoint(entry);
      const request = internal.incomingRequest(method, url, flat, rid);
      live.set(id, request);
      result = PromiseResolve(h(request, ctx));
    } catch (e) {
      result = PromiseReject(e);
    }
    // Settles when the response (its body included, if JS makes it) was
    // handed over or the failure reported. No promise is resolved with
    // another promise here: that would call the `then` a Worker may replace.
    const done = new Promise((resolve) => {
      const failed = (e) => { fail(id, e); resolve(undefined); };
      PromisePrototypeThen(result, (response) => {
        let written;
        try {
          written = internal.sendResponse(id, response);
        } catch (e) {
          failed(e);
          return;
        }
        PromisePrototypeThen(written, resolve, failed);
      }, failed);
    });
    finish(id, done, waits);
  };
})();
