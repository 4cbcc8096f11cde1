//! Ops behind `crypto.subtle`: the glue (`js/07_crypto.js`) normalises the
//! algorithm, checks the key's algorithm and usages and the parameters, and
//! calls these with plain values; they do the cryptography on key material
//! held in the native key table (`keys`).
//!
//! An op whose input is large (or whose work is slow: RSA key generation,
//! many PBKDF2 iterations, big RSA private-key operations) runs on tokio's
//! blocking pool and returns an op id instead of the result, so that other
//! requests on the isolate's thread keep running meanwhile (see
//! `off_thread` for how that work is bounded and charged).
//!
//! Errors reach JS as an `Error` whose message starts with the DOMException
//! name (`"OperationError: ..."`); the glue turns it into that DOMException.

mod aes;
mod digest;
mod ec;
mod kdf;
mod keys;
mod node_cipher;
mod okp;
mod rsa;

use std::sync::Arc;

use keys::{Keys, Material};
pub(crate) use node_cipher::op_node_cipher;

use super::{bytes_of, state, string, throw_error, uint8_array};
use crate::state::OpResult;

/// A failure, named as the DOMException the glue throws for it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("NotSupportedError: {0}")]
    NotSupported(String),
    #[error("DataError: {0}")]
    Data(String),
    #[error("OperationError: {0}")]
    Operation(String),
    #[error("InvalidAccessError: {0}")]
    InvalidAccess(String),
}

/// Inputs past this size are processed off the isolate's thread.
const OFF_THREAD_BYTES: usize = 64 * 1024;
/// PBKDF2 iteration counts past this run off the isolate's thread.
const OFF_THREAD_ITERATIONS: u32 = 10_000;
/// RSA private-key operations with moduli of this many bits or more run
/// off the isolate's thread.
const OFF_THREAD_RSA_BITS: usize = 4096;

type Job = Box<dyn FnOnce() -> Result<Vec<u8>, Error> + Send + 'static>;
type KeyJob = Box<dyn FnOnce() -> Result<Vec<Material>, Error> + Send + 'static>;

/// Run `job` now (and return its bytes or throw), or, if `heavy`, on the
/// blocking pool (and return the op id whose promise gets the bytes).
fn finish(scope: &mut v8::PinScope<'_, '_>, rv: &mut v8::ReturnValue<v8::Value>, heavy: bool, job: Job) {
    if heavy {
        if let Some(op) = off_thread(scope, job, |bytes| bytes) {
            rv.set_uint32(op);
        }
        return;
    }
    match job() {
        Ok(bytes) => {
            if let Some(a) = uint8_array(scope, bytes) {
                rv.set(a.into());
            }
        }
        Err(e) => throw_error(scope, &e.to_string()),
    }
}

/// Like `finish`, for jobs that make keys: the keys go into the table and
/// JS gets their handles (little-endian u32s).
fn finish_keys(scope: &mut v8::PinScope<'_, '_>, rv: &mut v8::ReturnValue<v8::Value>, heavy: bool, job: KeyJob) {
    let keys = Keys::of(scope);
    let store =
        move |made: Vec<Material>| -> Vec<u8> { made.into_iter().flat_map(|m| keys.insert(m).to_le_bytes()).collect() };
    if heavy {
        if let Some(op) = off_thread(scope, job, store) {
            rv.set_uint32(op);
        }
        return;
    }
    match job() {
        Ok(made) => {
            if let Some(a) = uint8_array(scope, store(made)) {
                rv.set(a.into());
            }
        }
        Err(e) => throw_error(scope, &e.to_string()),
    }
}

