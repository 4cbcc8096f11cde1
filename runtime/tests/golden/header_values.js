// Header values with control characters. isoproxy's one rule: leading and
// trailing HTTP whitespace is stripped; NUL, CR, LF and non-Latin-1 are a
// TypeError anywhere (Fetch spec); other control characters (tab aside) may
// sit in a standalone Headers, as the spec allows, but are a TypeError where
// they would enter a Request or Response, which isoproxy could not send.
// The Worker can catch each. (workerd accepts \x01 and \x7f in responses
// and sends them; see README.)
export default {
  async fetch(req) {
    const t = (name, f) => {
      try { console.log(`${name}: ok ${JSON.stringify(f())}`); } catch (e) { console.log(`${name}: ${e.name}: ${e.message}`); }
    };
    t("new Headers x\\x01y", () => [...new Headers({ a: "x\x01y" })]);
    t("set \\x7f", () => { const h = new Headers(); h.set("a", "\x7f"); return [...h]; });
    t("append \\x1f", () => { const h = new Headers(); h.append("a", "a\x1fb"); return [...h]; });
    t("append \\x0b", () => { const h = new Headers(); h.append("a", "\x0bx\x0b"); return [...h]; });
    t("append \\x00", () => { const h = new Headers(); h.append("a", "x\x00y"); return [...h]; });
    t("append \\r", () => { const h = new Headers(); h.append("a", "x\ry"); return [...h]; });
    t("append \\n", () => { const h = new Headers(); h.append("a", "x\ny"); return [...h]; });
    t("tab inside", () => { const h = new Headers(); h.append("a", "x\ty"); return [...h]; });
    t("trimmed", () => { const h = new Headers(); h.append("a", " \t x y\t \n\r"); return [...h]; });
    t("trimmed to empty", () => [...new Headers([["a", "\r\n\t "]])]);
    t("latin-1", () => [...new Headers({ a: "caf\xe9" })]);
    t("Response init \\x01", () => [...new Response("", { headers: { a: "\x01" } }).headers]);
    t("Request init \\x7f", () => [...new Request("http://x/", { headers: [["a", "\x7f"]] }).headers]);
    t("Response.json init \\x02", () => Response.json({}, { headers: { a: "\x02" } }).status);
    t("Response from a Headers holding \\x01", () => new Response("", { headers: new Headers({ a: "x\x01y" }) }).status);
    t("Request from a Headers holding \\x7f", () => new Request("http://x/", { headers: new Headers([["a", "\x7f"]]) }).method);
    t("response.headers.set \\x01", () => { const r = new Response(""); r.headers.set("a", "\x01"); return [...r.headers]; });
    t("request.headers.append \\x1f", () => { const r = new Request("http://x/"); r.headers.append("a", "\x1f"); return [...r.headers]; });
    t("response.headers.set tab", () => { const r = new Response(""); r.headers.set("a", "x\ty"); return [...r.headers]; });
    try {
      await fetch("http://origin.test/", { headers: { a: "\x01" } });
      console.log("fetch: resolved");
    } catch (e) {
      console.log(`fetch: ${e.name}: ${e.message}`);
    }
    return new Response("still answering", { headers: { "x-ok": " fine " } });
  },
};
