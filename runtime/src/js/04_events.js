// isoproxy glue, part 4: DOMException, Event, EventTarget, AbortController
// and AbortSignal. Specs: https://webidl.spec.whatwg.org/#idl-DOMException,
// https://dom.spec.whatwg.org/#events, https://dom.spec.whatwg.org/#aborting-ongoing-activities
"use strict";
(function () {
  const internal = globalThis.__internal;
  const {
    Error, Map, Number, String, Symbol, TypeError,
    DateNow, ArrayPrototypeFindIndex, ArrayPrototypePush, ArrayPrototypeSlice, ArrayPrototypeSome, ArrayPrototypeSplice,
    MapPrototypeGet, MapPrototypeSet, ReflectApply,
  } = internal.primordials;

  const CODES = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
    NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
    SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
    QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
  };

  // https://webidl.spec.whatwg.org/#idl-DOMException
  class DOMException extends Error {
    #name; #message;
    constructor(message = "", name = "Error") {
      super(String(message));
      this.#message = String(message);
      this.#name = String(name);
    }
    get name() { return this.#name; }
    get message() { return this.#message; }
    get code() { return CODES[this.#name] ?? 0; }
  }
  for (const [name, code] of Object.entries(CODES)) {
    const constName = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase().replace(/_ERROR$/, "_ERR");
    Object.defineProperty(DOMException, constName, { value: code, enumerable: true });
    Object.defineProperty(DOMException.prototype, constName, { value: code, enumerable: true });
  }
  internal.brand(DOMException, "DOMException");

  const kStop = Symbol("stop");
  const kTarget = Symbol("target");

  // https://dom.spec.whatwg.org/#interface-event
  class Event {
    #type; #bubbles; #cancelable; #canceled = false; #timeStamp = DateNow();
    constructor(type, init = {}) {
      if (arguments.length === 0) throw new TypeError("Event: 1 argument required");
      this.#type = String(type);
      this.#bubbles = !!init?.bubbles;
      this.#cancelable = !!init?.cancelable;
      this[kStop] = false;
      this[kTarget] = null;
    }
    get type() { return this.#type; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get defaultPrevented() { return this.#canceled; }
    get target() { return this[kTarget]; }
    get currentTarget() { return this[kTarget]; }
    get srcElement() { return this[kTarget]; }
    get timeStamp() { return this.#timeStamp; }
    get eventPhase() { return this[kTarget] ? 2 : 0; }
    get isTrusted() { return false; }
    get composed() { return false; }
    get returnValue() { return !this.#canceled; }
    composedPath() { return this[kTarget] ? [this[kTarget]] : []; }
    preventDefault() { if (this.#cancelable) this.#canceled = true; }
    stopPropagation() {}
    stopImmediatePropagation() { this[kStop] = true; }
  }
  internal.brand(Event, "Event");

  const kListeners = Symbol("listeners");

  // https://dom.spec.whatwg.org/#interface-eventtarget
  class EventTarget {
    constructor() { this[kListeners] = new Map(); }
    // https://dom.spec.whatwg.org/#dom-eventtarget-addeventlistener
    addEventListener(type, listener, options = {}) {
      if (listener === null || listener === undefined) return;
      const once = typeof options === "object" && options !== null && !!options.once;
      const signal = typeof options === "object" && options !== null ? options.signal : undefined;
      if (signal?.aborted) return;
      const list = MapPrototypeGet(this[kListeners], type) ?? [];
      if (ArrayPrototypeSome(list, (l) => l.listener === listener)) return;
      const entry = { listener, once, removed: false };
      ArrayPrototypePush(list, entry);
      MapPrototypeSet(this[kListeners], type, list);
      signal?.addEventListener("abort", () => this.removeEventListener(type, listener));
    }
    // https://dom.spec.whatwg.org/#dom-eventtarget-removeeventlistener
    removeEventListener(type, listener) {
      const list = MapPrototypeGet(this[kListeners], type);
      if (!list) return;
      const i = ArrayPrototypeFindIndex(list, (l) => l.listener === listener);
      if (i >= 0) { list[i].removed = true; ArrayPrototypeSplice(list, i, 1); }
    }
    // https://dom.spec.whatwg.org/#dom-eventtarget-dispatchevent
    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError("dispatchEvent: argument is not an Event");
      event[kTarget] = this;
      const list = ArrayPrototypeSlice(MapPrototypeGet(this[kListeners], event.type) ?? []);
      for (let i = 0; i < list.length; i++) {
        const entry = list[i];
        if (entry.removed) continue;
        if (entry.once) this.removeEventListener(event.type, entry.listener);
        try {
          if (typeof entry.listener === "function") ReflectApply(entry.listener, this, [event]);
          else if (typeof entry.listener?.handleEvent === "function") entry.listener.handleEvent(event);
        } catch (e) {
          internal.reportError(e);
        }
        if (event[kStop]) break;
      }
      return !event.defaultPrevented;
    }
  }
  internal.brand(EventTarget, "EventTarget");
  internal.reportError = (e) => {
    try {
      internal.logError("Uncaught", e);
    } catch {
      internal.ops.console_log(3, "Uncaught exception (it could not be formatted)");
    }
  };

  const kAborted = Symbol("aborted");
  const kReason = Symbol("reason");
  const kOnAbort = Symbol("onabort");
  let creating = false;

  // https://dom.spec.whatwg.org/#interface-AbortSignal
  class AbortSignal extends EventTarget {
    constructor() {
      if (!creating) throw new TypeError("Illegal constructor");
      super();
      this[kAborted] = false;
      this[kReason] = undefined;
      this[kOnAbort] = null;
    }
    static #make() { creating = true; try { return new AbortSignal(); } finally { creating = false; } }
    get aborted() { return this[kAborted]; }
    get reason() { return this[kReason]; }
    get onabort() { return this[kOnAbort]; }
    set onabort(fn) {
      if (this[kOnAbort]) this.removeEventListener("abort", this[kOnAbort]);
      this[kOnAbort] = typeof fn === "function" ? fn : null;
      if (this[kOnAbort]) this.addEventListener("abort", this[kOnAbort]);
    }
    // https://dom.spec.whatwg.org/#dom-abortsignal-throwifaborted
    throwIfAborted() { if (this[kAborted]) throw this[kReason]; }
    // https://dom.spec.whatwg.org/#dom-abortsignal-abort
    static abort(reason = undefined) {
      const s = AbortSignal.#make();
      s[kAborted] = true;
      s[kReason] = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
      return s;
    }
    // https://dom.spec.whatwg.org/#dom-abortsignal-timeout
    static timeout(ms) {
      ms = Number(ms);
      if (!Number.isFinite(ms) || ms < 0) throw new TypeError("AbortSignal.timeout: ms must be a non-negative number");
      const s = AbortSignal.#make();
      setTimeout(() => signalAbort(s, new DOMException("The operation timed out.", "TimeoutError")), ms);
      return s;
    }
    // https://dom.spec.whatwg.org/#dom-abortsignal-any
    static any(signals) {
      const s = AbortSignal.#make();
      const list = [...signals];
      for (const other of list) {
        if (!(other instanceof AbortSignal)) throw new TypeError("AbortSignal.any: not an AbortSignal");
        if (other.aborted) { s[kAborted] = true; s[kReason] = other.reason; return s; }
      }
      for (const other of list) other.addEventListener("abort", () => signalAbort(s, other.reason), { once: true });
      return s;
    }
  }
  internal.brand(AbortSignal, "AbortSignal");

  // https://dom.spec.whatwg.org/#abortsignal-signal-abort
  function signalAbort(signal, reason) {
    if (signal[kAborted]) return;
    signal[kAborted] = true;
    signal[kReason] = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
    signal.dispatchEvent(new Event("abort"));
  }
  internal.signalAbort = signalAbort;

  const make = () => { creating = true; try { return new AbortSignal(); } finally { creating = false; } };
  internal.newSignal = make;

  // https://dom.spec.whatwg.org/#interface-abortcontroller
  class AbortController {
    #signal = make();
    get signal() { return this.#signal; }
    // https://dom.spec.whatwg.org/#dom-abortcontroller-abort
    abort(reason = undefined) { signalAbort(this.#signal, reason); }
  }
  internal.brand(AbortController, "AbortController");

  internal.defineGlobals({ DOMException, Event, EventTarget, AbortController, AbortSignal });
})();
