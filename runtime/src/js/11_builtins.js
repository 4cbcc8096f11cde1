// isoproxy glue, part 11: the runtime's own modules (`cloudflare:workers`
// and, under `nodejs_compat`, the `node:*` modules in js/node/). Each module
// is a factory registered here by name and run once, the first time the
// Worker imports it (or a global needs it); Rust turns the object it returns
// into a synthetic module whose named exports are its properties.
// https://developers.cloudflare.com/workers/runtime-apis/nodejs/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const { SafeMap, TypeError, ObjectFreeze, StringPrototypeSlice } = internal.primordials;
  const isNode = (name) => StringPrototypeSlice(name, 0, 5) === "node:";

  const factories = new SafeMap();
  const built = new SafeMap();
  // Set by `setup`: which node:* behaviours the flags turn on.
  internal.nodeCompat = { modules: false, globals: false, processEnv: false, als: false };

  // Register module `name` ("node:buffer"), built by `factory()`.
  internal.registerBuiltin = (name, factory) => { factories.set(name, factory); };

  // The exports object of built-in module `name`, or null if there is none
  // (or the flags do not allow it).
  internal.builtinModule = (name) => {
    name = `${name}`;
    if (isNode(name) && !internal.nodeCompat.modules && !(name === "node:async_hooks" && internal.nodeCompat.als)) return null;
    let m = built.get(name);
    if (m !== undefined) return m;
    const factory = factories.get(name);
    if (factory === undefined) return null;
    m = factory();
    built.set(name, m);
    return m;
  };

  // The exports of a module the glue itself depends on (one node module
  // using another), whatever the flags.
  internal.requireBuiltin = (name) => {
    let m = built.get(name);
    if (m !== undefined) return m;
    m = factories.get(name)();
    built.set(name, m);
    return m;
  };

  // https://developers.cloudflare.com/workers/runtime-apis/bindings/service-bindings/rpc/
  // A class-based entrypoint: the runtime constructs it per request with
  // (ctx, env) and calls its fetch(request).
  class WorkerEntrypoint {
    constructor(ctx, env) {
      this.ctx = ctx;
      this.env = env;
    }
  }
  internal.brand(WorkerEntrypoint, "WorkerEntrypoint");

  // The base class of objects passed by reference over RPC; isoproxy has no
  // RPC, so it only lets code that extends it load.
  class RpcTarget {}
  internal.brand(RpcTarget, "RpcTarget");

  internal.registerBuiltin("cloudflare:workers", () => ObjectFreeze({
    __proto__: null,
    WorkerEntrypoint,
    RpcTarget,
    // The same object the handlers receive as `env`.
    env: internal.env(),
  }));

  // Node's `process.getBuiltinModule(name)` and `require`-like lookups:
  // "node:x" or "x".
  internal.nodeModule = (name) => {
    name = `${name}`;
    const m = internal.builtinModule(isNode(name) ? name : `node:${name}`);
    if (m === null) throw new TypeError(`No such module "${name}"`);
    return m;
  };
})();
