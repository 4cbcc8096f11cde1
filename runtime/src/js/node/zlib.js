// isoproxy node compat: node:zlib over the runtime's native codecs (the
// ones behind CompressionStream): deflate, inflate, gzip, gunzip, unzip,
// deflateRaw, inflateRaw, brotliCompress and brotliDecompress, each as a
// *Sync function, a callback function and a Transform stream (create*).
// Options other than the format (level, windowBits, dictionary, ...) are
// accepted and ignored: the codecs use their default settings.
// https://nodejs.org/api/zlib.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const ops = internal.ops;
  const { Error, Uint8Array, ArrayPrototypePush, TypedArrayPrototypeSet } = internal.primordials;

  // name -> [codec format, decompress]
  const KINDS = {
    __proto__: null,
    Deflate: ["deflate", false], Inflate: ["deflate", true],
    Gzip: ["gzip", false], Gunzip: ["gzip", true], Unzip: ["gzip", true],
    DeflateRaw: ["deflate-raw", false], InflateRaw: ["deflate-raw", true],
    BrotliCompress: ["brotli", false], BrotliDecompress: ["brotli", true],
  };

  const constants = {
    __proto__: null,
    Z_NO_FLUSH: 0, Z_PARTIAL_FLUSH: 1, Z_SYNC_FLUSH: 2, Z_FULL_FLUSH: 3, Z_FINISH: 4, Z_BLOCK: 5,
    Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3,
    Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
    Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1,
    Z_FILTERED: 1, Z_HUFFMAN_ONLY: 2, Z_RLE: 3, Z_FIXED: 4, Z_DEFAULT_STRATEGY: 0, ZLIB_VERNUM: 4865,
    DEFLATE: 1, INFLATE: 2, GZIP: 3, GUNZIP: 4, DEFLATERAW: 5, INFLATERAW: 6, UNZIP: 7,
    BROTLI_DECODE: 8, BROTLI_ENCODE: 9,
    Z_MIN_WINDOWBITS: 8, Z_MAX_WINDOWBITS: 15, Z_DEFAULT_WINDOWBITS: 15, Z_MIN_CHUNK: 64,
    Z_MAX_CHUNK: Infinity, Z_DEFAULT_CHUNK: 16384, Z_MIN_MEMLEVEL: 1, Z_MAX_MEMLEVEL: 9,
    Z_DEFAULT_MEMLEVEL: 8, Z_MIN_LEVEL: -1, Z_MAX_LEVEL: 9, Z_DEFAULT_LEVEL: -1,
    BROTLI_OPERATION_PROCESS: 0, BROTLI_OPERATION_FLUSH: 1, BROTLI_OPERATION_FINISH: 2,
    BROTLI_OPERATION_EMIT_METADATA: 3, BROTLI_PARAM_MODE: 0, BROTLI_MODE_GENERIC: 0, BROTLI_MODE_TEXT: 1,
    BROTLI_MODE_FONT: 2, BROTLI_DEFAULT_MODE: 0, BROTLI_PARAM_QUALITY: 1, BROTLI_MIN_QUALITY: 0,
    BROTLI_MAX_QUALITY: 11, BROTLI_DEFAULT_QUALITY: 11, BROTLI_PARAM_LGWIN: 2, BROTLI_PARAM_SIZE_HINT: 5,
  };

  function toInput(data) {
    if (typeof data === "string") return new TextEncoder().encode(data);
    const b = internal.toBytes(data);
    if (b === null) throw internal.invalidArgType("buffer", "of type string or an instance of Buffer, TypedArray, DataView, or ArrayBuffer", data);
    return b;
  }
  function concat(chunks, total) {
    const out = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      TypedArrayPrototypeSet(out, chunks[i], at);
      at += chunks[i].length;
    }
    return out;
  }
  function zlibError(e) {
    const err = new Error(`${e?.message ?? e}`);
    err.code = "Z_DATA_ERROR";
    err.errno = -3;
    return err;
  }

  // One codec run over `input`; `final`: also finish the stream.
  class Codec {
    #rid;
    constructor(format, decompress) { this.#rid = ops.compression_new(format, decompress); }
    push(input, out) {
      let n = 0;
      try {
        let chunk = ops.compression_push(this.#rid, input);
        while (chunk !== null) {
          ArrayPrototypePush(out, chunk);
          n += chunk.length;
          chunk = ops.compression_pull(this.#rid);
        }
      } catch (e) {
        this.close();
        throw zlibError(e);
      }
      return n;
    }
    finish(out) {
      let n = 0;
      try {
        for (;;) {
          const r = ops.compression_finish(this.#rid);
          if (r[1] !== null) { ArrayPrototypePush(out, r[1]); n += r[1].length; }
          if (r[0]) break;
        }
      } catch (e) {
        this.close();
        throw zlibError(e);
      }
      this.close();
      return n;
    }
    close() {
      if (this.#rid !== null) { ops.body_close(this.#rid); this.#rid = null; }
    }
  }

  function runSync(kind, data) {
    const [format, decompress] = KINDS[kind];
    const c = new Codec(format, decompress);
    const out = [];
    const n = c.push(toInput(data), out) + c.finish(out);
    const { Buffer } = internal.requireBuiltin("node:buffer");
    const bytes = concat(out, n);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  function classes() {
    const { Transform } = internal.requireBuiltin("node:stream");
    const { Buffer } = internal.requireBuiltin("node:buffer");
    const made = {};
    for (const kind of Object.keys(KINDS)) {
      const [format, decompress] = KINDS[kind];
      made[kind] = class extends Transform {
        #codec = new Codec(format, decompress);
        bytesWritten = 0;
        constructor(options) {
          super(options);
        }
        _transform(chunk, encoding, callback) {
          const input = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
          this.bytesWritten += input.length;
          const out = [];
          try { this.#codec.push(input, out); } catch (e) { callback(e); return; }
          for (const c of out) this.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
          callback();
        }
        _flush(callback) {
          const out = [];
          try { this.#codec.finish(out); } catch (e) { callback(e); return; }
          for (const c of out) this.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
          callback();
        }
        _destroy(err, callback) { this.#codec.close(); callback(err); }
        close(callback) { if (callback) this.once("close", callback); this.destroy(); }
        flush(kind, callback) { if (typeof kind === "function") callback = kind; if (callback) queueMicrotask(callback); }
        params(_level, _strategy, callback) { if (callback) queueMicrotask(callback); }
        reset() {}
      };
      Object.defineProperty(made[kind], "name", { value: kind });
    }
    return made;
  }

  internal.registerBuiltin("node:zlib", () => {
    let cls = null;
    const lazy = () => (cls ??= classes());
    const zlib = { constants, codes: { Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3, Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6 } };
    for (const name of Object.keys(constants)) zlib[name] = constants[name];
    for (const kind of Object.keys(KINDS)) {
      const lower = kind[0].toLowerCase() + kind.slice(1);
      zlib[`${lower}Sync`] = (data, _options) => runSync(kind, data);
      zlib[lower] = (data, options, callback) => {
        if (typeof options === "function") callback = options;
        if (typeof callback !== "function") throw internal.invalidArgType("callback", "of type function", callback);
        let result;
        let error = null;
        try { result = runSync(kind, data); } catch (e) { error = e; }
        queueMicrotask(() => (error !== null ? callback(error) : callback(null, result)));
      };
      zlib[`create${kind}`] = (options) => new (lazy()[kind])(options);
      Object.defineProperty(zlib, kind, { get: () => lazy()[kind], enumerable: true });
    }
    // CRC-32 (Node 22): the IEEE polynomial, continuing from `value`.
    zlib.crc32 = (data, value = 0) => {
      const bytes = toInput(data);
      let crc = ~value >>> 0;
      for (let i = 0; i < bytes.length; i++) {
        crc ^= bytes[i];
        for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
      }
      return ~crc >>> 0;
    };
    return { __proto__: null, ...zlib, default: zlib };
  });
});
