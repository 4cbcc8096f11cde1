// compatibilityDate: 2025-06-01
export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    const text = ": comment\r\ndata: first\r\n\r\nevent: custom\ndata: line 1\ndata: line 2\nid: 7\n\nretry: 10\ndata:no space\r\rdata: after cr\n\nid: 8\n\ndata: 9\n\ndata: unterminated";
    const enc = new TextEncoder().encode(text);
    const stream = new ReadableStream({
      start(c) {
        // In small pieces, so that lines and CRLFs are split.
        for (let i = 0; i < enc.length; i += 5) c.enqueue(enc.slice(i, i + 5));
        c.close();
      },
    });
    const es = EventSource.from(stream);
    log("state", es.readyState, es.url, EventSource.CONNECTING, EventSource.OPEN, EventSource.CLOSED);
    await new Promise((resolve) => {
      es.onopen = () => log("open", es.readyState);
      es.onmessage = (e) => log("message", e.data, e.lastEventId, e instanceof MessageEvent);
      es.addEventListener("custom", (e) => log("custom", e.data, e.lastEventId, e.type));
      es.onerror = () => { log("error", es.readyState); resolve(); };
    });
    const m = new MessageEvent("x", { data: { a: 1 }, lastEventId: "5" });
    log(m.type, m.data, m.lastEventId, m.origin, m.ports.length, new MessageEvent("y").data);
    try { new EventSource("not a url"); } catch (e) { log(e.name); }
    return new Response(out.join("\n"));
  },
};
