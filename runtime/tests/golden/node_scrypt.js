// golden: cpuMs=5000
// compatibilityDate: 2025-09-20
// compatibilityFlags: nodejs_compat
import { scrypt, scryptSync } from "node:crypto";

// RFC 7914 §12 vectors, Node's option names and errors.
export default {
  async fetch(request) {
    console.log(scryptSync("", "", 64, { N: 16, r: 1, p: 1 }).toString("hex"));
    console.log(scryptSync("password", "NaCl", 64, { N: 1024, r: 8, p: 16 }).toString("hex"));
    console.log(scryptSync("password", "salt", 16, { cost: 16384, blockSize: 8, parallelization: 1 }).toString("hex"));
    for (const bad of [{ N: 3 }, { N: 1 }, { N: 1 << 20, r: 8 }]) {
      try { scryptSync("p", "s", 16, bad); } catch (e) { console.log(e.name, e.code, e.message); }
    }
    const viaCallback = await new Promise((resolve) => scrypt("password", "NaCl", 8, { N: 1024, r: 8, p: 16 }, (err, key) => resolve([err, key.toString("hex")])));
    console.log(JSON.stringify(viaCallback));
    return new Response("ok");
  },
};
