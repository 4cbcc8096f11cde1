// compatibilityDate: 2024-09-23
// compatibilityFlags: nodejs_compat
// text: SECRET = s3cret
import { Buffer as B } from "buffer";
import process2 from "process";

export default {
  async fetch() {
    const out = [];
    out.push(`${Buffer === B} ${process === process2} ${global === globalThis} ${typeof setImmediate} ${JSON.stringify(process.env)}`);
    await new Promise((resolve) => setImmediate((a, b) => { out.push(`immediate ${a} ${b}`); resolve(); }, 1, 2));
    const h = setImmediate(() => out.push("never"));
    clearImmediate(h);
    await new Promise((r) => setTimeout(r, 2));
    out.push(`${process.getBuiltinModule("node:buffer").Buffer === Buffer} ${process.getBuiltinModule("nope")}`);
    return new Response(out.join("\n"));
  },
};
