// isoproxy glue, part 2: TextEncoder, TextDecoder, atob, btoa.
// Specs: https://encoding.spec.whatwg.org/ and
// https://html.spec.whatwg.org/multipage/webappapis.html#atob
"use strict";
(function () {
  const internal = globalThis.__internal;
  const {
    Map, RangeError, String, Symbol, TypeError, Uint8Array,
    StringPrototypeCharCodeAt, StringPrototypeSlice,
    StringPrototypeToWellFormed, TypedArrayPrototypeSet, TypedArrayPrototypeSlice,
  } = internal.primordials;
  const ops = internal.ops;

  function toUSVString(s) {
    return StringPrototypeToWellFormed(String(s));
  }

  // https://encoding.spec.whatwg.org/#interface-textencoder
  class TextEncoder {
    get encoding() { return "utf-8"; }
    // https://encoding.spec.whatwg.org/#dom-textencoder-encode
    encode(input = "") { return ops.encoding_encode(toUSVString(input)); }
    // https://encoding.spec.whatwg.org/#dom-textencoder-encodeinto
    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) throw new TypeError("encodeInto: destination must be a Uint8Array");
      const counts = ops.encoding_encode_into(toUSVString(source), destination);
      return { read: counts[0], written: counts[1] };
    }
  }
  internal.brand(TextEncoder, "TextEncoder");

  const kState = Symbol("decoder");
  // https://encoding.spec.whatwg.org/#interface-textdecoder
  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      // https://encoding.spec.whatwg.org/#concept-encoding-get (encoding_rs
      // knows every label); "replacement" is not decodable by TextDecoder.
      const enc = ops.encoding_label(String(label));
      if (enc === undefined || enc === "replacement") throw new RangeError(`The encoding label provided ('${label}') is invalid.`);
      options = options ?? {};
      this[kState] = { enc, fatal: !!options.fatal, ignoreBOM: !!options.ignoreBOM, pending: null, bomSeen: false };
    }
    get encoding() { return this[kState].enc; }
    get fatal() { return this[kState].fatal; }
    get ignoreBOM() { return this[kState].ignoreBOM; }
    // https://encoding.spec.whatwg.org/#dom-textdecoder-decode
    decode(input = undefined, options = {}) {
      const st = this[kState];
      const stream = !!(options && options.stream);
      let bytes = input === undefined ? new Uint8Array(0) : internal.toBytes(input);
      if (bytes === null) throw new TypeError("decode: input must be a BufferSource");
      if (st.pending) {
        const joined = new Uint8Array(st.pending.length + bytes.length);
        TypedArrayPrototypeSet(joined, st.pending, 0);
        TypedArrayPrototypeSet(joined, bytes, st.pending.length);
        bytes = joined;
        st.pending = null;
      }
      let text, leftover;
      try {
        const decoded = ops.encoding_decode(bytes, st.enc, st.fatal, stream);
        text = decoded[0];
        leftover = decoded[1];
      } catch (e) {
        st.bomSeen = false;
        throw e;
      }
      if (leftover > 0) st.pending = TypedArrayPrototypeSlice(bytes, bytes.length - leftover);
      if (!st.bomSeen && text.length > 0) {
        st.bomSeen = true;
        if (!st.ignoreBOM && StringPrototypeCharCodeAt(text, 0) === 0xfeff && (st.enc === "utf-8" || st.enc === "utf-16le" || st.enc === "utf-16be")) text = StringPrototypeSlice(text, 1);
      }
      if (!stream) { st.bomSeen = false; st.pending = null; }
      return text;
    }
  }
  internal.brand(TextDecoder, "TextDecoder");

  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

  // https://html.spec.whatwg.org/multipage/webappapis.html#dom-btoa
  function btoa(data) {
    if (arguments.length === 0) throw new TypeError("btoa: 1 argument required");
    const s = String(data);
    let out = "";
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw new DOMException("Invalid character", "InvalidCharacterError");
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      out += i + 1 < s.length ? B64[(n >> 6) & 63] : "=";
      out += i + 2 < s.length ? B64[n & 63] : "=";
    }
    return out;
  }

  // https://html.spec.whatwg.org/multipage/webappapis.html#dom-atob
  // (forgiving-base64 decode: https://infra.spec.whatwg.org/#forgiving-base64-decode)
  function atob(data) {
    if (arguments.length === 0) throw new TypeError("atob: 1 argument required");
    let s = String(data).replace(/[\t\n\f\r ]/g, "");
    if (s.length % 4 === 0) s = s.replace(/==?$/, "");
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) throw new DOMException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
    let out = "";
    let buf = 0, bits = 0;
    for (const c of s) {
      buf = (buf << 6) | B64_INDEX.get(c);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += String.fromCharCode((buf >> bits) & 0xff);
      }
    }
    return out;
  }

  internal.defineGlobals({ TextEncoder, TextDecoder, atob, btoa });
})();
