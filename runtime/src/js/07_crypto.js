// isoproxy glue, part 7: Web Crypto's machinery (the interfaces are in
// 07_subtle.js). Spec: https://w3c.github.io/webcrypto/
//
// This file normalises algorithms, checks keys, usages and parameters in the
// spec's order with the spec's exception names, and builds CryptoKey objects
// and JWKs. The cryptography and the key material are native
// (`ops/crypto/`): a CryptoKey holds a handle into the isolate's key table,
// dropped once the CryptoKey is collected.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const { primordials } = internal;
  const {
    Math, Promise, String, Symbol, TypeError, Uint8Array,
    ArrayIsArray, ArrayPrototypeFilter, ArrayPrototypeSlice, ReflectApply, ArrayPrototypeIncludes, ArrayPrototypePush, ArrayPrototypeSort,
    NumberIsFinite, ObjectKeys, RegExpTest, SafeMap, SafeSet,
    StringPrototypeIndexOf, StringPrototypeSlice, StringPrototypeToUpperCase,
    SymbolIterator, TypedArrayPrototypeSlice, globalThis: global,
  } = primordials;
  const DOMException = global.DOMException;
  const ArrayPrototypeConcat = primordials.uncurryThis(Array.prototype.concat);
  const FinalizationRegistry = global.FinalizationRegistry;
  const kKey = Symbol("key");
  let creating = false;

  // ---------------------------------------------------------------------
  // Errors and small helpers

  const dom = (message, name) => new DOMException(message, name);

  // Turn a native error ("DataError: ...") into its DOMException.
  function fromNative(e) {
    const m = typeof e === "string" ? e : e?.message;
    if (typeof m === "string") {
      const i = StringPrototypeIndexOf(m, ": ");
      const name = i > 0 ? StringPrototypeSlice(m, 0, i) : "";
      if (name === "TypeError") return new TypeError(StringPrototypeSlice(m, i + 2));
      if (RegExpTest(/^[A-Za-z]+Error$/, name)) return dom(StringPrototypeSlice(m, i + 2), name);
      return dom(m, "OperationError");
    }
    return e;
  }
  // Call an op; its result is the value itself or, for work done off the
  // thread, the id of an async op.
  async function native(op, ...args) {
    let r;
    try { r = ReflectApply(op, undefined, args); } catch (e) { throw fromNative(e); }
    if (typeof r !== "number") return r;
    return await new Promise((resolve, reject) => {
      internal.onOp(r, (ok, value) => { if (ok) resolve(value); else reject(fromNative(value)); }, () => {});
    });
  }
  const bufferOf = (u8) => (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength ? u8.buffer : TypedArrayPrototypeSlice(u8).buffer);

  // A copy of a BufferSource (the spec copies before any await).
  function copyBytes(x, what) {
    const b = internal.toBytes(x);
    if (b === null) throw new TypeError(`${what} is not a BufferSource`);
    return TypedArrayPrototypeSlice(b);
  }

  // JWK members are unpadded base64url (RFC 7515); converted natively.
  const b64urlEncode = (b) => ops.crypto_b64url_encode(b);
  function b64urlDecode(s, member) {
    const out = typeof s === "string" ? ops.crypto_b64url_decode(s) : null;
    if (out === null) throw dom(`JWK member ${member} is not base64url`, "DataError");
    return out;
  }

  // WebIDL conversions used by the algorithm dictionaries.
  function enforceRange(v, bits, what) {
    const n = +v;
    if (!NumberIsFinite(n)) throw new TypeError(`${what} is not a finite number`);
    const t = n < 0 ? -Math.floor(-n) : Math.floor(n);
    if (t < 0 || t > 2 ** bits - 1) throw new TypeError(`${what} is out of range`);
    return t;
  }
  function unsignedLong(v) {
    const n = +v;
    if (!NumberIsFinite(n)) return 0;
    const t = n < 0 ? -Math.floor(-n) : Math.floor(n);
    return ((t % 2 ** 32) + 2 ** 32) % 2 ** 32;
  }

  // ---------------------------------------------------------------------
  // Algorithm normalisation
  // https://w3c.github.io/webcrypto/#algorithm-normalization-normalize-an-algorithm

  const SHA = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  const HASH_BLOCK_BITS = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
  // Member types: "hash", "bytes" (BufferSource), "u32" (unsigned long,
  // [EnforceRange]), "u16", "u8", "string", "key" (CryptoKey), "bigint"
  // (BigInteger: Uint8Array). A "?" suffix: optional.
  const RSA_GEN = { modulusLength: "u32", publicExponent: "bigint", hash: "hash" };
  const DICTS = {
    digest: { "SHA-1": {}, "SHA-256": {}, "SHA-384": {}, "SHA-512": {}, "MD5": {} },
    hash: { "SHA-1": {}, "SHA-256": {}, "SHA-384": {}, "SHA-512": {} },
    sign: { "RSASSA-PKCS1-v1_5": {}, "RSA-PSS": { saltLength: "u32" }, "ECDSA": { hash: "hash" }, "Ed25519": {}, "HMAC": {} },
    generateKey: {
      "RSASSA-PKCS1-v1_5": RSA_GEN, "RSA-PSS": RSA_GEN, "RSA-OAEP": RSA_GEN,
      "ECDSA": { namedCurve: "string" }, "ECDH": { namedCurve: "string" }, "Ed25519": {}, "X25519": {},
      "HMAC": { hash: "hash", length: "u32?" },
      "AES-CTR": { length: "u16" }, "AES-CBC": { length: "u16" }, "AES-GCM": { length: "u16" }, "AES-KW": { length: "u16" },
    },
    importKey: {
      "RSASSA-PKCS1-v1_5": { hash: "hash" }, "RSA-PSS": { hash: "hash" }, "RSA-OAEP": { hash: "hash" },
      "ECDSA": { namedCurve: "string" }, "ECDH": { namedCurve: "string" }, "Ed25519": {}, "X25519": {},
      "HMAC": { hash: "hash", length: "u32?" },
      "AES-CTR": {}, "AES-CBC": {}, "AES-GCM": {}, "AES-KW": {}, "HKDF": {}, "PBKDF2": {},
    },
    encrypt: {
      "RSA-OAEP": { label: "bytes?" },
      "AES-CTR": { counter: "bytes", length: "u8" },
      "AES-CBC": { iv: "bytes" },
      "AES-GCM": { iv: "bytes", additionalData: "bytes?", tagLength: "u8?" },
    },
    deriveBits: {
      "ECDH": { public: "key" }, "X25519": { public: "key" },
      "HKDF": { hash: "hash", salt: "bytes", info: "bytes" },
      "PBKDF2": { salt: "bytes", iterations: "u32", hash: "hash" },
    },
    wrapKey: { "AES-KW": {} },
    keyLength: {
      "AES-CTR": { length: "u16" }, "AES-CBC": { length: "u16" }, "AES-GCM": { length: "u16" }, "AES-KW": { length: "u16" },
      "HMAC": { hash: "hash", length: "u32?" }, "HKDF": {}, "PBKDF2": {},
    },
  };
  DICTS.verify = DICTS.sign;
  DICTS.decrypt = DICTS.encrypt;
  DICTS.unwrapKey = DICTS.wrapKey;
  // Upper-cased name -> registered name, per operation.
  const NAMES = {};
  const OPS = ObjectKeys(DICTS);
  for (let i = 0; i < OPS.length; i++) {
    const op = OPS[i];
    NAMES[op] = new SafeMap();
    const names = ObjectKeys(DICTS[op]);
    for (let j = 0; j < names.length; j++) NAMES[op].set(StringPrototypeToUpperCase(names[j]), names[j]);
  }

  function normalize(algorithm, op) {
    // AlgorithmIdentifier is (object or DOMString): anything not an
    // object is taken as the name.
    if (algorithm === null || (typeof algorithm !== "object" && typeof algorithm !== "function")) {
      if (typeof algorithm === "symbol") throw new TypeError("Algorithm must be a string or an object");
      return normalize({ name: String(algorithm) }, op);
    }
    if (algorithm.name === undefined) throw new TypeError("Algorithm: name is required");
    const given = String(algorithm.name);
    const name = NAMES[op].get(StringPrototypeToUpperCase(given));
    if (name === undefined) throw dom(`Unrecognized or unsupported algorithm: ${given}`, "NotSupportedError");
    const dict = DICTS[op][name];
    const out = { name };
    // Members in lexicographic order, as WebIDL reads dictionaries.
    const members = ArrayPrototypeSort(ObjectKeys(dict));
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      let type = dict[m];
      const optional = type[type.length - 1] === "?";
      if (optional) type = StringPrototypeSlice(type, 0, -1);
      const v = algorithm[m];
      if (v === undefined) {
        if (optional) continue;
        throw new TypeError(`${name}: member ${m} is required`);
      }
      switch (type) {
        case "hash": out[m] = normalize(v, "hash"); break;
        case "bytes": out[m] = copyBytes(v, `${name}.${m}`); break;
        case "bigint":
          if (!(v instanceof Uint8Array)) throw new TypeError(`${name}.${m} must be a Uint8Array`);
          out[m] = TypedArrayPrototypeSlice(v);
          break;
        case "u32": out[m] = enforceRange(v, 32, `${name}.${m}`); break;
        case "u16": out[m] = enforceRange(v, 16, `${name}.${m}`); break;
        case "u8": out[m] = enforceRange(v, 8, `${name}.${m}`); break;
        case "string": out[m] = String(v); break;
        case "key":
          if (!(v instanceof CryptoKey)) throw new TypeError(`${name}.${m} must be a CryptoKey`);
          out[m] = v;
          break;
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------
  // CryptoKey
  // https://w3c.github.io/webcrypto/#cryptokey-interface

  const USAGES = ["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"];
  // Drops a handle's native entry once `obj` is collected (the registry is
  // made on first use: none is in the startup snapshot).
  let registry = null;
  function track(obj, handle) {
    if (registry === null) registry = new FinalizationRegistry((h) => ops.crypto_key_drop(h));
    registry.register(obj, handle);
  }

  class CryptoKey {
    constructor() { if (!creating) throw new TypeError("Illegal constructor"); }
    get type() { return slot(this).type; }
    get extractable() { return slot(this).extractable; }
    get algorithm() { return slot(this).algorithmObject; }
    get usages() { return slot(this).usagesObject; }
  }
  internal.brand(CryptoKey, "CryptoKey");
  function slot(key) {
    const s = key?.[kKey];
    if (s === undefined) throw new TypeError("Illegal invocation");
    return s;
  }

  // Freeze a copy of an algorithm for `key.algorithm` (byte members as
  // Uint8Array copies, hash as { name }).
  function algorithmView(a) {
    const o = {};
    const keys = ObjectKeys(a);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = a[k];
      o[k] = v instanceof Uint8Array ? TypedArrayPrototypeSlice(v) : v !== null && typeof v === "object" ? { name: v.name } : v;
    }
    return o;
  }

  function makeKey(handle, type, extractable, algorithm, usages) {
    creating = true;
    let key;
    try { key = new CryptoKey(); } finally { creating = false; }
    // Usages in the spec's canonical order, without repeats.
    const ordered = [];
    for (let i = 0; i < USAGES.length; i++) if (ArrayPrototypeIncludes(usages, USAGES[i])) ArrayPrototypePush(ordered, USAGES[i]);
    key[kKey] = {
      handle, type, extractable: !!extractable, algorithm, usages: ordered,
      algorithmObject: algorithmView(algorithm),
      usagesObject: ArrayPrototypeSlice(ordered),
    };
    track(key, handle);
    return key;
  }

  // A sequence<KeyUsage> from JS.
  function usageList(usages) {
    if (usages === null || typeof usages !== "object" || typeof usages[SymbolIterator] !== "function") {
      throw new TypeError("keyUsages must be a sequence");
    }
    const out = [];
    for (const u of usages) {
      const s = String(u);
      if (!ArrayPrototypeIncludes(USAGES, s)) throw new TypeError(`'${s}' is not a valid key usage`);
      ArrayPrototypePush(out, s);
    }
    return out;
  }
  function checkUsages(usages, allowed) {
    for (let i = 0; i < usages.length; i++) {
      if (!ArrayPrototypeIncludes(allowed, usages[i])) throw dom(`Usage '${usages[i]}' is not valid for this key`, "SyntaxError");
    }
  }
  const only = (usages, allowed) => ArrayPrototypeFilter(usages, (u) => ArrayPrototypeIncludes(allowed, u));

  // ---------------------------------------------------------------------
  // Per-family facts

  const FAMILY = {
    "RSASSA-PKCS1-v1_5": "rsa", "RSA-PSS": "rsa", "RSA-OAEP": "rsa",
    "ECDSA": "ec", "ECDH": "ec", "Ed25519": "ed25519", "X25519": "x25519",
    "HMAC": "secret", "AES-CTR": "secret", "AES-CBC": "secret", "AES-GCM": "secret", "AES-KW": "secret",
    "HKDF": "secret", "PBKDF2": "secret",
  };
  // [private usages, public usages] (or [secret usages]).
  const KEY_USAGES = {
    "RSASSA-PKCS1-v1_5": [["sign"], ["verify"]], "RSA-PSS": [["sign"], ["verify"]],
    "RSA-OAEP": [["decrypt", "unwrapKey"], ["encrypt", "wrapKey"]],
    "ECDSA": [["sign"], ["verify"]], "Ed25519": [["sign"], ["verify"]],
    "ECDH": [["deriveKey", "deriveBits"], []], "X25519": [["deriveKey", "deriveBits"], []],
    "HMAC": [["sign", "verify"]],
    "AES-CTR": [["encrypt", "decrypt", "wrapKey", "unwrapKey"]], "AES-CBC": [["encrypt", "decrypt", "wrapKey", "unwrapKey"]],
    "AES-GCM": [["encrypt", "decrypt", "wrapKey", "unwrapKey"]], "AES-KW": [["wrapKey", "unwrapKey"]],
    "HKDF": [["deriveKey", "deriveBits"]], "PBKDF2": [["deriveKey", "deriveBits"]],
  };
  const allUsages = (name) => (KEY_USAGES[name].length === 1 ? KEY_USAGES[name][0] : ArrayPrototypeConcat(KEY_USAGES[name][0], KEY_USAGES[name][1]));
  const CURVES = ["P-256", "P-384", "P-521"];
  const JWK_RSA_ALG = {
    "RSASSA-PKCS1-v1_5": { "SHA-1": "RS1", "SHA-256": "RS256", "SHA-384": "RS384", "SHA-512": "RS512" },
    "RSA-PSS": { "SHA-1": "PS1", "SHA-256": "PS256", "SHA-384": "PS384", "SHA-512": "PS512" },
    "RSA-OAEP": { "SHA-1": "RSA-OAEP", "SHA-256": "RSA-OAEP-256", "SHA-384": "RSA-OAEP-384", "SHA-512": "RSA-OAEP-512" },
  };
  const JWK_EC_ALG = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };
  const JWK_AES_ALG = { "AES-CTR": "CTR", "AES-CBC": "CBC", "AES-GCM": "GCM", "AES-KW": "KW" };
  const JWK_USE = { sign: "sig", verify: "sig", encrypt: "enc", decrypt: "enc", wrapKey: "enc", unwrapKey: "enc", deriveKey: "enc", deriveBits: "enc" };

  // ---------------------------------------------------------------------
  // generateKey
  // https://w3c.github.io/webcrypto/#SubtleCrypto-method-generateKey

  // A bound on generated HMAC keys (far past any hash's block size), so
  // that one call cannot allocate gigabytes natively.
  const MAX_HMAC_GENERATE_BITS = 65536;

  function handlesOf(bytes) {
    const out = [];
    for (let i = 0; i + 4 <= bytes.length; i += 4) ArrayPrototypePush(out, (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0);
    return out;
  }

  async function generate(alg, extractable, usages) {
    const name = alg.name;
    checkUsages(usages, allUsages(name));
    const family = FAMILY[name];
    if (family === "secret") {
      let length;
      if (name === "HMAC") {
        if (alg.length === undefined) length = HASH_BLOCK_BITS[alg.hash.name];
        else if (alg.length === 0) throw dom("HMAC length must not be 0", "OperationError");
        else if (alg.length > MAX_HMAC_GENERATE_BITS) throw dom(`HMAC keys are generated with at most ${MAX_HMAC_GENERATE_BITS} bits`, "OperationError");
        else length = alg.length;
      } else {
        if (alg.length !== 128 && alg.length !== 192 && alg.length !== 256) throw dom("AES key length must be 128, 192 or 256", "OperationError");
        length = alg.length;
      }
      if (usages.length === 0) throw dom("usages must not be empty", "SyntaxError");
      const h = handlesOf(await native(ops.crypto_generate, "secret", (length + 7) >> 3))[0];
      const algorithm = name === "HMAC" ? { name, hash: alg.hash, length } : { name, length };
      return makeKey(h, "secret", extractable, algorithm, usages);
    }
    // The parameter checks come first, then (as if the pair had been made)
    // the check for a private-key usage, then the work.
    if (family === "rsa") {
      const e = alg.publicExponent;
      let value = 0;
      for (let i = 0; i < e.length; i++) value = value * 256 + e[i];
      if (value !== 3 && value !== 65537) throw dom("The public exponent must be 3 or 65537", "OperationError");
      if (alg.modulusLength < 256 || alg.modulusLength > 8192 || alg.modulusLength % 8 !== 0) {
        throw dom("The modulus length must be a multiple of 8 between 256 and 8192", "OperationError");
      }
    } else if (family === "ec" && !ArrayPrototypeIncludes(CURVES, alg.namedCurve)) {
      throw dom(`Unsupported namedCurve: ${alg.namedCurve}`, "NotSupportedError");
    }
    const privateUsages = KEY_USAGES[name][0];
    const publicUsages = KEY_USAGES[name][1];
    if (only(usages, privateUsages).length === 0) throw dom("usages must include a private-key usage", "SyntaxError");
    let algorithm;
    let handles;
    if (family === "rsa") {
      handles = handlesOf(await native(ops.crypto_generate, "rsa", alg.modulusLength, alg.publicExponent));
      algorithm = { name, modulusLength: alg.modulusLength, publicExponent: alg.publicExponent, hash: alg.hash };
    } else if (family === "ec") {
      handles = handlesOf(await native(ops.crypto_generate, "ec", alg.namedCurve));
      algorithm = { name, namedCurve: alg.namedCurve };
    } else {
      handles = handlesOf(await native(ops.crypto_generate, family));
      algorithm = { name };
    }
    const privateKey = makeKey(handles[0], "private", extractable, algorithm, only(usages, privateUsages));
    const publicKey = makeKey(handles[1], "public", true, algorithm, only(usages, publicUsages));
    return { privateKey, publicKey };
  }

  // ---------------------------------------------------------------------
  // importKey
  // https://w3c.github.io/webcrypto/#SubtleCrypto-method-importKey

  function checkJwkCommon(jwk, kty, usages, extractable) {
    if (jwk.kty !== kty) throw dom(`JWK kty must be ${kty}`, "DataError");
    // Every usage a key may have maps to the same `use`.
    if (usages.length > 0 && jwk.use !== undefined && jwk.use !== JWK_USE[usages[0]]) {
      throw dom(`JWK use '${jwk.use}' does not allow ${usages[0]}`, "DataError");
    }
    if (jwk.key_ops !== undefined) {
      if (!ArrayIsArray(jwk.key_ops)) throw dom("JWK key_ops must be an array", "DataError");
      const seen = new SafeSet();
      const keyOps = jwk.key_ops;
      for (let i = 0; i < keyOps.length; i++) {
        if (seen.has(keyOps[i])) throw dom("JWK key_ops has duplicates", "DataError");
        seen.add(keyOps[i]);
      }
      for (let i = 0; i < usages.length; i++) if (!seen.has(usages[i])) throw dom(`JWK key_ops does not allow ${usages[i]}`, "DataError");
    }
    if (jwk.ext === false && extractable) throw dom("JWK ext is false but the key is to be extractable", "DataError");
  }

  // The JsonWebKey members we read, converted as the WebIDL dictionary would.
  function jwkDict(x) {
    if (x === null || typeof x !== "object") throw new TypeError("keyData must be a JsonWebKey object");
    const out = {};
    for (let i = 0; i < JWK_MEMBERS.length; i++) {
      const k = JWK_MEMBERS[i];
      if (x[k] !== undefined) out[k] = String(x[k]);
    }
    if (x.key_ops !== undefined) out.key_ops = usageListLoose(x.key_ops);
    if (x.ext !== undefined) out.ext = !!x.ext;
    if (x.oth !== undefined) out.oth = x.oth;
    return out;
  }
  const JWK_MEMBERS = ["kty", "use", "alg", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k"];
  function usageListLoose(v) {
    if (v === null || typeof v !== "object" || typeof v[SymbolIterator] !== "function") throw new TypeError("JWK key_ops must be a sequence");
    const out = [];
    for (const u of v) ArrayPrototypePush(out, String(u));
    return out;
  }

  async function importInto(format, data, alg, extractable, usages) {
    const name = alg.name;
    const family = FAMILY[name];
    let type;
    let handle;
    let algorithm;
    if (family === "secret") {
      checkUsages(usages, allUsages(name));
      let raw;
      if (name === "HKDF" || name === "PBKDF2") {
        if (format !== "raw") throw dom(`${name} keys import from raw only`, "NotSupportedError");
        if (extractable) throw dom(`${name} keys cannot be extractable`, "SyntaxError");
        raw = data;
      } else if (format === "raw") {
        raw = data;
      } else if (format === "jwk") {
        checkJwkCommon(data, "oct", usages, extractable);
        if (data.k === undefined) throw dom("JWK member k is required", "DataError");
        raw = b64urlDecode(data.k, "k");
        if (name === "HMAC") {
          const want = "HS" + StringPrototypeSlice(alg.hash.name, 4);
          if (data.alg !== undefined && data.alg !== want) throw dom(`JWK alg must be ${want}`, "DataError");
        } else {
          const want = `A${raw.length * 8}${JWK_AES_ALG[name]}`;
          if (data.alg !== undefined && data.alg !== want) throw dom(`JWK alg must be ${want}`, "DataError");
        }
      } else {
        throw dom(`${name} keys cannot be imported in ${format} format`, "NotSupportedError");
      }
      if (name === "HMAC") {
        if (raw.length === 0) throw dom("HMAC key data must not be empty", "DataError");
        let length = raw.length * 8;
        if (alg.length !== undefined) {
          if (alg.length > length || alg.length <= length - 8) throw dom("HMAC length does not match the key data", "DataError");
          length = alg.length;
        }
        algorithm = { name, hash: alg.hash, length };
      } else if (name === "HKDF" || name === "PBKDF2") {
        algorithm = { name };
      } else {
        if (raw.length !== 16 && raw.length !== 24 && raw.length !== 32) throw dom("AES key data must be 128, 192 or 256 bits", "DataError");
        algorithm = { name, length: raw.length * 8 };
      }
      [handle] = await native(ops.crypto_import, "secret", format === "jwk" ? "raw" : format, raw, "");
      type = "secret";
    } else {
      const privateUsages = KEY_USAGES[name][0];
      const publicUsages = KEY_USAGES[name][1];
      let payload = data;
      let nativeFormat = format;
      let curve = "";
      if (format === "raw") {
        if (family === "rsa") throw dom("RSA keys cannot be imported in raw format", "NotSupportedError");
        checkUsages(usages, publicUsages);
      } else if (format === "spki") {
        checkUsages(usages, publicUsages);
      } else if (format === "pkcs8") {
        checkUsages(usages, privateUsages);
      } else {
        const priv = data.d !== undefined;
        checkUsages(usages, priv ? privateUsages : publicUsages);
        if (family === "rsa") {
          checkJwkCommon(data, "RSA", usages, extractable);
          const want = JWK_RSA_ALG[name][alg.hash.name];
          if (data.alg !== undefined && data.alg !== want) throw dom(`JWK alg must be ${want}`, "DataError");
          if (data.oth !== undefined) throw dom("RSA keys with more than two primes are not supported", "NotSupportedError");
          const members = priv ? ["n", "e", "d", "p", "q", "dp", "dq", "qi"] : ["n", "e"];
          payload = [];
          for (let i = 0; i < members.length; i++) {
            const m = members[i];
            if (data[m] === undefined) throw dom(`JWK member ${m} is required`, "DataError");
            ArrayPrototypePush(payload, b64urlDecode(data[m], m));
          }
        } else if (family === "ec") {
          checkJwkCommon(data, "EC", usages, extractable);
          if (data.crv !== alg.namedCurve) throw dom("JWK crv does not match namedCurve", "DataError");
          if (name === "ECDSA" && data.alg !== undefined && data.alg !== JWK_EC_ALG[alg.namedCurve]) {
            throw dom(`JWK alg must be ${JWK_EC_ALG[alg.namedCurve]}`, "DataError");
          }
          if (data.x === undefined || data.y === undefined) throw dom("JWK members x and y are required", "DataError");
          payload = [b64urlDecode(data.x, "x"), b64urlDecode(data.y, "y"), priv ? b64urlDecode(data.d, "d") : undefined];
        } else {
          checkJwkCommon(data, "OKP", usages, extractable);
          if (data.crv !== name) throw dom(`JWK crv must be ${name}`, "DataError");
          if (name === "Ed25519" && data.alg !== undefined && data.alg !== "EdDSA" && data.alg !== "Ed25519") {
            throw dom("JWK alg must be EdDSA", "DataError");
          }
          if (data.x === undefined) throw dom("JWK member x is required", "DataError");
          payload = [b64urlDecode(data.x, "x"), priv ? b64urlDecode(data.d, "d") : undefined];
        }
        nativeFormat = "jwk";
      }
      if (family === "ec") {
        if (!ArrayPrototypeIncludes(CURVES, alg.namedCurve)) throw dom(`Unsupported namedCurve: ${alg.namedCurve}`, "NotSupportedError");
        curve = alg.namedCurve;
      }
      const r = await native(ops.crypto_import, family, nativeFormat, payload, curve);
      handle = r[0];
      type = r[1] ? "private" : "public";
      const bits = r[2];
      const exponent = r[3];
      if (family === "rsa") algorithm = { name, modulusLength: bits, publicExponent: exponent, hash: alg.hash };
      else if (family === "ec") algorithm = { name, namedCurve: alg.namedCurve };
      else algorithm = { name };
    }
    if ((type === "secret" || type === "private") && usages.length === 0) {
      ops.crypto_key_drop(handle);
      throw dom("usages must not be empty for a secret or private key", "SyntaxError");
    }
    return makeKey(handle, type, extractable, algorithm, usages);
  }

  const FORMATS = ["raw", "spki", "pkcs8", "jwk"];
  function keyFormat(format) {
    const f = String(format);
    if (!ArrayPrototypeIncludes(FORMATS, f)) throw new TypeError(`'${f}' is not a valid key format`);
    return f;
  }
  function keyDataFor(format, keyData) {
    if (format === "jwk") {
      if (internal.toBytes(keyData) !== null) throw new TypeError("jwk key data must be a JsonWebKey object");
      return jwkDict(keyData);
    }
    if (internal.toBytes(keyData) === null) throw new TypeError(`${format} key data must be a BufferSource`);
    return copyBytes(keyData, "keyData");
  }

  // ---------------------------------------------------------------------
  // exportKey
  // https://w3c.github.io/webcrypto/#SubtleCrypto-method-exportKey

  async function exportOf(format, key) {
    const s = slot(key);
    const name = s.algorithm.name;
    const family = FAMILY[name];
    if (name === "HKDF" || name === "PBKDF2") throw dom(`${name} keys cannot be exported`, "NotSupportedError");
    if (!s.extractable) throw dom("The key is not extractable", "InvalidAccessError");
    if (family === "secret") {
      if (format !== "raw" && format !== "jwk") throw dom(`secret keys export as raw or jwk`, "NotSupportedError");
    } else if (format === "raw") {
      if (family === "rsa") throw dom("RSA keys cannot be exported raw", "NotSupportedError");
      if (s.type !== "public") throw dom("Only public keys export raw", "InvalidAccessError");
    } else if (format === "spki" && s.type !== "public") {
      throw dom("Only public keys export as spki", "InvalidAccessError");
    } else if (format === "pkcs8" && s.type !== "private") {
      throw dom("Only private keys export as pkcs8", "InvalidAccessError");
    }
    const out = await native(ops.crypto_export, s.handle, format);
    if (format !== "jwk") return bufferOf(out);
    const jwk = {};
    if (family === "secret") {
      jwk.kty = "oct";
      jwk.k = b64urlEncode(out[0]);
      jwk.alg = name === "HMAC" ? "HS" + StringPrototypeSlice(s.algorithm.hash.name, 4) : `A${s.algorithm.length}${JWK_AES_ALG[name]}`;
    } else if (family === "rsa") {
      jwk.kty = "RSA";
      const names = ["n", "e", "d", "p", "q", "dp", "dq", "qi"];
      for (let i = 0; i < out.length; i++) jwk[names[i]] = b64urlEncode(out[i]);
      jwk.alg = JWK_RSA_ALG[name][s.algorithm.hash.name];
    } else if (family === "ec") {
      jwk.kty = "EC";
      jwk.crv = s.algorithm.namedCurve;
      jwk.x = b64urlEncode(out[0]);
      jwk.y = b64urlEncode(out[1]);
      if (out.length > 2) jwk.d = b64urlEncode(out[2]);
      // No alg: an EC key has no hash (as the spec and workerd).
    } else {
      jwk.kty = "OKP";
      jwk.crv = name;
      jwk.x = b64urlEncode(out[0]);
      if (out.length > 1) jwk.d = b64urlEncode(out[1]);
      if (name === "Ed25519") jwk.alg = "EdDSA";
    }
    jwk.key_ops = ArrayPrototypeSlice(s.usages);
    jwk.ext = s.extractable;
    return jwk;
  }

  // ---------------------------------------------------------------------
  // The operations on a key

  function checkKey(key, alg, usage) {
    if (!(key instanceof CryptoKey)) throw new TypeError("key must be a CryptoKey");
    const s = slot(key);
    if (s.algorithm.name !== alg.name) throw dom(`The key is for ${s.algorithm.name}, not ${alg.name}`, "InvalidAccessError");
    if (!ArrayPrototypeIncludes(s.usages, usage)) throw dom(`The key does not allow ${usage}`, "InvalidAccessError");
    return s;
  }

  function signParams(alg, s) {
    // [hash, param]
    if (alg.name === "ECDSA") return [alg.hash.name, 0];
    if (alg.name === "RSA-PSS") return [s.algorithm.hash.name, alg.saltLength];
    if (alg.name === "Ed25519") return ["", 0];
    return [s.algorithm.hash.name, 0];
  }

  async function cipher(alg, s, encrypt, data) {
    const name = alg.name;
    if (name === "RSA-OAEP") {
      if (s.type !== (encrypt ? "public" : "private")) throw dom(`RSA-OAEP ${encrypt ? "encrypts with the public" : "decrypts with the private"} key`, "InvalidAccessError");
      return await native(ops.crypto_cipher, s.handle, name, encrypt, s.algorithm.hash.name, alg.label ?? new Uint8Array(0), undefined, 0, data);
    }
    if (name === "AES-CBC") {
      if (alg.iv.length !== 16) throw dom("AES-CBC iv must be 16 bytes", "OperationError");
      return await native(ops.crypto_cipher, s.handle, name, encrypt, "", alg.iv, undefined, 0, data);
    }
    if (name === "AES-CTR") {
      if (alg.counter.length !== 16) throw dom("AES-CTR counter must be 16 bytes", "OperationError");
      if (alg.length === 0 || alg.length > 128) throw dom("AES-CTR length must be between 1 and 128", "OperationError");
      return await native(ops.crypto_cipher, s.handle, name, encrypt, "", alg.counter, undefined, alg.length, data);
    }
    if (name === "AES-GCM") {
      const tagLength = alg.tagLength ?? 128;
      if (!ArrayPrototypeIncludes([32, 64, 96, 104, 112, 120, 128], tagLength)) throw dom(`AES-GCM tagLength ${tagLength} is not valid`, "OperationError");
      if (!encrypt && data.length < tagLength / 8) throw dom("The ciphertext is shorter than the tag", "OperationError");
      if (alg.iv.length === 0) throw dom("AES-GCM iv must not be empty", "OperationError");
      return await native(ops.crypto_cipher, s.handle, name, encrypt, "", alg.iv, alg.additionalData ?? new Uint8Array(0), tagLength, data);
    }
    // AES-KW
    return await native(ops.crypto_cipher, s.handle, name, encrypt, "", undefined, undefined, 0, data);
  }

  async function deriveBitsOf(alg, s, length) {
    const name = alg.name;
    if (name === "ECDH" || name === "X25519") {
      if (s.type !== "private") throw dom("The base key must be a private key", "InvalidAccessError");
      const p = slot(alg.public);
      if (p.type !== "public") throw dom("The public key must be a public key", "InvalidAccessError");
      if (p.algorithm.name !== name) throw dom(`The public key is not an ${name} key`, "InvalidAccessError");
      if (name === "ECDH" && p.algorithm.namedCurve !== s.algorithm.namedCurve) throw dom("The keys are on different curves", "InvalidAccessError");
      if (length === 0) return new Uint8Array(0);
      return await native(ops.crypto_derive, s.handle, name, "", p.handle, undefined, 0, length === null ? -1 : length);
    }
    if (length === null) throw dom(`${name} needs a length`, "OperationError");
    if (length === 0 || length % 8 !== 0) throw dom(`${name} length must be a positive multiple of 8`, "OperationError");
    if (name === "HKDF") return await native(ops.crypto_derive, s.handle, name, alg.hash.name, alg.salt, alg.info, 0, length);
    if (alg.iterations === 0) throw dom("PBKDF2 iterations must not be 0", "OperationError");
    return await native(ops.crypto_derive, s.handle, name, alg.hash.name, alg.salt, undefined, alg.iterations, length);
  }

  // https://w3c.github.io/webcrypto/#dfn-get-key-length
  function keyLength(alg) {
    if (alg.name === "HMAC") {
      if (alg.length === undefined) return HASH_BLOCK_BITS[alg.hash.name];
      if (alg.length === 0) throw new TypeError("HMAC length must not be 0");
      return alg.length;
    }
    if (alg.name === "HKDF" || alg.name === "PBKDF2") return null;
    if (alg.length !== 128 && alg.length !== 192 && alg.length !== 256) throw dom("AES key length must be 128, 192 or 256", "OperationError");
    return alg.length;
  }


  // What 07_subtle.js builds the SubtleCrypto, Crypto and DigestStream
  // interfaces from.
  internal.webcrypto = {
    __proto__: null,
    CryptoKey, dom, fromNative, native, bufferOf, copyBytes, normalize, usageList, keyFormat, keyDataFor,
    generate, importInto, exportOf, checkKey, signParams, cipher, deriveBitsOf, keyLength, jwkDict, track,
    enforceRange,
  };
})();