/// Start `job` on tokio's blocking pool as an async op of the current
/// request; `then` turns its result into the bytes JS receives. At most
/// `Keys::JOBS` such jobs of one isolate run at a time (the rest wait, and
/// are dropped unstarted if their request ends), and the CPU time a job
/// takes is charged to its request, as if it had run on the isolate's
/// thread.
fn off_thread<T: Send + 'static>(
    scope: &mut v8::PinScope<'_, '_>,
    job: Box<dyn FnOnce() -> Result<T, Error> + Send + 'static>,
    then: impl FnOnce(T) -> Vec<u8> + 'static,
) -> Option<u32> {
    let permits = Keys::of(scope).jobs.clone();
    let st = state(scope)?;
    let request = st.current.get();
    let weak = std::rc::Rc::downgrade(&st);
    Some(st.spawn_op(async move {
        let Ok(permit) = permits.acquire_owned().await else {
            return OpResult::ReadAll(Err("OperationError: the operation was interrupted".to_string()));
        };
        let ran = tokio::task::spawn_blocking(move || {
            // Held until the job is done, even if its request is not.
            let _permit = permit;
            let start = crate::pool::thread_cpu();
            let result = job();
            (result, crate::pool::thread_cpu().saturating_sub(start))
        })
        .await;
        let Ok((result, cpu)) = ran else {
            return OpResult::ReadAll(Err("OperationError: the operation was interrupted".to_string()));
        };
        if let (Some(st), Some(id)) = (weak.upgrade(), request) {
            if let Some(p) = st.requests.borrow_mut().get_mut(&id) {
                p.cpu += cpu;
                p.cpu_ns
                    .store(p.cpu.as_nanos() as u64, std::sync::atomic::Ordering::SeqCst);
            }
        }
        OpResult::ReadAll(result.map(then).map_err(|e| e.to_string()))
    }))
}

fn arg_u32(scope: &mut v8::PinScope<'_, '_>, args: &v8::FunctionCallbackArguments, i: i32) -> u32 {
    args.get(i).uint32_value(scope).unwrap_or(0)
}

fn arg_bytes(args: &v8::FunctionCallbackArguments, i: i32) -> Vec<u8> {
    bytes_of(args.get(i)).unwrap_or_default()
}

/// The key material behind handle argument `i`, or a thrown error.
fn arg_key(scope: &mut v8::PinScope<'_, '_>, args: &v8::FunctionCallbackArguments, i: i32) -> Option<Arc<Material>> {
    let id = arg_u32(scope, args, i);
    let k = Keys::of(scope).get(id);
    if k.is_none() {
        throw_error(scope, "InvalidAccessError: the key is no longer available");
    }
    k
}

fn wrong_key() -> Error {
    Error::InvalidAccess("The key does not fit this operation".into())
}

fn rsa_bits(k: &::rsa::RsaPrivateKey) -> usize {
    ::rsa::traits::PublicKeyParts::size(k) * 8
}

/// `(name, data)` → digest bytes, or an op id for a large input.
pub(crate) fn op_crypto_digest(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let name = string(scope, args.get(0));
    let data = arg_bytes(&args, 1);
    let heavy = data.len() > OFF_THREAD_BYTES;
    finish(scope, &mut rv, heavy, Box::new(move || digest::digest(&name, &data)));
}

/// `(name)` → the handle of a new incremental digest.
pub(crate) fn op_crypto_digest_stream(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let name = string(scope, args.get(0));
    match digest::Hasher::new(&name) {
        Ok(h) => {
            let id = Keys::of(scope).insert(Material::Digest(std::sync::Mutex::new(Some(h))));
            rv.set_uint32(id);
        }
        Err(e) => throw_error(scope, &e.to_string()),
    }
}

/// `(handle, data)`: feed a digest stream. `(handle)` with no data and a
/// third argument `true`: finish it → digest bytes.
pub(crate) fn op_crypto_digest_update(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(k) = arg_key(scope, &args, 0) else { return };
    let Material::Digest(state) = &*k else {
        throw_error(scope, "TypeError: not a digest stream");
        return;
    };
    let Ok(mut guard) = state.lock() else { return };
    if args.get(2).is_true() {
        let out = guard.take().map(digest::Hasher::finish).unwrap_or_default();
        if let Some(a) = uint8_array(scope, out) {
            rv.set(a.into());
        }
        return;
    }
    if let (Some(h), Some(data)) = (guard.as_mut(), bytes_of(args.get(1))) {
        h.update(&data);
    }
}

