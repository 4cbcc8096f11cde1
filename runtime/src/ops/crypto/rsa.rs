//! RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP, and the RSA key formats.
//!
//! Signing goes through ring (constant-time) whenever ring takes the key
//! and the parameters: a 2048- to 4096-bit key, SHA-256/384/512, and for
//! PSS a salt as long as the hash, which covers JWT's RS*/PS* algorithms.
//! Verification with those parameters (and keys up to 8192 bits) goes
//! through ring too, for speed. Everything else (key generation, OAEP,
//! other keys and parameters) uses RustCrypto's `rsa`, whose private-key operations are
//! blinded (the crate's `*_with_rng`/`decrypt_blinded` paths): that is what
//! stands between its variable-time big-integer code and a timing attack.

use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Oaep, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};

use super::digest::sha_digest;
use super::Error;

/// The largest modulus accepted for import, in bits.
const MAX_BITS: usize = 16384;
/// The largest modulus `generateKey` makes: generation cannot be
/// interrupted once started, and past this it takes minutes.
pub(crate) const MAX_GENERATE_BITS: usize = 8192;

/// Run `$body` with `$D` bound to the digest type named `$hash`.
macro_rules! with_hash {
    ($hash:expr, $D:ident => $body:expr) => {
        match $hash {
            "SHA-1" => {
                type $D = sha1::Sha1;
                $body
            }
            "SHA-256" => {
                type $D = sha2::Sha256;
                $body
            }
            "SHA-384" => {
                type $D = sha2::Sha384;
                $body
            }
            "SHA-512" => {
                type $D = sha2::Sha512;
                $body
            }
            other => return Err(Error::NotSupported(format!("Unrecognized hash algorithm: {other}"))),
        }
    };
}

/// A new key pair; `exponent` is the big-endian public exponent.
pub(crate) fn generate(bits: u32, exponent: &[u8]) -> Result<RsaPrivateKey, Error> {
    let e = BigUint::from_bytes_be(exponent);
    // An even or tiny exponent has no inverse; the crate would search for
    // primes forever. workerd accepts 3 and 65537 only, and so do we.
    if e != BigUint::from(3u32) && e != BigUint::from(65537u32) {
        return Err(Error::Operation("The public exponent must be 3 or 65537".into()));
    }
    let bits = bits as usize;
    if !(256..=MAX_GENERATE_BITS).contains(&bits) || !bits.is_multiple_of(8) {
        return Err(Error::Operation(format!(
            "The modulus length must be a multiple of 8 between 256 and {MAX_GENERATE_BITS}"
        )));
    }
    RsaPrivateKey::new_with_exp(&mut rand_core::OsRng, bits, &e)
        .map_err(|e| Error::Operation(format!("RSA key generation failed: {e}")))
}

pub(crate) fn public_of(k: &RsaPrivateKey) -> RsaPublicKey {
    k.to_public_key()
}

pub(crate) fn from_pkcs8(der: &[u8]) -> Result<RsaPrivateKey, Error> {
    // Checking a private key costs big-integer work on the isolate's
    // thread: keys past MAX_BITS (a DER of 8 numbers of at most that size)
    // are refused before it.
    if der.len() > MAX_BITS / 8 * 5 + 64 {
        return Err(Error::Data(format!(
            "RSA keys of more than {MAX_BITS} bits are not supported"
        )));
    }
    let k = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| Error::Data("Invalid PKCS#8 RSA private key".into()))?;
    k.validate()
        .map_err(|_| Error::Data("Invalid RSA private key".into()))?;
    Ok(k)
}

pub(crate) fn from_spki(der: &[u8]) -> Result<RsaPublicKey, Error> {
    RsaPublicKey::from_public_key_der(der).map_err(|_| Error::Data("Invalid SPKI RSA public key".into()))
}

/// From JWK members, each big-endian: `n`, `e`, and for a private key `d`,
/// `p`, `q` (the CRT values are recomputed and must match when given).
pub(crate) fn from_jwk_public(n: &[u8], e: &[u8]) -> Result<RsaPublicKey, Error> {
    if n.is_empty() || e.is_empty() {
        return Err(Error::Data("JWK members n and e are required".into()));
    }
    RsaPublicKey::new_with_max_size(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e), MAX_BITS)
        .map_err(|e| Error::Data(format!("Invalid RSA public key: {e}")))
}

