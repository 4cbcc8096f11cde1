//! ECDSA and ECDH on P-256, P-384 and P-521 (RustCrypto `p256`, `p384`,
//! `p521`: constant-time field arithmetic; RFC 6979 nonces on P-256 and
//! P-384, random ones on P-521, where the crate offers only those), and their key
//! formats (raw SEC1 points, SPKI, PKCS#8, JWK coordinates).

use ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier, RandomizedPrehashSigner};
use elliptic_curve::sec1::ToEncodedPoint;
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use spki::{DecodePublicKey, EncodePublicKey};

use super::digest::sha_digest;
use super::Error;

/// A private key on one of the three curves.
pub(crate) enum EcPrivate {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

/// A public key on one of the three curves.
pub(crate) enum EcPublic {
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    P521(p521::PublicKey),
}

macro_rules! on_curve {
    ($v:expr, $T:ident, $k:ident => $body:expr) => {
        match $v {
            $T::P256($k) => $body,
            $T::P384($k) => $body,
            $T::P521($k) => $body,
        }
    };
}

fn data_err<E>(what: &'static str) -> impl FnOnce(E) -> Error {
    move |_| Error::Data(what.to_string())
}

impl EcPrivate {
    pub(crate) fn generate(curve: &str) -> Result<EcPrivate, Error> {
        let mut rng = rand_core::OsRng;
        Ok(match curve {
            "P-256" => EcPrivate::P256(p256::SecretKey::random(&mut rng)),
            "P-384" => EcPrivate::P384(p384::SecretKey::random(&mut rng)),
            "P-521" => EcPrivate::P521(p521::SecretKey::random(&mut rng)),
            _ => return Err(Error::NotSupported(format!("Unrecognized namedCurve: {curve}"))),
        })
    }

    pub(crate) fn public(&self) -> EcPublic {
        match self {
            EcPrivate::P256(k) => EcPublic::P256(k.public_key()),
            EcPrivate::P384(k) => EcPublic::P384(k.public_key()),
            EcPrivate::P521(k) => EcPublic::P521(k.public_key()),
        }
    }

    pub(crate) fn from_pkcs8(curve: &str, der: &[u8]) -> Result<EcPrivate, Error> {
        let bad = data_err("Invalid PKCS#8 EC private key for this curve");
        Ok(match curve {
            "P-256" => EcPrivate::P256(p256::SecretKey::from_pkcs8_der(der).map_err(bad)?),
            "P-384" => EcPrivate::P384(p384::SecretKey::from_pkcs8_der(der).map_err(bad)?),
            "P-521" => EcPrivate::P521(p521::SecretKey::from_pkcs8_der(der).map_err(bad)?),
            _ => return Err(Error::NotSupported(format!("Unrecognized namedCurve: {curve}"))),
        })
    }

    /// From a JWK's `d`, checked against its `x` and `y`.
    pub(crate) fn from_jwk(curve: &str, x: &[u8], y: &[u8], d: &[u8]) -> Result<EcPrivate, Error> {
        let bad = data_err("Invalid JWK EC private key");
        let k = match curve {
            "P-256" => EcPrivate::P256(p256::SecretKey::from_slice(d).map_err(bad)?),
            "P-384" => EcPrivate::P384(p384::SecretKey::from_slice(d).map_err(bad)?),
            "P-521" => EcPrivate::P521(p521::SecretKey::from_slice(d).map_err(bad)?),
            _ => return Err(Error::NotSupported(format!("Unrecognized namedCurve: {curve}"))),
        };
        if k.scalar_len() != d.len() {
            return Err(Error::Data("JWK member d has the wrong length".into()));
        }
        let (px, py) = k.public().coordinates();
        if px != x || py != y {
            return Err(Error::Data("JWK members x and y do not match d".into()));
        }
        Ok(k)
    }

    fn scalar_len(&self) -> usize {
        match self {
            EcPrivate::P256(_) => 32,
            EcPrivate::P384(_) => 48,
            EcPrivate::P521(_) => 66,
        }
    }

    pub(crate) fn to_pkcs8(&self) -> Result<Vec<u8>, Error> {
        on_curve!(self, EcPrivate, k => k.to_pkcs8_der().map(|d| d.as_bytes().to_vec()))
            .map_err(|_| Error::Operation("PKCS#8 encoding failed".into()))
    }

