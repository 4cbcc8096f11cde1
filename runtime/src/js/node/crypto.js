// isoproxy node compat: node:crypto, the part built on the runtime's digest,
// HMAC and random ops: createHash, createHmac, hash, pbkdf2, hkdf,
// randomBytes, randomFill, randomInt, randomUUID, timingSafeEqual, and
// webcrypto (the global `crypto`); the AES ciphers come from
// crypto_cipher.js. https://nodejs.org/api/crypto.html
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const ops = internal.ops;
  const {
    Error, Math, RangeError, TypeError, Uint8Array, NumberIsInteger, StringPrototypeToLowerCase,
    TypedArrayPrototypeSet, TypedArrayPrototypeSubarray,
  } = internal.primordials;
  const webcrypto = globalThis.crypto;
  const { CryptoKey } = globalThis;

  // Node's names for the hashes the ops provide.
  const HASHES = { __proto__: null, sha1: "SHA-1", "sha-1": "SHA-1", sha256: "SHA-256", "sha-256": "SHA-256", sha384: "SHA-384", "sha-384": "SHA-384", sha512: "SHA-512", "sha-512": "SHA-512", "rsa-sha1": "SHA-1", "rsa-sha256": "SHA-256", "rsa-sha384": "SHA-384", "rsa-sha512": "SHA-512", md5: "MD5" };
  const SIZES = { "SHA-1": 20, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
  // MD5 (createHash only) is the runtime's own op; the SHAs are Web Crypto's.
  const digest = (alg, bytes) => ops.node_digest(alg, bytes);

  internal.registerBuiltin("node:crypto", () => {
    const { Buffer } = internal.requireBuiltin("node:buffer");
    const err = (Ctor, code, msg) => internal.nodeError(Ctor, code, msg);
    function hashName(algorithm) {
      const name = HASHES[StringPrototypeToLowerCase(`${algorithm}`)];
      if (name === undefined) throw new Error("Digest method not supported");
      return name;
    }
    function toBytes(data, encoding, name = "data") {
      if (typeof data === "string") return Buffer.from(data, encoding);
      const b = internal.toBytes(data);
      if (b === null) throw internal.invalidArgType(name, "of type string or an instance of Buffer, TypedArray, or DataView", data);
      return b;
    }
    const output = (bytes, encoding) => {
      const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return encoding === undefined || encoding === "buffer" ? b : b.toString(encoding);
    };
    // A cipher key: a secret KeyObject's bytes, or bytes as `toBytes` reads them.
    const keyBytes = (key) => (internal.nodeKeyObjectSecret?.(key) ?? toBytes(key, undefined, "key"));
    const ciphers = internal.nodeCipher({ Buffer, err, toBytes, keyBytes });
    const keys = internal.nodeKeys({ Buffer, err, toBytes, hashName, nextTick: (...a) => internal.requireBuiltin("node:process").nextTick(...a) });
    // The input is kept until digest(): the ops hash in one go.
    function joined(chunks, total) {
      const all = new Uint8Array(total);
      let at = 0;
      for (let i = 0; i < chunks.length; i++) { TypedArrayPrototypeSet(all, chunks[i], at); at += chunks[i].length; }
      return all;
    }

    class Hash {
      #alg; #chunks = []; #total = 0; #done = false;
      constructor(algorithm, _options) { this.#alg = hashName(algorithm); }
      update(data, encoding) {
        if (this.#done) throw err(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
        const b = toBytes(data, encoding);
        this.#chunks[this.#chunks.length] = new Uint8Array(b);
        this.#total += b.length;
        return this;
      }
      digest(encoding) {
        if (this.#done) throw err(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
        this.#done = true;
        const d = digest(this.#alg, joined(this.#chunks, this.#total));
        this.#chunks = [];
        return output(d, encoding);
      }
      copy() {
        if (this.#done) throw err(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
        const h = new Hash(this.#alg);
        for (const c of this.#chunks) h.update(c);
        return h;
      }
    }
    class Hmac {
      #alg; #key; #chunks = []; #total = 0; #done = false;
      constructor(algorithm, key, _options) {
        this.#alg = hmacHashName(algorithm);
        this.#key = new Uint8Array(toBytes(key, undefined, "key"));
      }
      update(data, encoding) {
        if (this.#done) throw err(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
        const b = toBytes(data, encoding);
        this.#chunks[this.#chunks.length] = new Uint8Array(b);
        this.#total += b.length;
        return this;
      }
      digest(encoding) {
        if (this.#done) throw err(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
        this.#done = true;
        const d = ops.node_hmac(this.#alg, this.#key, joined(this.#chunks, this.#total));
        this.#chunks = [];
        return output(d, encoding);
      }
    }
    const createHash = (algorithm, options) => new Hash(algorithm, options);
    const createHmac = (algorithm, key, options) => new Hmac(algorithm, key, options);
    const hash = (algorithm, data, outputEncoding = "hex") => output(digest(hashName(algorithm), toBytes(data)), outputEncoding);

    function randomFillSync(buf, offset = 0, size) {
      const view = internal.toBytes(buf);
      if (view === null) throw internal.invalidArgType("buf", "an instance of ArrayBuffer or ArrayBufferView", buf);
      const end = size === undefined ? view.length : offset + size;
      if (offset < 0 || end > view.length || offset > end) throw err(RangeError, "ERR_OUT_OF_RANGE", `The value of "size + offset" is out of range. It must be <= ${view.length}. Received ${end}`);
      for (let at = offset; at < end; at += 65536) ops.crypto_random_fill(TypedArrayPrototypeSubarray(view, at, Math.min(end, at + 65536)));
      return buf;
    }
    function randomBytes(size, callback) {
      if (typeof size !== "number" || !NumberIsInteger(size) || size < 0 || size > 2 ** 31 - 1) {
        throw err(RangeError, "ERR_OUT_OF_RANGE", `The value of "size" is out of range. It must be >= 0 && <= 2147483647. Received ${size}`);
      }
      const b = randomFillSync(Buffer.alloc(size));
      if (typeof callback === "function") { internal.requireBuiltin("node:process").nextTick(callback, null, b); return undefined; }
      return b;
    }
    function randomFill(buf, offset, size, callback) {
      if (typeof offset === "function") { callback = offset; offset = 0; size = undefined; }
      else if (typeof size === "function") { callback = size; size = undefined; }
      randomFillSync(buf, offset, size);
      internal.requireBuiltin("node:process").nextTick(callback, null, buf);
    }
    function randomInt(min, max, callback) {
      if (max === undefined || typeof max === "function") { callback = max; max = min; min = 0; }
      if (!NumberIsInteger(min) || !NumberIsInteger(max)) throw internal.invalidArgType("min", "a safe integer", min);
      const range = max - min;
      if (!(range > 0) || range > 2 ** 48) throw err(RangeError, "ERR_OUT_OF_RANGE", `The value of "max" is out of range. It must be greater than the value of "min" (${min}). Received ${max}`);
      // Rejection sampling over 48 random bits, so every value is as likely.
      const limit = 2 ** 48 - (2 ** 48 % range);
      let n;
      do {
        const b = randomFillSync(new Uint8Array(6));
        n = b[0] * 2 ** 40 + b[1] * 2 ** 32 + b[2] * 2 ** 24 + b[3] * 2 ** 16 + b[4] * 2 ** 8 + b[5];
      } while (n >= limit);
      const v = min + (n % range);
      if (typeof callback === "function") { internal.requireBuiltin("node:process").nextTick(callback, null, v); return undefined; }
      return v;
    }
    function timingSafeEqual(a, b) {
      const x = internal.toBytes(a), y = internal.toBytes(b);
      if (x === null) throw internal.invalidArgType("buf1", "an instance of ArrayBuffer, Buffer, TypedArray, or DataView", a);
      if (y === null) throw internal.invalidArgType("buf2", "an instance of ArrayBuffer, Buffer, TypedArray, or DataView", b);
      // A TypeError without a code, as in workerd (Node throws a RangeError).
      if (x.length !== y.length) throw new TypeError("Input buffers must have the same byte length.");
      let diff = 0;
      for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
      return diff === 0;
    }

    // PBKDF2 (RFC 8018, section 5.2) over the HMAC op.
    // The HMAC-based functions take the SHAs only.
    function hmacHashName(algorithm) {
      const alg = hashName(algorithm);
      if (alg === "MD5") throw new Error("Digest method not supported");
      return alg;
    }
    function pbkdf2Sync(password, salt, iterations, keylen, digest) {
      const alg = hmacHashName(digest);
      const p = new Uint8Array(toBytes(password, undefined, "password"));
      const s = toBytes(salt, undefined, "salt");
      if (!NumberIsInteger(iterations) || iterations < 1) throw err(RangeError, "ERR_OUT_OF_RANGE", `The value of "iterations" is out of range. It must be >= 1 && <= 2147483647. Received ${iterations}`);
      if (!NumberIsInteger(keylen) || keylen < 0) throw err(RangeError, "ERR_OUT_OF_RANGE", `The value of "keylen" is out of range. It must be >= 0 && <= 2147483647. Received ${keylen}`);
      const hlen = SIZES[alg];
      const out = Buffer.alloc(keylen);
      const block = new Uint8Array(s.length + 4);
      TypedArrayPrototypeSet(block, s, 0);
      for (let i = 1, at = 0; at < keylen; i++, at += hlen) {
        block[s.length] = i >>> 24; block[s.length + 1] = (i >>> 16) & 255; block[s.length + 2] = (i >>> 8) & 255; block[s.length + 3] = i & 255;
        let u = ops.node_hmac(alg, p, block);
        const t = new Uint8Array(u);
        for (let j = 1; j < iterations; j++) {
          u = ops.node_hmac(alg, p, u);
          for (let k = 0; k < hlen; k++) t[k] ^= u[k];
        }
        TypedArrayPrototypeSet(out, TypedArrayPrototypeSubarray(t, 0, Math.min(hlen, keylen - at)), at);
      }
      return out;
    }
    function pbkdf2(password, salt, iterations, keylen, digest, callback) {
      let result, error = null;
      try { result = pbkdf2Sync(password, salt, iterations, keylen, digest); } catch (e) { error = e; }
      internal.requireBuiltin("node:process").nextTick(callback, error, result);
    }
    // HKDF (RFC 5869) over the HMAC op; returns an ArrayBuffer as Node does.
    function hkdfSync(digest, ikm, salt, info, keylen) {
      const alg = hmacHashName(digest);
      const hlen = SIZES[alg];
      if (!NumberIsInteger(keylen) || keylen < 0 || keylen > 255 * hlen) throw err(RangeError, "ERR_CRYPTO_INVALID_KEYLEN", "Invalid key length");
      let saltBytes = new Uint8Array(toBytes(salt, undefined, "salt"));
      if (saltBytes.length === 0) saltBytes = new Uint8Array(hlen);
      const prk = ops.node_hmac(alg, saltBytes, toBytes(ikm, undefined, "ikm"));
      const infoBytes = toBytes(info, undefined, "info");
      const out = new Uint8Array(keylen);
      let prev = new Uint8Array(0);
      for (let i = 1, at = 0; at < keylen; i++, at += hlen) {
        const input = new Uint8Array(prev.length + infoBytes.length + 1);
        TypedArrayPrototypeSet(input, prev, 0);
        TypedArrayPrototypeSet(input, infoBytes, prev.length);
        input[input.length - 1] = i;
        prev = ops.node_hmac(alg, prk, input);
        TypedArrayPrototypeSet(out, TypedArrayPrototypeSubarray(prev, 0, Math.min(hlen, keylen - at)), at);
      }
      return out.buffer;
    }
    function hkdf(digest, ikm, salt, info, keylen, callback) {
      let result, error = null;
      try { result = hkdfSync(digest, ikm, salt, info, keylen); } catch (e) { error = e; }
      internal.requireBuiltin("node:process").nextTick(callback, error, result);
    }

    // scrypt (RFC 7914), native; Node's option names and limits.
    function scryptSync(password, salt, keylen, options = {}) {
      const o = options ?? {};
      const N = o.N ?? o.cost ?? 16384;
      const r = o.r ?? o.blockSize ?? 8;
      const p = o.p ?? o.parallelization ?? 1;
      const maxmem = o.maxmem ?? 32 << 20;
      if (!NumberIsInteger(keylen) || keylen < 0) throw err(RangeError, "ERR_OUT_OF_RANGE", `The value of "keylen" is out of range. It must be >= 0 && <= 2147483647. Received ${keylen}`);
      // workerd's errors: a plain Error for bad parameters, a RangeError
      // past the memory limit.
      const logN = Math.log2(N);
      if (!NumberIsInteger(N) || N < 2 || !NumberIsInteger(logN) || !NumberIsInteger(r) || r < 1 || !NumberIsInteger(p) || p < 1) {
        throw new Error("Scrypt failed");
      }
      if (128 * N * r > maxmem) throw new RangeError(`Scrypt failed: cost exceeds maximum (${N}).`);
      const out = ops.node_scrypt(toBytes(password, undefined, "password"), toBytes(salt, undefined, "salt"), logN, r, p, keylen);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
    function scrypt(password, salt, keylen, options, callback) {
      if (typeof options === "function") { callback = options; options = undefined; }
      let result, error = null;
      try { result = scryptSync(password, salt, keylen, options); } catch (e) { error = e; }
      internal.requireBuiltin("node:process").nextTick(callback, error, result);
    }

    return {
      __proto__: null,
      Hash, Hmac, createHash, createHmac, hash,
      pbkdf2, pbkdf2Sync, hkdf, hkdfSync, scrypt, scryptSync,
      randomBytes, pseudoRandomBytes: randomBytes, randomFill, randomFillSync, randomInt,
      randomUUID: () => webcrypto.randomUUID(),
      getRandomValues: (a) => webcrypto.getRandomValues(a),
      timingSafeEqual,
      webcrypto,
      subtle: webcrypto.subtle,
      CryptoKey,
      getHashes: () => ["md5", "sha1", "sha256", "sha384", "sha512"],
      Cipheriv: ciphers.Cipheriv, Decipheriv: ciphers.Decipheriv,
      createCipheriv: ciphers.createCipheriv, createDecipheriv: ciphers.createDecipheriv,
      getCiphers: ciphers.getCiphers,
      getCurves: () => [],
      getFips: () => 0,
      KeyObject: keys.KeyObject, createSecretKey: keys.createSecretKey,
      createPublicKey: keys.createPublicKey, createPrivateKey: keys.createPrivateKey,
      sign: keys.sign, verify: keys.verify, Sign: keys.Sign, Verify: keys.Verify,
      createSign: keys.createSign, createVerify: keys.createVerify,
      constants: {
        RSA_PKCS1_PADDING: 1, RSA_PKCS1_PSS_PADDING: keys.RSA_PKCS1_PSS_PADDING,
        RSA_PSS_SALTLEN_DIGEST: -1, RSA_PSS_SALTLEN_MAX_SIGN: -2, RSA_PSS_SALTLEN_AUTO: -2,
      },
    };
  });
});
