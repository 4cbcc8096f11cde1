//! AES-GCM, AES-CBC, AES-CTR and AES-KW with RustCrypto's `aes` (constant
//! time: AES-NI where present, bitsliced otherwise), `aes-gcm`, `cbc`,
//! `ctr` and `aes-kw`.

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::generic_array::typenum::{Unsigned, U12, U128, U16, U32, U64};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadCore, AeadInPlace, KeyInit};
use aes_gcm::AesGcm;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, StreamCipher};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::Error;

fn op_err<E>(what: &'static str) -> impl FnOnce(E) -> Error {
    move |_| Error::Operation(what.to_string())
}

/// Run `$body` with `$A` bound to the AES type for a key of `$key` bytes.
macro_rules! with_aes {
    ($key:expr, $A:ident => $body:expr) => {
        match $key.len() {
            16 => {
                type $A = Aes128;
                $body
            }
            24 => {
                type $A = Aes192;
                $body
            }
            32 => {
                type $A = Aes256;
                $body
            }
            _ => return Err(Error::Data("AES keys are 128, 192 or 256 bits".into())),
        }
    };
}

/// AES-GCM. `tag_len` is in bytes (4, 8, 12..=16); the tag follows the
/// ciphertext, as Web Crypto wants.
pub(crate) fn gcm(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    tag_len: usize,
    data: &[u8],
    encrypt: bool,
) -> Result<Vec<u8>, Error> {
    // aes-gcm fixes the IV length in the type; these are the lengths
    // offered (96 bits is the one to use).
    with_aes!(key, A => match iv.len() {
        12 => gcm_run::<AesGcm<A, U12>>(key, iv, aad, tag_len, data, encrypt),
        16 => gcm_run::<AesGcm<A, U16>>(key, iv, aad, tag_len, data, encrypt),
        32 => gcm_run::<AesGcm<A, U32>>(key, iv, aad, tag_len, data, encrypt),
        64 => gcm_run::<AesGcm<A, U64>>(key, iv, aad, tag_len, data, encrypt),
        128 => gcm_run::<AesGcm<A, U128>>(key, iv, aad, tag_len, data, encrypt),
        n => Err(Error::NotSupported(format!(
            "AES-GCM IVs of {} bits are not supported (use 96; 128, 256, 512 and 1024 also work)",
            n * 8
        ))),
    })
}

fn gcm_run<C: KeyInit + AeadInPlace>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    tag_len: usize,
    data: &[u8],
    encrypt: bool,
) -> Result<Vec<u8>, Error> {
    let full = <C as AeadCore>::TagSize::USIZE;
    if iv.len() != <C as AeadCore>::NonceSize::USIZE || tag_len == 0 || tag_len > full {
        return Err(Error::Operation("invalid AES-GCM parameters".into()));
    }
    let cipher = C::new_from_slice(key).map_err(op_err("invalid AES key"))?;
    let nonce = GenericArray::from_slice(iv);
    if encrypt {
        let mut buf = data.to_vec();
        let tag = cipher
            .encrypt_in_place_detached(nonce, aad, &mut buf)
            .map_err(op_err("AES-GCM encryption failed"))?;
        buf.extend_from_slice(&tag[..tag_len]);
        return Ok(buf);
    }
    let Some(split) = data.len().checked_sub(tag_len) else {
        return Err(Error::Operation("The ciphertext is shorter than the tag".into()));
    };
    let (ct, tag) = data.split_at(split);
    let mut buf = ct.to_vec();
    if tag_len == full {
        cipher
            .decrypt_in_place_detached(nonce, aad, &mut buf, GenericArray::from_slice(tag))
            .map_err(op_err("AES-GCM decryption failed"))?;
        return Ok(buf);
    }
    // A truncated tag is the prefix of the full one. GCM's keystream is the
    // same both ways, so "encrypting" the ciphertext yields the plaintext,
    // and encrypting that gives the full tag over the ciphertext.
    cipher
        .encrypt_in_place_detached(nonce, aad, &mut buf)
        .map_err(op_err("AES-GCM decryption failed"))?;
    let mut again = buf.clone();
    let expected = cipher
        .encrypt_in_place_detached(nonce, aad, &mut again)
        .map_err(op_err("AES-GCM decryption failed"))?;
    if !bool::from(expected[..tag_len].ct_eq(tag)) {
        buf.zeroize();
        return Err(Error::Operation("AES-GCM decryption failed".into()));
    }
    Ok(buf)
}

/// AES-CBC with PKCS#7 padding; `iv` is 16 bytes.
pub(crate) fn cbc(key: &[u8], iv: &[u8], data: &[u8], encrypt: bool) -> Result<Vec<u8>, Error> {
    if iv.len() != 16 {
        return Err(Error::Operation("AES-CBC iv must be 16 bytes".into()));
    }
    with_aes!(key, A => if encrypt {
        let c = cbc::Encryptor::<A>::new_from_slices(key, iv).map_err(op_err("invalid AES-CBC key"))?;
        Ok(c.encrypt_padded_vec_mut::<Pkcs7>(data))
    } else {
        let c = cbc::Decryptor::<A>::new_from_slices(key, iv).map_err(op_err("invalid AES-CBC key"))?;
        c.decrypt_padded_vec_mut::<Pkcs7>(data).map_err(op_err("AES-CBC decryption failed: bad padding"))
    })
}

