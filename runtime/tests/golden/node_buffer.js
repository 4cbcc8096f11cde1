// compatibilityDate: 2025-06-01
// compatibilityFlags: nodejs_compat
import { Buffer, isUtf8, isAscii, kMaxLength, constants } from "node:buffer";
import * as bufferModule from "buffer";

export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    const t = (f) => { try { return f(); } catch (e) { return `${e.name}: ${e.code}: ${e.message}`; } };
    log(typeof Buffer, globalThis.Buffer === Buffer, bufferModule.Buffer === Buffer, kMaxLength === constants.MAX_LENGTH);
    const b = Buffer.from("héllo wörld €𝄞");
    for (const enc of ["utf8", "hex", "base64", "base64url", "latin1", "binary", "ascii", "utf16le", "ucs2"]) {
      const s = b.toString(enc);
      log(enc, s, Buffer.byteLength(s, enc), Buffer.from(s, enc).equals(b));
    }
    log(Buffer.from("aGVsbG8gd29ybGQ", "base64").toString(), Buffer.from("_-8", "base64url").toString("hex"), Buffer.from("_-8", "base64").toString("hex"));
    log(Buffer.from("zz00ff", "hex").length, Buffer.from("00fg", "hex").toString("hex"), Buffer.from("a b\nc=d", "base64").toString("hex"));
    log(b.toString("utf8", 1, 5), b.toString("hex", -3, 2), b.toString(undefined, 0, 1));
    log(Buffer.byteLength("€"), Buffer.byteLength("\ud83d"), Buffer.byteLength(new Uint8Array(7)), Buffer.byteLength("abcd", "base64"), Buffer.byteLength("ab==", "base64"));
    log(Buffer.concat([Buffer.from("ab"), new Uint8Array([99]), Buffer.alloc(0)]).toString(), Buffer.concat([Buffer.from("abcdef")], 3).toString(), Buffer.concat([Buffer.from("ab")], 4).toString("hex"));
    log(Buffer.compare(Buffer.from("a"), Buffer.from("b")), Buffer.compare(Buffer.from("b"), Buffer.from("a")), Buffer.compare(Buffer.from("ab"), Buffer.from("a")), Buffer.from("abc").compare(Buffer.from("xbcx"), 1, 3, 1));
    log(Buffer.alloc(4, "ab").toString(), Buffer.alloc(3, 257).toString("hex"), Buffer.alloc(5, "aGk=", "base64").toString(), Buffer.allocUnsafe(3).length);
    const sub = b.subarray(1, 4);
    sub[0] = 0x41;
    log(b[1], sub instanceof Buffer, b.slice(0, 2).toString("hex"), sub.buffer === b.buffer);
    const w = Buffer.alloc(32);
    log(w.writeUInt8(255, 0), w.writeInt8(-2, 1), w.writeUInt16LE(0x1234, 2), w.writeUInt16BE(0x1234, 4), w.writeInt32LE(-5, 6), w.writeUInt32BE(0xdeadbeef, 10));
    log(w.writeFloatLE(1.5, 14), w.writeDoubleBE(-0.25, 18), w.writeBigInt64LE(-3n, 26 - 2) , w.writeUIntBE(0x123456, 29, 3));
    log(w.toString("hex"));
    log(w.readUInt8(0), w.readInt8(1), w.readUInt16LE(2), w.readUInt16BE(4), w.readInt32LE(6), w.readUInt32BE(10).toString(16), w.readFloatLE(14), w.readDoubleBE(18));
    log(String(w.readBigInt64LE(24)), w.readUIntBE(29, 3).toString(16), w.readIntLE(6, 2), w.readUint16LE(2));
    log(t(() => w.readUInt32LE(30)), t(() => w.writeUInt8(256, 0)), t(() => w.writeInt16LE(1, 1.5)), t(() => Buffer.alloc(2).readInt8(2)));
    log(t(() => Buffer.from("x", "nope")), t(() => Buffer.from(5)), Buffer.isEncoding("UTF-8"), Buffer.isEncoding("nope"), Buffer.isBuffer(new Uint8Array(1)), Buffer.isBuffer(b));
    log(Buffer.from([1, 2, 256, -1]).toJSON(), JSON.stringify(Buffer.from("hi")));
    log(Buffer.from("hello world").indexOf("o"), Buffer.from("hello world").lastIndexOf("o"), Buffer.from("hello").includes("ell"), Buffer.from("hello").indexOf(108, 3), Buffer.from("hello").indexOf(Buffer.from("lo")));
    const ab = new ArrayBuffer(8);
    const v = Buffer.from(ab, 2, 4);
    v[0] = 9;
    log(new Uint8Array(ab)[2], v.length, v.byteOffset);
    const c = Buffer.from("abcdef");
    log(c.copy(w, 0, 2, 4), w.toString("utf8", 0, 2), c.write("XY", 1), c.toString(), c.write("zz", 5, "latin1"), c.toString(), c.write("00ff", 0, "hex"), c.toString("hex"));
    log(Buffer.from("ab").fill("xyz").toString(), Buffer.from("abcd").swap16().toString(), Buffer.from(new Uint16Array([1, 2])).toString("hex"));
    log(isUtf8(Buffer.from([0xc3, 0xa9])), isUtf8(Buffer.from([0xc3])), isAscii(Buffer.from("abc")), isAscii(Buffer.from("é")));
    log(Buffer.from([0xff, 0xfe, 0x41]).toString(), Buffer.from("\ud800x").toString("hex"), Buffer.from("é").toString("ascii"));
    log(Buffer(3).length, new Buffer("ab").toString(), Buffer.from(Buffer.from("copy")).toString(), [...Buffer.from("ab").entries()].join("|"));
    log(Buffer.from("abc").map((x) => x + 1) instanceof Buffer, Buffer.from("abc").reverse().toString(), Object.prototype.toString.call(b));
    return new Response(out.join("\n"));
  },
};
