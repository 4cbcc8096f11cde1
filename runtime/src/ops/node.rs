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

/// The request the running JS belongs to: `()` → its id, or -1 at start-up
/// (node:fs keeps a `/tmp` per request).
pub(crate) fn op_request_current(
    scope: &mut v8::PinScope,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = super::state(scope) else { return };
    match st.current.get() {
        Some(id) => rv.set_double(f64::from(id)),
        None => rv.set_int32(-1),
    }
}

/// The Worker's modules as node:fs shows them under `/bundle`: `()` →
/// `[[name, Uint8Array], ...]` (text, JSON and JavaScript as UTF-8).
pub(crate) fn op_node_fs_bundle(
    scope: &mut v8::PinScope,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    use isoproxy_schema::model::{ModuleKind, WorkerSource};
    let Some(st) = super::state(scope) else { return };
    let spec = st.spec.clone();
    let modules: &[isoproxy_schema::model::Module] = match &spec.worker.source {
        WorkerSource::Modules(m) => m,
        WorkerSource::ServiceWorkerScript(_) => &[],
    };
    let out = v8::Array::new(scope, modules.len() as i32);
    for (i, m) in modules.iter().enumerate() {
        let bytes: &[u8] = match &m.kind {
            ModuleKind::EsModule(s) | ModuleKind::Text(s) | ModuleKind::Json(s) | ModuleKind::CommonJs(s) => {
                s.as_bytes()
            }
            ModuleKind::Data(b) | ModuleKind::Wasm(b) => b,
        };
        let (Some(name), Some(data)) = (
            v8::String::new(scope, &m.name),
            super::uint8_array(scope, bytes.to_vec()),
        ) else {
            return;
        };
        let pair = v8::Array::new(scope, 2);
        pair.set_index(scope, 0, name.into());
        pair.set_index(scope, 1, data.into());
        out.set_index(scope, i as u32, pair.into());
    }
    rv.set(out.into());
}

/// `require()` of a listed ES module from CommonJS module `from`:
/// `(from, specifier)` → its namespace, or `null` when no ES module has
/// that name. Throws what its evaluation threw.
pub(crate) fn op_require_es_module(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let from = super::string(scope, args.get(0));
    let specifier = super::string(scope, args.get(1));
    match crate::modules::require_es_module(scope, &from, &specifier) {
        Ok(Some(ns)) => rv.set(ns),
        // Not listed (or its evaluation threw: the exception, pending,
        // is what JS sees).
        Ok(None) => rv.set_null(),
        Err(message) => {
            if let Some(m) = v8::String::new(scope, &message) {
                let e = v8::Exception::error(scope, m);
                scope.throw_exception(e);
            }
        }
    }
}

/// scrypt (RFC 7914) for node:crypto: `(password, salt, logN, r, p,
/// keylen)` → `Uint8Array`. Throws a `RangeError` for parameters scrypt
/// refuses.
pub(crate) fn op_node_scrypt(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let password = super::bytes_of(args.get(0)).unwrap_or_default();
    let salt = super::bytes_of(args.get(1)).unwrap_or_default();
    let num = |i: i32, scope: &mut v8::PinScope| args.get(i).uint32_value(scope).unwrap_or(0);
    let (log_n, r, p, len) = (num(2, scope), num(3, scope), num(4, scope), num(5, scope) as usize);
    let params = u8::try_from(log_n)
        .ok()
        .and_then(|log_n| scrypt::Params::new(log_n, r, p, len.clamp(10, 64)).ok());
    let Some(params) = params else {
        let msg = v8::String::new(scope, "Invalid scrypt params").unwrap_or_else(|| v8::String::empty(scope));
        let e = v8::Exception::range_error(scope, msg);
        scope.throw_exception(e);
        return;
    };
    let mut out = vec![0u8; len];
    if scrypt::scrypt(&password, &salt, &params, &mut out).is_err() {
        super::throw_type_error(scope, "scrypt failed");
        return;
    }
    if let Some(a) = super::uint8_array(scope, out) {
        rv.set(a.into());
    }
}
