// isoproxy glue, part 7 (continued): the Web Crypto interfaces: crypto
// (getRandomValues, randomUUID), crypto.subtle, and workerd's
// crypto.subtle.timingSafeEqual and crypto.DigestStream, over the
// machinery of 07_crypto.js. Spec: https://w3c.github.io/webcrypto/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const { primordials } = internal;
  const {
    Promise, TypeError, Uint8Array, ArrayPrototypeSome, JSONParse, JSONStringify, PromisePrototypeThen,
    globalThis: global,
  } = primordials;
  const WritableStream = global.WritableStream;
  const TextEncoder = global.TextEncoder;
  const TextDecoder = global.TextDecoder;
  const {
    CryptoKey, dom, fromNative, native, bufferOf, copyBytes, normalize, usageList, keyFormat, keyDataFor,
    generate, importInto, exportOf, checkKey, signParams, cipher, deriveBitsOf, keyLength, jwkDict, track,
    enforceRange,
  } = internal.webcrypto;
  let creating = false;

  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: true });

  // ---------------------------------------------------------------------
  // SubtleCrypto

  class SubtleCrypto {
    constructor() { if (!creating) throw new TypeError("Illegal constructor"); }

    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-digest
    async digest(algorithm, data) {
      const alg = normalize(algorithm, "digest");
      const bytes = copyBytes(data, "data");
      return bufferOf(await native(ops.crypto_digest, alg.name, bytes));
    }

    async generateKey(algorithm, extractable, keyUsages) {
      const alg = normalize(algorithm, "generateKey");
      return await generate(alg, !!extractable, usageList(keyUsages));
    }

    async importKey(format, keyData, algorithm, extractable, keyUsages) {
      const f = keyFormat(format);
      const data = keyDataFor(f, keyData);
      const usages = usageList(keyUsages);
      const alg = normalize(algorithm, "importKey");
      return await importInto(f, data, alg, !!extractable, usages);
    }

    async exportKey(format, key) {
      const f = keyFormat(format);
      if (!(key instanceof CryptoKey)) throw new TypeError("key must be a CryptoKey");
      return await exportOf(f, key);
    }

    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-sign
    async sign(algorithm, key, data) {
      const alg = normalize(algorithm, "sign");
      const bytes = copyBytes(data, "data");
      const s = checkKey(key, alg, "sign");
      if (s.type !== (alg.name === "HMAC" ? "secret" : "private")) throw dom("The key cannot sign", "InvalidAccessError");
      const p = signParams(alg, s);
      return bufferOf(await native(ops.crypto_sign, s.handle, alg.name, p[0], p[1], bytes));
    }

    async verify(algorithm, key, signature, data) {
      const alg = normalize(algorithm, "verify");
      const sig = copyBytes(signature, "signature");
      const bytes = copyBytes(data, "data");
      const s = checkKey(key, alg, "verify");
      if (s.type !== (alg.name === "HMAC" ? "secret" : "public")) throw dom("The key cannot verify", "InvalidAccessError");
      const p = signParams(alg, s);
      const r = await native(ops.crypto_verify, s.handle, alg.name, p[0], p[1], sig, bytes);
      return r[0] === 1;
    }

    async encrypt(algorithm, key, data) {
      const alg = normalize(algorithm, "encrypt");
      const bytes = copyBytes(data, "data");
      const s = checkKey(key, alg, "encrypt");
      return bufferOf(await cipher(alg, s, true, bytes));
    }

    async decrypt(algorithm, key, data) {
      const alg = normalize(algorithm, "decrypt");
      const bytes = copyBytes(data, "data");
      const s = checkKey(key, alg, "decrypt");
      return bufferOf(await cipher(alg, s, false, bytes));
    }

    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-deriveBits
    async deriveBits(algorithm, baseKey, length = null) {
      const alg = normalize(algorithm, "deriveBits");
      const len = length === null || length === undefined ? null : enforceRange(length, 32, "length");
      const s = checkKey(baseKey, alg, "deriveBits");
      return bufferOf(await deriveBitsOf(alg, s, len));
    }

    async deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
      const alg = normalize(algorithm, "deriveBits");
      const importAlg = normalize(derivedKeyType, "importKey");
      const lengthAlg = normalize(derivedKeyType, "keyLength");
      const usages = usageList(keyUsages);
      const s = checkKey(baseKey, alg, "deriveKey");
      const length = keyLength(lengthAlg);
      const secret = await deriveBitsOf(alg, s, length);
      return await importInto("raw", secret, importAlg, !!extractable, usages);
    }

    async wrapKey(format, key, wrappingKey, wrapAlgorithm) {
      const f = keyFormat(format);
      let alg;
      try {
        alg = normalize(wrapAlgorithm, "wrapKey");
      } catch (e) {
        if (e?.name !== "NotSupportedError") throw e;
        alg = normalize(wrapAlgorithm, "encrypt");
      }
      if (!(key instanceof CryptoKey)) throw new TypeError("key must be a CryptoKey");
      const s = checkKey(wrappingKey, alg, "wrapKey");
      const exported = await exportOf(f, key);
      const bytes = f === "jwk" ? encoder.encode(JSONStringify(exported)) : new Uint8Array(exported);
      return bufferOf(await cipher(alg, s, true, bytes));
    }

    async unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, keyUsages) {
      const f = keyFormat(format);
      const wrapped = copyBytes(wrappedKey, "wrappedKey");
      let alg;
      try {
        alg = normalize(unwrapAlgorithm, "unwrapKey");
      } catch (e) {
        if (e?.name !== "NotSupportedError") throw e;
        alg = normalize(unwrapAlgorithm, "decrypt");
      }
      const importAlg = normalize(unwrappedKeyAlgorithm, "importKey");
      const usages = usageList(keyUsages);
      const s = checkKey(unwrappingKey, alg, "unwrapKey");
      const bytes = await cipher(alg, s, false, wrapped);
      let data;
      if (f === "jwk") {
        let parsed;
        try { parsed = JSONParse(decoder.decode(bytes)); } catch { throw dom("The unwrapped key is not a JWK", "DataError"); }
        data = jwkDict(parsed);
      } else {
        data = bytes;
      }
      return await importInto(f, data, importAlg, !!extractable, usages);
    }

    // workerd's extension: compare two buffers in time that depends only
    // on their length. https://developers.cloudflare.com/workers/runtime-apis/web-crypto/#timingsafeequal
    timingSafeEqual(a, b) {
      const x = internal.toBytes(a);
      const y = internal.toBytes(b);
      if (x === null || y === null) throw new TypeError("timingSafeEqual: arguments must be ArrayBuffers or views");
      if (x.byteLength !== y.byteLength) throw new TypeError("timingSafeEqual: the inputs must have the same length");
      return ops.crypto_timing_safe_equal(x, y);
    }
  }
  internal.brand(SubtleCrypto, "SubtleCrypto");
  // Methods behave as WebIDL operations: errors are rejections, and
  // `this` must be the SubtleCrypto object.
  creating = true;
  const subtle = new SubtleCrypto();
  creating = false;

  // workerd's DigestStream: a WritableStream that hashes what is written;
  // `digest` resolves to the hash when the stream closes.
  // https://developers.cloudflare.com/workers/runtime-apis/web-crypto/#constructors
  class DigestStream extends WritableStream {
    constructor(algorithm) {
      const alg = normalize(algorithm, "digest");
      let handle;
      try { handle = ops.crypto_digest_stream(alg.name); } catch (e) { throw fromNative(e); }
      let resolve;
      let reject;
      const digest = new Promise((res, rej) => { resolve = res; reject = rej; });
      super({
        write(chunk) {
          const bytes = typeof chunk === "string" ? encoder.encode(chunk) : internal.toBytes(chunk);
          if (bytes === null) throw new TypeError("DigestStream accepts BufferSource or string chunks");
          ops.crypto_digest_update(handle, bytes);
        },
        close() {
          resolve(bufferOf(ops.crypto_digest_update(handle, undefined, true)));
          ops.crypto_key_drop(handle);
        },
        abort(reason) {
          ops.crypto_key_drop(handle);
          reject(reason);
        },
      });
      // An unobserved rejection after abort is not an error of the Worker.
      PromisePrototypeThen(digest, undefined, () => {});
      this.digest = digest;
      track(this, handle);
    }
  }

  const INTEGER_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];
  class Crypto {
    constructor() { if (!creating) throw new TypeError("Illegal constructor"); }
    get subtle() { return subtle; }
    // https://w3c.github.io/webcrypto/#Crypto-method-getRandomValues
    getRandomValues(array) {
      if (!ArrayPrototypeSome(INTEGER_ARRAYS, (t) => array instanceof t)) throw dom("getRandomValues: argument must be an integer TypedArray", "TypeMismatchError");
      if (array.byteLength > 65536) throw dom("getRandomValues: at most 65536 bytes", "QuotaExceededError");
      ops.crypto_random_fill(array);
      return array;
    }
    // https://w3c.github.io/webcrypto/#Crypto-method-randomUUID
    randomUUID() { return ops.crypto_random_uuid(); }
  }
  internal.brand(Crypto, "Crypto");
  Crypto.prototype.DigestStream = DigestStream;
  creating = true;
  const crypto = new Crypto();
  creating = false;
  internal.defineGlobals({ crypto, Crypto, CryptoKey, SubtleCrypto });
  // For node:crypto's webcrypto parts.
  internal.crypto = { subtle, CryptoKey, DigestStream };
})();
