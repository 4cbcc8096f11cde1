// golden: cpuMs=2000
// RSA keys through export and import in every format they allow, with
// signatures and RSA-OAEP ciphertexts crossing over.
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const b64u = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const te = new TextEncoder();
const s = crypto.subtle;
const out = [];
const log = (...a) => out.push(a.join(" "));

// A 2048-bit RSA key made with `openssl genpkey` (PKCS#8, base64): RSA key
// generation would take most of a request's CPU budget.
const RSA_PKCS8 = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDq2mooH004Gf0EVB5CmeAryFNhq7AoTbKNffd9tBUvgsxBTbr5es0XH3dGZ4iCEZxPwTkvxXd/KdF1cllmVvNdk2ZcuZ3XVmiajY3kinuWJuKA+55nYjBIc3J4bN0ahwd9epAZuRFaiMn45xwrnAQ1W9oueydfxQ7edAmrujK4dM1Hg6OcIqLFyvwO90oJhL9inE0qlbOyzPAS8mn9TKQnUHxJQ3YpnPe6YIFJ5j2+uJ4XFrFzKnFyo79lztHBEDusYcNUdcOqgUm7HyO+7euYGTkUockyz7ERYRPqrsDkmByNFx2f6p2I5vzrkDZFkzzOrRiTzNOcz12r3HgssRZ9AgMBAAECggEALxoPIGzmt9G+hRe52fGynBVZY8VjVzH+FZKmCHgNp7G79Xz5ev++El0lNuGc5zlQ+E3wgjxAcyiX8c41T+kwdhwR85bmqUGTSSwKwUNk9gBmfSf55RI0TNOaqbxru95JCkmCjSYo7NdyapEvfS+VSH5bi+b3RqXnDYaISgDWG1gvWGKUvbltfDa9ZnjRfoy4iT+BLBYwUm1mOU09dX8sbSm+BcuCu9uElAB2VUzSwxO6UDxP43dHtf9HFBQ0fVJop3DTdRhwutXOqcMZummmnIq1vgTEZT9RepltNeYCdadO02G6cEQnsTe6FMHLGRmgzbP9oy5XDib2NhU+qGS8oQKBgQD2lKeoykxuP9Ad12uos1/g3+gzKzUwwNwJrGmwcdjiJZnFrwkVVVRyC7k4ucTq9DpC79k6PSQaLJbd7Mfx7CpudYmxT8BkH2Ie3Ti0/n3kbyOBRkyI6q6yo0gz02q2dEdNj0CddqvjxPOlh7IbN7R+Iccxx2xIKhCzcL4F8eLfMwKBgQDz0xMxgQF1YybGlnhPZDOwbfrLFiNY3RtEsUGyyp8xLCFiAViYd3P8Q9LdkDl5H3DZ6FGQJTaUt4BlEajAo66u81kuunc/EhV6Vu6faeVVuYcz0Y5jJP+svzgKpA6+9EEj22R9AYpLqDor/KTs4JeoQFvxQQDVD2AAc+xWioPzjwKBgF9UX3FRLLVe9F3lH9kr6ABvcD0AEmNT3H3c60ts6FWeBdI4doGJ6MjioWw93dScMT4ZrljmtGNuI7GOzkpIbKshw+cKFy5eN7gI/Nh0n0VGdmqPPB2e5YVovQxUSyhY0gw5OtjlvVSkmzG+wWvmYGB3PKSRHdrUcHp/NufjeTujAoGBALZ+WXNH92uBFti0bsAdY4K+DmRK4ZH1jB9R/LZxac1IFoRgNYuIfMtniEBFXn8FxVWTyNh2we91mSgMm53z5R8VDL8o2W/ffSvgPSIcBIaxIjzqsAQNAUCurqdoO5E5CDhqUUAvEu+lrkSWCGszfs9zvF1KJfFSXKx6F35+llyJAoGBAKArPBpERP+CNLhGt/V/IqHijOzpN8yTrrGqH8xNHviQ1E11jDab6zouzfxrB5uGLLRxEf7AAkpupTp8MMkPZuVTE05OJU+U6DR83oiuqy0gY8X4jxnW6isopiBVlMo0rpohgW72JI+UUhrVl2RjequBeUoDb2lwcV6QnNRwj/mN";

async function rsaPair(alg) {
  const privateKey = await s.importKey("pkcs8", Uint8Array.from(atob(RSA_PKCS8), (c) => c.charCodeAt(0)), alg, true, ["sign"]);
  const { kty, n, e } = await s.exportKey("jwk", privateKey);
  const publicKey = await s.importKey("jwk", { kty, n, e }, alg, true, ["verify"]);
  return { privateKey, publicKey };
}

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

async function rsa() {
  await signRoundTrip("RS256", { name: "RSASSA-PKCS1-v1_5" }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, "RSASSA-PKCS1-v1_5");
  await signRoundTrip("PS256", { name: "RSA-PSS" }, { name: "RSA-PSS", hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 32 });
  await signRoundTrip("PSS salt 0", { name: "RSA-PSS" }, { name: "RSA-PSS", hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 0 });
  const oaep = await s.generateKey({ name: "RSA-OAEP", modulusLength: 512, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-1" }, true, ["encrypt", "decrypt", "wrapKey", "unwrapKey"]);
  const label = te.encode("label");
  const ct = await s.encrypt({ name: "RSA-OAEP", label }, oaep.publicKey, te.encode("secret"));
  log("RSA-OAEP", new TextDecoder().decode(await s.decrypt({ name: "RSA-OAEP", label }, oaep.privateKey, ct)), ct.byteLength,
    await s.decrypt({ name: "RSA-OAEP" }, oaep.privateKey, ct).then(() => "decrypted without the label", (e) => e.name));
  const pkcs8 = await s.exportKey("pkcs8", oaep.privateKey);
  const again = await s.importKey("pkcs8", pkcs8, { name: "RSA-OAEP", hash: "SHA-1" }, false, ["decrypt"]);
  log("RSA-OAEP pkcs8 round trip", new TextDecoder().decode(await s.decrypt({ name: "RSA-OAEP", label }, again, ct)), again.algorithm.modulusLength, hex(again.algorithm.publicExponent));

}

export default {
  async fetch() {
    await rsa();
    return new Response(out.join("\n"));
  },
};
