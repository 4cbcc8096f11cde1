// isoproxy glue, part 12: the smaller Workers globals: navigator,
// scheduler.wait, CustomEvent, reportError.
// https://developers.cloudflare.com/workers/runtime-apis/web-standards/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const { Promise, TypeError, ObjectDefineProperty, ObjectFreeze } = internal.primordials;
  const { Event, DOMException, setTimeout, clearTimeout } = globalThis;
  let creating = false;

  // https://developers.cloudflare.com/workers/runtime-apis/web-standards/#navigatoruseragent
  // The same values as workerd: one CPU, the Workers user agent.
  class Navigator {
    constructor() {
      if (!creating) throw new TypeError("Illegal constructor");
      const values = { languages: ObjectFreeze(["en"]), language: "en", platform: "", hardwareConcurrency: 1, userAgent: "Cloudflare-Workers" };
      for (const k in values) {
        const v = values[k];
        ObjectDefineProperty(this, k, { get: () => v, enumerable: true, configurable: true });
      }
    }
  }
  internal.brand(Navigator, "Navigator");
  creating = true;
  const navigator = new Navigator();
  creating = false;

  // https://developers.cloudflare.com/workers/runtime-apis/web-standards/#schedulerwait
  // A promise that resolves after `ms` milliseconds, cut short (rejected) by
  // `options.signal`.
  const scheduler = {
    wait(ms, options) {
      const signal = options?.signal;
      return new Promise((resolve, reject) => {
        if (signal?.aborted) { reject(signal.reason ?? new DOMException("The operation was aborted", "AbortError")); return; }
        const onAbort = () => {
          clearTimeout(handle);
          reject(signal.reason ?? new DOMException("The operation was aborted", "AbortError"));
        };
        const handle = setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve(undefined);
        }, ms);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
  class Scheduler {}
  internal.brand(Scheduler, "Scheduler");
  Object.setPrototypeOf(scheduler, Scheduler.prototype);

  // https://dom.spec.whatwg.org/#interface-customevent
  class CustomEvent extends Event {
    #detail;
    constructor(type, init) {
      if (arguments.length === 0) throw new TypeError("CustomEvent: 1 argument required");
      super(type, init);
      this.#detail = init?.detail ?? null;
    }
    get detail() { return this.#detail; }
    initCustomEvent(type, _bubbles, _cancelable, detail) { this.#detail = detail ?? null; void type; }
  }
  internal.brand(CustomEvent, "CustomEvent");

  // https://html.spec.whatwg.org/multipage/webappapis.html#dom-reporterror
  // Reported as an uncaught exception in the log, as workerd does.
  function reportError(e) {
    if (arguments.length === 0) throw new TypeError("reportError: 1 argument required");
    internal.reportError(e);
  }

  internal.defineGlobals({ navigator, Navigator, scheduler, CustomEvent, reportError });
})();
