// compatibilityDate: 2025-09-20
// compatibilityFlags: nodejs_compat
import process from "node:process";
import { createRequire } from "node:module";

export default {
  async fetch(request) {
    console.log("version", process.version, typeof process.versions.node, process.arch, process.platform, process.title);
    console.log("cwd", process.cwd());
    process.chdir("/tmp");
    console.log("chdir", process.cwd());
    process.chdir("/bundle");
    console.log("hrtime", Array.isArray(process.hrtime()), typeof process.hrtime.bigint());
    console.log("uptime", typeof process.uptime(), typeof process.memoryUsage().heapUsed);
    let seen = null;
    process.on("custom", (v) => { seen = v; });
    process.emit("custom", 42);
    console.log("events", seen, process.listenerCount("custom"));
    console.log("argv", JSON.stringify(process.argv), JSON.stringify(process.execArgv), process.pid, process.ppid);
    console.log("env", typeof process.env);
    return new Response("ok");
  },
};
