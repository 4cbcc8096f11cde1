// isoproxy glue, part 7: crypto.getRandomValues, crypto.randomUUID and the
// crypto.subtle subset: digest and HMAC (importKey "raw"/"jwk", sign, verify,
// exportKey "raw"). Spec: https://w3c.github.io/webcrypto/
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const kKey = Symbol("key");
  let creating = false;

  const HASHES = { "sha-1": "SHA-1", "sha-256": "SHA-256", "sha-384": "SHA-384", "sha-512": "SHA-512" };
  const BLOCK = { "SHA-1": 64, "SHA-256": 64, "SHA-384": 128, "SHA-512": 128 };

  function hashName(h) {
    const name = typeof h === "string" ? h : h?.name;
    const n = HASHES[String(name).toLowerCase()];
    if (!n) throw new DOMException(`Unrecognized hash algorithm: ${name}`, "NotSupportedError");
    return n;
  }
  function bytes(x, what) {
    const b = internal.toBytes(x);
    if (b === null) throw new TypeError(`${what} must be a BufferSource`);
    return b;
  }

  // https://w3c.github.io/webcrypto/#cryptokey-interface
  class CryptoKey {
    constructor() { if (!creating) throw new TypeError("Illegal constructor"); }
    get type() { return this[kKey].type; }
    get extractable() { return this[kKey].extractable; }
    get algorithm() { return this[kKey].algorithm; }
    get usages() { return this[kKey].usages; }
  }
  internal.brand(CryptoKey, "CryptoKey");

  function b64urlDecode(s) {
    const bin = atob(String(s).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  function b64urlEncode(b) {
    return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  const subtle = {
    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-digest
    async digest(algorithm, data) {
      const name = hashName(algorithm);
      return ops.crypto_digest(name, bytes(data, "data")).buffer;
    },
    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-importKey (HMAC only)
    async importKey(format, keyData, algorithm, extractable, usages) {
      const alg = typeof algorithm === "string" ? { name: algorithm } : algorithm;
      if (String(alg?.name).toUpperCase() !== "HMAC") throw new DOMException(`Unsupported algorithm: ${alg?.name}`, "NotSupportedError");
      const hash = hashName(alg.hash);
      for (const u of usages) if (u !== "sign" && u !== "verify") throw new SyntaxError(`invalid key usage ${u}`);
      let raw;
      if (format === "raw") raw = new Uint8Array(bytes(keyData, "keyData"));
      else if (format === "jwk") {
        if (keyData?.kty !== "oct") throw new DOMException("JWK kty must be oct", "DataError");
        raw = b64urlDecode(keyData.k);
      } else throw new DOMException(`Unsupported key format: ${format}`, "NotSupportedError");
      if (raw.length === 0) throw new DOMException("HMAC key must not be empty", "DataError");
      let length = raw.length * 8;
      if (alg.length !== undefined) {
        length = Number(alg.length);
        if (length > raw.length * 8 || length <= (raw.length - 1) * 8) throw new DOMException("invalid key length", "DataError");
      }
      creating = true;
      let key;
      try { key = new CryptoKey(); } finally { creating = false; }
      key[kKey] = { type: "secret", extractable: !!extractable, algorithm: { name: "HMAC", hash: { name: hash }, length }, usages: [...usages], raw };
      return key;
    },
    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-generateKey (HMAC only)
    async generateKey(algorithm, extractable, usages) {
      const hash = hashName(algorithm?.hash);
      const len = algorithm.length ? Number(algorithm.length) / 8 : BLOCK[hash];
      const raw = crypto.getRandomValues(new Uint8Array(len));
      return subtle.importKey("raw", raw, { name: "HMAC", hash }, extractable, usages);
    },
    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-exportKey
    async exportKey(format, key) {
      if (!(key instanceof CryptoKey)) throw new TypeError("key must be a CryptoKey");
      if (!key.extractable) throw new DOMException("key is not extractable", "InvalidAccessError");
      const raw = key[kKey].raw;
      if (format === "raw") return raw.slice().buffer;
      if (format === "jwk") {
        return { kty: "oct", k: b64urlEncode(raw), alg: "HS" + key.algorithm.hash.name.slice(4), key_ops: key.usages, ext: true };
      }
      throw new DOMException(`Unsupported key format: ${format}`, "NotSupportedError");
    },
    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-sign
    async sign(algorithm, key, data) {
      check(algorithm, key, "sign");
      return ops.crypto_hmac_sign(key.algorithm.hash.name, key[kKey].raw, bytes(data, "data")).buffer;
    },
    // https://w3c.github.io/webcrypto/#SubtleCrypto-method-verify
    async verify(algorithm, key, signature, data) {
      check(algorithm, key, "verify");
      return ops.crypto_hmac_verify(key.algorithm.hash.name, key[kKey].raw, bytes(signature, "signature"), bytes(data, "data"));
    },
  };
  function check(algorithm, key, usage) {
    const name = typeof algorithm === "string" ? algorithm : algorithm?.name;
    if (String(name).toUpperCase() !== "HMAC") throw new DOMException(`Unsupported algorithm: ${name}`, "NotSupportedError");
    if (!(key instanceof CryptoKey)) throw new TypeError("key must be a CryptoKey");
    if (!key.usages.includes(usage)) throw new DOMException(`key does not allow ${usage}`, "InvalidAccessError");
  }

  const INTEGER_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];
  const crypto = {
    subtle,
    // https://w3c.github.io/webcrypto/#Crypto-method-getRandomValues
    getRandomValues(array) {
      if (!INTEGER_ARRAYS.some((t) => array instanceof t)) throw new DOMException("getRandomValues: argument must be an integer TypedArray", "TypeMismatchError");
      if (array.byteLength > 65536) throw new DOMException("getRandomValues: at most 65536 bytes", "QuotaExceededError");
      ops.crypto_random_fill(array);
      return array;
    },
    // https://w3c.github.io/webcrypto/#Crypto-method-randomUUID
    randomUUID() { return ops.crypto_random_uuid(); },
  };
  internal.defineGlobals({ crypto, CryptoKey });
})();
