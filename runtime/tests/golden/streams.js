export default {
  async fetch() {
    const rs = new ReadableStream({
      start(c) { c.enqueue("a"); c.enqueue("b"); },
      pull(c) { c.enqueue("c"); c.close(); },
    });
    const out = [];
    for await (const chunk of rs) out.push(chunk);
    console.log(out.join(""));
    const [t1, t2] = new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(2); c.close(); } }).tee();
    const r1 = t1.getReader();
    console.log((await r1.read()).value, (await r1.read()).value, (await r1.read()).done);
    const all = [];
    await t2.pipeTo(new WritableStream({ write(x) { all.push(x); } }));
    console.log(all);
    const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); } });
    const piped = new ReadableStream({ start(c) { c.enqueue("x"); c.enqueue("y"); c.close(); } }).pipeThrough(upper);
    const got = [];
    for await (const x of piped) got.push(x);
    console.log(got.join(""));
    const text = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("héllo")); c.close(); } }).pipeThrough(new TextDecoderStream());
    const reader = text.getReader();
    console.log((await reader.read()).value);
    const errored = new ReadableStream({ start(c) { c.error(new Error("bad")); } });
    try { await errored.getReader().read(); } catch (e) { console.log("error:", e.message); }
    const ws = new WritableStream({}, new CountQueuingStrategy({ highWaterMark: 2 }));
    const w = ws.getWriter();
    console.log(w.desiredSize);
    await w.write("a");
    await w.close();
    console.log(ws.locked);
    return new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("streamed ")); c.enqueue(new TextEncoder().encode("body")); c.close(); } }));
  },
};
