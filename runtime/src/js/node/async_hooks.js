// isoproxy node compat: node:async_hooks (AsyncLocalStorage, AsyncResource).
// The stores travel with V8's continuation-preserved embedder data, shared
// with the request tag (see ops/context.rs): a frame is `[tag, stores]`.
// https://nodejs.org/api/async_context.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const ops = internal.ops;
  const { ArrayIsArray, SafeMap, TypeError } = internal.primordials;

  const storesOf = (frame) => (ArrayIsArray(frame) ? frame[1] : undefined);

  // Run `fn` with the stores of `stores` (a SafeMap or undefined); the
  // request tag stays that of the code running now (see runInFrame).
  function runWithStores(stores, fn, self, args) {
    internal.asyncContextUsed = true;
    const frame = stores === undefined || stores.size === 0 ? 0 : [0, stores];
    return internal.runInFrame(frame, fn, self, args);
  }

  internal.registerBuiltin("node:async_hooks", () => {
    const currentStores = () => storesOf(ops.async_context_get());

    class AsyncLocalStorage {
      // https://nodejs.org/api/async_context.html#asynclocalstoragerunstore-callback-args
      run(store, fn, ...args) {
        const stores = new SafeMap(currentStores());
        stores.set(this, store);
        return runWithStores(stores, fn, undefined, args);
      }
      // https://nodejs.org/api/async_context.html#asynclocalstorageexitcallback-args
      exit(fn, ...args) {
        const stores = new SafeMap(currentStores());
        stores.delete(this);
        return runWithStores(stores, fn, undefined, args);
      }
      getStore() {
        const stores = currentStores();
        return stores === undefined ? undefined : stores.get(this);
      }
      // Nothing to release: stores go with the frames that hold them.
      disable() {}
      enterWith() {
        throw new TypeError("AsyncLocalStorage.enterWith() is not supported (as in workerd); use run()");
      }
      // A function that runs its argument in the context current now.
      static snapshot() {
        const stores = currentStores();
        return (fn, ...args) => runWithStores(stores, fn, undefined, args);
      }
      static bind(fn) { return AsyncResource.bind(fn); }
    }
    internal.brand(AsyncLocalStorage, "AsyncLocalStorage");

    // https://nodejs.org/api/async_context.html#class-asyncresource
    class AsyncResource {
      #stores;
      #type;
      constructor(type) {
        this.#type = `${type}`;
        this.#stores = currentStores();
      }
      runInAsyncScope(fn, thisArg, ...args) { return runWithStores(this.#stores, fn, thisArg, args); }
      bind(fn, thisArg) {
        if (typeof fn !== "function") throw internal.invalidArgType("fn", "of type function", fn);
        const self = this;
        const bound = function (...args) { return self.runInAsyncScope(fn, thisArg === undefined ? this : thisArg, ...args); };
        return bound;
      }
      emitDestroy() { return this; }
      asyncId() { return 0; }
      triggerAsyncId() { return 0; }
      get type() { return this.#type; }
      static bind(fn, type, thisArg) { return new AsyncResource(type ?? fn?.name ?? "bound-anonymous-fn").bind(fn, thisArg); }
    }
    internal.brand(AsyncResource, "AsyncResource");
    return { __proto__: null, AsyncLocalStorage, AsyncResource };
  });
});
