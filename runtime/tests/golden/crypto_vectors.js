// golden: cpuMs=2000
// crypto.subtle against published test vectors (NIST GCM, RFC 5869 HKDF,
// RFC 6070 PBKDF2, RFC 8032 Ed25519, RFC 7748 X25519), and CryptoKey and
// DigestStream objects.
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const b64u = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const te = new TextEncoder();
const s = crypto.subtle;
const out = [];
const log = (...a) => out.push(a.join(" "));

async function vectors() {
  const gcm = await s.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt", "decrypt"]);
  const ct = await s.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, gcm, new Uint8Array(16));
  log("NIST GCM case 2", hex(ct) === "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
  const short = await s.encrypt({ name: "AES-GCM", iv: new Uint8Array(12), tagLength: 64 }, gcm, new Uint8Array(16));
  log("GCM 64-bit tag is the prefix", hex(short) === hex(ct).slice(0, 48), hex(await s.decrypt({ name: "AES-GCM", iv: new Uint8Array(12), tagLength: 64 }, gcm, short)) === "0".repeat(32));

  const ikm = await s.importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits"]);
  const okm = await s.deriveBits({ name: "HKDF", hash: "SHA-256", salt: unhex("000102030405060708090a0b0c"), info: unhex("f0f1f2f3f4f5f6f7f8f9") }, ikm, 42 * 8);
  log("RFC 5869 case 1", hex(okm) === "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

  const pw = await s.importKey("raw", te.encode("password"), "PBKDF2", false, ["deriveBits"]);
  const dk = await s.deriveBits({ name: "PBKDF2", hash: "SHA-1", salt: te.encode("salt"), iterations: 2 }, pw, 160);
  log("RFC 6070 case 2", hex(dk) === "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");

  const seed = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const pub = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const edPriv = await s.importKey("jwk", { kty: "OKP", crv: "Ed25519", d: b64u(seed), x: b64u(pub) }, "Ed25519", true, ["sign"]);
  const edSig = await s.sign("Ed25519", edPriv, new Uint8Array(0));
  log("RFC 8032 test 1", hex(edSig) === "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  const edPub = await s.importKey("raw", pub, "Ed25519", true, ["verify"]);
  log("Ed25519 verify", await s.verify("Ed25519", edPub, edSig, new Uint8Array(0)), await s.verify("Ed25519", edPub, edSig, new Uint8Array(1)));

  const alice = await s.importKey("jwk", { kty: "OKP", crv: "X25519", d: b64u(unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")), x: b64u(unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")) }, "X25519", false, ["deriveBits"]);
  const bob = await s.importKey("raw", unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), "X25519", false, []);
  const shared = await s.deriveBits({ name: "X25519", public: bob }, alice, 256);
  log("RFC 7748 6.1", hex(shared) === "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  log("X25519 first 12 bits", hex(await s.deriveBits({ name: "X25519", public: bob }, alice, 12)));

  log("MD5", hex(await s.digest("MD5", te.encode("abc"))));
  // JWK members and alg as workerd writes them.
  const edJwk = await s.exportKey("jwk", edPriv);
  log("Ed25519 jwk", Object.keys(edJwk).sort().join(","), edJwk.alg, edJwk.x === b64u(pub), edJwk.d === b64u(seed));
  const ec = await s.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  log("ECDSA public jwk", Object.keys(await s.exportKey("jwk", ec.publicKey)).sort().join(","));
  const xJwk = await s.exportKey("jwk", await s.importKey("raw", unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), "X25519", true, []));
  log("X25519 public jwk", Object.keys(xJwk).sort().join(","), xJwk.crv, xJwk.key_ops.length);
}

async function keyObjects() {
  const k = await s.generateKey({ name: "HMAC", hash: "SHA-256", length: 100 }, false, ["verify", "sign", "sign"]);
  log("CryptoKey", Object.prototype.toString.call(k), k.algorithm === k.algorithm, k.usages === k.usages, k.usages.join("+"), k.algorithm.length, k.algorithm.hash.name);
  k.algorithm.name = "changed";
  log("algorithm object is kept", k.algorithm.name);
  const d = new crypto.DigestStream("SHA-1");
  const w = d.getWriter();
  await w.write("ab");
  await w.write(new Uint8Array([99]));
  await w.close();
  log("DigestStream", hex(await d.digest));
}

export default {
  async fetch() {
    await vectors();
    await keyObjects();
    return new Response(out.join("\n"));
  },
};