pub(crate) fn from_jwk_private(parts: &[&[u8]; 8]) -> Result<RsaPrivateKey, Error> {
    let [n, e, d, p, q, dp, dq, qi] = *parts;
    if [n, e, d, p, q].iter().any(|b| b.is_empty()) {
        return Err(Error::Data("JWK members n, e, d, p and q are required".into()));
    }
    if n.len() > MAX_BITS / 8 || parts.iter().any(|b| b.len() > n.len()) {
        return Err(Error::Data(format!(
            "RSA keys of more than {MAX_BITS} bits are not supported"
        )));
    }
    let big = BigUint::from_bytes_be;
    let mut k = RsaPrivateKey::from_components(big(n), big(e), big(d), vec![big(p), big(q)])
        .map_err(|e| Error::Data(format!("Invalid RSA private key: {e}")))?;
    k.validate()
        .map_err(|e| Error::Data(format!("Invalid RSA private key: {e}")))?;
    k.precompute()
        .map_err(|e| Error::Data(format!("Invalid RSA private key: {e}")))?;
    let same = |want: &[u8], got: Option<BigUint>| want.is_empty() || got.is_some_and(|g| g == big(want));
    if !same(dp, k.dp().cloned()) || !same(dq, k.dq().cloned()) || !same(qi, k.crt_coefficient()) {
        return Err(Error::Data("JWK members dp, dq and qi do not match the key".into()));
    }
    Ok(k)
}

pub(crate) fn to_pkcs8(k: &RsaPrivateKey) -> Result<Vec<u8>, Error> {
    k.to_pkcs8_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|_| Error::Operation("PKCS#8 encoding failed".into()))
}

pub(crate) fn to_spki(k: &RsaPublicKey) -> Result<Vec<u8>, Error> {
    k.to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|_| Error::Operation("SPKI encoding failed".into()))
}

/// JWK members `n`, `e` (public) and `d`, `p`, `q`, `dp`, `dq`, `qi`.
pub(crate) fn jwk_public(k: &RsaPublicKey) -> Vec<Vec<u8>> {
    vec![k.n().to_bytes_be(), k.e().to_bytes_be()]
}

pub(crate) fn jwk_private(k: &RsaPrivateKey) -> Vec<Vec<u8>> {
    let mut out = vec![k.n().to_bytes_be(), k.e().to_bytes_be(), k.d().to_bytes_be()];
    let primes = k.primes();
    for p in primes.iter().take(2) {
        out.push(p.to_bytes_be());
    }
    let b = |v: Option<BigUint>| v.map(|v| v.to_bytes_be()).unwrap_or_default();
    out.push(b(k.dp().cloned()));
    out.push(b(k.dq().cloned()));
    out.push(b(k.crt_coefficient()));
    out
}

/// The modulus length in bits and the public exponent (big-endian).
pub(crate) fn info(k: &RsaPublicKey) -> (u32, Vec<u8>) {
    (k.n().bits() as u32, k.e().to_bytes_be())
}

/// Whether a PSS salt fits an encoded message of a `modulus`-byte key
/// (RFC 8017 9.1.1: emLen >= hLen + sLen + 2).
fn salt_fits(modulus: usize, hash: usize, salt: usize) -> bool {
    salt.checked_add(hash + 2).is_some_and(|need| need <= modulus)
}

/// A private key, with ring's form of it when ring accepts the key.
pub(crate) struct RsaPrivate {
    pub(crate) key: RsaPrivateKey,
    ring: Option<ring::rsa::KeyPair>,
}

impl RsaPrivate {
    pub(crate) fn new(key: RsaPrivateKey) -> RsaPrivate {
        let ring = key
            .to_pkcs1_der()
            .ok()
            .and_then(|der| ring::rsa::KeyPair::from_der(der.as_bytes()).ok());
        RsaPrivate { key, ring }
    }
}

