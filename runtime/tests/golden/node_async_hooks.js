// compatibilityDate: 2025-06-01
// compatibilityFlags: nodejs_compat
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";

const als = new AsyncLocalStorage();
const other = new AsyncLocalStorage();
const atTop = als.run("top-level", () => AsyncLocalStorage.snapshot());

export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    log("outside", als.getStore());
    await als.run({ id: 1 }, async () => {
      log("sync", als.getStore());
      await null;
      log("after await", als.getStore());
      await new Promise((r) => setTimeout(r, 1));
      log("after timer", als.getStore());
      await new Promise((r) => setTimeout(() => { log("in timer callback", als.getStore()); r(); }, 1));
      await new Promise((r) => queueMicrotask(() => { log("in microtask", als.getStore()); r(); }));
      await new Promise((r) => process.nextTick(() => { log("in nextTick", als.getStore()); r(); }));
      other.run("nested other", () => log("two stores", als.getStore(), other.getStore()));
      als.run({ id: 2 }, () => log("nested", als.getStore()));
      log("after nested", als.getStore());
      als.exit(() => log("exit", als.getStore()));
      const res = new AsyncResource("R");
      als.run("elsewhere", () => res.runInAsyncScope(() => log("resource", als.getStore())));
      const snap = AsyncLocalStorage.snapshot();
      als.run("elsewhere", () => snap(() => log("snapshot", als.getStore())));
      const bound = AsyncLocalStorage.bind(() => als.getStore());
      log("bound", als.run("elsewhere", bound));
      const body = new ReadableStream({ pull(c) { return new Promise((r) => setTimeout(r, 1)).then(() => { c.enqueue(new Uint8Array([65])); c.close(); }); } });
      const text = await new Response(body).text();
      log("after body", als.getStore(), text);
    });
    log("after run", als.getStore());
    atTop(() => log("top-level snapshot", als.getStore()));
    const p = als.run("promise", () => Promise.resolve());
    await p.then(() => log("then registered outside", als.getStore()));
    let stored;
    als.run("registered inside", () => { stored = new Promise((r) => setTimeout(r, 1)).then(() => als.getStore()); });
    log("then registered inside", await stored);
    return new Response(out.join("\n"));
  },
};
