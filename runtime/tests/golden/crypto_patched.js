// golden: cpuMs=2000
// A Worker that replaces the built-ins the crypto glue could lean on still
// gets working crypto.subtle (the glue uses the originals it captured).
// Array iteration is left alone: WebIDL converts the usages sequence with
// the array's own iterator, so replacing it changes that, as in browsers.
const out = [];
const add = (x) => { out[out.length] = x; };
export default {
  async fetch() {
    const te = new TextEncoder();
    const boom = function () { throw new Error("patched built-in called"); };
    for (const m of ["push", "includes", "filter", "slice", "sort", "some", "map", "concat", "indexOf"]) Array.prototype[m] = boom;
    for (const m of ["slice", "toUpperCase", "indexOf", "replace", "charCodeAt"]) String.prototype[m] = boom;
    Object.keys = boom;
    JSON.stringify = boom;
    JSON.parse = boom;
    Uint8Array.prototype.slice = boom;
    Map.prototype.get = boom;
    Set.prototype.has = boom;
    RegExp.prototype.exec = boom;
    const s = crypto.subtle;
    const d = await s.digest("SHA-256", te.encode("abc"));
    add("digest " + new Uint8Array(d)[0]);
    const hmac = await s.importKey("jwk", { kty: "oct", k: "MDEyMzQ1Njc4OWFiY2RlZg", alg: "HS256" }, { name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
    const sig = await s.sign("HMAC", hmac, te.encode("data"));
    add("hmac " + (await s.verify("HMAC", hmac, sig, te.encode("data"))));
    const jwk = await s.exportKey("jwk", hmac);
    add("jwk " + jwk.kty + " " + jwk.k + " " + jwk.alg);
    const ec = await s.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const esig = await s.sign({ name: "ECDSA", hash: "SHA-256" }, ec.privateKey, te.encode("data"));
    add("ecdsa " + (await s.verify({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, esig, te.encode("data"))));
    const kw = await s.importKey("raw", new Uint8Array(16), "AES-KW", false, ["wrapKey", "unwrapKey"]);
    const wrapped = await s.wrapKey("raw", hmac, kw, "AES-KW");
    const back = await s.unwrapKey("raw", wrapped, kw, "AES-KW", { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    add("unwrapped " + back.algorithm.name + " " + back.usages.length);
    try { await s.digest("SHA-3", te.encode("abc")); } catch (e) { add("error " + e.name); }
    return new Response(out.join("\n"));
  },
};