/// `(handle)`: forget a key (its `CryptoKey` was collected).
pub(crate) fn op_crypto_key_drop(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let id = arg_u32(scope, &args, 0);
    Keys::of(scope).remove(id);
}

/// `(kind, a, b)` → handles (`[secret]` or `[private, public]`) as bytes,
/// or an op id. Kinds: `secret` (a = byte length), `rsa` (a = modulus
/// bits, b = public exponent), `ec` (a = curve), `ed25519`, `x25519`.
pub(crate) fn op_crypto_generate(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let kind = string(scope, args.get(0));
    let mut heavy = false;
    let job: KeyJob = match kind.as_str() {
        "secret" => {
            let len = arg_u32(scope, &args, 1) as usize;
            Box::new(move || {
                let mut b = zeroize::Zeroizing::new(vec![0u8; len]);
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
                    .map_err(|_| Error::Operation("random source failed".into()))?;
                Ok(vec![Material::Secret(b)])
            })
        }
        "rsa" => {
            heavy = true;
            let bits = arg_u32(scope, &args, 1);
            let e = arg_bytes(&args, 2);
            Box::new(move || {
                let k = rsa::generate(bits, &e)?;
                let public = rsa::public_of(&k);
                Ok(vec![
                    Material::RsaPrivate(Box::new(rsa::RsaPrivate::new(k))),
                    Material::RsaPublic(public),
                ])
            })
        }
        "ec" => {
            let curve = string(scope, args.get(1));
            Box::new(move || {
                let k = ec::EcPrivate::generate(&curve)?;
                let public = k.public();
                Ok(vec![Material::EcPrivate(k), Material::EcPublic(public)])
            })
        }
        "ed25519" => Box::new(|| {
            let k = okp::ed_generate()?;
            let public = okp::ed_public(&k);
            Ok(vec![Material::Ed25519Private(k), Material::Ed25519Public(public)])
        }),
        "x25519" => Box::new(|| {
            let k = okp::x_generate()?;
            let public = okp::x_public(&k);
            Ok(vec![Material::X25519Private(k), Material::X25519Public(public)])
        }),
        _ => Box::new(move || Err(Error::NotSupported(format!("cannot generate {kind} keys")))),
    };
    finish_keys(scope, &mut rv, heavy, job);
}

/// The `i`th JWK member (a Uint8Array, or undefined: empty).
fn member(scope: &mut v8::PinScope<'_, '_>, parts: Option<v8::Local<v8::Array>>, i: u32) -> Vec<u8> {
    parts
        .and_then(|a| a.get_index(scope, i))
        .and_then(bytes_of)
        .unwrap_or_default()
}

