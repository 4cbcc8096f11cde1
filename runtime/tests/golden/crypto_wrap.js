// golden: cpuMs=2000
// ECDH, deriveKey, wrapKey/unwrapKey with AES-GCM, AES-KW and RSA-OAEP,
// AES-CTR counter wrap-around, AES-CBC, and a large input.
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const b64u = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const te = new TextEncoder();
const s = crypto.subtle;
const out = [];
const log = (...a) => out.push(a.join(" "));

async function derivedAndWrapped() {
  const oaep = await s.generateKey({ name: "RSA-OAEP", modulusLength: 512, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-1" }, true, ["wrapKey", "unwrapKey"]);
  const hmac = await s.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign", "verify"]);
  const jwk = await s.exportKey("jwk", hmac);
  log("HMAC jwk", jwk.kty, jwk.alg, jwk.key_ops.join("+"), jwk.ext, hmac.algorithm.length);

  const a = await s.generateKey({ name: "ECDH", namedCurve: "P-384" }, true, ["deriveBits", "deriveKey"]);
  const b = await s.generateKey({ name: "ECDH", namedCurve: "P-384" }, true, ["deriveBits"]);
  const ab = await s.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, null);
  const ba = await s.deriveBits({ name: "ECDH", public: a.publicKey }, b.privateKey, null);
  log("ECDH P-384 agree", hex(ab) === hex(ba), ab.byteLength, a.publicKey.usages.length);
  const aes = await s.deriveKey({ name: "ECDH", public: b.publicKey }, a.privateKey, { name: "AES-KW", length: 192 }, true, ["wrapKey", "unwrapKey"]);
  log("ECDH deriveKey", aes.algorithm.name, aes.algorithm.length, hex(await s.exportKey("raw", aes)) === hex(ab).slice(0, 48));

  // Wrap every kind of key and unwrap it again.
  const gcm = await s.generateKey({ name: "AES-GCM", length: 128 }, true, ["wrapKey", "unwrapKey", "encrypt"]);
  const iv = new Uint8Array(12);
  const wrappedJwk = await s.wrapKey("jwk", a.privateKey, gcm, { name: "AES-GCM", iv });
  const back = await s.unwrapKey("jwk", wrappedJwk, gcm, { name: "AES-GCM", iv }, { name: "ECDH", namedCurve: "P-384" }, true, ["deriveBits"]);
  log("unwrapped ECDH key agrees", hex(await s.deriveBits({ name: "ECDH", public: b.publicKey }, back, null)) === hex(ab));
  const wrappedRaw = await s.wrapKey("raw", gcm, aes, "AES-KW");
  const gcm2 = await s.unwrapKey("raw", wrappedRaw, aes, "AES-KW", "AES-GCM", true, ["encrypt"]);
  log("AES-KW", wrappedRaw.byteLength, hex(await s.exportKey("raw", gcm2)) === hex(await s.exportKey("raw", gcm)));
  const wrappedRsa = await s.wrapKey("raw", gcm, oaep.publicKey, { name: "RSA-OAEP" });
  const gcm3 = await s.unwrapKey("raw", wrappedRsa, oaep.privateKey, { name: "RSA-OAEP" }, { name: "AES-GCM" }, false, ["encrypt"]);
  log("RSA-OAEP unwrap", gcm3.algorithm.length, gcm3.extractable);

  // AES-CTR with an 8-bit counter that wraps in the middle of the message.
  const ctr = await s.importKey("raw", new Uint8Array(16).fill(7), "AES-CTR", false, ["encrypt", "decrypt"]);
  const counter = new Uint8Array(16).fill(0xff);
  const msg = new Uint8Array(40).map((_, i) => i);
  const c1 = await s.encrypt({ name: "AES-CTR", counter, length: 8 }, ctr, msg);
  const wrapped = new Uint8Array(16).fill(0xff);
  wrapped[15] = 0;
  const tail = await s.encrypt({ name: "AES-CTR", counter: wrapped, length: 8 }, ctr, msg.slice(16));
  log("AES-CTR counter wraps within its bits", hex(new Uint8Array(c1).slice(16)) === hex(tail),
    hex(await s.decrypt({ name: "AES-CTR", counter, length: 8 }, ctr, c1)) === hex(msg),
    await s.encrypt({ name: "AES-CTR", counter, length: 1 }, ctr, msg).then(() => "ok", (e) => e.name));
  const cbc = await s.importKey("raw", new Uint8Array(32), "AES-CBC", false, ["encrypt", "decrypt"]);
  const cbcCt = await s.encrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, cbc, msg);
  log("AES-CBC", cbcCt.byteLength, hex(await s.decrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, cbc, cbcCt)) === hex(msg));

  // A large input goes off the isolate's thread and comes back the same.
  const big = new Uint8Array(1 << 17).fill(1);
  const bigCt = await s.encrypt({ name: "AES-GCM", iv }, gcm, big);
  log("128 KiB AES-GCM", bigCt.byteLength, hex(await s.digest("SHA-256", big)).slice(0, 16));
}

export default {
  async fetch() {
    await derivedAndWrapped();
    return new Response(out.join("\n"));
  },
};
