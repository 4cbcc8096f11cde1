// compatibilityDate: 2025-09-20
// compatibilityFlags: nodejs_compat
import zlib from "node:zlib";
import { Buffer } from "node:buffer";

export default {
  async fetch(request) {
    const text = "isoproxy ".repeat(50);
    for (const [c, d] of [["deflateSync", "inflateSync"], ["gzipSync", "gunzipSync"], ["deflateRawSync", "inflateRawSync"], ["brotliCompressSync", "brotliDecompressSync"], ["gzipSync", "unzipSync"]]) {
      const packed = zlib[c](text);
      const back = zlib[d](packed).toString();
      console.log(c, d, Buffer.isBuffer(packed), packed.length < text.length, back === text);
    }
    console.log("gzip magic", zlib.gzipSync("x").subarray(0, 2).toString("hex"));
    console.log("deflate header", zlib.deflateSync("x").subarray(0, 1).toString("hex"));
    try { zlib.inflateSync(Buffer.from("not deflate")); } catch (e) { console.log("bad input throws", e instanceof Error, typeof e.code); }
    const viaCallback = await new Promise((resolve) => zlib.gzip(text, (err, out) => resolve(zlib.gunzipSync(out).toString() === text && err === null)));
    console.log("callback", viaCallback);
    const streamed = await new Promise((resolve, reject) => {
      const gz = zlib.createGzip();
      const gunz = zlib.createGunzip();
      const parts = [];
      gunz.on("data", (c) => parts.push(c)).on("end", () => resolve(Buffer.concat(parts).toString())).on("error", reject);
      gz.pipe(gunz);
      gz.write(text.slice(0, 100));
      gz.end(text.slice(100));
    });
    console.log("stream", streamed === text);
    console.log("crc32", zlib.crc32("hello"), zlib.crc32("world", zlib.crc32("hello ")));
    console.log("constants", zlib.constants.Z_BEST_COMPRESSION, zlib.Z_SYNC_FLUSH);
    return new Response("ok");
  },
};