/// `(kind, format, data, curve)` → `[handle, private, modulusBits,
/// publicExponent]`. Kinds: `secret`, `rsa`, `ec`, `ed25519`, `x25519`;
/// formats `raw`, `spki`, `pkcs8`, `jwk` (then `data` is an array of the
/// decoded members: rsa `[n, e, d, p, q, dp, dq, qi]`, ec `[x, y, d]`,
/// okp `[x, d]`; an empty `d` means a public key).
pub(crate) fn op_crypto_import(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let kind = string(scope, args.get(0));
    let format = string(scope, args.get(1));
    let curve = string(scope, args.get(3));
    let parts = v8::Local::<v8::Array>::try_from(args.get(2)).ok();
    let mut m = |i: u32| member(scope, parts, i);
    let made: Result<Material, Error> = if format == "jwk" {
        match kind.as_str() {
            "secret" => Ok(Material::Secret(m(0).into())),
            "rsa" => {
                let p: Vec<Vec<u8>> = (0..8).map(&mut m).collect();
                if p[2].is_empty() {
                    rsa::from_jwk_public(&p[0], &p[1]).map(Material::RsaPublic)
                } else {
                    let refs = [&p[0][..], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &p[7]];
                    rsa::from_jwk_private(&refs).map(|k| Material::RsaPrivate(Box::new(rsa::RsaPrivate::new(k))))
                }
            }
            "ec" => {
                let (x, y, d) = (m(0), m(1), m(2));
                if d.is_empty() {
                    ec::EcPublic::from_jwk(&curve, &x, &y).map(Material::EcPublic)
                } else {
                    ec::EcPrivate::from_jwk(&curve, &x, &y, &d).map(Material::EcPrivate)
                }
            }
            "ed25519" => {
                let (x, d) = (m(0), m(1));
                if d.is_empty() {
                    okp::ed_public_raw(&x).map(Material::Ed25519Public)
                } else {
                    okp::ed_from_jwk(&x, &d).map(Material::Ed25519Private)
                }
            }
            "x25519" => {
                let (x, d) = (m(0), m(1));
                if d.is_empty() {
                    okp::x_public_raw(&x).map(Material::X25519Public)
                } else {
                    okp::x_from_jwk(&x, &d).map(Material::X25519Private)
                }
            }
            _ => Err(Error::NotSupported(format!("cannot import {kind} keys"))),
        }
    } else {
        let data = arg_bytes(&args, 2);
        match (kind.as_str(), format.as_str()) {
            ("secret", "raw") => Ok(Material::Secret(data.into())),
            ("rsa", "spki") => rsa::from_spki(&data).map(Material::RsaPublic),
            ("rsa", "pkcs8") => rsa::from_pkcs8(&data).map(|k| Material::RsaPrivate(Box::new(rsa::RsaPrivate::new(k)))),
            ("ec", "raw") => ec::EcPublic::from_sec1(&curve, &data).map(Material::EcPublic),
            ("ec", "spki") => ec::EcPublic::from_spki(&curve, &data).map(Material::EcPublic),
            ("ec", "pkcs8") => ec::EcPrivate::from_pkcs8(&curve, &data).map(Material::EcPrivate),
            ("ed25519", "raw") => okp::ed_public_raw(&data).map(Material::Ed25519Public),
            ("ed25519", "spki") => okp::ed_from_spki(&data).map(Material::Ed25519Public),
            ("ed25519", "pkcs8") => okp::ed_from_pkcs8(&data).map(Material::Ed25519Private),
            ("x25519", "raw") => okp::x_public_raw(&data).map(Material::X25519Public),
            ("x25519", "spki") => okp::x_from_spki(&data).map(Material::X25519Public),
            ("x25519", "pkcs8") => okp::x_from_pkcs8(&data).map(Material::X25519Private),
            _ => Err(Error::NotSupported(format!(
                "cannot import {kind} keys in {format} format"
            ))),
        }
    };
    let made = match made {
        Ok(m) => m,
        Err(e) => {
            throw_error(scope, &e.to_string());
            return;
        }
    };
    let private = matches!(
        made,
        Material::RsaPrivate(_) | Material::EcPrivate(_) | Material::Ed25519Private(_) | Material::X25519Private(_)
    );
    let (bits, exponent) = match &made {
        Material::RsaPrivate(k) => rsa::info(&rsa::public_of(&k.key)),
        Material::RsaPublic(k) => rsa::info(k),
        _ => (0, Vec::new()),
    };
    let id = Keys::of(scope).insert(made);
    let Some(exp) = uint8_array(scope, exponent) else {
        return;
    };
    let values: [v8::Local<v8::Value>; 4] = [
        v8::Integer::new_from_unsigned(scope, id).into(),
        v8::Boolean::new(scope, private).into(),
        v8::Integer::new_from_unsigned(scope, bits).into(),
        exp.into(),
    ];
    rv.set(v8::Array::new_with_elements(scope, &values).into());
}

