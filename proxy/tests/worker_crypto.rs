//! End-to-end: Workers that use `crypto.subtle` the way an auth gateway
//! does. One verifies RS256, ES256 and EdDSA JWTs made in the test by the
//! `jsonwebtoken` crate (keys from `rsa` and `ring`) and answers 200 or
//! 401; one keeps a session in an AES-GCM encrypted cookie across two
//! requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::signature::KeyPair as _;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use support::*;

const JWT_WORKER: &str = r#"
const JWKS = __JWKS__;
const ALGS = {
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verify: { name: "RSASSA-PKCS1-v1_5" } },
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" } },
  EdDSA: { import: { name: "Ed25519" }, verify: { name: "Ed25519" } },
};
const keys = new Map();
function b64url(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
async function keyFor(kid, alg) {
  const jwk = JWKS.find((k) => k.kid === kid);
  if (!jwk || !ALGS[alg]) return null;
  const id = kid + "/" + alg;
  if (!keys.has(id)) keys.set(id, await crypto.subtle.importKey("jwk", jwk, ALGS[alg].import, false, ["verify"]));
  return keys.get(id);
}
async function check(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const header = JSON.parse(new TextDecoder().decode(b64url(parts[0])));
  const key = await keyFor(header.kid, header.alg);
  if (!key) return null;
  const ok = await crypto.subtle.verify(ALGS[header.alg].verify, key, b64url(parts[2]), new TextEncoder().encode(parts[0] + "." + parts[1]));
  if (!ok) return null;
  const claims = JSON.parse(new TextDecoder().decode(b64url(parts[1])));
  if (typeof claims.exp !== "number" || claims.exp * 1000 < Date.now()) return null;
  return claims;
}
export default {
  async fetch(req) {
    const auth = req.headers.get("authorization") || "";
    let claims = null;
    try {
      if (auth.startsWith("Bearer ")) claims = await check(auth.slice(7));
    } catch (e) {
      return new Response("bad token: " + e.name, { status: 401 });
    }
    if (!claims) return new Response("unauthorized", { status: 401 });
    return new Response("hello " + claims.sub);
  },
};
"#;

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(alg: Algorithm, kid: &str, key: &EncodingKey, sub: &str, exp: u64) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    encode(&header, &serde_json::json!({ "sub": sub, "exp": exp }), key).unwrap()
}

fn get_with(port: u16, path: &str, headers: &str) -> Response {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: auth.test\r\n{headers}Connection: close\r\n\r\n");
    exchange(port, raw.as_bytes()).0.expect("no response")
}

/// Signing keys made here (by crates other than the runtime's), with their
/// public halves as a JWKS for the Worker.
struct Keys {
    rs: EncodingKey,
    es: EncodingKey,
    ed: EncodingKey,
    jwks: String,
}

fn keys() -> Keys {
    let rng = ring::rand::SystemRandom::new();
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core_rng(), 2048).unwrap();
    let rs = EncodingKey::from_rsa_der(rsa_key.to_pkcs1_der().unwrap().as_bytes());
    let es_pkcs8 =
        ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let es_pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        es_pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let point = es_pair.public_key().as_ref();
    let ed_pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ed_pair = ring::signature::Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).unwrap();
    let jwks = serde_json::json!([
        { "kty": "RSA", "kid": "rsa", "n": b64(&rsa_key.n().to_bytes_be()), "e": b64(&rsa_key.e().to_bytes_be()) },
        { "kty": "EC", "kid": "ec", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]) },
        { "kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(ed_pair.public_key().as_ref()) },
    ]);
    Keys {
        rs,
        es: EncodingKey::from_ec_der(es_pkcs8.as_ref()),
        ed: EncodingKey::from_ed_der(ed_pkcs8.as_ref()),
        jwks: jwks.to_string(),
    }
}

/// The `rand_core` RNG the `rsa` crate takes, from the OS.
fn rand_core_rng() -> rsa::rand_core::OsRng {
    rsa::rand_core::OsRng
}

