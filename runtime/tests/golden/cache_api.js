// The Workers Cache API glue (16_cache.js) against the test store, which
// keeps whatever it is given: the storage rules are the proxy's.
export default {
  async fetch() {
    const cache = caches.default;
    const key = new Request("https://example.com/k");
    console.log(typeof caches, caches instanceof CacheStorage, cache instanceof Cache, caches.default === cache);
    console.log("miss", await cache.match(key));
    await cache.put(key, new Response("stored body", { status: 201, headers: { "x-a": "1", "cache-control": "max-age=60" } }));
    const hit = await cache.match("https://example.com/k");
    console.log("hit", hit.status, hit.headers.get("x-a"), hit.headers.get("cf-cache-status"), await hit.text());
    // A streamed body is read to the end by put.
    const { readable, writable } = new TransformStream();
    const w = writable.getWriter();
    w.write(new TextEncoder().encode("part one, "));
    w.write(new TextEncoder().encode("part two"));
    w.close();
    await cache.put("https://example.com/s", new Response(readable));
    console.log("streamed", await (await cache.match("https://example.com/s")).text());
    // Named caches are separate from the default one and from each other.
    const a = await caches.open("a");
    const empty = await caches.open("");
    console.log("named", await a.match(key), await empty.match(key));
    await a.put(key, new Response("in a"));
    console.log("named hit", await (await a.match(key)).text(), await (await cache.match(key)).text());
    // Methods other than GET.
    const post = new Request("https://example.com/k", { method: "POST" });
    console.log("post match", await cache.match(post), (await cache.match(post, { ignoreMethod: true })).status);
    console.log("post delete", await cache.delete(post));
    for (const [name, f] of [
      ["put POST", () => cache.put(post, new Response("x"))],
      ["put 206", () => cache.put(key, new Response("x", { status: 206 }))],
      ["put vary", () => cache.put(key, new Response("x", { headers: { vary: "Accept, *" } }))],
      ["put used", async () => { const r = new Response("x"); await r.text(); return cache.put(key, r); }],
      ["put non-response", () => cache.put(key, "x")],
    ]) {
      try { await f(); console.log(name, "resolved"); } catch (e) { console.log(name, e.name, e.message); }
    }
    console.log("delete", await cache.delete(key), await cache.delete(key), await cache.match(key));
    try { new Cache(); } catch (e) { console.log("new Cache", e.name); }
    return new Response("ok");
  },
};
