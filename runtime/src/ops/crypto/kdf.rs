//! HMAC, HKDF and PBKDF2, all with ring.

use std::num::NonZeroU32;

use super::Error;

fn unknown(hash: &str) -> Error {
    Error::NotSupported(format!("Unrecognized hash algorithm: {hash}"))
}

fn hmac_alg(hash: &str) -> Result<ring::hmac::Algorithm, Error> {
    Ok(match hash {
        "SHA-1" => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => ring::hmac::HMAC_SHA256,
        "SHA-384" => ring::hmac::HMAC_SHA384,
        "SHA-512" => ring::hmac::HMAC_SHA512,
        _ => return Err(unknown(hash)),
    })
}

pub(crate) fn hmac_sign(hash: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
    let k = ring::hmac::Key::new(hmac_alg(hash)?, key);
    Ok(ring::hmac::sign(&k, data).as_ref().to_vec())
}

/// Constant-time comparison of the tag.
pub(crate) fn hmac_verify(hash: &str, key: &[u8], sig: &[u8], data: &[u8]) -> Result<bool, Error> {
    let k = ring::hmac::Key::new(hmac_alg(hash)?, key);
    Ok(ring::hmac::verify(&k, data, sig).is_ok())
}

/// The most PBKDF2 iterations one call may ask for, summed over the blocks
/// of output: the work cannot be interrupted once started, so it is
/// bounded (about 10 s of one core). workerd has no such bound.
pub(crate) const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The longest PBKDF2 output, allocated natively.
const MAX_PBKDF2_BYTES: usize = 1 << 20;

/// An output length for ring's HKDF.
struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

pub(crate) fn hkdf(hash: &str, key: &[u8], salt: &[u8], info: &[u8], bytes: usize) -> Result<Vec<u8>, Error> {
    let alg = match hash {
        "SHA-1" => ring::hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => ring::hkdf::HKDF_SHA256,
        "SHA-384" => ring::hkdf::HKDF_SHA384,
        "SHA-512" => ring::hkdf::HKDF_SHA512,
        _ => return Err(unknown(hash)),
    };
    // HKDF makes at most 255 blocks of the hash's length; checked before
    // the output is allocated.
    if bytes > 255 * alg.hmac_algorithm().digest_algorithm().output_len() {
        return Err(Error::Operation("HKDF output too long for this hash".into()));
    }
    let mut out = vec![0u8; bytes];
    if bytes == 0 {
        return Ok(out);
    }
    let info = [info];
    let prk = ring::hkdf::Salt::new(alg, salt).extract(key);
    let okm = prk
        .expand(&info, Len(bytes))
        .map_err(|_| Error::Operation("HKDF output too long for this hash".into()))?;
    okm.fill(&mut out)
        .map_err(|_| Error::Operation("HKDF output too long for this hash".into()))?;
    Ok(out)
}

fn hash_len(hash: &str) -> usize {
    match hash {
        "SHA-1" => 20,
        "SHA-256" => 32,
        "SHA-384" => 48,
        _ => 64,
    }
}

pub(crate) fn pbkdf2(hash: &str, key: &[u8], salt: &[u8], iterations: u32, bytes: usize) -> Result<Vec<u8>, Error> {
    let alg = match hash {
        "SHA-1" => ring::pbkdf2::PBKDF2_HMAC_SHA1,
        "SHA-256" => ring::pbkdf2::PBKDF2_HMAC_SHA256,
        "SHA-384" => ring::pbkdf2::PBKDF2_HMAC_SHA384,
        "SHA-512" => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return Err(unknown(hash)),
    };
    let iterations =
        NonZeroU32::new(iterations).ok_or_else(|| Error::Operation("PBKDF2 iterations must not be 0".into()))?;
    if bytes > MAX_PBKDF2_BYTES {
        return Err(Error::NotSupported(format!(
            "PBKDF2 outputs of more than {MAX_PBKDF2_BYTES} bytes are not supported"
        )));
    }
    // Each block of output costs `iterations` HMACs.
    let blocks = bytes.div_ceil(hash_len(hash)).max(1) as u64;
    if u64::from(iterations.get()) * blocks > u64::from(MAX_PBKDF2_ITERATIONS) {
        return Err(Error::NotSupported(format!(
            "PBKDF2 work above {MAX_PBKDF2_ITERATIONS} iterations (per block of output, summed) is not supported"
        )));
    }
    let mut out = vec![0u8; bytes];
    if bytes > 0 {
        ring::pbkdf2::derive(alg, iterations, salt, key, &mut out);
    }
    Ok(out)
}
