// isoproxy node compat: node:diagnostics_channel: named channels that
// publish messages to subscribers, stores bound to AsyncLocalStorage, and
// tracing channels. https://nodejs.org/api/diagnostics_channel.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const {
    Promise, SafeMap, ArrayPrototypeIndexOf, ArrayPrototypeSlice, ArrayPrototypeSplice,
    PromisePrototypeThen, ReflectApply,
  } = internal.primordials;

  internal.registerBuiltin("node:diagnostics_channel", () => {
    const channels = new SafeMap();

    class Channel {
      #subscribers = [];
      #stores = new SafeMap();
      constructor(name) { this.name = name; }
      get hasSubscribers() { return this.#subscribers.length > 0 || this.#stores.size > 0; }
      subscribe(fn) {
        if (typeof fn !== "function") throw internal.invalidArgType("subscription", "of type function", fn);
        this.#subscribers[this.#subscribers.length] = fn;
      }
      unsubscribe(fn) {
        const i = ArrayPrototypeIndexOf(this.#subscribers, fn);
        if (i === -1) return false;
        ArrayPrototypeSplice(this.#subscribers, i, 1);
        return true;
      }
      // A subscriber that throws does not stop the others; its error is
      // reported as uncaught, later.
      publish(message) {
        const list = ArrayPrototypeSlice(this.#subscribers);
        for (let i = 0; i < list.length; i++) {
          try {
            ReflectApply(list[i], undefined, [message, this.name]);
          } catch (e) {
            PromisePrototypeThen(Promise.resolve(), () => internal.reportError(e));
          }
        }
      }
      bindStore(store, transform) {
        this.#stores.set(store, transform);
      }
      unbindStore(store) {
        return this.#stores.delete(store);
      }
      // Run `fn` with each bound store set to (the transform of) `data`,
      // publishing `data` first.
      runStores(data, fn, thisArg, ...args) {
        let run = () => {
          this.publish(data);
          return ReflectApply(fn, thisArg, args);
        };
        for (const [store, transform] of this.#stores) {
          const inner = run;
          run = () => store.run(transform === undefined ? data : transform(data), inner);
        }
        return run();
      }
    }
    internal.brand(Channel, "Channel");

    function channel(name) {
      if (typeof name !== "string" && typeof name !== "symbol") throw internal.invalidArgType("channel", "of type string or symbol", name);
      let c = channels.get(name);
      if (c === undefined) {
        c = new Channel(name);
        channels.set(name, c);
      }
      return c;
    }

    const EVENTS = ["start", "end", "asyncStart", "asyncEnd", "error"];
    class TracingChannel {
      constructor(nameOrChannels) {
        for (const e of EVENTS) {
          this[e] = typeof nameOrChannels === "string" ? channel(`tracing:${nameOrChannels}:${e}`) : nameOrChannels[e];
        }
      }
      get hasSubscribers() { return EVENTS.some((e) => this[e].hasSubscribers); }
      subscribe(handlers) { for (const e of EVENTS) if (handlers[e]) this[e].subscribe(handlers[e]); }
      unsubscribe(handlers) {
        let all = true;
        for (const e of EVENTS) if (handlers[e] && !this[e].unsubscribe(handlers[e])) all = false;
        return all;
      }
      traceSync(fn, context = {}, thisArg, ...args) {
        return this.start.runStores(context, () => {
          try {
            context.result = ReflectApply(fn, thisArg, args);
            return context.result;
          } catch (e) {
            context.error = e;
            this.error.publish(context);
            throw e;
          } finally {
            this.end.publish(context);
          }
        });
      }
      tracePromise(fn, context = {}, thisArg, ...args) {
        return this.start.runStores(context, () => {
          try {
            const p = ReflectApply(fn, thisArg, args);
            return PromisePrototypeThen(Promise.resolve(p), (result) => {
              context.result = result;
              this.asyncStart.publish(context);
              this.asyncEnd.publish(context);
              return result;
            }, (e) => {
              context.error = e;
              this.error.publish(context);
              this.asyncStart.publish(context);
              this.asyncEnd.publish(context);
              throw e;
            });
          } catch (e) {
            context.error = e;
            this.error.publish(context);
            throw e;
          } finally {
            this.end.publish(context);
          }
        });
      }
      traceCallback(fn, position = -1, context = {}, thisArg, ...args) {
        const at = position < 0 ? args.length + position : position;
        const callback = args[at];
        if (typeof callback !== "function") throw internal.invalidArgType("callback", "of type function", callback);
        const self = this;
        args[at] = function (err, res) {
          if (err) { context.error = err; self.error.publish(context); } else context.result = res;
          self.asyncStart.runStores(context, () => {
            try { return ReflectApply(callback, this, arguments); } finally { self.asyncEnd.publish(context); }
          });
        };
        return this.traceSync(fn, context, thisArg, ...args);
      }
    }
    internal.brand(TracingChannel, "TracingChannel");

    return {
      __proto__: null,
      channel,
      hasSubscribers: (name) => channels.get(name)?.hasSubscribers ?? false,
      subscribe: (name, fn) => channel(name).subscribe(fn),
      unsubscribe: (name, fn) => channel(name).unsubscribe(fn),
      tracingChannel: (nameOrChannels) => new TracingChannel(nameOrChannels),
      Channel,
    };
  });
});