/// ring's padding for these parameters, if it has one.
fn ring_padding(hash: &str, pss: Option<usize>) -> Option<&'static dyn ring::signature::RsaEncoding> {
    Some(match (hash, pss) {
        ("SHA-256", None) => &ring::signature::RSA_PKCS1_SHA256,
        ("SHA-384", None) => &ring::signature::RSA_PKCS1_SHA384,
        ("SHA-512", None) => &ring::signature::RSA_PKCS1_SHA512,
        ("SHA-256", Some(32)) => &ring::signature::RSA_PSS_SHA256,
        ("SHA-384", Some(48)) => &ring::signature::RSA_PSS_SHA384,
        ("SHA-512", Some(64)) => &ring::signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

/// Sign with RSASSA-PKCS1-v1_5 (`pss == None`) or RSA-PSS with that salt
/// length.
pub(crate) fn sign(k: &RsaPrivate, hash: &str, pss: Option<usize>, data: &[u8]) -> Result<Vec<u8>, Error> {
    if let (Some(pair), Some(padding)) = (&k.ring, ring_padding(hash, pss)) {
        let mut sig = vec![0u8; pair.public().modulus_len()];
        pair.sign(padding, &ring::rand::SystemRandom::new(), data, &mut sig)
            .map_err(|_| Error::Operation("RSA signing failed".into()))?;
        return Ok(sig);
    }
    let k = &k.key;
    let h = sha_digest(hash, data)?;
    // The crate allocates the salt before checking that it fits.
    if pss.is_some_and(|salt| !salt_fits(k.size(), h.len(), salt)) {
        return Err(Error::Operation("The RSA-PSS salt is too long for this key".into()));
    }
    let mut rng = rand_core::OsRng;
    let r = with_hash!(hash, D => match pss {
        None => k.sign_with_rng(&mut rng, Pkcs1v15Sign::new::<D>(), &h),
        Some(salt) => k.sign_with_rng(&mut rng, Pss::new_blinded_with_salt::<D>(salt), &h),
    });
    r.map_err(|e| Error::Operation(format!("RSA signing failed: {e}")))
}

/// ring's verification algorithm for these parameters and a key of `bits`
/// bits, if it has one.
fn ring_verify_alg(hash: &str, pss: Option<usize>, bits: usize) -> Option<&'static ring::signature::RsaParameters> {
    if !(2048..=8192).contains(&bits) {
        return None;
    }
    Some(match (hash, pss) {
        ("SHA-256", None) => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        ("SHA-384", None) => &ring::signature::RSA_PKCS1_2048_8192_SHA384,
        ("SHA-512", None) => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
        ("SHA-256", Some(32)) => &ring::signature::RSA_PSS_2048_8192_SHA256,
        ("SHA-384", Some(48)) => &ring::signature::RSA_PSS_2048_8192_SHA384,
        ("SHA-512", Some(64)) => &ring::signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// Verify; through ring (several times faster) for the parameters JWT's
/// RS*/PS* use and 2048- to 8192-bit keys, else through the `rsa` crate.
pub(crate) fn verify(k: &RsaPublicKey, hash: &str, pss: Option<usize>, sig: &[u8], data: &[u8]) -> Result<bool, Error> {
    if let Some(alg) = ring_verify_alg(hash, pss, k.n().bits()) {
        let n = k.n().to_bytes_be();
        let e = k.e().to_bytes_be();
        let public = ring::signature::RsaPublicKeyComponents { n: &n, e: &e };
        return Ok(public.verify(alg, data, sig).is_ok());
    }
    let h = sha_digest(hash, data)?;
    if pss.is_some_and(|salt| !salt_fits(k.size(), h.len(), salt)) {
        return Ok(false);
    }
    let r = with_hash!(hash, D => match pss {
        None => k.verify(Pkcs1v15Sign::new::<D>(), &h, sig),
        Some(salt) => k.verify(Pss::new_with_salt::<D>(salt), &h, sig),
    });
    Ok(r.is_ok())
}

fn oaep(hash: &str, label: &[u8]) -> Result<Oaep, Error> {
    let label = if label.is_empty() {
        None
    } else {
        Some(
            String::from_utf8(label.to_vec())
                .map_err(|_| Error::NotSupported("RSA-OAEP labels must be UTF-8 text here".into()))?,
        )
    };
    Ok(with_hash!(hash, D => match label {
        None => Oaep::new::<D>(),
        Some(l) => Oaep::new_with_label::<D, _>(l),
    }))
}

pub(crate) fn encrypt(k: &RsaPublicKey, hash: &str, label: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
    let padding = oaep(hash, label)?;
    k.encrypt(&mut rand_core::OsRng, padding, data)
        .map_err(|e| Error::Operation(format!("RSA-OAEP encryption failed: {e}")))
}

pub(crate) fn decrypt(k: &RsaPrivateKey, hash: &str, label: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
    let padding = oaep(hash, label)?;
    k.decrypt_blinded(&mut rand_core::OsRng, padding, data)
        .map_err(|_| Error::Operation("RSA-OAEP decryption failed".into()))
}
