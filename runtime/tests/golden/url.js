export default {
  async fetch(req) {
    const u = new URL("https://user:pw@Example.COM:8443/a/../b/./c?x=1&y=2#frag");
    console.log(u.href, u.origin, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, u.username);
    u.searchParams.append("z", "a b");
    u.pathname = "/new path";
    u.port = "443";
    console.log(u.toString());
    console.log(new URL("../x?q", "http://h/a/b/c").href);
    console.log(URL.canParse("nope"), URL.canParse("/p", "http://h"));
    try { new URL("http://[bad"); } catch (e) { console.log(e.name); }
    const p = new URLSearchParams("b=2&a=1&b=3");
    p.sort();
    console.log(p.toString(), p.getAll("b"), p.size);
    console.log(new URLSearchParams({ k: "v w", "ü": "é" }).toString());
    return new Response(new URL(req.url).pathname);
  },
};
