//! Ops behind the Node.js compatibility modules that JS alone cannot do.

/// `util.inspect` of a promise: `undefined` if the value is no promise,
/// else `[state]` (0 pending) or `[state, result]` (1 fulfilled, 2
/// rejected). Reading the state has no effect on the promise.
pub(crate) fn op_node_promise_state(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Ok(promise) = v8::Local::<v8::Promise>::try_from(args.get(0)) else {
        return;
    };
    let out = v8::Array::new(scope, 2);
    let (state, result) = match promise.state() {
        v8::PromiseState::Pending => (0, None),
        v8::PromiseState::Fulfilled => (1, Some(promise.result(scope))),
        v8::PromiseState::Rejected => (2, Some(promise.result(scope))),
    };
    let state = v8::Integer::new(scope, state);
    out.set_index(scope, 0, state.into());
    if let Some(r) = result {
        out.set_index(scope, 1, r);
    }
    rv.set(out.into());
}

/// ring's digest algorithm for a Web Crypto name.
fn ring_digest(alg: &str) -> Option<&'static ring::digest::Algorithm> {
    Some(match alg {
        "SHA-1" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => &ring::digest::SHA256,
        "SHA-384" => &ring::digest::SHA384,
        "SHA-512" => &ring::digest::SHA512,
        _ => return None,
    })
}

/// `node:crypto` digests, synchronous as Node's `Hash` is: `(algorithm,
/// data)` → `Uint8Array`, for `"MD5"` (legacy, `createHash("md5")`) and
/// `"SHA-1"`, `"SHA-256"`, `"SHA-384"`, `"SHA-512"`.
pub(crate) fn op_node_digest(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    use md5::Digest;
    let alg = super::string(scope, args.get(0));
    let data = super::bytes_of(args.get(1)).unwrap_or_default();
    let out = match alg.as_str() {
        "MD5" => md5::Md5::digest(&data).to_vec(),
        other => match ring_digest(other) {
            Some(a) => ring::digest::digest(a, &data).as_ref().to_vec(),
            None => {
                super::throw_error(scope, "Digest method not supported");
                return;
            }
        },
    };
    if let Some(a) = super::uint8_array(scope, out) {
        rv.set(a.into());
    }
}

/// `node:crypto` HMAC, synchronous: `(algorithm, key, data)` →
/// `Uint8Array`, for the SHA algorithms of [`op_node_digest`].
pub(crate) fn op_node_hmac(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let alg = super::string(scope, args.get(0));
    let hmac_alg = match alg.as_str() {
        "SHA-1" => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => ring::hmac::HMAC_SHA256,
        "SHA-384" => ring::hmac::HMAC_SHA384,
        "SHA-512" => ring::hmac::HMAC_SHA512,
        _ => {
            super::throw_error(scope, "Invalid digest");
            return;
        }
    };
    let key = super::bytes_of(args.get(1)).unwrap_or_default();
    let data = super::bytes_of(args.get(2)).unwrap_or_default();
    let tag = ring::hmac::sign(&ring::hmac::Key::new(hmac_alg, &key), &data);
    if let Some(a) = super::uint8_array(scope, tag.as_ref().to_vec()) {
        rv.set(a.into());
    }
}
