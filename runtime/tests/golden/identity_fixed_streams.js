export default {
  async fetch(request) {
    const log = [];
    const t = async (name, f) => { try { log.push(`${name}: ${await f()}`); } catch (e) { log.push(`${name}: ${e.constructor.name}: ${e.message}`); } };
    await t("ident types", () => { const s = new IdentityTransformStream(); return `${s.readable.constructor.name} ${s.writable.constructor.name} ${s instanceof TransformStream}`; });
    await t("ident byob", async () => {
      const s = new IdentityTransformStream();
      const w = s.writable.getWriter();
      w.write(new Uint8Array([1, 2, 3, 4, 5])); w.close();
      const r = s.readable.getReader({ mode: "byob" });
      const a = await r.read(new Uint8Array(3));
      const b = await r.read(new Uint8Array(3));
      const c = await r.read(new Uint8Array(3));
      return `${[...a.value]} ${[...b.value]} ${c.done}`;
    });
    await t("ident string", async () => { const s = new IdentityTransformStream(); const w = s.writable.getWriter(); const p = w.write("abc"); s.readable.getReader().read(); await p; return "ok"; });
    await t("ident arraybuffer", async () => { const s = new IdentityTransformStream(); const w = s.writable.getWriter(); w.write(new Uint8Array([7,8]).buffer); const r = await s.readable.getReader().read(); return `${r.value.constructor.name} ${[...r.value]}`; });
    await t("ident dataview", async () => { const s = new IdentityTransformStream(); const w = s.writable.getWriter(); w.write(new DataView(new Uint8Array([7,8,9]).buffer, 1)); const r = await s.readable.getReader().read(); return `${r.value.constructor.name} ${[...r.value]}`; });
    await t("ident empty", async () => { const s = new IdentityTransformStream(); const w = s.writable.getWriter(); w.write(new Uint8Array(0)); w.write(new Uint8Array([1])); const r = await s.readable.getReader().read(); return `${[...r.value]}`; });
    await t("ident abort", async () => { const s = new IdentityTransformStream(); const w = s.writable.getWriter(); w.abort(new Error("boom")); return await s.readable.getReader().read().then(() => "read ok", (e) => `read err ${e.message}`); });
    await t("ident cancel", async () => { const s = new IdentityTransformStream(); const w = s.writable.getWriter(); await s.readable.cancel(new Error("gone")); return await w.write(new Uint8Array([1])).then(() => "write ok", (e) => `write err ${e.constructor.name} ${e.message}`); });
    await t("fixed neg", () => new FixedLengthStream(-1));
    await t("fixed float", () => { new FixedLengthStream(1.5); return "ok"; });
    await t("fixed none", () => { new FixedLengthStream(); return "ok"; });
    await t("fixed bigint", () => { new FixedLengthStream(3n); return "ok"; });
    await t("fixed string", () => { new FixedLengthStream("3"); return "ok"; });
    await t("fixed too many", async () => { const s = new FixedLengthStream(2); const w = s.writable.getWriter(); s.readable.getReader().read(); return await w.write(new Uint8Array(3)).then(() => "ok", (e) => `${e.constructor.name}: ${e.message}`); });
    await t("fixed too few", async () => { const s = new FixedLengthStream(4); const w = s.writable.getWriter(); const r = s.readable.getReader(); w.write(new Uint8Array(3)); r.read(); return await w.close().then(() => "ok", (e) => `${e.constructor.name}: ${e.message}`); });
    await t("fixed too few read", async () => { const s = new FixedLengthStream(4); const w = s.writable.getWriter(); const r = s.readable.getReader(); w.write(new Uint8Array(3)).catch(()=>{}); w.close().catch(()=>{}); await r.read(); return await r.read().then((x) => `ok ${x.done}`, (e) => `${e.constructor.name}: ${e.message}`); });
    await t("fixed exact", async () => { const s = new FixedLengthStream(3); const w = s.writable.getWriter(); w.write(new Uint8Array(3)); w.close(); const b = await new Response(s.readable).arrayBuffer(); return `${b.byteLength}`; });
    await t("fixed resp header", () => { const s = new FixedLengthStream(3); return `${new Response(s.readable).headers.get("content-length")}`; });
    await t("ident resp header", () => { const s = new IdentityTransformStream(); return `${new Response(s.readable).headers.get("content-length")}`; });
    await t("fixed request", () => { const s = new FixedLengthStream(3); return `${new Request("http://x/", { method: "POST", body: s.readable }).headers.get("content-length")}`; });
    await t("hwm opt", () => { const s = new IdentityTransformStream({ highWaterMark: 10 }); return `${s.writable.getWriter().desiredSize}`; });
    await t("default desired", () => { const s = new IdentityTransformStream(); return `${s.writable.getWriter().desiredSize}`; });
    await t("fixed desired", () => { const s = new FixedLengthStream(5); return `${s.writable.getWriter().desiredSize}`; });
    return new Response(log.join("\n"));
  },
};
