// isoproxy node compat: node:string_decoder: decode a byte stream in pieces
// without splitting a character. https://nodejs.org/api/string_decoder.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const { TypeError, Uint8Array, TypedArrayPrototypeSubarray, TypedArrayPrototypeSet } = internal.primordials;
  const { TextDecoder } = globalThis;

  internal.registerBuiltin("node:string_decoder", () => {
    const bytesOf = (buf) => {
      if (typeof buf === "string") return buf;
      const b = internal.toBytes(buf);
      if (b === null) throw internal.invalidArgType("buf", "an instance of Buffer, TypedArray, or DataView", buf);
      return b;
    };
    class StringDecoder {
      #enc; #text; #pending;
      constructor(encoding) {
        const Buffer = internal.requireBuiltin("node:buffer").Buffer;
        const enc = encoding === undefined ? "utf8" : `${encoding}`.toLowerCase();
        if (!Buffer.isEncoding(enc)) {
          const e = new TypeError(`Unknown encoding: ${encoding}`);
          e.code = "ERR_UNKNOWN_ENCODING";
          throw e;
        }
        this.#enc = { "utf-8": "utf8", binary: "latin1", ucs2: "utf16le", "ucs-2": "utf16le", "utf-16le": "utf16le" }[enc] ?? enc;
        // Characters that span calls: utf8 and utf16le via TextDecoder's
        // streaming mode; base64 keeps up to 2 bytes, the rest none.
        this.#text = this.#enc === "utf8" ? new TextDecoder("utf-8") : null;
        this.#pending = new Uint8Array(0);
      }
      get encoding() { return this.#enc; }
      write(buf) {
        const bytes = bytesOf(buf);
        if (typeof bytes === "string") return bytes;
        if (this.#text !== null) return this.#text.decode(bytes, { stream: true });
        if (this.#enc === "utf16le") {
          // Whole code units only, and a high surrogate waits for its pair.
          const all = this.#join(bytes);
          let whole = all.length - (all.length % 2);
          if (whole >= 2) {
            const last = all[whole - 2] | (all[whole - 1] << 8);
            if (last >= 0xd800 && last < 0xdc00) whole -= 2;
          }
          this.#pending = all.slice(whole);
          return internal.bufferDecode(TypedArrayPrototypeSubarray(all, 0, whole), "utf16le");
        }
        if (this.#enc === "base64" || this.#enc === "base64url") {
          const all = this.#join(bytes);
          const whole = all.length - (all.length % 3);
          this.#pending = all.slice(whole);
          return internal.bufferDecode(TypedArrayPrototypeSubarray(all, 0, whole), this.#enc);
        }
        return internal.bufferDecode(bytes, this.#enc);
      }
      #join(bytes) {
        if (this.#pending.length === 0) return bytes;
        const all = new Uint8Array(this.#pending.length + bytes.length);
        TypedArrayPrototypeSet(all, this.#pending, 0);
        TypedArrayPrototypeSet(all, bytes, this.#pending.length);
        return all;
      }
      end(buf) {
        let out = buf === undefined ? "" : this.write(buf);
        if (this.#text !== null) out += this.#text.decode();
        // A lone odd byte of utf16le is dropped, as in Node.
        else if (this.#pending.length > 0) out += internal.bufferDecode(this.#pending, this.#enc);
        this.#pending = new Uint8Array(0);
        return out;
      }
      text(buf, offset) { return this.write(TypedArrayPrototypeSubarray(bytesOf(buf), offset)); }
    }
    return { __proto__: null, StringDecoder };
  });
});