    /// The private scalar, big-endian, padded to the field size (JWK `d`).
    pub(crate) fn scalar(&self) -> Vec<u8> {
        on_curve!(self, EcPrivate, k => k.to_bytes().to_vec())
    }

    /// ECDSA over the `hash` digest of `data`: `r || s`, each padded to
    /// the field size (IEEE P1363, as Web Crypto wants).
    pub(crate) fn sign(&self, hash: &str, data: &[u8]) -> Result<Vec<u8>, Error> {
        let h = prehash(hash, data, self.scalar_len())?;
        let fail = |_| Error::Operation("ECDSA signing failed".into());
        Ok(match self {
            EcPrivate::P256(k) => {
                let s: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k).sign_prehash(&h).map_err(fail)?;
                s.to_bytes().to_vec()
            }
            EcPrivate::P384(k) => {
                let s: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(k).sign_prehash(&h).map_err(fail)?;
                s.to_bytes().to_vec()
            }
            EcPrivate::P521(k) => {
                let inner = ecdsa::SigningKey::<p521::NistP521>::from(k);
                let s: p521::ecdsa::Signature = p521::ecdsa::SigningKey::from(inner)
                    .sign_prehash_with_rng(&mut rand_core::OsRng, &h)
                    .map_err(fail)?;
                s.to_bytes().to_vec()
            }
        })
    }

    /// ECDH: the x coordinate of the shared point.
    pub(crate) fn agree(&self, public: &EcPublic) -> Result<Vec<u8>, Error> {
        let mismatch = || Error::InvalidAccess("The keys are on different curves".into());
        Ok(match (self, public) {
            (EcPrivate::P256(k), EcPublic::P256(p)) => {
                elliptic_curve::ecdh::diffie_hellman(k.to_nonzero_scalar(), p.as_affine())
                    .raw_secret_bytes()
                    .to_vec()
            }
            (EcPrivate::P384(k), EcPublic::P384(p)) => {
                elliptic_curve::ecdh::diffie_hellman(k.to_nonzero_scalar(), p.as_affine())
                    .raw_secret_bytes()
                    .to_vec()
            }
            (EcPrivate::P521(k), EcPublic::P521(p)) => {
                elliptic_curve::ecdh::diffie_hellman(k.to_nonzero_scalar(), p.as_affine())
                    .raw_secret_bytes()
                    .to_vec()
            }
            _ => return Err(mismatch()),
        })
    }
}

/// The digest of `data`, left-padded with zeros to at least half the field
/// size: `bits2int` of a short hash is its plain integer value, which the
/// padding keeps, while the ECDSA crate refuses hashes under half the field.
fn prehash(hash: &str, data: &[u8], field: usize) -> Result<Vec<u8>, Error> {
    let h = sha_digest(hash, data)?;
    let min = field.div_ceil(2);
    if h.len() >= min {
        return Ok(h);
    }
    let mut padded = vec![0u8; min - h.len()];
    padded.extend_from_slice(&h);
    Ok(padded)
}

impl EcPublic {
    fn field_len(&self) -> usize {
        match self {
            EcPublic::P256(_) => 32,
            EcPublic::P384(_) => 48,
            EcPublic::P521(_) => 66,
        }
    }

    /// From a SEC1 point (uncompressed or compressed), the `raw` format.
    pub(crate) fn from_sec1(curve: &str, b: &[u8]) -> Result<EcPublic, Error> {
        let bad = data_err("Invalid EC public key for this curve");
        Ok(match curve {
            "P-256" => EcPublic::P256(p256::PublicKey::from_sec1_bytes(b).map_err(bad)?),
            "P-384" => EcPublic::P384(p384::PublicKey::from_sec1_bytes(b).map_err(bad)?),
            "P-521" => EcPublic::P521(p521::PublicKey::from_sec1_bytes(b).map_err(bad)?),
            _ => return Err(Error::NotSupported(format!("Unrecognized namedCurve: {curve}"))),
        })
    }

