// compatibilityDate: 2025-06-01
export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    log(navigator.userAgent, navigator.hardwareConcurrency, navigator.language, navigator.languages, JSON.stringify(navigator), Object.prototype.toString.call(navigator));
    log(typeof scheduler.wait, typeof Buffer, typeof process, typeof global, typeof setImmediate);
    const t0 = Date.now();
    const waited = await scheduler.wait(5);
    log("waited", waited, Date.now() - t0 >= 4);
    const ac = new AbortController();
    const p = scheduler.wait(10000, { signal: ac.signal });
    ac.abort(new Error("stop"));
    log("aborted", await p.catch((e) => e.message));
    const ev = new CustomEvent("hello", { detail: { x: 1 } });
    log(ev.type, ev.detail, ev instanceof Event, Object.prototype.toString.call(ev));
    const target = new EventTarget();
    let got;
    target.addEventListener("ping", (e) => { got = e.detail; });
    target.dispatchEvent(new CustomEvent("ping", { detail: "pong" }));
    log("dispatched", got);
    try { new CustomEvent(); } catch (e) { log(e.name); }
    log(typeof reportError, reportError(new Error("reported")));
    return new Response(out.join("\n"));
  },
};
