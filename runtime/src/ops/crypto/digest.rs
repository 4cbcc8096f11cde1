//! Digests: SHA-1/256/384/512 (ring) and MD5 (RustCrypto `md-5`, a
//! workerd extension), whole or incremental for `crypto.DigestStream`.

use md5::Digest as _;

use super::Error;

/// An incremental hash.
pub(crate) enum Hasher {
    Sha(ring::digest::Context),
    Md5(md5::Md5),
}

/// The ring algorithm for a normalised SHA name.
pub(crate) fn sha(name: &str) -> Option<&'static ring::digest::Algorithm> {
    match name {
        "SHA-1" => Some(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
        "SHA-256" => Some(&ring::digest::SHA256),
        "SHA-384" => Some(&ring::digest::SHA384),
        "SHA-512" => Some(&ring::digest::SHA512),
        _ => None,
    }
}

impl Hasher {
    pub(crate) fn new(name: &str) -> Result<Hasher, Error> {
        if name == "MD5" {
            return Ok(Hasher::Md5(md5::Md5::new()));
        }
        sha(name)
            .map(|a| Hasher::Sha(ring::digest::Context::new(a)))
            .ok_or_else(|| Error::NotSupported(format!("Unrecognized digest algorithm: {name}")))
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha(c) => c.update(data),
            Hasher::Md5(m) => m.update(data),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha(c) => c.finish().as_ref().to_vec(),
            Hasher::Md5(m) => m.finalize().to_vec(),
        }
    }
}

/// The digest of `data` with the algorithm `name`.
pub(crate) fn digest(name: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut h = Hasher::new(name)?;
    h.update(data);
    Ok(h.finish())
}

/// Digest `data` with `name` (a SHA name), for RSA and ECDSA prehashing.
pub(crate) fn sha_digest(name: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
    let alg = sha(name).ok_or_else(|| Error::NotSupported(format!("Unrecognized hash algorithm: {name}")))?;
    Ok(ring::digest::digest(alg, data).as_ref().to_vec())
}
