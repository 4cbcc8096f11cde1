// compatibilityDate: 2025-06-01
export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    const p = new URLPattern({ pathname: "/books/:id(\\d+)" });
    log(p.test("https://example.com/books/123"), p.test("https://example.com/books/abc"), p.pathname, p.protocol, p.hasRegExpGroups);
    const m = p.exec("https://example.com/books/42?x=1");
    log(m.pathname, m.inputs, m.search.input);
    const q = new URLPattern("https://:sub.example.com/*?", "https://base.test");
    log(q.hostname, q.test("https://api.example.com/anything"), q.exec("https://api.example.com/a/b").hostname.groups);
    const r = new URLPattern("/users/:name", "https://example.com");
    log(r.exec("/users/ann", "https://example.com").pathname.groups, r.test({ pathname: "/users/bob", protocol: "https", hostname: "example.com" }));
    const ci = new URLPattern({ pathname: "/CASE" }, { ignoreCase: true });
    log(ci.test({ pathname: "/case" }), new URLPattern({ pathname: "/CASE" }).test({ pathname: "/case" }));
    for (const bad of [{ pathname: "/(" }, "https://:" ]) {
      try { new URLPattern(bad); log("no error"); } catch (e) { log(e.name); }
    }
    try { p.test({ pathname: "/x" }, "https://base"); } catch (e) { log(e.name); }
    log(Object.prototype.toString.call(p), p.test("not a url"));
    return new Response(out.join("\n"));
  },
};