/// `(handle, format)` → bytes (`raw`, `spki`, `pkcs8`) or, for `jwk`, an
/// array of members in the order `op_crypto_import` takes them.
pub(crate) fn op_crypto_export(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(k) = arg_key(scope, &args, 0) else { return };
    let format = string(scope, args.get(1));
    let out: Result<Vec<Vec<u8>>, Error> = match (&*k, format.as_str()) {
        (Material::Secret(b), "raw" | "jwk") => Ok(vec![b.to_vec()]),
        (Material::RsaPublic(p), "spki") => rsa::to_spki(p).map(|d| vec![d]),
        (Material::RsaPrivate(p), "pkcs8") => rsa::to_pkcs8(&p.key).map(|d| vec![d]),
        (Material::RsaPublic(p), "jwk") => Ok(rsa::jwk_public(p)),
        (Material::RsaPrivate(p), "jwk") => Ok(rsa::jwk_private(&p.key)),
        (Material::EcPublic(p), "raw") => Ok(vec![p.to_sec1()]),
        (Material::EcPublic(p), "spki") => p.to_spki().map(|d| vec![d]),
        (Material::EcPrivate(p), "pkcs8") => p.to_pkcs8().map(|d| vec![d]),
        (Material::EcPublic(p), "jwk") => {
            let (x, y) = p.coordinates();
            Ok(vec![x, y])
        }
        (Material::EcPrivate(p), "jwk") => {
            let (x, y) = p.public().coordinates();
            Ok(vec![x, y, p.scalar()])
        }
        (Material::Ed25519Public(p), "raw" | "jwk") => Ok(vec![p.to_vec()]),
        (Material::Ed25519Public(p), "spki") => okp::ed_to_spki(p).map(|d| vec![d]),
        (Material::Ed25519Private(p), "pkcs8") => okp::ed_to_pkcs8(p).map(|d| vec![d]),
        (Material::Ed25519Private(p), "jwk") => Ok(vec![okp::ed_public(p).to_vec(), p.to_bytes().to_vec()]),
        (Material::X25519Public(p), "raw" | "jwk") => Ok(vec![p.as_bytes().to_vec()]),
        (Material::X25519Public(p), "spki") => okp::x_to_spki(p).map(|d| vec![d]),
        (Material::X25519Private(p), "pkcs8") => okp::x_to_pkcs8(p).map(|d| vec![d]),
        (Material::X25519Private(p), "jwk") => Ok(vec![okp::x_public(p).as_bytes().to_vec(), p.to_bytes().to_vec()]),
        _ => Err(Error::InvalidAccess(format!(
            "The key cannot be exported in {format} format"
        ))),
    };
    let parts = match out {
        Ok(p) => p,
        Err(e) => {
            throw_error(scope, &e.to_string());
            return;
        }
    };
    if format != "jwk" {
        if let Some(a) = parts.into_iter().next().and_then(|b| uint8_array(scope, b)) {
            rv.set(a.into());
        }
        return;
    }
    let mut values: Vec<v8::Local<v8::Value>> = Vec::with_capacity(parts.len());
    for p in parts {
        let Some(a) = uint8_array(scope, p) else { return };
        values.push(a.into());
    }
    rv.set(v8::Array::new_with_elements(scope, &values).into());
}

/// `(handle, algorithm, hash, param, data)` → signature bytes or op id.
/// `param`: the RSA-PSS salt length.
pub(crate) fn op_crypto_sign(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(k) = arg_key(scope, &args, 0) else { return };
    let alg = string(scope, args.get(1));
    let hash = string(scope, args.get(2));
    let param = arg_u32(scope, &args, 3) as usize;
    let data = arg_bytes(&args, 4);
    let heavy = data.len() > OFF_THREAD_BYTES
        || matches!(&*k, Material::RsaPrivate(r) if rsa_bits(&r.key) >= OFF_THREAD_RSA_BITS);
    finish(
        scope,
        &mut rv,
        heavy,
        Box::new(move || match (&*k, alg.as_str()) {
            (Material::Secret(key), "HMAC") => kdf::hmac_sign(&hash, key, &data),
            (Material::RsaPrivate(key), "RSASSA-PKCS1-v1_5") => rsa::sign(key, &hash, None, &data),
            (Material::RsaPrivate(key), "RSA-PSS") => rsa::sign(key, &hash, Some(param), &data),
            (Material::EcPrivate(key), "ECDSA") => key.sign(&hash, &data),
            (Material::Ed25519Private(key), "Ed25519") => Ok(okp::ed_sign(key, &data)),
            _ => Err(wrong_key()),
        }),
    );
}

