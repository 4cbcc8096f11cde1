// compatibilityDate: 2024-09-23
// compatibilityFlags: nodejs_compat
import crypto from "node:crypto";
import { Buffer } from "node:buffer";
export default {
  async fetch() {
    const log = [];
    const t = (name, f) => { try { log.push(`${name}: ${f()}`); } catch (e) { log.push(`${name}: ${e.name} ${e.code ?? ""} ${e.message}`); } };
    const key16 = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");
    const key32 = Buffer.alloc(32, 7);
    const iv16 = Buffer.from("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", "hex");
    const iv12 = Buffer.alloc(12, 9);
    const text = "The quick brown fox jumps over the lazy dog, twice over.";
    for (const alg of ["aes-128-cbc", "aes-256-cbc", "aes-128-ctr", "aes-256-ctr"]) {
      const key = alg.includes("128") ? key16 : key32;
      t(`${alg} one`, () => { const c = crypto.createCipheriv(alg, key, iv16); return c.update(text, "utf8", "hex") + c.final("hex"); });
      t(`${alg} parts`, () => {
        const c = crypto.createCipheriv(alg, key, iv16);
        const parts = [c.update(text.slice(0, 5), "utf8"), c.update(text.slice(5, 21), "utf8"), c.update(text.slice(21), "utf8")].map((b) => b.length);
        const f = c.final();
        return `${parts.join(",")} final ${f.length}`;
      });
      t(`${alg} round`, () => {
        const c = crypto.createCipheriv(alg, key, iv16);
        const ct = Buffer.concat([c.update(text, "utf8"), c.final()]);
        const d = crypto.createDecipheriv(alg, key, iv16);
        const parts = [d.update(ct.subarray(0, 7)), d.update(ct.subarray(7, 32)), d.update(ct.subarray(32))];
        return `${parts.map((p) => p.length).join(",")} ${Buffer.concat([...parts, d.final()]).toString()}`;
      });
    }
    for (const alg of ["aes-128-gcm", "aes-256-gcm"]) {
      const key = alg.includes("128") ? key16 : key32;
      t(`${alg}`, () => {
        const c = crypto.createCipheriv(alg, key, iv12);
        c.setAAD(Buffer.from("header"));
        const a = c.update(text.slice(0, 10), "utf8");
        const b = c.update(text.slice(10), "utf8");
        const f = c.final();
        const tag = c.getAuthTag();
        const d = crypto.createDecipheriv(alg, key, iv12);
        d.setAAD(Buffer.from("header"));
        d.setAuthTag(tag);
        const pt = Buffer.concat([d.update(Buffer.concat([a, b, f])), d.final()]);
        return `${a.length},${b.length},${f.length} ${Buffer.concat([a, b]).toString("hex")} tag ${tag.toString("hex")} ${pt.toString()}`;
      });
      t(`${alg} tampered`, () => {
        const c = crypto.createCipheriv(alg, key, iv12);
        const ct = Buffer.concat([c.update(text, "utf8"), c.final()]);
        const tag = c.getAuthTag();
        ct[0] ^= 1;
        const d = crypto.createDecipheriv(alg, key, iv12);
        d.setAuthTag(tag);
        d.update(ct);
        return d.final().length;
      });
    }
    t("gcm short tag", () => { const c = crypto.createCipheriv("aes-128-gcm", key16, iv12, { authTagLength: 8 }); c.update("x", "utf8"); c.final(); return c.getAuthTag().toString("hex"); });
    t("gcm 16-byte iv", () => { const c = crypto.createCipheriv("aes-128-gcm", key16, iv16); return c.update("abc", "utf8", "hex") + "|" + c.final("hex") + "|" + c.getAuthTag().toString("hex"); });
    t("cbc nopad", () => { const c = crypto.createCipheriv("aes-128-cbc", key16, iv16); c.setAutoPadding(false); const ct = Buffer.concat([c.update(Buffer.alloc(32, 1)), c.final()]); const d = crypto.createDecipheriv("aes-128-cbc", key16, iv16); d.setAutoPadding(false); return ct.toString("hex") + " " + Buffer.concat([d.update(ct), d.final()]).toString("hex"); });
    t("cbc nopad partial", () => { const c = crypto.createCipheriv("aes-128-cbc", key16, iv16); c.setAutoPadding(false); c.update(Buffer.alloc(5)); return c.final().length; });
    t("cbc bad decrypt", () => { const d = crypto.createDecipheriv("aes-128-cbc", key16, iv16); d.update(Buffer.alloc(16, 3)); return d.final().length; });
    t("bad key", () => crypto.createCipheriv("aes-128-cbc", Buffer.alloc(15), iv16));
    t("bad iv", () => crypto.createCipheriv("aes-128-cbc", key16, Buffer.alloc(8)));
    t("unknown", () => crypto.createCipheriv("des-ede3", key16, iv16));
    t("getAuthTag early", () => crypto.createCipheriv("aes-128-gcm", key16, iv12).getAuthTag());
    t("ciphers", () => ["aes-128-gcm", "aes-256-cbc", "aes-192-ctr"].every((n) => crypto.getCiphers().includes(n)));
    t("string key", () => { const c = crypto.createCipheriv("aes-128-ctr", "0123456789abcdef", iv16); return c.update("hi", "utf8", "base64") + c.final("base64"); });
    return new Response(log.join("\n"));
  },
};
