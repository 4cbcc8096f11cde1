// isoproxy node compat: node:crypto's createCipheriv/createDecipheriv for
// AES in GCM, CBC and CTR modes, on the runtime's AES op (node_cipher).
// update() streams as Node's does: CTR and GCM (96-bit IV) give their
// output at once, CBC whole blocks (a decipher keeps the last block back
// for the padding). https://nodejs.org/api/crypto.html#class-cipher
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const ops = internal.ops;
  const {
    Error, RangeError, TypeError, Uint8Array, NumberIsInteger, StringPrototypeToLowerCase,
    TypedArrayPrototypeSet, TypedArrayPrototypeSubarray, TypedArrayPrototypeSlice,
    ArrayPrototypeSlice,
  } = internal.primordials;
  const { floor: MathFloor } = Math;

  // Node's name -> [mode, key bytes].
  // (The key sizes are written as strings: a number turned into a string
  // here would land in V8's number-to-string cache, and a collision there
  // grows the cache to 128 KiB in the snapshot, and so in every isolate.)
  const CIPHERS = { __proto__: null };
  for (const [bits, bytes] of [["128", 16], ["192", 24], ["256", 32]]) {
    for (const mode of ["gcm", "cbc", "ctr"]) {
      CIPHERS["aes-" + bits + "-" + mode] = [mode, bytes];
      CIPHERS["id-aes" + bits + "-" + mode] = [mode, bytes];
    }
    CIPHERS["aes" + bits] = ["cbc", bytes];
  }
  const NAMES = ["aes-128-cbc", "aes-128-ctr", "aes-128-gcm", "aes-192-cbc", "aes-192-ctr", "aes-192-gcm",
    "aes-256-cbc", "aes-256-ctr", "aes-256-gcm", "aes128", "aes192", "aes256",
    "id-aes128-gcm", "id-aes192-gcm", "id-aes256-gcm"];

  const EMPTY = new Uint8Array(0);
  function concat(a, b) {
    if (a.length === 0) return b;
    if (b.length === 0) return a;
    const out = new Uint8Array(a.length + b.length);
    TypedArrayPrototypeSet(out, a, 0);
    TypedArrayPrototypeSet(out, b, a.length);
    return out;
  }
  // `base` (16 bytes, big-endian) plus `n`, in its last `width` bytes only.
  function addCounter(base, n, width) {
    const out = TypedArrayPrototypeSlice(base);
    let carry = n;
    for (let i = 15; i >= 16 - width && carry > 0; i--) {
      const sum = out[i] + (carry % 256);
      out[i] = sum & 255;
      carry = MathFloor(carry / 256) + (sum >> 8);
    }
    return out;
  }
  const run = (mode, key, iv, aad, tag, data, encrypt, bits) => ops.node_cipher(mode, key, iv, aad, tag, data, encrypt, bits);

  internal.nodeCipher = (deps) => {
    const { Buffer, err, toBytes, keyBytes } = deps;
    const output = (bytes, encoding) => {
      const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return encoding === undefined || encoding === null || encoding === "buffer" ? b : b.toString(encoding);
    };

    class CipherBase {
      #encrypt; #mode; #key; #iv; #tagLength; #aad = EMPTY; #started = false; #done = false;
      #pos = 0; #pending = EMPTY; #all = EMPTY; #tag = null; #padding = true; #chain;
      constructor(encrypt, algorithm, key, iv, options) {
        const spec = CIPHERS[StringPrototypeToLowerCase(`${algorithm}`)];
        if (spec === undefined) throw err(TypeError, "ERR_CRYPTO_UNKNOWN_CIPHER", "Unknown cipher");
        const [mode, keyLength] = spec;
        const k = keyBytes(key);
        if (k.length !== keyLength) throw err(RangeError, "ERR_CRYPTO_INVALID_KEYLEN", "Invalid key length");
        const v = new Uint8Array(toBytes(iv, undefined, "iv"));
        if (mode === "gcm" ? v.length === 0 : v.length !== 16) throw err(TypeError, "ERR_CRYPTO_INVALID_IV", "Invalid initialization vector");
        let tagLength = 16;
        if (mode === "gcm" && options?.authTagLength !== undefined) {
          tagLength = options.authTagLength;
          if (!NumberIsInteger(tagLength) || !(tagLength === 4 || tagLength === 8 || (tagLength >= 12 && tagLength <= 16))) {
            throw err(TypeError, "ERR_CRYPTO_INVALID_AUTH_TAG", `Invalid authentication tag length: ${tagLength}`);
          }
        }
        this.#encrypt = encrypt;
        this.#mode = mode;
        this.#key = new Uint8Array(k);
        this.#iv = v;
        this.#chain = v;
        this.#tagLength = tagLength;
      }
      // Counter mode from byte position #pos: CTR (the whole block counts)
      // or GCM with a 96-bit IV (the last 32 bits count from 2).
      #keystream(data) {
        const off = this.#pos % 16;
        const blocks = (this.#pos - off) / 16;
        const gcm = this.#mode === "gcm";
        let base = this.#iv;
        if (gcm) { base = new Uint8Array(16); TypedArrayPrototypeSet(base, this.#iv, 0); base[15] = 2; }
        const counter = addCounter(base, blocks, gcm ? 4 : 16);
        const padded = new Uint8Array(off + data.length);
        TypedArrayPrototypeSet(padded, data, off);
        const out = run("ctr", this.#key, counter, EMPTY, 0, padded, true, gcm ? 32 : 128);
        this.#pos += data.length;
        return TypedArrayPrototypeSubarray(out, off);
      }
      // CBC without padding, both ways. Decrypting appends a block whose
      // plaintext is a whole padding block, so the padded op accepts it.
      #cbcRaw(data) {
        if (data.length === 0) return EMPTY;
        if (this.#encrypt) {
          const out = TypedArrayPrototypeSubarray(run("cbc", this.#key, this.#chain, EMPTY, 0, data, true, 0), 0, data.length);
          this.#chain = TypedArrayPrototypeSlice(out, out.length - 16);
          return out;
        }
        const last = TypedArrayPrototypeSlice(data, data.length - 16);
        const pad = new Uint8Array(16).fill(16);
        const forged = TypedArrayPrototypeSubarray(run("cbc", this.#key, last, EMPTY, 0, pad, true, 0), 0, 16);
        const out = run("cbc", this.#key, this.#chain, EMPTY, 0, concat(data, forged), false, 0);
        this.#chain = last;
        return out;
      }
      update(data, inputEncoding, outputEncoding) {
        if (this.#done) throw err(Error, "ERR_CRYPTO_INVALID_STATE", "Invalid state for operation update");
        this.#started = true;
        const bytes = new Uint8Array(toBytes(data, inputEncoding));
        let out = EMPTY;
        if (this.#mode === "ctr") out = this.#keystream(bytes);
        else if (this.#mode === "gcm") {
          // The tag needs the whole message: kept until final().
          this.#all = concat(this.#all, bytes);
          if (this.#iv.length === 12) out = this.#keystream(bytes);
        } else {
          const pending = concat(this.#pending, bytes);
          // A decipher with padding keeps the last whole block for final().
          const keep = !this.#encrypt && this.#padding ? 1 : 0;
          const whole = pending.length - (pending.length % 16);
          const take = keep && whole === pending.length ? whole - 16 : whole;
          const n = take < 0 ? 0 : take;
          out = this.#cbcRaw(TypedArrayPrototypeSubarray(pending, 0, n));
          this.#pending = TypedArrayPrototypeSlice(pending, n);
        }
        return output(out, outputEncoding);
      }
      final(outputEncoding) {
        if (this.#done) throw err(Error, "ERR_CRYPTO_INVALID_STATE", "Invalid state for operation final");
        this.#done = true;
        let out = EMPTY;
        if (this.#mode === "gcm") {
          if (this.#encrypt) {
            const sealed = run("gcm", this.#key, this.#iv, this.#aad, this.#tagLength, this.#all, true, 0);
            this.#tag = TypedArrayPrototypeSlice(sealed, sealed.length - this.#tagLength);
            if (this.#iv.length !== 12) out = TypedArrayPrototypeSubarray(sealed, 0, sealed.length - this.#tagLength);
          } else {
            if (this.#tag === null) throw err(Error, "ERR_CRYPTO_INVALID_STATE", "Unsupported state or unable to authenticate data");
            let opened;
            try {
              opened = run("gcm", this.#key, this.#iv, this.#aad, this.#tag.length, concat(this.#all, this.#tag), false, 0);
            } catch {
              throw new Error("Unsupported state or unable to authenticate data");
            }
            if (this.#iv.length !== 12) out = opened;
          }
        } else if (this.#mode === "cbc") {
          const pending = this.#pending;
          this.#pending = EMPTY;
          if (!this.#padding) {
            if (pending.length % 16 !== 0) throw err(Error, "ERR_OSSL_WRONG_FINAL_BLOCK_LENGTH", "wrong final block length");
            out = this.#cbcRaw(pending);
          } else if (this.#encrypt) {
            out = run("cbc", this.#key, this.#chain, EMPTY, 0, pending, true, 0);
          } else {
            if (pending.length !== 16) throw err(Error, "ERR_OSSL_WRONG_FINAL_BLOCK_LENGTH", "wrong final block length");
            try {
              out = run("cbc", this.#key, this.#chain, EMPTY, 0, pending, false, 0);
            } catch {
              throw err(Error, "ERR_OSSL_BAD_DECRYPT", "bad decrypt");
            }
          }
        }
        return output(out, outputEncoding);
      }
      setAAD(buffer, _options) {
        if (this.#mode !== "gcm" || this.#started || this.#done) throw err(Error, "ERR_CRYPTO_INVALID_STATE", "Invalid state for operation setAAD");
        this.#aad = new Uint8Array(toBytes(buffer, undefined, "buffer"));
        return this;
      }
      setAutoPadding(autoPadding = true) {
        if (this.#done) throw err(Error, "ERR_CRYPTO_INVALID_STATE", "Invalid state for operation setAutoPadding");
        this.#padding = !!autoPadding;
        return this;
      }
      // Cipher side: the tag, once final() ran.
      getAuthTag() {
        if (!this.#encrypt || this.#mode !== "gcm" || this.#tag === null) throw err(Error, "ERR_CRYPTO_INVALID_STATE", "Invalid state for operation getAuthTag");
        return Buffer.from(this.#tag);
      }
      // Decipher side: the tag to check, before final().
      setAuthTag(tag, encoding) {
        if (this.#encrypt || this.#mode !== "gcm" || this.#done) throw err(Error, "ERR_CRYPTO_INVALID_STATE", "Invalid state for operation setAuthTag");
        const t = new Uint8Array(toBytes(tag, encoding, "buffer"));
        if (!(t.length === 4 || t.length === 8 || (t.length >= 12 && t.length <= 16))) {
          throw err(TypeError, "ERR_CRYPTO_INVALID_AUTH_TAG", `Invalid authentication tag length: ${t.length}`);
        }
        this.#tag = t;
        return this;
      }
    }
    class Cipheriv extends CipherBase {
      constructor(algorithm, key, iv, options) { super(true, algorithm, key, iv, options); }
    }
    class Decipheriv extends CipherBase {
      constructor(algorithm, key, iv, options) { super(false, algorithm, key, iv, options); }
    }
    return {
      Cipheriv, Decipheriv,
      createCipheriv: (algorithm, key, iv, options) => new Cipheriv(algorithm, key, iv, options),
      createDecipheriv: (algorithm, key, iv, options) => new Decipheriv(algorithm, key, iv, options),
      getCiphers: () => ArrayPrototypeSlice(NAMES),
    };
  };
});