/// `(handle, algorithm, hash, param, signature, data)` → `[1]` or `[0]`,
/// or an op id.
pub(crate) fn op_crypto_verify(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(k) = arg_key(scope, &args, 0) else { return };
    let alg = string(scope, args.get(1));
    let hash = string(scope, args.get(2));
    let param = arg_u32(scope, &args, 3) as usize;
    let sig = arg_bytes(&args, 4);
    let data = arg_bytes(&args, 5);
    let heavy = data.len() > OFF_THREAD_BYTES;
    finish(
        scope,
        &mut rv,
        heavy,
        Box::new(move || {
            let ok = match (&*k, alg.as_str()) {
                (Material::Secret(key), "HMAC") => kdf::hmac_verify(&hash, key, &sig, &data)?,
                (Material::RsaPublic(key), "RSASSA-PKCS1-v1_5") => rsa::verify(key, &hash, None, &sig, &data)?,
                (Material::RsaPublic(key), "RSA-PSS") => rsa::verify(key, &hash, Some(param), &sig, &data)?,
                (Material::EcPublic(key), "ECDSA") => key.verify(&hash, &sig, &data)?,
                (Material::Ed25519Public(key), "Ed25519") => okp::ed_verify(key, &sig, &data),
                _ => return Err(wrong_key()),
            };
            Ok(vec![u8::from(ok)])
        }),
    );
}

/// `(handle, algorithm, encrypt, hash, iv, additionalData, param, data)`
/// → bytes or op id. `iv` is the AES-CTR counter or the RSA-OAEP label;
/// `param` the AES-GCM tag length in bits or the AES-CTR counter length.
/// AES-KW wraps (`encrypt`) and unwraps.
pub(crate) fn op_crypto_cipher(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(k) = arg_key(scope, &args, 0) else { return };
    let alg = string(scope, args.get(1));
    let encrypt = args.get(2).is_true();
    let hash = string(scope, args.get(3));
    let iv = arg_bytes(&args, 4);
    let aad = arg_bytes(&args, 5);
    let param = arg_u32(scope, &args, 6);
    let data = arg_bytes(&args, 7);
    let heavy = data.len() > OFF_THREAD_BYTES
        || matches!(&*k, Material::RsaPrivate(r) if rsa_bits(&r.key) >= OFF_THREAD_RSA_BITS);
    finish(
        scope,
        &mut rv,
        heavy,
        Box::new(move || match (&*k, alg.as_str(), encrypt) {
            (Material::Secret(key), "AES-GCM", _) => aes::gcm(key, &iv, &aad, param as usize / 8, &data, encrypt),
            (Material::Secret(key), "AES-CBC", _) => aes::cbc(key, &iv, &data, encrypt),
            (Material::Secret(key), "AES-CTR", _) => aes::ctr(key, &iv, param, &data),
            (Material::Secret(key), "AES-KW", _) => aes::kw(key, &data, encrypt),
            (Material::RsaPublic(key), "RSA-OAEP", true) => rsa::encrypt(key, &hash, &iv, &data),
            (Material::RsaPrivate(key), "RSA-OAEP", false) => rsa::decrypt(&key.key, &hash, &iv, &data),
            _ => Err(wrong_key()),
        }),
    );
}

