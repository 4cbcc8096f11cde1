// compatibilityDate: 2025-06-01
// compatibilityFlags: nodejs_compat
import { Readable, Writable, Transform, PassThrough, Duplex, pipeline, finished } from "node:stream";
import * as streamPromises from "node:stream/promises";
import Stream from "stream";
import { text as consumeText, json, buffer } from "node:stream/consumers";

export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    // Readable from an array, async iteration
    const got = [];
    for await (const chunk of Readable.from(["a", "b", "c"])) got.push(chunk);
    log("from", got);
    // A custom Readable with _read, data events, setEncoding
    let n = 0;
    const r = new Readable({ read() { n++; this.push(n <= 3 ? `chunk${n}` : null); } });
    r.setEncoding("utf8");
    const chunks = [];
    await new Promise((resolve) => { r.on("data", (c) => chunks.push(c)); r.on("end", resolve); });
    log("readable", chunks.join("|"), r.readableEnded, typeof chunks[0]);
    // Writable collecting, with final and finish
    const written = [];
    const w = new Writable({
      write(chunk, enc, cb) { written.push(chunk.toString()); cb(); },
      final(cb) { written.push("final"); cb(); },
    });
    w.write("x");
    w.write(Buffer.from("y"));
    await new Promise((resolve) => w.end("z", resolve));
    log("writable", written, w.writableFinished, w.writableEnded);
    // Transform upper-casing, through pipeline with callback
    const upper = new Transform({ transform(chunk, enc, cb) { cb(null, chunk.toString().toUpperCase()); } });
    const sink = [];
    const dest = new Writable({ write(c, e, cb) { sink.push(c.toString()); cb(); } });
    await new Promise((resolve, reject) => pipeline(Readable.from(["hello ", "world"]), upper, dest, (err) => (err ? reject(err) : resolve())));
    log("pipeline", sink.join(""));
    // pipeline error propagation
    const failing = new Transform({ transform(chunk, enc, cb) { cb(new Error("transform failed")); } });
    const err = await new Promise((resolve) => pipeline(Readable.from(["x"]), failing, new PassThrough(), (e) => resolve(e)));
    log("pipeline error", err?.message, failing.destroyed);
    // stream/promises
    const collected = [];
    await streamPromises.pipeline(Readable.from([Buffer.from("p1"), Buffer.from("p2")]), new PassThrough(), new Writable({ write(c, e, cb) { collected.push(c.toString()); cb(); } }));
    log("promises", collected);
    // backpressure: write returns false beyond highWaterMark, then drain
    const slow = new Writable({ highWaterMark: 4, write(c, e, cb) { setTimeout(cb, 1); } });
    const ok1 = slow.write("12");
    const ok2 = slow.write("3456");
    await new Promise((resolve) => slow.once("drain", resolve));
    log("backpressure", ok1, ok2, slow.writableLength);
    // object mode and read()
    const objs = new Readable({ objectMode: true, read() {} });
    objs.push({ a: 1 });
    objs.push({ b: 2 });
    objs.push(null);
    await new Promise((r2) => objs.once("readable", r2));
    log("objectMode", objs.read(), objs.read(), objs.readableObjectMode);
    // Duplex
    const d = new Duplex({ read() { this.push("from duplex"); this.push(null); }, write(c, e, cb) { log("duplex got", c.toString()); cb(); } });
    d.write("to duplex");
    d.end();
    const dchunks = [];
    for await (const c of d) dchunks.push(c.toString());
    log("duplex", dchunks);
    // finished on error, destroy
    const broken = new Readable({ read() { this.destroy(new Error("broken")); } });
    const ferr = await new Promise((resolve) => { finished(broken, (e) => resolve(e)); broken.resume(); });
    log("finished", ferr?.message, broken.destroyed);
    // write after end
    const ended = new Writable({ write(c, e, cb) { cb(); } });
    ended.end();
    const wae = await new Promise((resolve) => { ended.on("error", resolve); ended.write("late"); });
    log("write after end", wae.code);
    // to and from Web streams
    const web = Readable.toWeb(Readable.from([Buffer.from("w1"), Buffer.from("w2")]));
    const text = await new Response(web).text();
    const back = [];
    for await (const c of Readable.fromWeb(new Response("body text").body)) back.push(Buffer.from(c).toString());
    log("web", text, back.join(""));
    log("classes", Stream === Stream.Stream, Stream.Readable === Readable, new PassThrough() instanceof Transform, new Transform() instanceof Duplex, new Duplex() instanceof Readable, new Duplex() instanceof Writable, typeof Stream.pipeline);
    // Pushing undefined or "" adds nothing and does not end the stream.
    const parts = ["a", undefined, "", "b"];
    const sparse = new Readable({ read() { if (parts.length === 0) this.push(null); else this.push(parts.shift()); } });
    log("consumers", await consumeText(sparse), await json(Readable.from(['{"k":', "[1]}"])), (await buffer(Readable.from([Buffer.from("xy")]))).toString("hex"));
    return new Response(out.join("\n"));
  },
};
