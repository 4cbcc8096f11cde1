export default {
  async fetch(req) {
    const h = new Headers({ "Content-Type": "text/plain", "X-B": " two " });
    h.append("x-a", "1");
    h.append("x-a", "2");
    h.append("Set-Cookie", "a=1");
    h.append("Set-Cookie", "b=2");
    console.log([...h]);
    console.log(h.get("x-a"), h.get("missing"), h.has("X-B"), h.getSetCookie());
    h.set("x-a", "3");
    h.delete("content-type");
    console.log([...h.keys()].join(","));
    try { h.append("bad name", "x"); } catch (e) { console.log(e.name); }
    try { req.headers.set("x", "y"); } catch (e) { console.log(e.name, e.message); }
    return new Response("ok");
  },
};