    pub(crate) fn from_spki(curve: &str, der: &[u8]) -> Result<EcPublic, Error> {
        let bad = data_err("Invalid SPKI EC public key for this curve");
        Ok(match curve {
            "P-256" => EcPublic::P256(p256::PublicKey::from_public_key_der(der).map_err(bad)?),
            "P-384" => EcPublic::P384(p384::PublicKey::from_public_key_der(der).map_err(bad)?),
            "P-521" => EcPublic::P521(p521::PublicKey::from_public_key_der(der).map_err(bad)?),
            _ => return Err(Error::NotSupported(format!("Unrecognized namedCurve: {curve}"))),
        })
    }

    /// From JWK coordinates.
    pub(crate) fn from_jwk(curve: &str, x: &[u8], y: &[u8]) -> Result<EcPublic, Error> {
        let n = match curve {
            "P-256" => 32,
            "P-384" => 48,
            "P-521" => 66,
            _ => return Err(Error::NotSupported(format!("Unrecognized namedCurve: {curve}"))),
        };
        if x.len() != n || y.len() != n {
            return Err(Error::Data("JWK members x and y have the wrong length".into()));
        }
        let mut point = Vec::with_capacity(1 + 2 * n);
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        EcPublic::from_sec1(curve, &point)
    }

    /// The uncompressed SEC1 point (the `raw` format).
    pub(crate) fn to_sec1(&self) -> Vec<u8> {
        on_curve!(self, EcPublic, k => k.to_encoded_point(false).as_bytes().to_vec())
    }

    pub(crate) fn to_spki(&self) -> Result<Vec<u8>, Error> {
        on_curve!(self, EcPublic, k => k.to_public_key_der().map(|d| d.as_bytes().to_vec()))
            .map_err(|_| Error::Operation("SPKI encoding failed".into()))
    }

    /// The affine coordinates (JWK `x`, `y`).
    pub(crate) fn coordinates(&self) -> (Vec<u8>, Vec<u8>) {
        let point = self.to_sec1();
        let n = self.field_len();
        match point.get(1..1 + n).zip(point.get(1 + n..1 + 2 * n)) {
            Some((x, y)) => (x.to_vec(), y.to_vec()),
            None => (Vec::new(), Vec::new()),
        }
    }

    /// ECDSA verification of a P1363 `r || s` signature; a signature of
    /// the wrong length is simply invalid.
    pub(crate) fn verify(&self, hash: &str, sig: &[u8], data: &[u8]) -> Result<bool, Error> {
        if sig.len() != 2 * self.field_len() {
            return Ok(false);
        }
        // ring (assembly-optimised) for the pairs it offers: JWT's ES256
        // and ES384 among them.
        let ring_alg: Option<&'static ring::signature::EcdsaVerificationAlgorithm> = match (self, hash) {
            (EcPublic::P256(_), "SHA-256") => Some(&ring::signature::ECDSA_P256_SHA256_FIXED),
            (EcPublic::P384(_), "SHA-384") => Some(&ring::signature::ECDSA_P384_SHA384_FIXED),
            _ => None,
        };
        if let Some(alg) = ring_alg {
            let point = self.to_sec1();
            return Ok(ring::signature::UnparsedPublicKey::new(alg, &point)
                .verify(data, sig)
                .is_ok());
        }
        let h = prehash(hash, data, self.field_len())?;
        Ok(match self {
            EcPublic::P256(k) => {
                let Ok(s) = p256::ecdsa::Signature::from_slice(sig) else {
                    return Ok(false);
                };
                p256::ecdsa::VerifyingKey::from(k).verify_prehash(&h, &s).is_ok()
            }
            EcPublic::P384(k) => {
                let Ok(s) = p384::ecdsa::Signature::from_slice(sig) else {
                    return Ok(false);
                };
                p384::ecdsa::VerifyingKey::from(k).verify_prehash(&h, &s).is_ok()
            }
            EcPublic::P521(k) => {
                let Ok(s) = p521::ecdsa::Signature::from_slice(sig) else {
                    return Ok(false);
                };
                let Ok(v) = p521::ecdsa::VerifyingKey::from_affine(*k.as_affine()) else {
                    return Ok(false);
                };
                v.verify_prehash(&h, &s).is_ok()
            }
        })
    }
}
