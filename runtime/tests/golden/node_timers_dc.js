// compatibilityDate: 2025-06-01
// compatibilityFlags: nodejs_compat
import timers, { setImmediate as nodeSetImmediate } from "node:timers";
import { setTimeout as sleep, setImmediate as immediate, setInterval as every, scheduler } from "node:timers/promises";
import { isDate, isUint8Array } from "node:util/types";
import { ReadableStream as RS, TransformStream as TS } from "node:stream/web";
import dc, { channel, subscribe, unsubscribe, hasSubscribers, tracingChannel } from "node:diagnostics_channel";
import { AsyncLocalStorage } from "node:async_hooks";

export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    log(typeof timers.setTimeout, typeof timers.promises.setTimeout, await sleep(1, "slept"), await immediate("now"));
    await new Promise((r) => nodeSetImmediate(r));
    const ac = new AbortController();
    const p = sleep(1000, "late", { signal: ac.signal });
    ac.abort();
    log(await p.catch((e) => e.name));
    const seen = [];
    for await (const v of every(1, "tick")) { seen.push(v); if (seen.length === 3) break; }
    log(seen, await scheduler.wait(1), isDate(new Date()), isUint8Array(new Uint8Array()), RS === ReadableStream, TS === TransformStream);
    // diagnostics_channel
    const msgs = [];
    const onMsg = (m, name) => msgs.push(`${name}:${JSON.stringify(m)}`);
    log(hasSubscribers("ch"));
    subscribe("ch", onMsg);
    log(hasSubscribers("ch"), channel("ch") === dc.channel("ch"));
    channel("ch").publish({ n: 1 });
    unsubscribe("ch", onMsg);
    channel("ch").publish({ n: 2 });
    log(msgs, hasSubscribers("ch"));
    const als = new AsyncLocalStorage();
    const c = channel("stores");
    c.bindStore(als, (d) => ({ wrapped: d }));
    log(c.runStores(5, (a, b) => [als.getStore(), a, b], null, "x", "y"));
    const tc = tracingChannel("op");
    const events = [];
    tc.subscribe({
      start: (ctx) => events.push(`start ${ctx.arg}`),
      end: () => events.push("end"),
      asyncStart: (ctx) => events.push(`asyncStart ${ctx.result}`),
      asyncEnd: () => events.push("asyncEnd"),
      error: (ctx) => events.push(`error ${ctx.error.message}`),
    });
    log(tc.traceSync((x) => x * 2, { arg: 1 }, null, 21));
    log(await tc.tracePromise(async () => "done", { arg: 2 }));
    try { tc.traceSync(() => { throw new Error("boom"); }, { arg: 3 }); } catch (e) { log("caught", e.message); }
    log(events);
    return new Response(out.join("\n"));
  },
};
