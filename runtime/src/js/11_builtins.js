// isoproxy glue, part 11: the runtime's own modules (`cloudflare:workers`
// and, under `nodejs_compat`, the `node:*` modules in js/node/). Each module
// is a factory registered here by name and run once, the first time the
// Worker imports it (or a global needs it); Rust turns the object it returns
// into a synthetic module whose named exports are its properties.
// https://developers.cloudflare.com/workers/runtime-apis/nodejs/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const { Error, SafeMap, TypeError, FunctionPrototypeCall, ObjectFreeze, ObjectHasOwn, StringPrototypeSlice } = internal.primordials;
  const { URL } = globalThis;
  const isNode = (name) => StringPrototypeSlice(name, 0, 5) === "node:";

  const factories = new SafeMap();
  const built = new SafeMap();
  // Set by `setup`: which node:* behaviours the flags turn on.
  internal.nodeCompat = { modules: false, globals: false, processEnv: false, als: false };

  // Register module `name` ("node:buffer"), built by `factory()`.
  internal.registerBuiltin = (name, factory) => { factories.set(name, factory); };

  // The node:* glue (js/node/*.js) is deferred: each file hands its body
  // here when the snapshot is made, and the bodies run, in load order, only
  // in an isolate whose Worker has a node compatibility flag on (at setup,
  // before the Worker's own code). Other Workers' isolates never hold the
  // node modules' closures and tables (about 0.2 MB of heap each).
  const deferred = [];
  let nodeLoaded = false;
  internal.deferNode = (body) => { deferred[deferred.length] = body; };
  const loadNode = () => {
    if (nodeLoaded) return;
    nodeLoaded = true;
    for (let i = 0; i < deferred.length; i++) deferred[i](internal);
    deferred.length = 0;
  };
  // Setup's part: load the node glue if any flag asks for it, then let
  // node/process.js apply the flags ([modules, globals, processEnv, als,
  // processV2, fs, http, webFs]).
  internal.startNode = (flags, bindings) => {
    let any = false;
    for (let i = 0; i < flags.length; i++) if (flags[i]) any = true;
    if (!any) return;
    loadNode();
    internal.setupNode(flags, bindings);
  };

  // The exports object of built-in module `name`, or null if there is none
  // (or the flags do not allow it).
  // Whether the Worker's flags let it have built-in module `name`.
  const allowed = (name) => {
    if (isNode(name) && !internal.nodeCompat.modules && !(name === "node:async_hooks" && internal.nodeCompat.als)) return false;
    // node:fs and node:http need their own flags (or a recent date), as in workerd.
    if ((name === "node:fs" || name === "node:fs/promises") && !internal.nodeCompat.fs) return false;
    if ((name === "node:http" || name === "node:https") && !internal.nodeCompat.http) return false;
    if (isNode(name)) loadNode();
    return factories.has(name);
  };
  internal.builtinModule = (name) => {
    name = `${name}`;
    if (!allowed(name)) return null;
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
    if (isNode(name)) loadNode();
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

  // CommonJS modules (`commonJsModule` in the config), by module name:
  // their wrapper function, and once run, their `module` object.
  const commonJs = new SafeMap();
  internal.defineCommonJs = (name, fn) => { commonJs.set(name, { fn, module: null }); };

  // `specifier` as required from module `from`: relative to its folder,
  // from the root with a leading "/", else as it is.
  function resolveFrom(from, specifier) {
    if (StringPrototypeSlice(specifier, 0, 1) === "/") return StringPrototypeSlice(specifier, 1);
    if (StringPrototypeSlice(specifier, 0, 2) !== "./" && StringPrototypeSlice(specifier, 0, 3) !== "../") return specifier;
    const parts = from.split("/");
    parts.pop();
    const segs = specifier.split("/");
    for (let i = 0; i < segs.length; i++) {
      if (segs[i] === "." || segs[i] === "") continue;
      if (segs[i] === "..") parts.pop(); else parts[parts.length] = segs[i];
    }
    return parts.join("/");
  }

  // Run CommonJS module `name` once (a cycle gets the exports so far) and
  // return its `module.exports`.
  internal.requireCommonJs = (name) => {
    const entry = commonJs.get(name);
    if (entry.module !== null) return entry.module.exports;
    const module = { exports: {}, id: name, filename: `/${name}`, loaded: false, children: [], paths: [] };
    entry.module = module;
    const require = (specifier) => requireFrom(name, `${specifier}`);
    module.require = require;
    const slash = name.lastIndexOf("/");
    // try/finally, not catch: the error keeps the location it was thrown at.
    let done = false;
    try {
      FunctionPrototypeCall(entry.fn, module.exports, module.exports, require, module, `/${name}`, slash === -1 ? "/" : `/${StringPrototypeSlice(name, 0, slash)}`);
      done = true;
    } finally {
      if (!done) entry.module = null;
    }
    module.loaded = true;
    return module.exports;
  };

  // `require(specifier)` from CommonJS module `from`: another CommonJS
  // module, or a built-in module the flags allow (`node:x`, and bare `x`
  // under nodejs_compat), as its CommonJS value (a module's `default`).
  function requireFrom(from, specifier) {
    const name = resolveFrom(from, specifier);
    if (commonJs.has(name)) return internal.requireCommonJs(name);
    // A listed ES module, as workerd gives it to require(): its
    // "module.exports" export if it has one, else its default export, else
    // the namespace.
    const ns = ops.require_es_module(from, specifier);
    if (ns !== null) {
      if (ObjectHasOwn(ns, "module.exports")) return ns["module.exports"];
      return ObjectHasOwn(ns, "default") ? ns.default : ns;
    }
    let m = null;
    if (isNode(specifier) || StringPrototypeSlice(specifier, 0, 11) === "cloudflare:") m = internal.builtinModule(specifier);
    else if (internal.nodeCompat.modules) m = internal.builtinModule(`node:${specifier}`);
    if (m === null) {
      const e = new Error(`No such module "${name}", required from "${from}"`);
      e.code = "MODULE_NOT_FOUND";
      throw e;
    }
    return ObjectHasOwn(m, "default") ? m.default : m;
  }

  // node:module: createRequire (a `require` as if from a given module),
  // isBuiltin, builtinModules. https://nodejs.org/api/module.html
  internal.registerBuiltin("node:module", () => {
    loadNode();
    const builtinModules = [];
    for (const name of factories.keys()) if (isNode(name) && allowed(name)) builtinModules[builtinModules.length] = StringPrototypeSlice(name, 5);
    builtinModules.sort();
    const isBuiltin = (name) => {
      name = `${name}`;
      return allowed(isNode(name) ? name : `node:${name}`);
    };
    function createRequire(from) {
      let name = from instanceof URL ? from.pathname : `${from}`;
      if (StringPrototypeSlice(name, 0, 7) === "file://") name = StringPrototypeSlice(name, 7);
      if (StringPrototypeSlice(name, 0, 1) === "/") name = StringPrototypeSlice(name, 1);
      const require = (specifier) => requireFrom(name, `${specifier}`);
      require.resolve = (specifier) => resolveFrom(name, `${specifier}`);
      return require;
    }
    return { __proto__: null, createRequire, isBuiltin, builtinModules };
  });

  // Node's `process.getBuiltinModule(name)` and `require`-like lookups:
  // "node:x" or "x".
  internal.nodeModule = (name) => {
    name = `${name}`;
    const m = internal.builtinModule(isNode(name) ? name : `node:${name}`);
    if (m === null) throw new TypeError(`No such module "${name}"`);
    return m;
  };
})();
