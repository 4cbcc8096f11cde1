// isoproxy node compat: node:process and the nodejs_compat_v2 globals
// (`process`, `Buffer`, `global`, `setImmediate`). As in workerd, `process`
// is small: env, nextTick, platform, features, getBuiltinModule, exit.
// https://developers.cloudflare.com/workers/runtime-apis/nodejs/process/
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const { Error, ObjectFreeze, PromisePrototypeThen, PromiseResolve, ReflectApply, globalThis: global } = internal.primordials;
  const { setTimeout, clearTimeout } = globalThis;
  let bindings = [];
  // The working directory node:fs resolves relative paths against.
  internal.nodeCwd = "/bundle";

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
    if (internal.nodeCompat.processV2) fullProcess(process);
    return { __proto__: null, ...process, default: process };
  });

  // The members `enable_nodejs_process_v2` adds, as workerd has them: the
  // version workerd reports, `/bundle` as the working directory (where
  // node:fs resolves relative paths), timers, events, and the stubs.
  function fullProcess(process) {
    const { EventEmitter } = internal.requireBuiltin("node:events");
    const emitter = new EventEmitter();
    const start = performance.now();
    let exitCode;
    const hrtime = (prev) => {
      const ns = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1e6));
      let s = Number(ns / 1000000000n);
      let n = Number(ns % 1000000000n);
      if (prev !== undefined) {
        s -= prev[0];
        n -= prev[1];
        if (n < 0) { s -= 1; n += 1e9; }
      }
      return [s, n];
    };
    hrtime.bigint = () => BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1e6));
    const stream = (fd) => ({ fd, isTTY: false, writable: true, write(chunk, _enc, cb) { console.log(String(chunk).replace(/\n$/, "")); if (typeof cb === "function") cb(); return true; }, on() { return this; }, once() { return this; }, end() {} });
    const members = {
      version: "v22.23.4",
      versions: { node: "22.23.4" },
      arch: "x64",
      release: { name: "node", lts: true, sourceUrl: "", headersUrl: "" },
      title: "workerd",
      pid: 1,
      ppid: 0,
      argv: ["workerd"],
      argv0: "",
      execArgv: [],
      execPath: "",
      config: { target_defaults: {}, variables: {} },
      allowedNodeEnvironmentFlags: new Set(),
      stdout: stream(1),
      stderr: stream(2),
      stdin: { fd: 0, isTTY: false, on() { return this; } },
      get exitCode() { return exitCode; },
      set exitCode(v) { exitCode = v; },
      cwd: () => internal.nodeCwd,
      chdir(dir) {
        const path = internal.requireBuiltin("node:path");
        internal.nodeCwd = path.resolve(internal.nodeCwd, `${dir}`);
      },
      umask: () => 0o22,
      hrtime,
      uptime: () => (performance.now() - start) / 1000,
      memoryUsage: Object.assign(() => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }), { rss: () => 0 }),
      cpuUsage: () => ({ user: 0, system: 0 }),
      resourceUsage: () => ({}),
      getuid: () => 0, getgid: () => 0, geteuid: () => 0, getegid: () => 0, getgroups: () => [],
      emitWarning(warning, type) {
        const w = typeof warning === "string" ? warning : warning?.message;
        console.warn(`(node) ${typeof type === "string" ? type : "Warning"}: ${w}`);
      },
      abort() { throw new Error("process.abort() is not supported: a Worker cannot end its process"); },
      kill() { throw new Error("process.kill() is not supported"); },
      binding(name) { throw new Error(`process.binding('${name}') is not supported`); },
      on: (...a) => { emitter.on(...a); return process; },
      once: (...a) => { emitter.once(...a); return process; },
      off: (...a) => { emitter.off(...a); return process; },
      addListener: (...a) => { emitter.addListener(...a); return process; },
      removeListener: (...a) => { emitter.removeListener(...a); return process; },
      removeAllListeners: (...a) => { emitter.removeAllListeners(...a); return process; },
      emit: (...a) => emitter.emit(...a),
      listeners: (n) => emitter.listeners(n),
      listenerCount: (n) => emitter.listenerCount(n),
    };
    Object.defineProperties(process, Object.getOwnPropertyDescriptors(members));
  }

  // Called by `setup` (10_worker.js) before the Worker's code runs.
  internal.setupNode = ([modules, globals, processEnv, als, processV2, fs, http, webFs], list) => {
    internal.nodeCompat = { modules, globals, processEnv, als, processV2, fs, http };
    if (webFs) internal.enableWebFs();
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
});
