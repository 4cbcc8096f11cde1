// isoproxy node compat: node:buffer. `Buffer` is a Uint8Array subclass with
// Node's encodings (utf8, hex, base64, base64url, latin1/binary, ascii,
// utf16le/ucs2), comparison, search, and typed reads and writes.
// https://nodejs.org/api/buffer.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const ops = internal.ops;
  const {
    ArrayBuffer, BigInt, DataView, Number, Object, RangeError, String, Symbol, TypeError, Uint8Array,
    ArrayBufferIsView, ArrayIsArray, MathMin, MathMax, NumberIsInteger, ObjectDefineProperty, ObjectSetPrototypeOf,
    StringPrototypeCharCodeAt, StringPrototypeToLowerCase, TypedArrayPrototypeSet, TypedArrayPrototypeSubarray,
    TypedArrayPrototypeSlice,
  } = internal.primordials;
  const StringFromCharCode = String.fromCharCode;
  const { ArrayPrototypeJoin } = internal.primordials;
  // Captured now, before a Worker can replace the globals.
  const { atob, btoa } = globalThis;

  // Errors carry Node's `code`.
  function nodeError(Ctor, code, message) {
    const e = new Ctor(message);
    ObjectDefineProperty(e, "code", { value: code, writable: true, configurable: true, enumerable: false });
    return e;
  }
  internal.nodeError = nodeError;
  const outOfRange = (name, range, received) =>
    nodeError(RangeError, "ERR_OUT_OF_RANGE", `The value of "${name}" is out of range. It must be ${range}. Received ${received}`);
  const invalidType = (name, expected, v) =>
    nodeError(TypeError, "ERR_INVALID_ARG_TYPE", `The ${name.endsWith(" argument") ? name : `"${name}" argument`} must be ${expected}. Received ${v === null ? "null" : typeof v === "object" ? "an instance of " + (v.constructor?.name ?? "Object") : `type ${typeof v} (${String(v)})`}`);
  internal.invalidArgType = invalidType;

  // Canonical encoding name, or undefined.
  function normalizeEncoding(enc) {
    if (enc === undefined || enc === null || enc === "utf8" || enc === "utf-8") return "utf8";
    switch (StringPrototypeToLowerCase(`${enc}`)) {
      case "utf8": case "utf-8": return "utf8";
      case "hex": return "hex";
      case "base64": return "base64";
      case "base64url": return "base64url";
      case "latin1": case "binary": return "latin1";
      case "ascii": return "ascii";
      case "ucs2": case "ucs-2": case "utf16le": case "utf-16le": return "utf16le";
      default: return undefined;
    }
  }
  function encodingOf(enc) {
    const e = normalizeEncoding(enc);
    if (e === undefined) throw nodeError(TypeError, "ERR_UNKNOWN_ENCODING", `Unknown encoding: ${enc}`);
    return e;
  }

  // ---- string -> bytes ----
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // Decoding accepts both alphabets, as Node does.
  const B64_VALUE = new Uint8Array(128).fill(255);
  for (let i = 0; i < 64; i++) {
    B64_VALUE[StringPrototypeCharCodeAt(B64, i)] = i;
    B64_VALUE[StringPrototypeCharCodeAt(B64URL, i)] = i;
  }
  function utf8Length(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = StringPrototypeCharCodeAt(s, i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = StringPrototypeCharCodeAt(s, i + 1);
        if (d >= 0xdc00 && d < 0xe000) { n += 4; i++; } else n += 3;
      } else n += 3;
    }
    return n;
  }
  function base64Length(s) {
    let n = s.length;
    if (n > 0 && StringPrototypeCharCodeAt(s, n - 1) === 0x3d) n--;
    if (n > 0 && StringPrototypeCharCodeAt(s, n - 1) === 0x3d) n--;
    return (n * 3) >>> 2;
  }
  function byteLengthOf(s, enc) {
    switch (enc) {
      case "utf8": return utf8Length(s);
      case "hex": return s.length >>> 1;
      case "base64": case "base64url": return base64Length(s);
      case "utf16le": return s.length * 2;
      default: return s.length;
    }
  }
  function hexValue(c) {
    if (c >= 48 && c <= 57) return c - 48;
    if (c >= 97 && c <= 102) return c - 87;
    if (c >= 65 && c <= 70) return c - 55;
    return -1;
  }
  // Write `s` encoded as `enc` into `out` from `at`, at most `max` bytes;
  // returns the number of bytes written.
  function encodeInto(s, enc, out, at, max) {
    switch (enc) {
      case "utf8": {
        if (max <= 0) return 0;
        const bytes = ops.encoding_encode(s);
        let n = MathMin(bytes.length, max);
        // Never write part of a character.
        if (n < bytes.length) while (n > 0 && (bytes[n] & 0xc0) === 0x80) n--;
        TypedArrayPrototypeSet(out, TypedArrayPrototypeSubarray(bytes, 0, n), at);
        return n;
      }
      case "hex": {
        let n = 0;
        for (let i = 0; i + 1 < s.length && n < max; i += 2) {
          const hi = hexValue(StringPrototypeCharCodeAt(s, i));
          const lo = hexValue(StringPrototypeCharCodeAt(s, i + 1));
          if (hi < 0 || lo < 0) break;
          out[at + n++] = (hi << 4) | lo;
        }
        return n;
      }
      case "base64": case "base64url": {
        let n = 0, acc = 0, bits = 0;
        for (let i = 0; i < s.length && n < max; i++) {
          const c = StringPrototypeCharCodeAt(s, i);
          if (c === 0x3d) break;
          const v = c < 128 ? B64_VALUE[c] : 255;
          if (v === 255) continue;
          acc = ((acc << 6) | v) & 0xffffff;
          bits += 6;
          if (bits >= 8) { bits -= 8; out[at + n++] = (acc >> bits) & 0xff; }
        }
        return n;
      }
      case "utf16le": {
        let n = 0;
        for (let i = 0; i < s.length && n + 1 < max; i++) {
          const c = StringPrototypeCharCodeAt(s, i);
          out[at + n++] = c & 0xff;
          out[at + n++] = c >>> 8;
        }
        return n;
      }
      default: {
        const n = MathMin(s.length, max);
        for (let i = 0; i < n; i++) out[at + i] = StringPrototypeCharCodeAt(s, i) & 0xff;
        return n;
      }
    }
  }

  // ---- bytes -> string ----
  const HEX = [];
  for (let i = 0; i < 256; i++) HEX[i] = (i < 16 ? "0" : "") + i.toString(16);
  const CHUNK = 8192;
  function charsOf(bytes, map) {
    let out = "";
    for (let i = 0; i < bytes.length; i += CHUNK) {
      const part = TypedArrayPrototypeSlice(bytes, i, MathMin(i + CHUNK, bytes.length));
      if (map !== undefined) for (let j = 0; j < part.length; j++) part[j] = map(part[j]);
      out += internal.primordials.ReflectApply(StringFromCharCode, null, part);
    }
    return out;
  }
  function base64Of(bytes, alphabet, pad) {
    const parts = [];
    let line = "";
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      line += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + alphabet[n & 63];
      if (line.length >= CHUNK) { parts[parts.length] = line; line = ""; }
    }
    const rest = bytes.length - i;
    if (rest === 1) {
      const n = bytes[i] << 16;
      line += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + (pad ? "==" : "");
    } else if (rest === 2) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
      line += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + (pad ? "=" : "");
    }
    parts[parts.length] = line;
    return ArrayPrototypeJoin(parts, "");
  }
  function decode(bytes, enc) {
    switch (enc) {
      case "utf8": return bytes.length === 0 ? "" : ops.encoding_decode(bytes, "utf-8", false, false)[0];
      case "hex": {
        const parts = [];
        for (let i = 0; i < bytes.length; i++) parts[i] = HEX[bytes[i]];
        return ArrayPrototypeJoin(parts, "");
      }
      case "base64": return base64Of(bytes, B64, true);
      case "base64url": return base64Of(bytes, B64URL, false);
      case "latin1": return charsOf(bytes);
      case "ascii": return charsOf(bytes, (b) => b & 0x7f);
      case "utf16le": {
        let out = "";
        for (let i = 0; i + 1 < bytes.length; i += 2) out += StringFromCharCode(bytes[i] | (bytes[i + 1] << 8));
        return out;
      }
    }
    return "";
  }
  internal.bufferDecode = (bytes, enc) => decode(bytes, encodingOf(enc));

  internal.registerBuiltin("node:buffer", () => {
    const kMaxLength = 2 ** 32;
    const kStringMaxLength = 2 ** 29 - 24;
    const INSPECT_MAX_BYTES = 50;

    class FastBuffer extends Uint8Array {
      // eslint-disable-next-line no-useless-constructor
      constructor(a, b, c) { super(a, b, c); }
    }

    // The legacy constructor: `Buffer(size)` or `Buffer(data, ...)`.
    function Buffer(arg, encodingOrOffset, length) {
      if (typeof arg === "number") return Buffer.alloc(arg);
      return Buffer.from(arg, encodingOrOffset, length);
    }
    Buffer.prototype = FastBuffer.prototype;
    ObjectDefineProperty(Buffer.prototype, "constructor", { value: Buffer, writable: true, configurable: true, enumerable: false });
    ObjectSetPrototypeOf(Buffer, Uint8Array);
    Buffer.poolSize = 8192;

    const isBuffer = (b) => b instanceof Buffer;
    const wrap = (u8) => new FastBuffer(u8.buffer, u8.byteOffset, u8.byteLength);

    function checkSize(size) {
      if (typeof size !== "number") throw invalidType("size", "of type number", size);
      if (!(size >= 0 && size <= kMaxLength)) throw outOfRange("size", `>= 0 && <= ${kMaxLength}`, size);
    }

    Buffer.alloc = (size, fill, encoding) => {
      checkSize(size);
      const b = new FastBuffer(size);
      if (fill !== undefined && fill !== 0 && size > 0) b.fill(fill, encoding);
      return b;
    };
    Buffer.allocUnsafe = (size) => { checkSize(size); return new FastBuffer(size); };
    Buffer.allocUnsafeSlow = Buffer.allocUnsafe;

    Buffer.from = (value, encodingOrOffset, length) => {
      if (typeof value === "string") return fromString(value, encodingOrOffset);
      if (typeof value === "object" && value !== null) {
        if (value instanceof ArrayBuffer || (typeof globalThis.SharedArrayBuffer === "function" && value instanceof globalThis.SharedArrayBuffer)) {
          const offset = encodingOrOffset === undefined ? 0 : +encodingOrOffset || 0;
          const max = value.byteLength - offset;
          if (max < 0) throw nodeError(RangeError, "ERR_BUFFER_OUT_OF_BOUNDS", '"offset" is outside of buffer bounds');
          const len = length === undefined ? max : +length || 0;
          if (len > max) throw nodeError(RangeError, "ERR_BUFFER_OUT_OF_BOUNDS", '"length" is outside of buffer bounds');
          return new FastBuffer(value, offset, len);
        }
        if (ArrayBufferIsView(value)) {
          const src = value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
          // Like Node, a typed array is copied element by element.
          if (!(value instanceof Uint8Array) && !(value instanceof DataView)) {
            const b = new FastBuffer(value.length);
            for (let i = 0; i < value.length; i++) b[i] = Number(value[i]) & 255;
            return b;
          }
          return new FastBuffer(TypedArrayPrototypeSlice(src)).subarray(0);
        }
        const prim = value.valueOf?.();
        if (prim !== undefined && prim !== null && prim !== value && (typeof prim === "string" || typeof prim === "object")) {
          return Buffer.from(prim, encodingOrOffset, length);
        }
        if (ArrayIsArray(value) || typeof value.length === "number") return fromArrayLike(value);
        if (value.type === "Buffer" && ArrayIsArray(value.data)) return fromArrayLike(value.data);
        if (typeof value[Symbol.toPrimitive] === "function") {
          const p = value[Symbol.toPrimitive]("string");
          if (typeof p === "string") return fromString(p, encodingOrOffset);
        }
      }
      throw invalidType("first argument", "of type string or an instance of Buffer, TypedArray, ArrayBuffer, SharedArrayBuffer, or Array or an Array-like Object", value);
    };
    function fromArrayLike(a) {
      const n = a.length > 0 ? a.length >>> 0 : 0;
      const b = new FastBuffer(n);
      for (let i = 0; i < n; i++) b[i] = a[i] & 255;
      return b;
    }
    function fromString(s, encoding) {
      const enc = encodingOf(encoding);
      if (enc === "utf8") return wrap(ops.encoding_encode(s));
      const b = new FastBuffer(byteLengthOf(s, enc));
      const n = encodeInto(s, enc, b, 0, b.length);
      return n === b.length ? b : new FastBuffer(b.buffer, 0, n);
    }

    Buffer.isBuffer = isBuffer;
    Buffer.isEncoding = (e) => typeof e === "string" && e.length > 0 && normalizeEncoding(e) !== undefined;
    Buffer.byteLength = (value, encoding) => {
      if (typeof value !== "string") {
        if (ArrayBufferIsView(value) || value instanceof ArrayBuffer) return value.byteLength;
        if (typeof globalThis.SharedArrayBuffer === "function" && value instanceof globalThis.SharedArrayBuffer) return value.byteLength;
        throw invalidType("string", "of type string or an instance of Buffer or ArrayBuffer", value);
      }
      return byteLengthOf(value, normalizeEncoding(encoding) ?? "utf8");
    };
    function compareBytes(a, b) {
      const n = MathMin(a.length, b.length);
      for (let i = 0; i < n; i++) {
        if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
      }
      return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
    }
    const asBytes = (v, name) => {
      if (v instanceof Uint8Array) return v;
      throw invalidType(name, "an instance of Buffer or Uint8Array", v);
    };
    Buffer.compare = (a, b) => compareBytes(asBytes(a, "buf1"), asBytes(b, "buf2"));
    Buffer.concat = (list, totalLength) => {
      if (!ArrayIsArray(list)) throw invalidType("list", "an instance of Array", list);
      if (list.length === 0) return new FastBuffer(0);
      let total = 0;
      for (let i = 0; i < list.length; i++) total += asBytes(list[i], `list[${i}]`).length;
      if (totalLength !== undefined) total = totalLength;
      const out = Buffer.alloc(total);
      let at = 0;
      for (let i = 0; i < list.length && at < total; i++) {
        const item = list[i];
        const n = MathMin(item.length, total - at);
        TypedArrayPrototypeSet(out, n === item.length ? item : TypedArrayPrototypeSubarray(item, 0, n), at);
        at += n;
      }
      return out;
    };
    Buffer.copyBytesFrom = (view, offset = 0, length) => {
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      const size = view.BYTES_PER_ELEMENT ?? 1;
      const end = length === undefined ? view.length : MathMin(view.length, offset + length);
      return new FastBuffer(TypedArrayPrototypeSlice(bytes, offset * size, end * size));
    };

    const proto = Buffer.prototype;
    const define = (methods) => {
      const keys = Object.keys(methods);
      for (let i = 0; i < keys.length; i++) {
        ObjectDefineProperty(proto, keys[i], { value: methods[keys[i]], writable: true, configurable: true, enumerable: false });
      }
    };

    // Clamp (start, end) to [0, length] as Buffer#toString and friends do.
    function range(len, start, end) {
      start = start === undefined ? 0 : MathMax(0, MathMin(len, +start || 0)) | 0;
      end = end === undefined ? len : MathMax(start, MathMin(len, +end || 0)) | 0;
      return [start, end];
    }
    function checkOffset(buf, offset, size) {
      if (offset === undefined) offset = 0;
      if (typeof offset !== "number") throw invalidType("offset", "of type number", offset);
      if (!NumberIsInteger(offset)) throw outOfRange("offset", "an integer", offset);
      if (offset < 0 || offset + size > buf.length) {
        if (buf.length - size < 0) throw nodeError(RangeError, "ERR_BUFFER_OUT_OF_BOUNDS", "Attempt to access memory outside buffer bounds");
        throw outOfRange("offset", `>= 0 and <= ${buf.length - size}`, offset);
      }
      return offset;
    }
    const view = (b) => new DataView(b.buffer, b.byteOffset, b.byteLength);

    define({
      toString(encoding, start, end) {
        if (arguments.length === 0) return decode(this, "utf8");
        const [s, e] = range(this.length, start, end);
        const enc = encodingOf(encoding);
        return decode(s === 0 && e === this.length ? this : TypedArrayPrototypeSubarray(this, s, e), enc);
      },
      toLocaleString(encoding, start, end) { return this.toString(encoding, start, end); },
      toJSON() {
        const data = [];
        for (let i = 0; i < this.length; i++) data[i] = this[i];
        return { type: "Buffer", data };
      },
      equals(other) {
        return compareBytes(this, asBytes(other, "otherBuffer")) === 0;
      },
      compare(target, targetStart, targetEnd, sourceStart, sourceEnd) {
        asBytes(target, "target");
        const [ts, te] = range(target.length, targetStart, targetEnd);
        const [ss, se] = range(this.length, sourceStart, sourceEnd);
        return compareBytes(TypedArrayPrototypeSubarray(this, ss, se), TypedArrayPrototypeSubarray(target, ts, te));
      },
      copy(target, targetStart = 0, sourceStart = 0, sourceEnd = this.length) {
        asBytes(target, "target");
        targetStart = MathMax(0, targetStart | 0);
        sourceStart = MathMax(0, sourceStart | 0);
        sourceEnd = MathMin(this.length, sourceEnd | 0);
        if (sourceStart >= sourceEnd || targetStart >= target.length) return 0;
        const n = MathMin(sourceEnd - sourceStart, target.length - targetStart);
        TypedArrayPrototypeSet(target, TypedArrayPrototypeSubarray(this, sourceStart, sourceStart + n), targetStart);
        return n;
      },
      slice(start, end) { return this.subarray(start, end); },
      subarray(start, end) {
        const sub = TypedArrayPrototypeSubarray(this, start, end);
        return new FastBuffer(sub.buffer, sub.byteOffset, sub.byteLength);
      },
      write(string, offset, length, encoding) {
        if (typeof string !== "string") throw invalidType("argument", "of type string", string);
        if (typeof offset === "string") { encoding = offset; offset = 0; length = this.length; }
        else if (typeof length === "string") { encoding = length; length = undefined; }
        offset = offset === undefined ? 0 : offset >>> 0;
        if (offset > this.length) throw outOfRange("offset", `>= 0 && <= ${this.length}`, offset);
        const max = length === undefined ? this.length - offset : MathMin(this.length - offset, length >>> 0);
        return encodeInto(string, encodingOf(encoding), this, offset, max);
      },
      fill(value, offset, end, encoding) {
        if (typeof offset === "string") { encoding = offset; offset = 0; end = this.length; }
        else if (typeof end === "string") { encoding = end; end = this.length; }
        offset = offset === undefined ? 0 : offset;
        end = end === undefined ? this.length : end;
        if (offset < 0 || offset > this.length) throw outOfRange("offset", `>= 0 && <= ${this.length}`, offset);
        if (end < 0 || end > this.length) throw outOfRange("end", `>= 0 && <= ${this.length}`, end);
        if (end <= offset) return this;
        let pattern;
        if (typeof value === "number") { Uint8Array.prototype.fill.call(this, value & 255, offset, end); return this; }
        if (typeof value === "boolean") { Uint8Array.prototype.fill.call(this, +value, offset, end); return this; }
        if (typeof value === "string") {
          pattern = fromString(value, encoding);
          if (pattern.length === 0) {
            if (value.length === 0) { Uint8Array.prototype.fill.call(this, 0, offset, end); return this; }
            throw nodeError(TypeError, "ERR_INVALID_ARG_VALUE", `The argument 'value' is invalid. Received '${value}'`);
          }
        } else if (value instanceof Uint8Array) pattern = value;
        else { Uint8Array.prototype.fill.call(this, Number(value) & 255, offset, end); return this; }
        for (let i = offset, j = 0; i < end; i++, j = (j + 1) % pattern.length) this[i] = pattern[j];
        return this;
      },
      indexOf(value, byteOffset, encoding) { return search(this, value, byteOffset, encoding, true); },
      lastIndexOf(value, byteOffset, encoding) { return search(this, value, byteOffset, encoding, false); },
      includes(value, byteOffset, encoding) { return this.indexOf(value, byteOffset, encoding) !== -1; },
      swap16() { return swap(this, 2); },
      swap32() { return swap(this, 4); },
      swap64() { return swap(this, 8); },
      readUIntLE(offset, byteLength) { return readN(this, offset, byteLength, true, false); },
      readUIntBE(offset, byteLength) { return readN(this, offset, byteLength, false, false); },
      readIntLE(offset, byteLength) { return readN(this, offset, byteLength, true, true); },
      readIntBE(offset, byteLength) { return readN(this, offset, byteLength, false, true); },
      writeUIntLE(value, offset, byteLength) { return writeN(this, value, offset, byteLength, true, false); },
      writeUIntBE(value, offset, byteLength) { return writeN(this, value, offset, byteLength, false, false); },
      writeIntLE(value, offset, byteLength) { return writeN(this, value, offset, byteLength, true, true); },
      writeIntBE(value, offset, byteLength) { return writeN(this, value, offset, byteLength, false, true); },
      inspect() {
        let s = "";
        const n = MathMin(this.length, INSPECT_MAX_BYTES);
        for (let i = 0; i < n; i++) s += (i ? " " : "") + HEX[this[i]];
        if (this.length > n) s += ` ... ${this.length - n} more byte${this.length - n > 1 ? "s" : ""}`;
        return `<Buffer${s ? " " + s : ""}>`;
      },
    });
    ObjectDefineProperty(proto, Symbol.for("nodejs.util.inspect.custom"), { value: proto.inspect, writable: true, configurable: true });
    ObjectDefineProperty(proto, "parent", { get() { return this.buffer; }, configurable: true, enumerable: true });
    ObjectDefineProperty(proto, "offset", { get() { return this.byteOffset; }, configurable: true, enumerable: true });
    // Aliases Node keeps.
    define({ readUintLE: proto.readUIntLE, readUintBE: proto.readUIntBE, writeUintLE: proto.writeUIntLE, writeUintBE: proto.writeUIntBE });

    function swap(b, size) {
      if (b.length % size !== 0) throw nodeError(RangeError, "ERR_INVALID_BUFFER_SIZE", `Buffer size must be a multiple of ${size * 8}-bits`);
      for (let i = 0; i < b.length; i += size) {
        for (let j = 0; j < size / 2; j++) {
          const t = b[i + j];
          b[i + j] = b[i + size - 1 - j];
          b[i + size - 1 - j] = t;
        }
      }
      return b;
    }

    function search(buf, value, byteOffset, encoding, forward) {
      if (typeof byteOffset === "string") { encoding = byteOffset; byteOffset = undefined; }
      let needle;
      if (typeof value === "number") needle = [value & 255];
      else if (typeof value === "string") needle = fromString(value, encoding);
      else if (value instanceof Uint8Array) needle = value;
      else throw invalidType("value", "one of type number or string or an instance of Buffer or Uint8Array", value);
      let from = byteOffset === undefined ? (forward ? 0 : buf.length) : +byteOffset;
      if (NumberIsNaN(from)) from = forward ? 0 : buf.length;
      if (from < 0) from += buf.length;
      if (forward) {
        from = MathMax(0, from);
        if (needle.length === 0) return MathMin(from, buf.length);
        for (let i = from; i + needle.length <= buf.length; i++) if (matchAt(buf, needle, i)) return i;
      } else {
        if (from < 0) return -1;
        from = MathMin(from, buf.length - needle.length);
        if (needle.length === 0) return MathMin(from, buf.length);
        for (let i = from; i >= 0; i--) if (matchAt(buf, needle, i)) return i;
      }
      return -1;
    }
    const { NumberIsNaN } = internal.primordials;
    function matchAt(buf, needle, at) {
      for (let j = 0; j < needle.length; j++) if (buf[at + j] !== needle[j]) return false;
      return true;
    }

    function checkByteLength(n) {
      if (!NumberIsInteger(n) || n < 1 || n > 6) throw outOfRange("byteLength", ">= 1 and <= 6", n);
    }
    function readN(buf, offset, n, little, signed) {
      checkByteLength(n);
      offset = checkOffset(buf, offset, n);
      let v = 0;
      for (let i = 0; i < n; i++) v += buf[offset + (little ? i : n - 1 - i)] * 2 ** (8 * i);
      if (signed && v >= 2 ** (8 * n - 1)) v -= 2 ** (8 * n);
      return v;
    }
    function checkValue(value, min, max, n) {
      if (typeof value !== "number") throw invalidType("value", "of type number", value);
      if (value > max || value < min) {
        const bits = n * 8;
        const r = min === 0 ? `>= 0 and < 2 ** ${bits}` : `>= -(2 ** ${bits - 1}) and < 2 ** ${bits - 1}`;
        throw outOfRange("value", n > 4 || n === 3 ? r : `>= ${min} and <= ${max}`, value);
      }
    }
    function writeN(buf, value, offset, n, little, signed) {
      checkByteLength(n);
      const max = signed ? 2 ** (8 * n - 1) - 1 : 2 ** (8 * n) - 1;
      const min = signed ? -(2 ** (8 * n - 1)) : 0;
      checkValue(value, min, max, n);
      offset = checkOffset(buf, offset, n);
      let v = value < 0 ? value + 2 ** (8 * n) : value;
      v = Math.floor(v);
      for (let i = 0; i < n; i++) {
        buf[offset + (little ? i : n - 1 - i)] = v % 256;
        v = Math.floor(v / 256);
      }
      return offset + n;
    }

    // The fixed-size reads and writes, on a DataView of the buffer.
    const FIXED = [
      ["UInt8", 1, "Uint8", 0, 255], ["Int8", 1, "Int8", -128, 127],
      ["UInt16", 2, "Uint16", 0, 0xffff], ["Int16", 2, "Int16", -0x8000, 0x7fff],
      ["UInt32", 4, "Uint32", 0, 0xffffffff], ["Int32", 4, "Int32", -0x80000000, 0x7fffffff],
      ["Float", 4, "Float32"], ["Double", 8, "Float64"],
      ["BigUInt64", 8, "BigUint64"], ["BigInt64", 8, "BigInt64"],
    ];
    for (const [name, size, dv, min, max] of FIXED) {
      const get = DataView.prototype[`get${dv}`];
      const set = DataView.prototype[`set${dv}`];
      const big = dv.startsWith("Big");
      const ends = size === 1 ? [["", false]] : [["LE", true], ["BE", false]];
      for (const [suffix, little] of ends) {
        const read = function (offset) {
          offset = checkOffset(this, offset, size);
          return internal.primordials.FunctionPrototypeCall(get, view(this), offset, little);
        };
        const write = function (value, offset) {
          if (big) {
            if (typeof value !== "bigint") throw invalidType("value", "of type bigint", value);
            const lo = dv === "BigInt64" ? -(BigInt(2) ** BigInt(63)) : BigInt(0);
            const hi = dv === "BigInt64" ? BigInt(2) ** BigInt(63) - BigInt(1) : BigInt(2) ** BigInt(64) - BigInt(1);
            if (value < lo || value > hi) throw outOfRange("value", dv === "BigInt64" ? ">= -(2n ** 63n) and < 2n ** 63n" : ">= 0n and < 2n ** 64n", `${value}n`);
          } else if (min !== undefined) {
            checkValue(value, min, max, size);
          } else if (typeof value !== "number") {
            value = +value;
          }
          offset = checkOffset(this, offset, size);
          internal.primordials.FunctionPrototypeCall(set, view(this), offset, value, little);
          return offset + size;
        };
        const methods = { [`read${name}${suffix}`]: read, [`write${name}${suffix}`]: write };
        if (name.includes("UInt")) {
          const alias = name.replace("UInt", "Uint");
          methods[`read${alias}${suffix}`] = read;
          methods[`write${alias}${suffix}`] = write;
        }
        define(methods);
      }
    }

    function isUtf8(input) {
      const bytes = internal.toBytes(input);
      if (bytes === null) throw invalidType("input", "an instance of ArrayBuffer, Buffer, or TypedArray", input);
      try { ops.encoding_decode(bytes, "utf-8", true, false); return true; } catch { return false; }
    }
    function isAscii(input) {
      const bytes = internal.toBytes(input);
      if (bytes === null) throw invalidType("input", "an instance of ArrayBuffer, Buffer, or TypedArray", input);
      for (let i = 0; i < bytes.length; i++) if (bytes[i] > 127) return false;
      return true;
    }
    function transcode(source, fromEnc, toEnc) {
      const from = encodingOf(fromEnc), to = encodingOf(toEnc);
      return fromString(decode(asBytes(source, "source"), from), to);
    }
    function SlowBuffer(size) { return Buffer.allocUnsafeSlow(size); }
    SlowBuffer.prototype = Buffer.prototype;

    internal.Buffer = Buffer;
    return {
      __proto__: null,
      Buffer,
      SlowBuffer,
      INSPECT_MAX_BYTES,
      kMaxLength,
      kStringMaxLength,
      constants: { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: kStringMaxLength },
      atob,
      btoa,
      Blob: internal.forms.Blob,
      File: internal.forms.File,
      isAscii,
      isUtf8,
      transcode,
      resolveObjectURL: () => undefined,
    };
  });
});
