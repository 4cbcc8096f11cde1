// compatibilityDate: 2025-09-20
// compatibilityFlags: nodejs_compat
import { createRequire } from "node:module";

// require() from ES code (createRequire) of built-in modules, and the
// shapes require() gives: a module's default export when it has one.
const require = createRequire("/bundle/worker");

export default {
  async fetch(request) {
    const fs = require("node:fs");
    const zlib = require("zlib");
    console.log("fs", typeof fs.readFileSync, typeof fs.promises.readFile);
    console.log("zlib", typeof zlib.gzipSync);
    console.log("constants", require("constants").O_CREAT);
    return new Response("ok");
  },
};
