//! node:crypto's `Cipheriv`/`Decipheriv`: one synchronous call into the
//! AES code Web Crypto uses (Node's API is synchronous, so this never goes
//! off thread). The streaming over `update()` is in the JS.

use super::{aes, arg_bytes, arg_u32, Error};
use crate::ops::{string, throw_error, uint8_array};

/// `(mode, key, iv, aad, tagBytes, data, encrypt, ctrBits)` → bytes, or a
/// thrown `Error` with the reason. `mode`: "gcm" (the tag follows the
/// ciphertext), "cbc" (PKCS#7 padding), "ctr" (the rightmost `ctrBits` of
/// the 16-byte `iv` count).
pub(crate) fn op_node_cipher(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let mode = string(scope, args.get(0));
    let key = arg_bytes(&args, 1);
    let iv = arg_bytes(&args, 2);
    let aad = arg_bytes(&args, 3);
    let tag = arg_u32(scope, &args, 4) as usize;
    let data = arg_bytes(&args, 5);
    let encrypt = args.get(6).is_true();
    let bits = arg_u32(scope, &args, 7);
    let out = match mode.as_str() {
        "gcm" => aes::gcm(&key, &iv, &aad, tag, &data, encrypt),
        "cbc" => aes::cbc(&key, &iv, &data, encrypt),
        "ctr" => aes::ctr(&key, &iv, bits, &data),
        other => Err(Error::NotSupported(format!("cipher mode {other}"))),
    };
    match out {
        Ok(bytes) => {
            if let Some(a) = uint8_array(scope, bytes) {
                rv.set(a.into());
            }
        }
        Err(e) => throw_error(scope, &e.to_string()),
    }
}
