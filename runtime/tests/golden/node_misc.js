// compatibilityDate: 2025-06-01
// compatibilityFlags: nodejs_compat
// text: GREETING = hello
// json: CONFIG = {"a":1}
import path from "node:path";
import { posix } from "path";
import url, { fileURLToPath, pathToFileURL, URL as NodeURL } from "node:url";
import { StringDecoder } from "node:string_decoder";
import process, { env, nextTick } from "node:process";
import crypto, { createHash, createHmac, randomBytes, timingSafeEqual, webcrypto, pbkdf2Sync, hkdfSync } from "node:crypto";
import { Buffer } from "node:buffer";

export default {
  async fetch(request, bindings) {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    const t = (f) => { try { return f(); } catch (e) { return `${e.name} ${e.code}: ${e.message}`; } };
    // path
    log(path.join("/a/b", "../c", "./d/"), path.join(""), path.normalize("a//b/../../.."), path.normalize("/../x/."), path.resolve("a", "/b", "c"), path.resolve("x"));
    log(path.relative("/a/b/c", "/a/d"), path.relative("/a", "/a"), path.dirname("/a/b/"), path.dirname("a"), path.dirname("/"), path.basename("/a/b.txt", ".txt"), path.basename("/a/b/"), path.extname("x.tar.gz"), path.extname(".bashrc"), path.extname("a."));
    log(path.parse("/home/u/file.txt"), path.format({ dir: "/x", name: "f", ext: "js" }), path.isAbsolute("/x"), path.isAbsolute("x"), path.sep, path.delimiter, posix === path.posix, t(() => path.join(1)));
    // url
    log(fileURLToPath("file:///a/b%20c"), pathToFileURL("/a b#c").href, NodeURL === URL, url.resolve("http://x.com/a/b", "../c"), url.resolve("/one/two", "three"));
    const p = url.parse("https://user:pw@Example.com:8080/p/a?x=1&y=2#h", true);
    log(p.protocol, p.auth, p.host, p.hostname, p.port, p.pathname, p.search, p.query, p.hash, p.path, p.href);
    log(url.format({ protocol: "http", hostname: "h.com", pathname: "/x", query: { a: "1 2" } }), url.format(new URL("http://a.com/b?c#d"), { fragment: false }), url.domainToASCII("EXAMPLE.com"), t(() => fileURLToPath("http://x")));
    // string_decoder
    const d = new StringDecoder("utf8");
    const euro = Buffer.from("€");
    log(d.write(euro.subarray(0, 1)), d.write(euro.subarray(1)), d.end(), new StringDecoder("hex").write(Buffer.from([1, 255])));
    const b64 = new StringDecoder("base64");
    log(b64.write(Buffer.from("ab")), b64.write(Buffer.from("c")), b64.end(Buffer.from("d")), new StringDecoder("utf16le").end(Buffer.from([0x41, 0, 0x42])), t(() => new StringDecoder("nope")));
    const partial = new StringDecoder();
    log(partial.write(Buffer.from([0xe2, 0x82])), partial.end());
    // process
    log(process === globalThis.process, env.GREETING, env.CONFIG, process.env.NONE, process.platform, typeof process.getBuiltinModule("node:path").join, process.getBuiltinModule("fs"));
    const order = [];
    nextTick(() => order.push("tick"));
    Promise.resolve().then(() => order.push("promise"));
    order.push("sync");
    await new Promise((r) => setTimeout(r, 0));
    log(order, typeof process.exit);
    // crypto
    log(createHash("sha256").update("abc").digest("hex"), createHash("SHA1").update("a").update(Buffer.from("bc")).digest("base64"));
    log(createHmac("sha256", "key").update("The quick brown fox jumps over the lazy dog").digest("hex"));
    log(createHash("sha512").update("").digest().length, crypto.hash("sha1", "abc"), t(() => createHash("nope")), t(() => { const h = createHash("sha256"); h.digest(); h.digest(); }));
    const h = createHash("sha256").update("ab");
    const copy = h.copy().update("c");
    log(h.digest("hex") !== copy.digest("hex"), randomBytes(8).length, Buffer.isBuffer(randomBytes(1)), typeof crypto.randomUUID(), webcrypto === globalThis.crypto, crypto.subtle === globalThis.crypto.subtle);
    log(timingSafeEqual(Buffer.from("ab"), Buffer.from("ab")), timingSafeEqual(Buffer.from("ab"), Buffer.from("ac")), t(() => timingSafeEqual(Buffer.from("a"), Buffer.from("ab"))));
    log(pbkdf2Sync("password", "salt", 2, 20, "sha1").toString("hex"), Buffer.from(hkdfSync("sha256", "key", "salt", "info", 16)).toString("hex"));
    log(createHash("md5").update("The quick brown fox jumps over the lazy dog").digest("hex"), crypto.hash("md5", ""), createHash("md5").update("a").copy().update("b").digest("base64"));
    const n = crypto.randomInt(5, 10);
    log(n >= 5 && n < 10, crypto.getHashes().includes("sha256"));
    return new Response(out.join("\n"));
  },
};
