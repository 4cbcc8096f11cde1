// isoproxy node compat: node:process and the nodejs_compat_v2 globals
// (`process`, `Buffer`, `global`, `setImmediate`). As in workerd, `process`
// is small: env, nextTick, platform, features, getBuiltinModule, exit.
// https://developers.cloudflare.com/workers/runtime-apis/nodejs/process/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const { Error, ObjectFreeze, PromisePrototypeThen, PromiseResolve, ReflectApply, globalThis: global } = internal.primordials;
  const { setTimeout, clearTimeout } = globalThis;
  let bindings = [];

  internal.registerBuiltin("node:process", () => {
    const env = {};
    if (internal.nodeCompat.processEnv) {
      // Text bindings as they are, JSON bindings as their JSON text.
      for (const [name, kind, value] of bindings) {
        if ((kind === "text" || kind === "json") && typeof value === "string") env[name] = value;
      }
    }
    const process = {
      env,
      platform: "linux",
      features: ObjectFreeze({ inspector: false, debug: false, uv: false, ipv6: true, tls_alpn: true, tls_sni: true, tls_ocsp: false, tls: true, cached_builtins: true, typescript: false }),
      // Microtask timing, as in workerd.
      nextTick(fn, ...args) {
        if (typeof fn !== "function") throw internal.invalidArgType("callback", "of type function", fn);
        PromisePrototypeThen(PromiseResolve(undefined), () => {
          try { ReflectApply(fn, undefined, args); } catch (e) { internal.reportError(e); }
        });
      },
      getBuiltinModule(name) {
        try { return internal.nodeModule(name); } catch { return undefined; }
      },
      exit(code) {
        throw new Error(`process.exit(${code ?? ""}) is not supported: a Worker cannot end its process`);
      },
    };
    return { __proto__: null, ...process, default: process };
  });

  // Called by `setup` (10_worker.js) before the Worker's code runs.
  internal.setupNode = ([modules, globals, processEnv, als], list) => {
    internal.nodeCompat = { modules, globals, processEnv, als };
    bindings = list;
    if (!globals) return;
    const setImmediate = (fn, ...args) => setTimeout(fn, 0, ...args);
    const clearImmediate = (handle) => clearTimeout(handle);
    internal.defineGlobals({
      Buffer: internal.requireBuiltin("node:buffer").Buffer,
      process: internal.requireBuiltin("node:process").default,
      global,
      setImmediate,
      clearImmediate,
    });
  };
})();
