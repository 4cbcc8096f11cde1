// golden: cpuMs=2000
// The exception each crypto.subtle misuse raises, per algorithm. The same
// script runs unchanged on workerd; the names must agree with it (see the
// README's crypto section for where they do not).
const te = new TextEncoder();
const data = te.encode("data");
const out = [];
async function expect(label, f) {
  try {
    const r = await f();
    out.push(`${label}: ok ${r instanceof ArrayBuffer ? r.byteLength : typeof r === "object" ? r?.constructor?.name : r}`);
  } catch (e) {
    out.push(`${label}: ${e?.name}`);
  }
}
const s = crypto.subtle;

export default {
  async fetch() {
    // Normalisation: unknown names, missing members, bad member types.
    await expect("digest SHA-3", () => s.digest("SHA-3", data));
    await expect("digest no name", () => s.digest({}, data));
    await expect("digest number", () => s.digest(5, data));
    await expect("digest data string", () => s.digest("SHA-256", "abc"));
    await expect("digest MD5", () => s.digest("MD5", data));
    await expect("generateKey RSA", () => s.generateKey({ name: "RSA", hash: "SHA-256" }, true, ["sign"]));
    await expect("generateKey HMAC no hash", () => s.generateKey({ name: "HMAC" }, true, ["sign"]));
    await expect("generateKey HMAC hash MD5", () => s.generateKey({ name: "HMAC", hash: "MD5" }, true, ["sign"]));
    await expect("generateKey AES-GCM length 100", () => s.generateKey({ name: "AES-GCM", length: 100 }, true, ["encrypt"]));
    await expect("generateKey AES-GCM no length", () => s.generateKey({ name: "AES-GCM" }, true, ["encrypt"]));
    await expect("generateKey AES-GCM usage sign", () => s.generateKey({ name: "AES-GCM", length: 128 }, true, ["sign"]));
    await expect("generateKey AES-GCM no usages", () => s.generateKey({ name: "AES-GCM", length: 128 }, true, []));
    await expect("generateKey AES-GCM usage bogus", () => s.generateKey({ name: "AES-GCM", length: 128 }, true, ["bogus"]));
    await expect("generateKey ECDSA P-512", () => s.generateKey({ name: "ECDSA", namedCurve: "P-512" }, true, ["sign"]));
    await expect("generateKey ECDSA verify only", () => s.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]));
    await expect("generateKey RSA-PSS exponent 5", () => s.generateKey({ name: "RSA-PSS", hash: "SHA-256", modulusLength: 1024, publicExponent: new Uint8Array([5]) }, true, ["sign"]));
    await expect("generateKey RSA 32768 bits", () => s.generateKey({ name: "RSA-OAEP", hash: "SHA-256", modulusLength: 32768, publicExponent: new Uint8Array([1, 0, 1]) }, true, ["decrypt"]));
    await expect("generateKey RSA 255 bits", () => s.generateKey({ name: "RSA-OAEP", hash: "SHA-256", modulusLength: 255, publicExponent: new Uint8Array([1, 0, 1]) }, true, ["decrypt"]));
    await expect("generateKey Ed448", () => s.generateKey({ name: "Ed448" }, true, ["sign"]));

    // HMAC
    const hmac = await s.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    await expect("HMAC verify without usage", () => s.verify("HMAC", hmac, new Uint8Array(32), data));
    await expect("HMAC sign as ECDSA", () => s.sign({ name: "ECDSA", hash: "SHA-256" }, hmac, data));
    await expect("HMAC export non-extractable", () => s.exportKey("raw", hmac));
    await expect("HMAC import empty", () => s.importKey("raw", new Uint8Array(0), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]));
    await expect("HMAC import jwk kty RSA", () => s.importKey("jwk", { kty: "RSA", k: "AAAA" }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]));
    await expect("HMAC import jwk wrong alg", () => s.importKey("jwk", { kty: "oct", k: "AAAAAAAA", alg: "HS512" }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]));
    await expect("HMAC import spki", () => s.importKey("spki", new Uint8Array(8), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]));
    await expect("HMAC import format bogus", () => s.importKey("bogus", new Uint8Array(8), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]));
    await expect("HMAC import jwk from bytes", () => s.importKey("jwk", new Uint8Array(8), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]));
    await expect("HMAC sign non-key", () => s.sign("HMAC", {}, data));

    // AES
    const gcm = await s.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
    const iv = new Uint8Array(12);
    const ct = await s.encrypt({ name: "AES-GCM", iv }, gcm, data);
    await expect("AES-GCM decrypt", () => s.decrypt({ name: "AES-GCM", iv }, gcm, ct));
    await expect("AES-GCM decrypt tampered", () => { const t = new Uint8Array(ct); t[0] ^= 1; return s.decrypt({ name: "AES-GCM", iv }, gcm, t); });
    await expect("AES-GCM decrypt short", () => s.decrypt({ name: "AES-GCM", iv }, gcm, new Uint8Array(4)));
    await expect("AES-GCM no iv", () => s.encrypt({ name: "AES-GCM" }, gcm, data));
    await expect("AES-GCM tagLength 100", () => s.encrypt({ name: "AES-GCM", iv, tagLength: 100 }, gcm, data));
    await expect("AES-GCM as AES-CBC", () => s.encrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, gcm, data));
    await expect("AES-GCM sign", () => s.sign("AES-GCM", gcm, data));
    await expect("AES import 20 bytes", () => s.importKey("raw", new Uint8Array(20), "AES-GCM", true, ["encrypt"]));
    await expect("AES import jwk alg mismatch", () => s.importKey("jwk", { kty: "oct", k: "AAAAAAAAAAAAAAAAAAAAAA", alg: "A256GCM" }, "AES-GCM", true, ["encrypt"]));
    await expect("AES export spki", () => s.exportKey("spki", gcm));
    const cbc = await s.importKey("raw", new Uint8Array(16), "AES-CBC", false, ["decrypt"]);
    await expect("AES-CBC iv 8 bytes", () => s.decrypt({ name: "AES-CBC", iv: new Uint8Array(8) }, cbc, new Uint8Array(16)));
    await expect("AES-CBC bad padding", () => s.decrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, cbc, new Uint8Array(16)));
    const ctr = await s.importKey("raw", new Uint8Array(16), "AES-CTR", false, ["encrypt"]);
    await expect("AES-CTR length 0", () => s.encrypt({ name: "AES-CTR", counter: new Uint8Array(16), length: 0 }, ctr, data));
    await expect("AES-CTR counter 8 bytes", () => s.encrypt({ name: "AES-CTR", counter: new Uint8Array(8), length: 64 }, ctr, data));
    const kw = await s.importKey("raw", new Uint8Array(16), "AES-KW", false, ["wrapKey", "unwrapKey"]);
    await expect("AES-KW unwrap garbage", () => s.unwrapKey("raw", new Uint8Array(24), kw, "AES-KW", "AES-GCM", true, ["encrypt"]));
    await expect("AES-KW wrap non-extractable", () => s.wrapKey("raw", cbc, kw, "AES-KW"));
    await expect("AES-KW wrap 10 bytes", async () => s.wrapKey("raw", await s.importKey("raw", new Uint8Array(10), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]), kw, "AES-KW"));

    // RSA
    const rsa = await s.generateKey({ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength: 512, publicExponent: new Uint8Array([1, 0, 1]) }, false, ["sign", "verify"]);
    await expect("RSASSA sign with public", () => s.sign("RSASSA-PKCS1-v1_5", rsa.publicKey, data));
    await expect("RSASSA verify short sig", () => s.verify("RSASSA-PKCS1-v1_5", rsa.publicKey, new Uint8Array(3), data));
    await expect("RSASSA as RSA-PSS", () => s.sign({ name: "RSA-PSS", saltLength: 32 }, rsa.privateKey, data));
    await expect("RSA-PSS no saltLength", () => s.sign({ name: "RSA-PSS" }, rsa.privateKey, data));
    const pss = await s.generateKey({ name: "RSA-PSS", hash: "SHA-256", modulusLength: 512, publicExponent: new Uint8Array([1, 0, 1]) }, false, ["sign", "verify"]);
    await expect("RSA-PSS saltLength 2^32-1", () => s.sign({ name: "RSA-PSS", saltLength: 4294967295 }, pss.privateKey, data));
    await expect("RSA-PSS saltLength too long", () => s.sign({ name: "RSA-PSS", saltLength: 31 }, pss.privateKey, data));
    await expect("RSA-PSS saltLength longest", () => s.sign({ name: "RSA-PSS", saltLength: 30 }, pss.privateKey, data));
    await expect("RSA-PSS verify saltLength 2^32-1", () => s.verify({ name: "RSA-PSS", saltLength: 4294967295 }, pss.publicKey, new Uint8Array(64), data));
    await expect("RSASSA export private spki", () => s.exportKey("spki", rsa.privateKey));
    await expect("RSASSA export public raw", () => s.exportKey("raw", rsa.publicKey));
    await expect("RSASSA export public spki", () => s.exportKey("spki", rsa.publicKey));
    await expect("RSASSA import raw", () => s.importKey("raw", new Uint8Array(8), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]));
    await expect("RSASSA import spki garbage", () => s.importKey("spki", new Uint8Array(8), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]));
    await expect("RSASSA import spki sign usage", () => s.importKey("spki", new Uint8Array(8), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["sign"]));
    await expect("RSASSA import jwk no n", () => s.importKey("jwk", { kty: "RSA", e: "AQAB" }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]));
    const oaep = await s.generateKey({ name: "RSA-OAEP", hash: "SHA-256", modulusLength: 512, publicExponent: new Uint8Array([1, 0, 1]) }, true, ["encrypt", "decrypt"]);
    await expect("RSA-OAEP decrypt garbage", () => s.decrypt("RSA-OAEP", oaep.privateKey, new Uint8Array(64)));
    await expect("RSA-OAEP encrypt with private", () => s.encrypt("RSA-OAEP", oaep.privateKey, data));
    await expect("RSA-OAEP encrypt too long", () => s.encrypt("RSA-OAEP", oaep.publicKey, new Uint8Array(200)));

    // EC
    const ec = await s.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    await expect("ECDSA sign no hash", () => s.sign({ name: "ECDSA" }, ec.privateKey, data));
    await expect("ECDSA sign with public", () => s.sign({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, data));
    await expect("ECDSA verify short sig", () => s.verify({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, new Uint8Array(10), data));
    await expect("ECDSA export private raw", () => s.exportKey("raw", ec.privateKey));
    await expect("ECDSA import raw garbage", () => s.importKey("raw", new Uint8Array(65), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]));
    await expect("ECDSA import spki on other curve", async () => s.importKey("spki", await s.exportKey("spki", ec.publicKey), { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"]));
    await expect("ECDSA import jwk crv mismatch", async () => s.importKey("jwk", await s.exportKey("jwk", ec.publicKey), { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"]));
    await expect("ECDSA import P-256K", () => s.importKey("raw", new Uint8Array(65), { name: "ECDSA", namedCurve: "P-256K" }, true, ["verify"]));
    const ecdh = await s.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const ecdh384 = await s.generateKey({ name: "ECDH", namedCurve: "P-384" }, true, ["deriveBits"]);
    await expect("ECDH curves differ", () => s.deriveBits({ name: "ECDH", public: ecdh384.publicKey }, ecdh.privateKey, 256));
    await expect("ECDH public is ECDSA", () => s.deriveBits({ name: "ECDH", public: ec.publicKey }, ecdh.privateKey, 256));
    await expect("ECDH public not a key", () => s.deriveBits({ name: "ECDH", public: {} }, ecdh.privateKey, 256));
    await expect("ECDH too many bits", () => s.deriveBits({ name: "ECDH", public: ecdh.publicKey }, ecdh.privateKey, 512));
    await expect("ECDH public usages", () => s.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["encrypt"]));

    // Ed25519 and X25519
    const ed = await s.generateKey("Ed25519", true, ["sign", "verify"]);
    await expect("Ed25519 sign with public", () => s.sign("Ed25519", ed.publicKey, data));
    await expect("Ed25519 verify short sig", () => s.verify("Ed25519", ed.publicKey, new Uint8Array(10), data));
    await expect("Ed25519 import raw 31 bytes", () => s.importKey("raw", new Uint8Array(31), "Ed25519", true, ["verify"]));
    await expect("Ed25519 import jwk crv X25519", () => s.importKey("jwk", { kty: "OKP", crv: "X25519", x: "AAAA" }, "Ed25519", true, ["verify"]));
    await expect("Ed25519 export private raw", () => s.exportKey("raw", ed.privateKey));
    const x = await s.generateKey("X25519", true, ["deriveBits"]);
    const zero = await s.importKey("raw", new Uint8Array(32), "X25519", true, []);
    await expect("X25519 small-order peer", () => s.deriveBits({ name: "X25519", public: zero }, x.privateKey, 256));
    await expect("X25519 with ECDH key", () => s.deriveBits({ name: "X25519", public: ecdh.publicKey }, x.privateKey, 256));

    // HKDF and PBKDF2
    const hk = await s.importKey("raw", data, "HKDF", false, ["deriveBits"]);
    await expect("HKDF extractable", () => s.importKey("raw", data, "HKDF", true, ["deriveBits"]));
    await expect("HKDF no length", () => s.deriveBits({ name: "HKDF", hash: "SHA-256", salt: data, info: data }, hk));
    await expect("HKDF length 12", () => s.deriveBits({ name: "HKDF", hash: "SHA-256", salt: data, info: data }, hk, 12));
    await expect("HKDF no info", () => s.deriveBits({ name: "HKDF", hash: "SHA-256", salt: data }, hk, 128));
    await expect("HKDF too long", () => s.deriveBits({ name: "HKDF", hash: "SHA-256", salt: data, info: data }, hk, 256 * 255 * 8));
    await expect("HKDF export", () => s.exportKey("raw", hk));
    await expect("HKDF deriveKey without usage", () => s.deriveKey({ name: "HKDF", hash: "SHA-256", salt: data, info: data }, hk, { name: "AES-GCM", length: 128 }, true, ["encrypt"]));
    const pb = await s.importKey("raw", data, "PBKDF2", false, ["deriveBits", "deriveKey"]);
    await expect("PBKDF2 iterations 0", () => s.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: data, iterations: 0 }, pb, 128));
    await expect("PBKDF2 iterations 100001", () => s.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: data, iterations: 100001 }, pb, 128));
    await expect("PBKDF2 import jwk", () => s.importKey("jwk", { kty: "oct", k: "AAAA" }, "PBKDF2", false, ["deriveBits"]));
    await expect("PBKDF2 deriveKey AES length 100", () => s.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: data, iterations: 1 }, pb, { name: "AES-GCM", length: 100 }, true, ["encrypt"]));
    await expect("PBKDF2 deriveKey HMAC", () => s.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: data, iterations: 1 }, pb, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]));

    // CryptoKey and the extensions
    await expect("new CryptoKey", () => new CryptoKey());
    await expect("timingSafeEqual lengths differ", () => s.timingSafeEqual(new Uint8Array(2), new Uint8Array(3)));
    await expect("timingSafeEqual equal", () => s.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
    await expect("timingSafeEqual differ", () => s.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
    await expect("DigestStream SHA-3", () => new crypto.DigestStream("SHA-3"));
    await expect("DigestStream SHA-256", async () => {
      const d = new crypto.DigestStream("SHA-256");
      const w = d.getWriter();
      await w.write(te.encode("ab"));
      await w.write(te.encode("c"));
      await w.close();
      const h = new Uint8Array(await d.digest);
      return [...h.slice(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
    });
    return new Response(out.join("\n"));
  },
};
