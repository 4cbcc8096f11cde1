// isoproxy node compat: node:crypto's KeyObject (createSecretKey,
// createPublicKey, createPrivateKey) and sign/verify (crypto.sign,
// crypto.verify, createSign, createVerify) for RSA (PKCS#1 v1.5 and PSS),
// ECDSA (P-256/384/521, DER or IEEE P1363 signatures) and Ed25519, on the
// Web Crypto key and signature ops. https://nodejs.org/api/crypto.html#class-keyobject
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const ops = internal.ops;
  const {
    Error, Symbol, TypeError, Uint8Array, RegExpPrototypeExec, StringPrototypeToLowerCase,
    TypedArrayPrototypeSet, TypedArrayPrototypeSlice, TypedArrayPrototypeSubarray,
  } = internal.primordials;

  const kKey = Symbol("keyObject");
  const EMPTY = new Uint8Array(0);
  const hex = (s) => { const out = new Uint8Array(s.length / 2); for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16); return out; };
  // AlgorithmIdentifier OIDs (tag, length, value), as they appear in SPKI
  // and PKCS#8.
  const OID_RSA = hex("06092a864886f70d010101");
  const OID_EC = hex("06072a8648ce3d0201");
  const OID_ED25519 = hex("06032b6570");
  const OID_X25519 = hex("06032b656e");
  const CURVES = [[hex("06082a8648ce3d030107"), "P-256", "prime256v1", 32], [hex("06052b81040022"), "P-384", "secp384r1", 48], [hex("06052b81040023"), "P-521", "secp521r1", 66]];
  // Made on first use (not in the startup snapshot).
  let registry = null;

  function find(hay, needle, limit) {
    const end = Math.min(hay.length - needle.length, limit);
    outer: for (let i = 0; i <= end; i++) {
      for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return true;
    }
    return false;
  }
  // The key type of an SPKI or PKCS#8 structure, from its
  // AlgorithmIdentifier (which comes within its first bytes).
  function kindOf(der) {
    if (find(der, OID_RSA, 40)) return { kind: "rsa", curve: "" };
    if (find(der, OID_ED25519, 40)) return { kind: "ed25519", curve: "" };
    if (find(der, OID_X25519, 40)) return { kind: "x25519", curve: "" };
    if (find(der, OID_EC, 40)) {
      for (let i = 0; i < CURVES.length; i++) if (find(der, CURVES[i][0], 60)) return { kind: "ec", curve: CURVES[i][1] };
      throw new Error("Unsupported elliptic curve");
    }
    throw new Error("Unsupported key type");
  }
  function derLength(n) {
    if (n < 128) return [n];
    const bytes = [];
    while (n > 0) { bytes.unshift(n & 255); n >>>= 8; }
    return [0x80 | bytes.length, ...bytes];
  }
  function tlv(tag, content) {
    const len = derLength(content.length);
    const out = new Uint8Array(1 + len.length + content.length);
    out[0] = tag;
    TypedArrayPrototypeSet(out, len, 1);
    TypedArrayPrototypeSet(out, content, 1 + len.length);
    return out;
  }
  function cat(...parts) {
    let n = 0;
    for (let i = 0; i < parts.length; i++) n += parts[i].length;
    const out = new Uint8Array(n);
    for (let i = 0, at = 0; i < parts.length; i++) { TypedArrayPrototypeSet(out, parts[i], at); at += parts[i].length; }
    return out;
  }
  const RSA_ALG = tlv(0x30, cat(OID_RSA, new Uint8Array([5, 0])));
  // PKCS#1 "RSA PRIVATE KEY" / "RSA PUBLIC KEY" in PKCS#8 / SPKI clothes.
  const pkcs1PrivateToPkcs8 = (der) => tlv(0x30, cat(new Uint8Array([2, 1, 0]), RSA_ALG, tlv(4, der)));
  const pkcs1PublicToSpki = (der) => tlv(0x30, cat(RSA_ALG, tlv(3, cat(new Uint8Array([0]), der))));

  internal.nodeKeyObjectSecret = (key) => (key?.[kKey]?.type === "secret" ? key[kKey].bytes : undefined);

  internal.nodeKeys = (deps) => {
    const { Buffer, err, toBytes, hashName, nextTick } = deps;

    class KeyObject {
      constructor() { throw new TypeError("Illegal constructor: use createSecretKey, createPublicKey or createPrivateKey"); }
      get type() { return this[kKey].type; }
      get asymmetricKeyType() { return this[kKey].type === "secret" ? undefined : this[kKey].kind; }
      get symmetricKeySize() { return this[kKey].type === "secret" ? this[kKey].bytes.length : undefined; }
      get asymmetricKeyDetails() {
        const k = this[kKey];
        if (k.kind === "rsa") return { modulusLength: k.bits, publicExponent: BigInt(`0x${Buffer.from(k.exponent).toString("hex") || "0"}`) };
        if (k.kind === "ec") return { namedCurve: CURVES.find((c) => c[1] === k.curve)[2] };
        return k.type === "secret" ? undefined : {};
      }
      export(options = undefined) {
        const k = this[kKey];
        if (k.type === "secret") {
          if (options?.format === "jwk") return { kty: "oct", k: Buffer.from(k.bytes).toString("base64url") };
          return Buffer.from(k.bytes);
        }
        const format = options?.format ?? "pem";
        const type = options?.type ?? (k.type === "public" ? "spki" : "pkcs8");
        if ((k.type === "public" && type !== "spki") || (k.type === "private" && type !== "pkcs8")) {
          throw err(TypeError, "ERR_CRYPTO_INCOMPATIBLE_KEY_OPTIONS", `The selected key encoding ${type} is not supported by isoproxy for a ${k.type} key`);
        }
        if (format !== "pem" && format !== "der") throw err(TypeError, "ERR_INVALID_ARG_VALUE", `The property 'options.format' is invalid. Received ${format}`);
        const der = Buffer.from(ops.crypto_export(k.handle, type));
        if (format === "der") return der;
        const label = type === "spki" ? "PUBLIC KEY" : "PRIVATE KEY";
        const b64 = der.toString("base64");
        let body = "";
        for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
        return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
      }
      equals(other) {
        if (!(other instanceof KeyObject) || other.type !== this.type) return false;
        const a = this.type === "secret" ? this[kKey].bytes : this.export({ format: "der" });
        const b = other.type === "secret" ? other[kKey].bytes : other.export({ format: "der" });
        return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
      }
    }
    internal.brand(KeyObject, "KeyObject");
    function make(state) {
      const o = Object.create(KeyObject.prototype);
      o[kKey] = state;
      if (state.handle !== undefined) {
        if (registry === null) registry = new FinalizationRegistry((h) => ops.crypto_key_drop(h));
        registry.register(o, state.handle);
      }
      return o;
    }
    function importDer(der, format) {
      const { kind, curve } = kindOf(der);
      let r;
      try { r = ops.crypto_import(kind, format, der, curve); } catch (e) { throw err(Error, "ERR_CRYPTO_INVALID_KEY", `Invalid key: ${e.message}`); }
      return make({ type: r[1] ? "private" : "public", kind, curve, handle: r[0], bits: r[2], exponent: r[3] });
    }
    // The public half of a private KeyObject, through its JWK members.
    function publicOf(key) {
      const k = key[kKey];
      const m = ops.crypto_export(k.handle, "jwk");
      const parts = k.kind === "rsa" ? [m[0], m[1], EMPTY] : k.kind === "ec" ? [m[0], m[1], EMPTY] : [m[0], EMPTY];
      const r = ops.crypto_import(k.kind, "jwk", parts, k.curve);
      return make({ type: "public", kind: k.kind, curve: k.curve, handle: r[0], bits: r[2], exponent: r[3] });
    }
    // PEM text -> [label, DER].
    function pem(text) {
      const m = RegExpPrototypeExec(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/, text);
      if (m === null) throw err(TypeError, "ERR_INVALID_ARG_VALUE", "Invalid PEM: no BEGIN/END block found");
      if (RegExpPrototypeExec(/Proc-Type:|DEK-Info:/, m[2]) !== null) throw err(TypeError, "ERR_MISSING_PASSPHRASE", "Encrypted PEM keys are not supported");
      return [m[1], new Uint8Array(Buffer.from(m[2], "base64"))];
    }
    // A key argument as Node takes it: KeyObject, PEM/DER string or bytes,
    // or { key, format, type, ... }.
    function parse(input, wantPrivate) {
      if (input instanceof KeyObject) return input;
      const opts = input !== null && typeof input === "object" && !ArrayBuffer.isView(input) && !(input instanceof ArrayBuffer) ? input : { key: input };
      if (opts.key instanceof KeyObject) return opts.key;
      if (opts.passphrase !== undefined) throw err(TypeError, "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM", "Encrypted keys (passphrase) are not supported by isoproxy");
      const format = opts.format ?? "pem";
      if (format === "jwk") throw err(TypeError, "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM", "JWK input is not supported by isoproxy's createPublicKey/createPrivateKey yet");
      if (format === "pem") {
        const text = typeof opts.key === "string" ? opts.key : Buffer.from(toBytes(opts.key, undefined, "key")).toString("latin1");
        const [label, der] = pem(text);
        if (label === "PRIVATE KEY") return importDer(der, "pkcs8");
        if (label === "RSA PRIVATE KEY") return importDer(pkcs1PrivateToPkcs8(der), "pkcs8");
        if (label === "PUBLIC KEY") { if (wantPrivate) throw err(TypeError, "ERR_INVALID_ARG_VALUE", "A private key is needed, not a public key"); return importDer(der, "spki"); }
        if (label === "RSA PUBLIC KEY") { if (wantPrivate) throw err(TypeError, "ERR_INVALID_ARG_VALUE", "A private key is needed, not a public key"); return importDer(pkcs1PublicToSpki(der), "spki"); }
        throw err(TypeError, "ERR_INVALID_ARG_VALUE", `PEM keys labelled "${label}" are not supported by isoproxy (use PKCS#8, SPKI or PKCS#1 RSA)`);
      }
      if (format !== "der") throw err(TypeError, "ERR_INVALID_ARG_VALUE", `The property 'key.format' is invalid. Received ${format}`);
      const der = new Uint8Array(toBytes(opts.key, undefined, "key"));
      const type = opts.type ?? (wantPrivate ? "pkcs8" : "spki");
      if (type === "pkcs8") return importDer(der, "pkcs8");
      if (type === "spki") return importDer(der, "spki");
      if (type === "pkcs1") return wantPrivate ? importDer(pkcs1PrivateToPkcs8(der), "pkcs8") : importDer(pkcs1PublicToSpki(der), "spki");
      throw err(TypeError, "ERR_INVALID_ARG_VALUE", `The property 'key.type' is invalid. Received ${type}`);
    }
    function createSecretKey(key, encoding) {
      return make({ type: "secret", kind: "secret", bytes: new Uint8Array(toBytes(key, encoding, "key")) });
    }
    function createPrivateKey(key) {
      const k = parse(key, true);
      if (k.type !== "private") throw err(TypeError, "ERR_INVALID_ARG_VALUE", "A private key is needed");
      return k;
    }
    function createPublicKey(key) {
      const k = parse(key, false);
      if (k.type === "secret") throw err(TypeError, "ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE", "Invalid key object type secret, expected private or public");
      return k.type === "private" ? publicOf(k) : k;
    }

    // --- signatures ---------------------------------------------------------------
    const RSA_PKCS1_PSS_PADDING = 6;
    const hashLength = { "SHA-1": 20, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
    function plan(algorithm, key, opts) {
      const k = key[kKey];
      if (k.kind === "ed25519") return { alg: "Ed25519", hash: "", param: 0 };
      if (algorithm === null || algorithm === undefined) throw err(TypeError, "ERR_INVALID_ARG_TYPE", "A digest algorithm is needed for this key type");
      const hash = hashName(algorithm);
      if (hash === "MD5") throw new Error("Invalid digest: md5 is not supported for signatures by isoproxy");
      if (k.kind === "rsa") {
        if (opts?.padding === RSA_PKCS1_PSS_PADDING) {
          // Node's default salt is the largest the key allows.
          const max = Math.ceil(k.bits / 8) - hashLength[hash] - 2;
          // RSA_PSS_SALTLEN_DIGEST (-1): the digest's length.
          const salt = opts.saltLength === -1 ? hashLength[hash] : opts.saltLength === undefined || opts.saltLength < 0 ? max : opts.saltLength;
          return { alg: "RSA-PSS", hash, param: salt };
        }
        return { alg: "RSASSA-PKCS1-v1_5", hash, param: 0 };
      }
      if (k.kind === "ec") return { alg: "ECDSA", hash, param: 0 };
      throw err(TypeError, "ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE", `Keys of type ${k.kind} cannot sign`);
    }
    const syncOnly = (r) => {
      if (typeof r === "number") throw new Error("This signature is too heavy for Node's synchronous API in isoproxy (RSA keys of 4096 bits and more, or data over 64 KiB): use crypto.subtle");
      return r;
    };
    // ECDSA: r || s (fixed width) <-> DER SEQUENCE { INTEGER r, INTEGER s }.
    function p1363ToDer(sig) {
      const half = sig.length / 2;
      const int = (b) => {
        let i = 0;
        while (i < b.length - 1 && b[i] === 0) i++;
        let v = TypedArrayPrototypeSubarray(b, i);
        if (v[0] & 0x80) v = cat(new Uint8Array([0]), v);
        return tlv(2, v);
      };
      return tlv(0x30, cat(int(TypedArrayPrototypeSubarray(sig, 0, half)), int(TypedArrayPrototypeSubarray(sig, half))));
    }
    function derToP1363(der, width) {
      let at = 0;
      const readLen = () => {
        let n = der[at++];
        if (n & 0x80) { const c = n & 0x7f; n = 0; for (let i = 0; i < c; i++) n = n * 256 + der[at++]; }
        return n;
      };
      if (der[at++] !== 0x30) return null;
      readLen();
      const out = new Uint8Array(width * 2);
      for (let part = 0; part < 2; part++) {
        if (der[at++] !== 2) return null;
        const n = readLen();
        let v = TypedArrayPrototypeSlice(der, at, at + n);
        at += n;
        while (v.length > width && v[0] === 0) v = TypedArrayPrototypeSubarray(v, 1);
        if (v.length > width) return null;
        TypedArrayPrototypeSet(out, v, part * width + width - v.length);
      }
      return at === der.length ? out : null;
    }
    function signOne(algorithm, data, keyInput) {
      const key = createPrivateKey(keyInput);
      const p = plan(algorithm, key, keyInput);
      let sig = syncOnly(ops.crypto_sign(key[kKey].handle, p.alg, p.hash, p.param, new Uint8Array(toBytes(data))));
      if (p.alg === "ECDSA" && keyInput?.dsaEncoding !== "ieee-p1363") sig = p1363ToDer(sig);
      return Buffer.from(sig);
    }
    function verifyOne(algorithm, data, keyInput, signature) {
      const key = createPublicKey(keyInput);
      const p = plan(algorithm, key, keyInput);
      let sig = new Uint8Array(toBytes(signature, undefined, "signature"));
      if (p.alg === "ECDSA" && keyInput?.dsaEncoding !== "ieee-p1363") {
        sig = derToP1363(sig, CURVES.find((c) => c[1] === key[kKey].curve)[3]);
        if (sig === null) return false;
      }
      const r = syncOnly(ops.crypto_verify(key[kKey].handle, p.alg, p.hash, p.param, sig, new Uint8Array(toBytes(data))));
      return r[0] === 1;
    }
    function sign(algorithm, data, key, callback) {
      if (typeof callback !== "function") return signOne(algorithm, data, key);
      let result, error = null;
      try { result = signOne(algorithm, data, key); } catch (e) { error = e; }
      nextTick(callback, error, result);
    }
    function verify(algorithm, data, key, signature, callback) {
      if (typeof callback !== "function") return verifyOne(algorithm, data, key, signature);
      let result, error = null;
      try { result = verifyOne(algorithm, data, key, signature); } catch (e) { error = e; }
      nextTick(callback, error, result);
    }
    // The streaming forms keep the data until sign()/verify().
    class Sign {
      #alg; #chunks = [];
      constructor(algorithm) { this.#alg = algorithm; hashName(algorithm); }
      update(data, encoding) { this.#chunks.push(Buffer.from(toBytes(data, encoding))); return this; }
      sign(key, outputEncoding) {
        const sig = signOne(this.#alg, Buffer.concat(this.#chunks), key);
        return outputEncoding === undefined || outputEncoding === "buffer" ? sig : sig.toString(outputEncoding);
      }
    }
    class Verify {
      #alg; #chunks = [];
      constructor(algorithm) { this.#alg = algorithm; hashName(algorithm); }
      update(data, encoding) { this.#chunks.push(Buffer.from(toBytes(data, encoding))); return this; }
      verify(key, signature, signatureEncoding) {
        const sig = typeof signature === "string" ? Buffer.from(signature, signatureEncoding) : signature;
        return verifyOne(this.#alg, Buffer.concat(this.#chunks), key, sig);
      }
    }
    return {
      KeyObject, createSecretKey, createPublicKey, createPrivateKey,
      sign, verify, Sign, Verify,
      createSign: (algorithm) => new Sign(algorithm),
      createVerify: (algorithm) => new Verify(algorithm),
      RSA_PKCS1_PSS_PADDING,
    };
  };
});
