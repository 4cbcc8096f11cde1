// compatibilityDate: 2025-06-01
export default {
  async fetch() {
    const out = [];
    const log = (...a) => out.push(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
    const bytes = (...b) => new Uint8Array(b);
    log(new TextDecoder("windows-1252").decode(bytes(0x80, 0x41, 0x9f)), new TextDecoder("latin1").encoding, new TextDecoder("ascii").decode(bytes(0x80)));
    log(new TextDecoder("iso-8859-2").decode(bytes(0xa1, 0xb1)), new TextDecoder("koi8-r").decode(bytes(0xc1, 0xc2)), new TextDecoder("windows-1251").decode(bytes(0xcf, 0xf0)));
    const sjis = bytes(0x93, 0xfa, 0x96, 0x7b);
    log(new TextDecoder("shift_jis").decode(sjis), new TextDecoder("sjis").encoding, new TextDecoder("euc-kr").decode(bytes(0xc7, 0xd1)), new TextDecoder("gbk").decode(bytes(0xc4, 0xe3)), new TextDecoder("big5").decode(bytes(0xa4, 0xa4)));
    // A multi-byte character split across streamed chunks.
    const d = new TextDecoder("shift_jis");
    log(d.decode(sjis.subarray(0, 1), { stream: true }) + "|" + d.decode(sjis.subarray(1, 3), { stream: true }) + "|" + d.decode(sjis.subarray(3)));
    const g = new TextDecoder("gb18030");
    const four = bytes(0x81, 0x30, 0x81, 0x30);
    log(g.decode(four.subarray(0, 2), { stream: true }) + "|" + g.decode(four.subarray(2)));
    try { new TextDecoder("shift_jis", { fatal: true }).decode(bytes(0x93)); } catch (e) { log(e.name); }
    log(new TextDecoder("shift_jis").decode(bytes(0x93)).charCodeAt(0).toString(16));
    try { new TextDecoder("iso-2022-kr"); } catch (e) { log(e.name); }
    try { new TextDecoder("nope"); } catch (e) { log(e.name); }
    log(new TextDecoder("x-user-defined").decode(bytes(0x41, 0x80)).charCodeAt(1).toString(16), new TextDecoder(" UTF-16 ").encoding);
    return new Response(out.join("\n"));
  },
};