/// AES-CTR: the rightmost `length` bits of `counter` count blocks and wrap
/// around on their own, leaving the other bits alone. The message may not
/// reuse a counter value.
pub(crate) fn ctr(key: &[u8], counter: &[u8], length: u32, data: &[u8]) -> Result<Vec<u8>, Error> {
    let block: [u8; 16] = counter
        .try_into()
        .map_err(|_| Error::Operation("AES-CTR counter must be 16 bytes".into()))?;
    if !(1..=128).contains(&length) {
        return Err(Error::Operation("AES-CTR length must be between 1 and 128".into()));
    }
    let blocks = data.len().div_ceil(16) as u128;
    let mut buf = data.to_vec();
    if length == 128 {
        ctr_run(key, &block, &mut buf)?;
        return Ok(buf);
    }
    let value = u128::from_be_bytes(block);
    let mask = (1u128 << length) - 1;
    if blocks > mask + 1 {
        return Err(Error::Operation(
            "The message is too long for this AES-CTR counter length".into(),
        ));
    }
    // Blocks left before the counter bits wrap; past that point the
    // keystream restarts from the counter with those bits at zero, so the
    // message is done in at most two runs of the 128-bit counter mode.
    let before_wrap = mask - (value & mask) + 1;
    if blocks <= before_wrap {
        ctr_run(key, &block, &mut buf)?;
        return Ok(buf);
    }
    let cut = (before_wrap as usize) * 16;
    let (first, second) = buf.split_at_mut(cut);
    ctr_run(key, &block, first)?;
    ctr_run(key, &(value & !mask).to_be_bytes(), second)?;
    Ok(buf)
}

fn ctr_run(key: &[u8], block: &[u8; 16], buf: &mut [u8]) -> Result<(), Error> {
    with_aes!(key, A => {
        let mut c = ctr::Ctr128BE::<A>::new_from_slices(key, block).map_err(op_err("invalid AES-CTR key"))?;
        c.apply_keystream(buf);
    });
    Ok(())
}

/// AES-KW (RFC 3394): wrap or unwrap.
pub(crate) fn kw(key: &[u8], data: &[u8], wrap: bool) -> Result<Vec<u8>, Error> {
    let fail = if wrap {
        "AES-KW wrapping failed (the data must be a multiple of 8 bytes, at least 16)"
    } else {
        "AES-KW unwrapping failed"
    };
    with_aes!(key, A => {
        let kek = aes_kw::Kek::<A>::try_from(key).map_err(op_err("invalid AES-KW key"))?;
        if wrap { kek.wrap_vec(data) } else { kek.unwrap_vec(data) }
    })
    .map_err(op_err(fail))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aes::cipher::{BlockEncrypt, KeyInit as _};

    use super::*;

    /// AES of one block, the reference for the counter-mode keystream.
    fn block(key: &[u8; 16], input: [u8; 16]) -> [u8; 16] {
        let mut b = GenericArray::from(input);
        Aes128::new(GenericArray::from_slice(key)).encrypt_block(&mut b);
        b.into()
    }

    #[test]
    fn ctr_counter_wraps_within_its_bits() {
        let key = [7u8; 16];
        let mut counter = [0xabu8; 16];
        counter[15] = 0xff;
        // Three blocks with an 8-bit counter: ff, then 00 and 01, the
        // other 120 bits unchanged.
        let out = ctr(&key, &counter, 8, &[0u8; 48]).unwrap();
        let mut expected = Vec::new();
        for low in [0xffu8, 0x00, 0x01] {
            let mut c = counter;
            c[15] = low;
            expected.extend_from_slice(&block(&key, c));
        }
        assert_eq!(out, expected);
        // A 1-bit counter allows two blocks only.
        assert!(ctr(&key, &counter, 1, &[0u8; 33]).is_err());
        assert_eq!(ctr(&key, &counter, 1, &[0u8; 32]).unwrap().len(), 32);
    }

    #[test]
    fn gcm_truncated_tags_are_prefixes_and_checked() {
        let key = [1u8; 32];
        let iv = [2u8; 12];
        let full = gcm(&key, &iv, b"aad", 16, b"plaintext", true).unwrap();
        for tag_len in [4, 8, 12, 13, 14, 15] {
            let short = gcm(&key, &iv, b"aad", tag_len, b"plaintext", true).unwrap();
            assert_eq!(short, full[..9 + tag_len]);
            assert_eq!(gcm(&key, &iv, b"aad", tag_len, &short, false).unwrap(), b"plaintext");
            let mut bad = short.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert!(gcm(&key, &iv, b"aad", tag_len, &bad, false).is_err());
            assert!(gcm(&key, &iv, b"other", tag_len, &short, false).is_err());
        }
        assert!(gcm(&key, &iv, b"aad", 16, &full[..10], false).is_err());
        assert!(gcm(&key, &[0u8; 13], b"", 16, b"x", true).is_err());
    }
}
