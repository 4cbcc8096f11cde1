const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
export default {
  async fetch() {
    const data = new TextEncoder().encode("abc");
    console.log(hex(await crypto.subtle.digest("SHA-256", data)));
    console.log(hex(await crypto.subtle.digest({ name: "SHA-1" }, data)));
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("key"), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("The quick brown fox jumps over the lazy dog"));
    console.log(hex(sig));
    console.log(await crypto.subtle.verify("HMAC", key, sig, new TextEncoder().encode("The quick brown fox jumps over the lazy dog")));
    console.log(await crypto.subtle.verify("HMAC", key, sig, new TextEncoder().encode("tampered")));
    console.log(key.type, key.algorithm.name, key.algorithm.hash.name, key.extractable);
    const a = crypto.getRandomValues(new Uint8Array(16));
    console.log(a.length, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()));
    try { crypto.getRandomValues(new Float32Array(2)); } catch (e) { console.log(e.name); }
    return new Response("ok");
  },
};
