// CompressionStream / DecompressionStream: round trips, chunking, errors.
async function collect(readable) {
  const chunks = [];
  let n = 0;
  for await (const c of readable) { chunks.push(c); n += c.byteLength; }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}
async function roundTrip(format, text, split) {
  const input = new TextEncoder().encode(text);
  const cs = new CompressionStream(format);
  const w = cs.writable.getWriter();
  for (let i = 0; i < input.length; i += split) w.write(input.slice(i, i + split));
  w.close();
  const packed = await collect(cs.readable);
  const ds = new DecompressionStream(format);
  const w2 = ds.writable.getWriter();
  for (let i = 0; i < packed.length; i += 7) w2.write(packed.slice(i, i + 7));
  w2.close();
  const back = new TextDecoder().decode(await collect(ds.readable));
  return back === text;
}
export default {
  async fetch() {
    for (const f of ["gzip", "deflate", "deflate-raw", "brotli"]) {
      console.log(f, "small", await roundTrip(f, "hello hello hello", 3));
      console.log(f, "large", await roundTrip(f, "abcdefghij".repeat(2000), 4096));
    }
    // gzip of "a012" from the WPT data
    const gz = new Uint8Array([31, 139, 8, 0, 0, 0, 0, 0, 0, 3, 75, 52, 48, 52, 2, 0, 216, 252, 63, 136, 4, 0, 0, 0]);
    const ds = new DecompressionStream("gzip");
    const w = ds.writable.getWriter();
    w.write(gz); w.close();
    console.log("a012:", new TextDecoder().decode(await collect(ds.readable)));
    // Truncated input: the readable errors with a TypeError.
    for (const [name, bytes] of [["truncated", gz.slice(0, 12)], ["bad crc", gz.map((b, i) => i === 18 ? b ^ 1 : b)], ["junk", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])], ["trailing", new Uint8Array([...gz, 0])]]) {
      const d = new DecompressionStream("gzip");
      const wr = d.writable.getWriter();
      wr.write(bytes).catch(() => {});
      wr.close().catch(() => {});
      try { await collect(d.readable); console.log(name, "no error"); } catch (e) { console.log(name, e.constructor.name, e.message); }
    }
    // A bomb: 1 MiB of compressed zeros read chunk by chunk stays in bounded chunks.
    const cs = new CompressionStream("gzip");
    const cw = cs.writable.getWriter();
    cw.write(new Uint8Array(300 * 1024)); cw.close();
    const packed = await collect(cs.readable);
    const d2 = new DecompressionStream("gzip");
    const w2 = d2.writable.getWriter();
    w2.write(packed); w2.close();
    let max = 0, total = 0;
    for await (const c of d2.readable) { max = Math.max(max, c.byteLength); total += c.byteLength; }
    console.log("bomb:", packed.length < 2000, total, max <= 65536);
    try { new CompressionStream("br"); } catch (e) { console.log("br:", e.constructor.name); }
    // brotli: what Content-Encoding "br" is; a corrupt stream errors.
    const bd = new DecompressionStream("brotli");
    const bw = bd.writable.getWriter();
    bw.write(new Uint8Array([0xff, 0xff, 0xff, 0xff])).catch(() => {});
    bw.close().catch(() => {});
    try { await collect(bd.readable); console.log("brotli junk: no error"); } catch (e) { console.log("brotli junk:", e.constructor.name, e.message); }
    try { new DecompressionStream(); } catch (e) { console.log("none:", e.constructor.name); }
    try { const c = new CompressionStream("gzip"); const wr = c.writable.getWriter(); await wr.write("text"); } catch (e) { console.log("string chunk:", e.constructor.name); }
    return new Response("ok");
  },
};
