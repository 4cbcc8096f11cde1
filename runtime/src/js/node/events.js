// isoproxy node compat: node:events (EventEmitter).
// https://nodejs.org/api/events.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const { DOMException } = globalThis;
  const {
    Error, Promise, RangeError, String, Symbol, ArrayPrototypeSlice, ArrayPrototypeSplice,
    ObjectCreate, ObjectHasOwn, ObjectDefineProperty, ReflectApply, ReflectOwnKeys,
  } = internal.primordials;

  internal.registerBuiltin("node:events", () => {
    const kEvents = Symbol("kEvents");
    const kMax = Symbol("kMaxListeners");
    const errorMonitor = Symbol("events.errorMonitor");
    let defaultMaxListeners = 10;

    function checkListener(listener) {
      if (typeof listener !== "function") throw internal.invalidArgType("listener", "of type function", listener);
    }
    function events(self) {
      if (self[kEvents] === undefined || self[kEvents] === null) {
        ObjectDefineProperty(self, kEvents, { value: ObjectCreate(null), writable: true, configurable: true });
      }
      return self[kEvents];
    }

    function EventEmitter(opts) {
      EventEmitter.init.call(this, opts);
    }
    EventEmitter.init = function () {
      if (!ObjectHasOwn(this, kEvents)) ObjectDefineProperty(this, kEvents, { value: ObjectCreate(null), writable: true, configurable: true });
      if (this[kMax] === undefined) ObjectDefineProperty(this, kMax, { value: undefined, writable: true, configurable: true });
    };

    function addListener(self, type, listener, prepend, once) {
      checkListener(listener);
      const map = events(self);
      if (map.newListener !== undefined) self.emit("newListener", type, listener.listener ?? listener);
      const entry = once ? wrapOnce(self, type, listener) : listener;
      const list = map[type];
      if (list === undefined) map[type] = [entry];
      else if (prepend) ArrayPrototypeSplice(list, 0, 0, entry);
      else list[list.length] = entry;
      const max = self.getMaxListeners();
      const n = map[type].length;
      if (max > 0 && n > max && !map[type].warned) {
        map[type].warned = true;
        internal.ops.console_log(2, `MaxListenersExceededWarning: Possible EventEmitter memory leak detected. ${n} ${String(type)} listeners added. Use emitter.setMaxListeners() to increase limit`);
      }
      return self;
    }
    function wrapOnce(self, type, listener) {
      const state = { fired: false, self, type, listener };
      const wrapped = function (...args) {
        if (state.fired) return undefined;
        state.fired = true;
        self.removeListener(type, wrapped);
        return ReflectApply(listener, this, args);
      };
      wrapped.listener = listener;
      return wrapped;
    }

    const methods = {
      setMaxListeners(n) {
        if (typeof n !== "number" || n < 0 || n !== n) throw new RangeError(`The value of "n" is out of range. It must be a non-negative number. Received ${n}`);
        this[kMax] = n;
        return this;
      },
      getMaxListeners() { return this[kMax] === undefined ? defaultMaxListeners : this[kMax]; },
      emit(type, ...args) {
        const map = this[kEvents];
        if (type === "error") {
          if (map !== undefined && map[errorMonitor] !== undefined) this.emit(errorMonitor, ...args);
          if (map === undefined || map.error === undefined) {
            const er = args[0];
            if (er instanceof Error) throw er;
            const err = new Error(`Unhandled error. (${internal.nodeInspect.inspect(er)})`);
            err.code = "ERR_UNHANDLED_ERROR";
            err.context = er;
            throw err;
          }
        }
        if (map === undefined) return false;
        const list = map[type];
        if (list === undefined) return false;
        const copy = ArrayPrototypeSlice(list);
        for (let i = 0; i < copy.length; i++) ReflectApply(copy[i], this, args);
        return true;
      },
      addListener(type, listener) { return addListener(this, type, listener, false, false); },
      on(type, listener) { return addListener(this, type, listener, false, false); },
      prependListener(type, listener) { return addListener(this, type, listener, true, false); },
      once(type, listener) { return addListener(this, type, listener, false, true); },
      prependOnceListener(type, listener) { return addListener(this, type, listener, true, true); },
      removeListener(type, listener) {
        checkListener(listener);
        const map = this[kEvents];
        if (map === undefined) return this;
        const list = map[type];
        if (list === undefined) return this;
        for (let i = list.length - 1; i >= 0; i--) {
          if (list[i] === listener || list[i].listener === listener) {
            const removed = list[i];
            ArrayPrototypeSplice(list, i, 1);
            if (list.length === 0) delete map[type];
            if (map.removeListener !== undefined) this.emit("removeListener", type, removed.listener ?? removed);
            break;
          }
        }
        return this;
      },
      off(type, listener) { return this.removeListener(type, listener); },
      removeAllListeners(type) {
        const map = this[kEvents];
        if (map === undefined) return this;
        if (type === undefined) {
          const keys = ReflectOwnKeys(map);
          for (let i = 0; i < keys.length; i++) if (keys[i] !== "removeListener") this.removeAllListeners(keys[i]);
          this.removeAllListeners("removeListener");
          this[kEvents] = ObjectCreate(null);
          return this;
        }
        const list = map[type];
        if (list !== undefined) {
          for (let i = list.length - 1; i >= 0; i--) this.removeListener(type, list[i]);
        }
        return this;
      },
      listeners(type) {
        const list = this[kEvents]?.[type];
        if (list === undefined) return [];
        const out = [];
        for (let i = 0; i < list.length; i++) out[i] = list[i].listener ?? list[i];
        return out;
      },
      rawListeners(type) {
        const list = this[kEvents]?.[type];
        return list === undefined ? [] : ArrayPrototypeSlice(list);
      },
      listenerCount(type, listener) {
        const list = this[kEvents]?.[type];
        if (list === undefined) return 0;
        if (listener === undefined) return list.length;
        let n = 0;
        for (let i = 0; i < list.length; i++) if (list[i] === listener || list[i].listener === listener) n++;
        return n;
      },
      eventNames() { return this[kEvents] === undefined ? [] : ReflectOwnKeys(this[kEvents]); },
    };
    for (const k of ReflectOwnKeys(methods)) {
      ObjectDefineProperty(EventEmitter.prototype, k, { value: methods[k], writable: true, configurable: true, enumerable: false });
    }
    ObjectDefineProperty(EventEmitter, "defaultMaxListeners", {
      get() { return defaultMaxListeners; },
      set(v) { defaultMaxListeners = v; },
      enumerable: true, configurable: true,
    });
    EventEmitter.EventEmitter = EventEmitter;
    EventEmitter.errorMonitor = errorMonitor;
    EventEmitter.captureRejections = false;
    EventEmitter.usingDomains = false;

    // events.once(emitter, name): a promise of the arguments of the next
    // `name` event (rejected by an "error" event first).
    function once(emitter, name, options) {
      return new Promise((resolve, reject) => {
        if (typeof emitter.addEventListener === "function" && typeof emitter.on !== "function") {
          emitter.addEventListener(name, (ev) => resolve([ev]), { once: true });
          return;
        }
        const onError = (err) => { emitter.removeListener(name, onEvent); reject(err); };
        const onEvent = (...args) => { if (name !== "error") emitter.removeListener("error", onError); resolve(args); };
        emitter.once(name, onEvent);
        if (name !== "error") emitter.once("error", onError);
        const signal = options?.signal;
        if (signal !== undefined) {
          signal.addEventListener("abort", () => {
            emitter.removeListener(name, onEvent);
            emitter.removeListener("error", onError);
            reject(new DOMException("The operation was aborted", "AbortError"));
          }, { once: true });
        }
      });
    }
    // events.on(emitter, name): an async iterator over the events.
    function on(emitter, name) {
      const queue = [];
      const waiting = [];
      let error = null;
      let done = false;
      const onEvent = (...args) => {
        if (waiting.length > 0) waiting.shift().resolve({ value: args, done: false });
        else queue[queue.length] = args;
      };
      const onError = (e) => {
        done = true;
        if (waiting.length > 0) waiting.shift().reject(e); else error = e;
      };
      emitter.on(name, onEvent);
      if (name !== "error") emitter.on("error", onError);
      const stop = () => {
        done = true;
        emitter.removeListener(name, onEvent);
        emitter.removeListener("error", onError);
        while (waiting.length > 0) waiting.shift().resolve({ value: undefined, done: true });
      };
      return {
        next() {
          if (queue.length > 0) return Promise.resolve({ value: queue.shift(), done: false });
          if (error !== null) { const e = error; error = null; stop(); return Promise.reject(e); }
          if (done) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve, reject) => { waiting[waiting.length] = { resolve, reject }; });
        },
        return() { stop(); return Promise.resolve({ value: undefined, done: true }); },
        throw(e) { stop(); return Promise.reject(e); },
        [Symbol.asyncIterator]() { return this; },
      };
    }
    function listenerCount(emitter, name) { return emitter.listenerCount(name); }
    function getEventListeners(emitter, name) { return emitter.listeners(name); }
    EventEmitter.once = once;
    EventEmitter.on = on;
    EventEmitter.listenerCount = listenerCount;
    EventEmitter.getEventListeners = getEventListeners;
    EventEmitter.setMaxListeners = (n = defaultMaxListeners, ...targets) => {
      if (targets.length === 0) defaultMaxListeners = n;
      for (let i = 0; i < targets.length; i++) targets[i].setMaxListeners?.(n);
    };

    internal.EventEmitter = EventEmitter;
    return {
      __proto__: null,
      default: EventEmitter,
      EventEmitter,
      once,
      on,
      listenerCount,
      getEventListeners,
      errorMonitor,
      setMaxListeners: EventEmitter.setMaxListeners,
      get defaultMaxListeners() { return defaultMaxListeners; },
      captureRejectionSymbol: Symbol.for("nodejs.rejection"),
      usingDomains: false,
    };
  });
});
