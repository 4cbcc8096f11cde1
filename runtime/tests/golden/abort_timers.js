export default {
  async fetch() {
    const ac = new AbortController();
    ac.signal.addEventListener("abort", () => console.log("aborted event", ac.signal.reason.name));
    ac.abort();
    console.log(ac.signal.aborted);
    try { ac.signal.throwIfAborted(); } catch (e) { console.log(e.name, e.code); }
    const t = AbortSignal.timeout(10);
    await new Promise((r) => t.addEventListener("abort", r));
    console.log("timeout:", t.reason.name);
    const any = AbortSignal.any([new AbortController().signal, AbortSignal.abort("why")]);
    console.log(any.aborted, any.reason);
    const order = [];
    setTimeout(() => order.push("t2"), 2);
    const cancelled = setTimeout(() => order.push("never"), 1);
    clearTimeout(cancelled);
    queueMicrotask(() => order.push("micro"));
    let n = 0;
    await new Promise((r) => { const i = setInterval(() => { n++; if (n === 3) { clearInterval(i); r(); } }, 1); });
    await new Promise((r) => setTimeout(r, 5));
    console.log(order, n);
    try { await fetch("https://origin.test/", { signal: AbortSignal.abort() }); } catch (e) { console.log("fetch:", e.name); }
    const clone = structuredClone({ d: new Date(0), m: new Map([[1, { x: [1, 2] }]]), s: new Set(["a"]), b: new Uint8Array([1, 2]) });
    console.log(clone.d.getTime(), clone.m.get(1).x, clone.s.has("a"), clone.b[1]);
    try { structuredClone(() => 1); } catch (e) { console.log(e.name); }
    const cyc = { name: "c" }; cyc.self = cyc;
    const cc = structuredClone(cyc);
    console.log(cc.self === cc, cc !== cyc);
    return new Response("ok");
  },
};
