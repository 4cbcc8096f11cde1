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

/// `node:crypto` digests that Web Crypto lacks: `(algorithm, data)` →
/// `Uint8Array`; only `"MD5"` (legacy, for `createHash("md5")`).
pub(crate) fn op_node_digest(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    use md5::Digest;
    let alg = super::string(scope, args.get(0));
    if alg != "MD5" {
        super::throw_error(scope, "Digest method not supported");
        return;
    }
    let data = super::bytes_of(args.get(1)).unwrap_or_default();
    let digest = md5::Md5::digest(&data);
    if let Some(a) = super::uint8_array(scope, digest.to_vec()) {
        rv.set(a.into());
    }
}
