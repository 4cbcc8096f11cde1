// golden: cpuMs=2000
// EC and Ed25519 keys through export and import in every format they
// allow, with signatures crossing over.
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const b64u = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const te = new TextEncoder();
const s = crypto.subtle;
const out = [];
const log = (...a) => out.push(a.join(" "));

// Export a pair in every format it allows, import each again, and check
// that signatures cross over.
async function signRoundTrip(label, genAlg, importAlg, signAlg) {
  const pair = genAlg.name.startsWith("RSA") ? await rsaPair(importAlg) : await s.generateKey(genAlg, true, ["sign", "verify"]);
  const data = te.encode("round trip");
  const sig = await s.sign(signAlg, pair.privateKey, data);
  const formats = [["spki", "pkcs8"], ["jwk", "jwk"]];
  if (genAlg.name !== "RSASSA-PKCS1-v1_5" && genAlg.name !== "RSA-PSS") formats.push(["raw", null]);
  const results = [];
  for (const [pf, kf] of formats) {
    const pub = await s.importKey(pf, await s.exportKey(pf, pair.publicKey), importAlg, true, ["verify"]);
    results.push(await s.verify(signAlg, pub, sig, data));
    if (kf) {
      const priv = await s.importKey(kf, await s.exportKey(kf, pair.privateKey), importAlg, true, ["sign"]);
      results.push(await s.verify(signAlg, pair.publicKey, await s.sign(signAlg, priv, data), data));
    }
  }
  results.push(await s.verify(signAlg, pair.publicKey, sig, te.encode("other")));
  log(label, results.join(","), pair.privateKey.algorithm.name, pair.publicKey.type, pair.privateKey.usages.join("+"));
}

async function ec() {
  await signRoundTrip("ECDSA P-256 SHA-256", { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" });
  await signRoundTrip("ECDSA P-384 SHA-1", { name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-1" });
  await signRoundTrip("Ed25519", { name: "Ed25519" }, { name: "Ed25519" }, { name: "Ed25519" });
}

export default {
  async fetch() {
    await ec();
    return new Response(out.join("\n"));
  },
};
