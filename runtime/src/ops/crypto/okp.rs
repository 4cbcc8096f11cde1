//! Ed25519 (`ed25519-dalek`) and X25519 (`x25519-dalek`), and their key
//! formats. X25519's PKCS#8 and SPKI wrappers are built with the `pkcs8` and
//! `spki` crates (x25519-dalek has none).

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes};
use ed25519_dalek::Signer;
use pkcs8::der::asn1::{BitStringRef, OctetStringRef};
use pkcs8::der::{Decode, Encode};
use pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier, PrivateKeyInfo};
use spki::SubjectPublicKeyInfoRef;

use super::Error;

const X25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");

fn key32(b: &[u8], what: &str) -> Result<[u8; 32], Error> {
    b.try_into()
        .map_err(|_| Error::Data(format!("{what} must be 32 bytes")))
}

/// A fresh 32-byte secret.
pub(crate) fn random32() -> Result<[u8; 32], Error> {
    let mut b = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| Error::Operation("random source failed".into()))?;
    Ok(b)
}

// --- Ed25519 ---

pub(crate) fn ed_generate() -> Result<ed25519_dalek::SigningKey, Error> {
    Ok(ed25519_dalek::SigningKey::from_bytes(&random32()?))
}

pub(crate) fn ed_public(k: &ed25519_dalek::SigningKey) -> [u8; 32] {
    k.verifying_key().to_bytes()
}

/// A raw public key is kept as bytes: Web Crypto imports any 32 bytes and
/// lets verification fail for points that do not decode.
pub(crate) fn ed_public_raw(b: &[u8]) -> Result<[u8; 32], Error> {
    key32(b, "An Ed25519 public key")
}

pub(crate) fn ed_from_spki(der: &[u8]) -> Result<[u8; 32], Error> {
    ed25519_dalek::VerifyingKey::from_public_key_der(der)
        .map(|k| k.to_bytes())
        .map_err(|_| Error::Data("Invalid SPKI Ed25519 public key".into()))
}

pub(crate) fn ed_from_pkcs8(der: &[u8]) -> Result<ed25519_dalek::SigningKey, Error> {
    ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|_| Error::Data("Invalid PKCS#8 Ed25519 private key".into()))
}

/// From JWK `d` (the seed), checked against `x`.
pub(crate) fn ed_from_jwk(x: &[u8], d: &[u8]) -> Result<ed25519_dalek::SigningKey, Error> {
    let k = ed25519_dalek::SigningKey::from_bytes(&key32(d, "JWK member d")?);
    if k.verifying_key().as_bytes() != x {
        return Err(Error::Data("JWK member x does not match d".into()));
    }
    Ok(k)
}

pub(crate) fn ed_to_spki(public: &[u8; 32]) -> Result<Vec<u8>, Error> {
    let k = ed25519_dalek::VerifyingKey::from_bytes(public)
        .map_err(|_| Error::Operation("The public key is not a valid point".into()))?;
    k.to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|_| Error::Operation("SPKI encoding failed".into()))
}

/// PKCS#8 v1 (seed only), as browsers and workerd write it.
pub(crate) fn ed_to_pkcs8(k: &ed25519_dalek::SigningKey) -> Result<Vec<u8>, Error> {
    let kp = KeypairBytes {
        secret_key: k.to_bytes(),
        public_key: None,
    };
    kp.to_pkcs8_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|_| Error::Operation("PKCS#8 encoding failed".into()))
}

pub(crate) fn ed_sign(k: &ed25519_dalek::SigningKey, data: &[u8]) -> Vec<u8> {
    k.sign(data).to_bytes().to_vec()
}

/// Strict verification: small-order public keys and `R` values fail.
pub(crate) fn ed_verify(public: &[u8; 32], sig: &[u8], data: &[u8]) -> bool {
    let Ok(k) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
        return false;
    };
    if k.is_weak() {
        return false;
    }
    k.verify_strict(data, &sig).is_ok()
}

// --- X25519 ---

pub(crate) fn x_generate() -> Result<x25519_dalek::StaticSecret, Error> {
    Ok(x25519_dalek::StaticSecret::from(random32()?))
}

pub(crate) fn x_public(k: &x25519_dalek::StaticSecret) -> x25519_dalek::PublicKey {
    x25519_dalek::PublicKey::from(k)
}

pub(crate) fn x_public_raw(b: &[u8]) -> Result<x25519_dalek::PublicKey, Error> {
    Ok(x25519_dalek::PublicKey::from(key32(b, "An X25519 public key")?))
}

pub(crate) fn x_from_spki(der: &[u8]) -> Result<x25519_dalek::PublicKey, Error> {
    let bad = || Error::Data("Invalid SPKI X25519 public key".into());
    let info = SubjectPublicKeyInfoRef::from_der(der).map_err(|_| bad())?;
    if info.algorithm.oid != X25519_OID || info.algorithm.parameters.is_some() {
        return Err(bad());
    }
    let bytes = info.subject_public_key.as_bytes().ok_or_else(bad)?;
    x_public_raw(bytes)
}

pub(crate) fn x_from_pkcs8(der: &[u8]) -> Result<x25519_dalek::StaticSecret, Error> {
    let bad = || Error::Data("Invalid PKCS#8 X25519 private key".into());
    let info = PrivateKeyInfo::from_der(der).map_err(|_| bad())?;
    if info.algorithm.oid != X25519_OID || info.algorithm.parameters.is_some() {
        return Err(bad());
    }
    // The private key is a CurvePrivateKey: an OCTET STRING inside the
    // OCTET STRING.
    let inner = OctetStringRef::from_der(info.private_key).map_err(|_| bad())?;
    Ok(x25519_dalek::StaticSecret::from(key32(
        inner.as_bytes(),
        "An X25519 private key",
    )?))
}

pub(crate) fn x_from_jwk(x: &[u8], d: &[u8]) -> Result<x25519_dalek::StaticSecret, Error> {
    let k = x25519_dalek::StaticSecret::from(key32(d, "JWK member d")?);
    if x_public(&k).as_bytes() != x {
        return Err(Error::Data("JWK member x does not match d".into()));
    }
    Ok(k)
}

fn x_alg() -> AlgorithmIdentifierRef<'static> {
    AlgorithmIdentifierRef {
        oid: X25519_OID,
        parameters: None,
    }
}

pub(crate) fn x_to_spki(k: &x25519_dalek::PublicKey) -> Result<Vec<u8>, Error> {
    let fail = |_| Error::Operation("SPKI encoding failed".into());
    let info = SubjectPublicKeyInfoRef {
        algorithm: x_alg(),
        subject_public_key: BitStringRef::from_bytes(k.as_bytes()).map_err(fail)?,
    };
    info.to_der().map_err(fail)
}

pub(crate) fn x_to_pkcs8(k: &x25519_dalek::StaticSecret) -> Result<Vec<u8>, Error> {
    let fail = |_| Error::Operation("PKCS#8 encoding failed".into());
    let secret = k.to_bytes();
    let inner = OctetStringRef::new(&secret).map_err(fail)?.to_der().map_err(fail)?;
    PrivateKeyInfo::new(x_alg(), &inner).to_der().map_err(fail)
}

/// X25519 agreement; an all-zero result (a small-order peer) fails.
pub(crate) fn x_agree(k: &x25519_dalek::StaticSecret, peer: &x25519_dalek::PublicKey) -> Result<Vec<u8>, Error> {
    let shared = k.diffie_hellman(peer);
    if !shared.was_contributory() {
        return Err(Error::Operation("X25519 agreement produced the all-zero value".into()));
    }
    Ok(shared.as_bytes().to_vec())
}
