export default {
  async fetch(request) {
    const log = [];
    // A Response body read with a BYOB reader, in small views.
    const res = new Response("hello byte streams");
    const reader = res.body.getReader({ mode: "byob" });
    let text = "";
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(5));
      if (done) break;
      log.push(`chunk ${value.constructor.name} ${value.byteLength}`);
      text += new TextDecoder().decode(value);
    }
    log.push(`text ${text}`);
    // A user byte stream answering BYOB requests.
    let n = 0;
    const rs = new ReadableStream({
      type: "bytes",
      pull(c) {
        const req = c.byobRequest;
        if (n === 3) { c.close(); if (req) req.respond(0); return; }
        req.view[0] = 65 + n; req.respond(1); n++;
      },
    });
    const r2 = rs.getReader({ mode: "byob" });
    const got = [];
    for (;;) { const { value, done } = await r2.read(new Uint8Array(4)); if (done) break; got.push(value[0]); }
    log.push(`byob ${String.fromCharCode(...got)}`);
    // min: wait until the view is full.
    const rs3 = new ReadableStream({ type: "bytes", start(c) { c.enqueue(new Uint8Array([1, 2])); c.enqueue(new Uint8Array([3, 4, 5])); c.close(); } });
    const r3 = rs3.getReader({ mode: "byob" });
    const a = await r3.read(new Uint8Array(4), { min: 4 });
    log.push(`min ${[...a.value].join(",")}`);
    const b = await r3.read(new Uint8Array(4));
    log.push(`rest ${[...b.value].join(",")} done=${b.done}`);
    const c = await r3.read(new Uint8Array(4));
    log.push(`end ${c.value.byteLength} done=${c.done}`);
    // autoAllocateChunkSize: a default reader gets views the source filled.
    const rs4 = new ReadableStream({ type: "bytes", autoAllocateChunkSize: 8, pull(c) { const v = c.byobRequest.view; v.set([9, 9, 9]); c.byobRequest.respond(3); c.close(); } });
    const d = await rs4.getReader().read();
    log.push(`auto ${d.value.byteLength} ${d.value.buffer.byteLength}`);
    // tee of a byte stream; both branches see the bytes.
    const [t1, t2] = new Response("tee!").body.tee();
    log.push(`tee ${await new Response(t1).text()} ${await new Response(t2).text()}`);
    // Errors.
    for (const [name, f] of [
      ["default stream byob", () => new ReadableStream().getReader({ mode: "byob" })],
      ["bad mode", () => new ReadableStream().getReader({ mode: "x" })],
      ["size on bytes", () => new ReadableStream({ type: "bytes" }, { size() { return 1; } })],
      ["zero autoAllocate", () => new ReadableStream({ type: "bytes", autoAllocateChunkSize: 0 })],
      ["controller ctor", () => new ReadableByteStreamController()],
    ]) {
      try { f(); log.push(`${name}: no error`); } catch (e) { log.push(`${name}: ${e.constructor.name}`); }
    }
    const r5 = new Response("x").body.getReader({ mode: "byob" });
    try { await r5.read(new Uint8Array(0)); } catch (e) { log.push(`empty view: ${e.constructor.name}`); }
    try { await r5.read(new Uint8Array(2), { min: 3 }); } catch (e) { log.push(`min too big: ${e.constructor.name}`); }
    log.push(`${typeof ReadableStreamBYOBReader} ${typeof ReadableStreamBYOBRequest} ${typeof ReadableByteStreamController}`);
    return new Response(log.join("\n"));
  },
};