/// `(handle, algorithm, hash, peer handle | salt, info, iterations, bits)`
/// → bytes or op id. `bits` is the output length (a multiple of 8 for
/// HKDF and PBKDF2; for ECDH and X25519 at most the shared secret's size,
/// or -1 for all of it).
pub(crate) fn op_crypto_derive(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(k) = arg_key(scope, &args, 0) else { return };
    let alg = string(scope, args.get(1));
    let hash = string(scope, args.get(2));
    let peer = if alg == "ECDH" || alg == "X25519" {
        let Some(p) = arg_key(scope, &args, 3) else { return };
        Some(p)
    } else {
        None
    };
    let salt = arg_bytes(&args, 3);
    let info = arg_bytes(&args, 4);
    let iterations = arg_u32(scope, &args, 5);
    let bits = args.get(6).int32_value(scope).unwrap_or(-1);
    let heavy = alg == "PBKDF2" && iterations > OFF_THREAD_ITERATIONS;
    finish(
        scope,
        &mut rv,
        heavy,
        Box::new(move || {
            let bytes = usize::try_from(bits).map(|b| b.div_ceil(8));
            match (&*k, alg.as_str(), peer.as_deref()) {
                (Material::Secret(key), "HKDF", _) => kdf::hkdf(&hash, key, &salt, &info, bytes.unwrap_or(0)),
                (Material::Secret(key), "PBKDF2", _) => kdf::pbkdf2(&hash, key, &salt, iterations, bytes.unwrap_or(0)),
                (Material::EcPrivate(key), "ECDH", Some(Material::EcPublic(p))) => truncate(key.agree(p)?, bits),
                (Material::X25519Private(key), "X25519", Some(Material::X25519Public(p))) => {
                    truncate(okp::x_agree(key, p)?, bits)
                }
                _ => Err(wrong_key()),
            }
        }),
    );
}

/// The first `bits` bits of a shared secret (all of it for -1); the bits
/// past `bits` in the last byte are zeroed.
fn truncate(mut secret: Vec<u8>, bits: i32) -> Result<Vec<u8>, Error> {
    let Ok(bits) = usize::try_from(bits) else {
        return Ok(secret);
    };
    if bits > secret.len() * 8 {
        return Err(Error::Operation(format!(
            "The length {bits} is longer than the {}-bit shared secret",
            secret.len() * 8
        )));
    }
    secret.truncate(bits.div_ceil(8));
    if !bits.is_multiple_of(8) {
        if let Some(last) = secret.last_mut() {
            *last &= 0xffu8 << (8 - bits % 8);
        }
    }
    Ok(secret)
}

/// `(string)` → the bytes of unpadded base64url text (a JWK member), or
/// null if it is not that.
pub(crate) fn op_crypto_b64url_decode(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    use base64::Engine as _;
    let text = string(scope, args.get(0));
    match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')) {
        Ok(bytes) => {
            if let Some(a) = uint8_array(scope, bytes) {
                rv.set(a.into());
            }
        }
        Err(_) => rv.set_null(),
    }
}

/// `(bytes)` → unpadded base64url text.
pub(crate) fn op_crypto_b64url_encode(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(arg_bytes(&args, 0));
    if let Some(s) = v8::String::new(scope, &text) {
        rv.set(s.into());
    }
}

/// `(a, b)` → whether the two buffers are equal, in time that depends on
/// their length only.
pub(crate) fn op_crypto_timing_safe_equal(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    use subtle::ConstantTimeEq;
    let a = arg_bytes(&args, 0);
    let b = arg_bytes(&args, 1);
    let equal = a.len() == b.len() && bool::from(a.ct_eq(&b));
    rv.set(v8::Boolean::new(scope, equal).into());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::truncate;

    #[test]
    fn truncate_keeps_leading_bits() {
        assert_eq!(truncate(vec![0xff, 0xff, 0xff], 12).unwrap(), vec![0xff, 0xf0]);
        assert_eq!(truncate(vec![0xab, 0xcd], -1).unwrap(), vec![0xab, 0xcd]);
        assert_eq!(truncate(vec![0xab, 0xcd], 0).unwrap(), Vec::<u8>::new());
        assert!(truncate(vec![0xab, 0xcd], 17).is_err());
    }
}
