export default {
  async fetch(req) {
    const r = new Request("https://example.com/p", { method: "post", body: JSON.stringify({ a: 1 }), headers: { "x-y": "z" } });
    console.log(r.method, r.url, r.headers.get("content-type"), r.bodyUsed);
    const c = r.clone();
    console.log(await r.json(), r.bodyUsed, await c.text());
    try { await r.text(); } catch (e) { console.log(e.name); }
    try { new Request("https://e/", { method: "GET", body: "x" }); } catch (e) { console.log(e.name); }
    const j = Response.json({ ok: true }, { status: 201 });
    console.log(j.status, j.ok, j.headers.get("content-type"), await j.text());
    const red = Response.redirect("https://example.com/next", 301);
    console.log(red.status, red.headers.get("location"));
    const err = Response.error();
    console.log(err.type, err.status);
    try { new Response("x", { status: 99 }); } catch (e) { console.log(e.name); }
    const bytes = new Response(new Uint8Array([104, 105]));
    console.log(new Uint8Array(await bytes.arrayBuffer()).length, bytes.bodyUsed);
    const s = new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("str")); c.enqueue(new TextEncoder().encode("eam")); c.close(); } }));
    console.log(await s.text());
    const form = new Response("a=1&b=2", { headers: { "content-type": "application/x-www-form-urlencoded" } });
    console.log((await form.formData()).get("b"));
    const upstream = await fetch("https://origin.test/x", { method: "PUT", body: "sent", headers: { "x-test": "t" } });
    const copy = new Response(upstream.body, upstream);
    copy.headers.set("x-extra", "1");
    console.log(copy.status, copy.headers.get("x-method"), copy.headers.get("x-extra"));
    return copy;
  },
};
