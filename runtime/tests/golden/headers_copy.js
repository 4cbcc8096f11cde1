// Copying and iterating Headers: the sorted view is cached, so every
// change must show in the next iteration, and copies must not share state.
export default {
  async fetch(req) {
    const h = new Headers([["b", "2"], ["a", "1"], ["b", "3"], ["set-cookie", "x=1"], ["set-cookie", "y=2"]]);
    console.log(JSON.stringify([...h]));
    h.set("a", "one");
    console.log(JSON.stringify([...h]));
    // A change during iteration is seen by the rest of it.
    const seen = [];
    for (const [k] of h) {
      seen.push(k);
      if (k === "a") h.append("c", "late");
    }
    console.log(seen.join(","));
    // Copies: a new Headers, a Response and a Request made from it.
    const copy = new Headers(h);
    const resp = new Response(null, { headers: h });
    const reqCopy = new Request("https://example.com/", { headers: h });
    h.delete("b");
    h.append("d", "after");
    console.log(JSON.stringify([...copy]));
    console.log(resp.headers.get("b"), resp.headers.get("d"), reqCopy.headers.get("c"), reqCopy.headers.has("d"));
    console.log(JSON.stringify([...h]));
    // An own iterator on the source is honoured.
    const odd = new Headers({ z: "26" });
    odd[Symbol.iterator] = function* () { yield ["from-iterator", "yes"]; };
    console.log(JSON.stringify([...new Headers(odd)]));
    // Mutating a copy leaves the original alone.
    copy.set("a", "changed");
    console.log(h.get("a"), copy.get("a"));
    return new Response("ok");
  },
};
