// HTMLRewriter: every handler type and token method, async handlers,
// handler errors, malformed HTML, and a table of selectors.
const PAGE = `<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html><head><title>T</title></head>
<body>
<!-- note -->
<div class="c" id="x"><p>one</p><span>s</span><p>two</p></div>
<a href="http://ex.com/a">abs</a> <a href="/rel">rel</a> <a>none</a>
<ul><li>1</li><li>2</li><li>3</li></ul>
<img src="i.png"><br/>
</body></html>`;

function source(text, size = 7) {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new Response(new ReadableStream({
    pull(c) {
      if (at >= bytes.length) { c.close(); return; }
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  }), { headers: { "content-type": "text/html", "content-length": String(bytes.length) } });
}

async function run(name, rewriter, text = PAGE, size = 7) {
  try {
    const r = rewriter.transform(source(text, size));
    console.log(`== ${name} (content-length ${r.headers.get("content-length")})`);
    console.log(await r.text());
  } catch (e) {
    console.log(`== ${name}: ${e.constructor.name}: ${e.message}`);
  }
}

export default {
  async fetch() {
    // Element methods.
    await run("element", new HTMLRewriter()
      .on("div", {
        element(el) {
          console.log("tag", el.tagName, "id", el.getAttribute("id"), "has class", el.hasAttribute("class"), "missing", el.getAttribute("nope"));
          console.log("attrs", JSON.stringify([...el.attributes]), "ns", el.namespaceURI, "removed", el.removed);
          el.setAttribute("data-x", "1").removeAttribute("id");
          el.before("<b>before</b>", { html: true }).after("<after>");
          el.prepend("<i>pre</i>", { html: true }).append(" & app");
          el.onEndTag((end) => { console.log("end tag", end.name); end.before("<!--end-->", { html: true }); });
        },
      })
      .on("span", { element(el) { el.tagName = "em"; } })
      .on("title", { element(el) { el.setInnerContent("New <title>"); } })
      .on("img", { element(el) { el.replace("<picture></picture>", { html: true }); } })
      .on("ul", { element(el) { el.removeAndKeepContent(); } })
      .on("br", { element(el) { el.remove(); console.log("br removed", el.removed); } }));

    // Text chunks, comments, doctype, document end.
    const texts = [];
    await run("text+comments+document", new HTMLRewriter()
      .on("p", { text(t) { texts.push([t.text, t.lastInTextNode]); if (t.text === "two") t.replace("<u>2</u>", { html: true }); } })
      .on("li", { text(t) { if (t.text === "2") t.remove(); else if (t.text) t.after("!"); } })
      .on("body", { comments(c) { console.log("comment", JSON.stringify(c.text)); c.text = " changed "; c.after("<!--added-->", { html: true }); } })
      .onDocument({
        doctype(d) { console.log("doctype", d.name, d.publicId, d.systemId); },
        end(e) { e.append("<!-- the end -->", { html: true }); },
      }), PAGE, 3);
    console.log("texts", JSON.stringify(texts));

    // Document-level text and comments.
    let chars = 0, comments = 0;
    await run("document text", new HTMLRewriter().onDocument({ text(t) { chars += t.text.length; }, comments(c) { comments++; c.remove(); } }), "<p>abc</p><!--x--><p>de</p>");
    console.log("document chars", chars, "comments", comments);

    // Async handlers: the stream waits for each one, in order.
    const order = [];
    await run("async", new HTMLRewriter().on("p", {
      async element(el) {
        order.push("start " + el.tagName);
        await new Promise((r) => setTimeout(r, 5));
        await Promise.resolve();
        el.setAttribute("data-async", "yes");
        order.push("end");
      },
    }), "<p>a</p><p>b</p>", 2);
    console.log("order", order.join(", "));

    // A handler that throws (sync and async) errors the transformed stream.
    await run("throws", new HTMLRewriter().on("p", { element() { throw new Error("boom"); } }), "<p>x</p>");
    await run("rejects", new HTMLRewriter().on("p", { async element() { await null; throw new RangeError("late boom"); } }), "<p>x</p>");

    // A token used after its handler returned.
    let kept;
    await run("stale token", new HTMLRewriter().on("p", { element(el) { kept = el; } }), "<p>x</p>");
    try { kept.getAttribute("a"); } catch (e) { console.log("stale:", e.constructor.name, e.message); }

    // `this` is the handlers object; handler errors in .on() arguments.
    const obj = { n: 0, element() { this.n++; } };
    await run("this", new HTMLRewriter().on("p", obj), "<p>a</p><p>b</p>");
    console.log("this.n", obj.n);
    try { new HTMLRewriter().on("p:::bad", {}); } catch (e) { console.log("bad selector:", e.constructor.name); }
    try { new HTMLRewriter().on("p", { element: 5 }); } catch (e) { console.log("bad handler:", e.constructor.name); }
    try { new HTMLRewriter().transform("not a response"); } catch (e) { console.log("bad transform:", e.constructor.name); }

    // Selector table: which elements each selector matches.
    const html = `<div class="c"><p id="p1">1</p><section><p id="p2">2</p></section><p id="p3" class="k">3</p></div><a href="https://x/" id="a1"></a><a href="/y" id="a2"></a><a id="a3"></a><input type="text" id="i1"><input disabled id="i2">`;
    const selectors = ["*", "p", "div.c > p", "div p", "a[href^=\"http\"]", "a[href$=\"/y\"]", "a[href*=\"x\"]", "a[href]", "a:not([href])", "p:nth-child(1)", "p:nth-child(2n+1)", "p:first-child", "p:nth-of-type(2)", "p.k", "#p2", "div > section > p", "input[type=text]", "[disabled]", "p, a"];
    for (const sel of selectors) {
      const seen = [];
      await new HTMLRewriter().on(sel, { element(el) { seen.push(el.getAttribute("id") ?? el.tagName); } }).transform(new Response(html)).arrayBuffer();
      console.log(sel.padEnd(20), seen.join(" "));
    }

    // Malformed HTML: unclosed tags, stray end tags, bad attributes, split
    // everywhere (1-byte chunks).
    await run("malformed", new HTMLRewriter()
      .on("p", { element(el) { el.setAttribute("ok", "1"); } })
      .on("b", { element(el) { el.onEndTag((e) => e.after("[/b]")); } }),
      "<p class=x <b>bold<p>next</i></div>< notatag <p a='1\"b>q</p><!-- unterminated", 1);

    // The charset of the Content-Type: handlers see text, bytes stay in it.
    const latin = new Uint8Array([...new TextEncoder().encode("<p>caf"), 0xe9, ...new TextEncoder().encode("</p>")]);
    const seen = [];
    const recoded = await new HTMLRewriter().on("p", { text(t) { if (t.text) seen.push(t.text); }, element(el) { el.setAttribute("t", "\u00e9"); } })
      .transform(new Response(latin, { headers: { "content-type": "text/html; charset=windows-1252" } })).arrayBuffer();
    console.log("windows-1252:", JSON.stringify(seen), JSON.stringify([...new Uint8Array(recoded)]));
    try { new HTMLRewriter().on("p", {}).transform(new Response("x", { headers: { "content-type": "text/html; charset=utf-16" } })); } catch (e) { console.log("utf-16:", e.constructor.name, e.message); }

    // A null body: only the document end runs.
    const empty = new HTMLRewriter().onDocument({ end(e) { e.append("appended"); } }).transform(new Response(null));
    console.log("null body:", await empty.text());
    return new Response("ok");
  },
};
