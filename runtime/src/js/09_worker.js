// isoproxy glue, part 9: the Worker entry points. Builds `env` from the
// bindings, finds the fetch handler (ES module `export default { fetch }` or
// a service-worker `addEventListener("fetch", ...)`), and runs one
// invocation per request: https://developers.cloudflare.com/workers/runtime-apis/handlers/fetch/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;

  let env = {};
  let handler = null;
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
      this.#response = Promise.resolve(r);
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
      fetchListeners.push(listener);
    }
  }
  function removeEventListener(type, listener) {
    const i = fetchListeners.indexOf(listener);
    if (type === "fetch" && i >= 0) fetchListeners.splice(i, 1);
  }

  // https://developers.cloudflare.com/workers/runtime-apis/context/
  class ExecutionContext {
    #id; #waits;
    constructor(id, waits) { this.#id = id; this.#waits = waits; }
    waitUntil(p) { this.#waits.push(Promise.resolve(p).catch((e) => internal.reportError(e))); }
    passThroughOnException() { ops.request_pass_through(this.#id); }
    get props() { return {}; }
  }
  internal.brand(ExecutionContext, "ExecutionContext");

  // Called once by Rust before the Worker's code runs.
  internal.setup = (bindings, isModules) => {
    internal.resetClock();
    const out = {};
    for (const [name, kind, value] of bindings) {
      let v;
      switch (kind) {
        case "text": v = value; break;
        case "json": v = JSON.parse(value); break;
        case "data": v = value.buffer; break;
        case "wasm": v = new WebAssembly.Module(value); break;
        case "fetcher": v = internal.newFetcher(value); break;
        default: v = null;
      }
      out[name] = v;
    }
    env = out;
    if (!isModules) {
      for (const [k, v] of Object.entries(out)) {
        Object.defineProperty(globalThis, k, { value: v, writable: true, configurable: true, enumerable: true });
      }
      internal.defineGlobals({ addEventListener, removeEventListener, FetchEvent });
    }
  };

  // Called once by Rust after the Worker's code ran, with the main module's
  // default export (undefined for service-worker scripts).
  internal.setHandler = (exported) => {
    if (exported !== undefined) {
      if (exported === null || typeof exported.fetch !== "function") throw new TypeError("The main module's default export has no fetch() handler");
      handler = (req, ctx) => exported.fetch(req, env, ctx);
      return;
    }
    if (fetchListeners.length === 0) throw new TypeError("No fetch handler: export default { fetch } or addEventListener('fetch', ...)");
    handler = (req, ctx) => {
      const ev = new FetchEvent("fetch", { request: req, ctx });
      for (const l of fetchListeners) {
        if (typeof l === "function") l.call(globalThis, ev); else l.handleEvent(ev);
        if (ev._response !== null) break;
      }
      if (ev._response === null) throw new Error("No event listener called respondWith()");
      return ev._response;
    };
  };

  // Finish invocation `id` once `done` and every waitUntil promise settled.
  function finish(id, done, waits) {
    const settle = (n) => Promise.allSettled(waits.slice(0)).then(() => {
      if (waits.length > n) return settle(waits.length);
      ops.request_done(id);
    });
    done.then(() => settle(waits.length), () => settle(waits.length));
  }

  function fail(id, e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const stack = e instanceof Error && e.stack ? String(e.stack) : "";
    ops.response_error(id, message, stack);
  }

  // Called by Rust for each request.
  internal.dispatch = (id, method, url, flat, rid) => {
    const waits = [];
    const ctx = new ExecutionContext(id, waits);
    let result;
    try {
      const request = internal.incomingRequest(method, url, flat, rid);
      result = Promise.resolve(handler(request, ctx));
    } catch (e) {
      result = Promise.reject(e);
    }
    const done = result.then((response) => internal.sendResponse(id, response)).catch((e) => fail(id, e));
    finish(id, done, waits);
  };
})();
