export default {
  async fetch() {
    const enc = new TextEncoder().encode("héllo €");
    console.log(enc.length, [...enc].slice(0, 3));
    const dec = new TextDecoder();
    console.log(dec.decode(enc), dec.encoding);
    const euro = new Uint8Array([0xe2, 0x82, 0xac]);
    const s = new TextDecoder();
    console.log(s.decode(euro.subarray(0, 1), { stream: true }) + "|" + s.decode(euro.subarray(1), { stream: true }) + "|" + s.decode());
    try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff])); } catch (e) { console.log(e.name); }
    console.log(new TextDecoder().decode(new Uint8Array([0xff, 0x41])));
    console.log(btoa("hello"), atob("aGVsbG8="), atob(" aGVs bG8 "));
    try { atob("a"); } catch (e) { console.log(e.name); }
    const buf = new Uint8Array(4);
    console.log(new TextEncoder().encodeInto("héllo", buf));
    return new Response("ok");
  },
};