#[test]
fn worker_verifies_rs256_es256_and_eddsa_jwts() {
    let k = keys();
    let origin = Origin::echo();
    let script = JWT_WORKER.replace("__JWKS__", &k.jwks);
    let proxy = Proxy::new(&gateway_config(origin.addr, "main.js", ""))
        .files(&[("main.js", &script)])
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");
    let later = now() + 600;
    let auth = |t: &str| format!("Authorization: Bearer {t}\r\n");

    for (alg, kid, key, sub) in [
        (Algorithm::RS256, "rsa", &k.rs, "rita"),
        (Algorithm::ES256, "ec", &k.es, "eve"),
        (Algorithm::EdDSA, "ed", &k.ed, "edd"),
    ] {
        let good = token(alg, kid, key, sub, later);
        let r = get_with(port, "/", &auth(&good));
        assert_eq!(r.status, 200, "{alg:?}: {}\n{}", r.text(), proxy.stderr_text());
        assert_eq!(r.text(), format!("hello {sub}"));

        // Another payload under the same signature.
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        parts[1] = b64(format!("{{\"sub\":\"admin\",\"exp\":{later}}}").as_bytes());
        let r = get_with(port, "/", &auth(&parts.join(".")));
        assert_eq!(r.status, 401, "{alg:?} tampered payload: {}", r.text());

        // A flipped bit in the signature.
        let mut sig = URL_SAFE_NO_PAD.decode(good.rsplit('.').next().unwrap()).unwrap();
        sig[5] ^= 1;
        let forged = format!("{}.{}.{}", parts[0], good.split('.').nth(1).unwrap(), b64(&sig));
        let r = get_with(port, "/", &auth(&forged));
        assert_eq!(r.status, 401, "{alg:?} flipped signature bit: {}", r.text());

        // Expired.
        let old = token(alg, kid, key, sub, now() - 600);
        let r = get_with(port, "/", &auth(&old));
        assert_eq!(r.status, 401, "{alg:?} expired: {}", r.text());
    }

    // Signed by one key, claimed under another kid of the same type.
    let other = keys();
    let wrong = token(Algorithm::ES256, "ec", &other.es, "mallory", later);
    assert_eq!(get_with(port, "/", &auth(&wrong)).status, 401);
    // alg "none", no token, garbage.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"rsa"}"#),
        b64(format!("{{\"sub\":\"x\",\"exp\":{later}}}").as_bytes())
    );
    assert_eq!(get_with(port, "/", &auth(&none)).status, 401);
    assert_eq!(get_with(port, "/", "").status, 401);
    assert_eq!(get_with(port, "/", &auth("a.b.c")).status, 401);
}

const COOKIE_WORKER: &str = r#"
// The cookie key comes from a secret by HKDF; the cookie is
// base64url(iv || AES-GCM(user)).
let key;
async function cookieKey() {
  if (!key) {
    const secret = await crypto.subtle.importKey("raw", new TextEncoder().encode("a secret of the deployment"), "HKDF", false, ["deriveKey"]);
    key = await crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(16), info: new TextEncoder().encode("session cookie") },
      secret, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  }
  return key;
}
const enc = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
export default {
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/login") {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await cookieKey(), new TextEncoder().encode(url.searchParams.get("user"))));
      const value = new Uint8Array(iv.length + ct.length);
      value.set(iv);
      value.set(ct, iv.length);
      return new Response("welcome", { headers: { "set-cookie": `session=${enc(value)}; HttpOnly; Secure; Path=/` } });
    }
    const m = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.get("cookie") || "");
    if (!m) return new Response("no session", { status: 401 });
    try {
      const raw = dec(m[1]);
      const user = await crypto.subtle.decrypt({ name: "AES-GCM", iv: raw.slice(0, 12) }, await cookieKey(), raw.slice(12));
      return new Response("you are " + new TextDecoder().decode(user));
    } catch (e) {
      return new Response("bad session: " + e.name, { status: 401 });
    }
  },
};
"#;

#[test]
fn worker_keeps_a_session_in_an_aes_gcm_cookie() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&gateway_config(origin.addr, "main.js", ""))
        .files(&[("main.js", COOKIE_WORKER)])
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");
    let r = get_with(port, "/login?user=alice", "");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    let set = r.header("set-cookie").expect("a session cookie").to_string();
    let value = set
        .strip_prefix("session=")
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    assert!(!value.contains("alice"));

    let r = get_with(port, "/me", &format!("Cookie: theme=dark; session={value}\r\n"));
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "you are alice");

    // One flipped bit anywhere in the cookie fails the tag check.
    let mut raw = URL_SAFE_NO_PAD.decode(&value).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 0x80;
    let r = get_with(port, "/me", &format!("Cookie: session={}\r\n", b64(&raw)));
    assert_eq!(r.status, 401);
    assert_eq!(r.text(), "bad session: OperationError");
    assert_eq!(get_with(port, "/me", "").status, 401);
}
