//! Rust functions called from the JS glue, named `op_<area>_<verb>`.
//!
//! They are installed on a private `__ops` object that the glue captures and
//! then removes from the global scope, so Worker code cannot call them.

mod cache;
mod cf;
pub(crate) mod compression;
mod context;
mod crypto;
mod fetch;
pub(crate) mod html_rewriter;
mod node;
mod socket_tls;
mod urlpattern;
mod web;
pub(crate) mod websocket;

use std::rc::Rc;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::state::State;

/// Defines `install` (each op, a zero-sized fn item as V8 callbacks must
/// be, on a private `__ops` object) and `external_references` (the same
/// callbacks, for the startup snapshot) from one list.
macro_rules! ops_table {
    ($($name:literal => $op:path),* $(,)?) => {
        /// Install the ops as the global `__ops`.
        pub(crate) fn install(scope: &mut v8::PinScope<'_, '_>) -> Option<()> {
            let obj = v8::Object::new(scope);
            $(
                let f = v8::Function::new(scope, $op)?;
                let key = v8::String::new(scope, $name)?;
                obj.set(scope, key.into(), f.into())?;
            )*
            let key = v8::String::new(scope, "__ops")?;
            let global = scope.get_current_context().global(scope);
            global.set(scope, key.into(), obj.into())?;
            Some(())
        }

        /// Every op callback, for snapshot creation and deserialization.
        pub(crate) fn external_references() -> Vec<v8::ExternalReference> {
            use v8::MapFnTo;
            vec![$(v8::ExternalReference { function: $op.map_fn_to() }),*]
        }
    };
}

ops_table! {
    "console_log" => web::op_console_log,
    "url_parse" => web::op_url_parse,
    "url_set" => web::op_url_set,
    "url_params_parse" => web::op_url_params_parse,
    "url_params_serialize" => web::op_url_params_serialize,
    "encoding_encode" => web::op_encoding_encode,
    "encoding_encode_into" => web::op_encoding_encode_into,
    "encoding_decode" => web::op_encoding_decode,
    "encoding_label" => web::op_encoding_label,
    "crypto_random_fill" => web::op_crypto_random_fill,
    "crypto_random_uuid" => web::op_crypto_random_uuid,
    "crypto_digest" => crypto::op_crypto_digest,
    "crypto_digest_stream" => crypto::op_crypto_digest_stream,
    "crypto_digest_update" => crypto::op_crypto_digest_update,
    "crypto_key_drop" => crypto::op_crypto_key_drop,
    "crypto_generate" => crypto::op_crypto_generate,
    "crypto_import" => crypto::op_crypto_import,
    "crypto_export" => crypto::op_crypto_export,
    "crypto_sign" => crypto::op_crypto_sign,
    "crypto_verify" => crypto::op_crypto_verify,
    "crypto_cipher" => crypto::op_crypto_cipher,
    "crypto_derive" => crypto::op_crypto_derive,
    "crypto_timing_safe_equal" => crypto::op_crypto_timing_safe_equal,
    "crypto_b64url_decode" => crypto::op_crypto_b64url_decode,
    "crypto_b64url_encode" => crypto::op_crypto_b64url_encode,
    "timer_start" => web::op_timer_start,
    "timer_cancel" => web::op_timer_cancel,
    "compression_new" => compression::op_compression_new,
    "compression_push" => compression::op_compression_push,
    "compression_pull" => compression::op_compression_pull,
    "compression_finish" => compression::op_compression_finish,
    "html_selector_check" => html_rewriter::op_html_selector_check,
    "html_rewriter_new" => html_rewriter::op_html_rewriter_new,
    "html_rewriter_step" => html_rewriter::op_html_rewriter_step,
    "html_rewriter_output" => html_rewriter::op_html_rewriter_output,
    "fetch_send" => fetch::op_fetch_send,
    "body_read" => fetch::op_body_read,
    "body_read_all" => fetch::op_body_read_all,
    "body_tee" => fetch::op_body_tee,
    "body_close" => fetch::op_body_close,
    "body_writer" => fetch::op_body_writer,
    "body_write" => fetch::op_body_write,
    "body_abort" => fetch::op_body_abort,
    "response_send" => fetch::op_response_send,
    "response_error" => fetch::op_response_error,
    "request_pass_through" => fetch::op_request_pass_through,
    "request_responded" => fetch::op_request_responded,
    "request_done" => fetch::op_request_done,
    "request_cf" => cf::op_request_cf,
    "socket_tls" => socket_tls::op_socket_tls,
    "tunnel_open" => fetch::op_tunnel_open,
    "ws_pair" => websocket::op_ws_pair,
    "ws_accept" => websocket::op_ws_accept,
    "ws_send" => websocket::op_ws_send,
    "ws_buffered" => websocket::op_ws_buffered,
    "ws_close" => websocket::op_ws_close,
    "ws_next" => websocket::op_ws_next,
    "ws_release" => websocket::op_ws_release,
    "async_context_get" => context::op_async_context_get,
    "async_context_set" => context::op_async_context_set,
    "node_promise_state" => node::op_node_promise_state,
    "node_digest" => node::op_node_digest,
    "node_hmac" => node::op_node_hmac,
    "node_fs_bundle" => node::op_node_fs_bundle,
    "node_scrypt" => node::op_node_scrypt,
    "request_current" => node::op_request_current,
    "require_es_module" => node::op_require_es_module,
    "node_cipher" => crypto::op_node_cipher,
    "cache_match" => cache::op_cache_match,
    "cache_put" => cache::op_cache_put,
    "cache_delete" => cache::op_cache_delete,
    "urlpattern_parse" => urlpattern::op_urlpattern_parse,
    "urlpattern_match_input" => urlpattern::op_urlpattern_match_input,
}

/// The isolate state of the current context, with `current` set to the
/// request the running JS belongs to.
///
/// While JS runs for one request, promise reactions of another may run too
/// (a continuation of request B resumed by something request A resolved).
/// V8 carries an embedder value along every promise continuation (the
/// continuation-preserved embedder data); the isolate sets it to the
/// request's id whenever it enters JS for a request (see `request_tag`), so
/// it names the request whose continuation is running, and what the op
/// starts belongs to that request. When an `AsyncLocalStorage` holds a
/// value, the data is instead a frame (see `context.rs`) whose first element
/// is that tag.
pub(crate) fn state(scope: &mut v8::PinScope<'_, '_>) -> Option<Rc<State>> {
    let st = scope.get_current_context().get_slot::<State>()?;
    let tag = context::request_of(scope, scope.get_continuation_preserved_embedder_data());
    if let Some(tag) = tag.is_uint32().then(|| tag.uint32_value(scope)).flatten() {
        st.current.set((tag != NO_REQUEST).then_some(tag));
    }
    Some(st)
}

/// The tag of JS that runs for no request (the Worker's global scope);
/// request ids are never 0.
const NO_REQUEST: u32 = 0;

/// The continuation-preserved embedder data for JS run on behalf of
/// `request` (see `state`).
pub(crate) fn request_tag<'s>(scope: &mut v8::PinScope<'s, '_>, request: Option<u32>) -> v8::Local<'s, v8::Value> {
    v8::Integer::new_from_unsigned(scope, request.unwrap_or(NO_REQUEST)).into()
}

/// Throw a `TypeError`.
pub(crate) fn throw_type_error(scope: &mut v8::PinScope<'_, '_>, message: &str) {
    if let Some(msg) = v8::String::new(scope, message) {
        let exc = v8::Exception::type_error(scope, msg);
        scope.throw_exception(exc);
    }
}

/// Throw an `Error`.
pub(crate) fn throw_error(scope: &mut v8::PinScope<'_, '_>, message: &str) {
    if let Some(msg) = v8::String::new(scope, message) {
        let exc = v8::Exception::error(scope, msg);
        scope.throw_exception(exc);
    }
}

/// A JS value as a Rust string.
pub(crate) fn string(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> String {
    v.to_rust_string_lossy(scope)
}

/// A JS string as bytes, one byte per UTF-16 unit (a WebIDL ByteString).
pub(crate) fn byte_string(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> Vec<u8> {
    let Some(s) = v.to_string(scope) else { return Vec::new() };
    if s.contains_only_onebyte() {
        let mut buf = vec![0u8; s.length()];
        s.write_one_byte_v2(scope, 0, &mut buf, v8::WriteFlags::empty());
        buf
    } else {
        s.to_rust_string_lossy(scope).into_bytes()
    }
}

/// Bytes of a `BufferSource` (ArrayBuffer or view).
pub(crate) fn bytes_of(v: v8::Local<v8::Value>) -> Option<Vec<u8>> {
    if let Ok(view) = v8::Local::<v8::ArrayBufferView>::try_from(v) {
        let mut buf = vec![0u8; view.byte_length()];
        view.copy_contents(&mut buf);
        return Some(buf);
    }
    if let Ok(ab) = v8::Local::<v8::ArrayBuffer>::try_from(v) {
        let len = ab.byte_length();
        let mut buf = vec![0u8; len];
        if len > 0 {
            if let Some(ptr) = ab.data() {
                // SAFETY: the backing store holds `len` bytes and stays alive
                // while `ab` is on the handle stack.
                let src = unsafe { std::slice::from_raw_parts(ptr.as_ptr() as *const u8, len) };
                buf.copy_from_slice(src);
            }
        }
        return Some(buf);
    }
    None
}

/// A two-element JS array `[a, b]`, the shape ops use to return two values.
pub(crate) fn pair<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    a: v8::Local<'s, v8::Value>,
    b: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Array> {
    v8::Array::new_with_elements(scope, &[a, b])
}

/// A JS array of numbers.
pub(crate) fn u32_array<'s>(scope: &mut v8::PinScope<'s, '_>, values: &[u32]) -> v8::Local<'s, v8::Array> {
    let elements: Vec<v8::Local<v8::Value>> = values
        .iter()
        .map(|v| v8::Integer::new_from_unsigned(scope, *v).into())
        .collect();
    v8::Array::new_with_elements(scope, &elements)
}

/// A new `Uint8Array` owning `bytes` (no copy).
pub(crate) fn uint8_array<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    bytes: Vec<u8>,
) -> Option<v8::Local<'s, v8::Uint8Array>> {
    let len = bytes.len();
    let store = v8::ArrayBuffer::new_backing_store_from_vec(bytes).make_shared();
    let ab = v8::ArrayBuffer::with_backing_store(scope, &store);
    v8::Uint8Array::new(scope, ab, 0, len)
}

/// A JS string from bytes taken as Latin-1.
pub(crate) fn latin1<'s>(scope: &mut v8::PinScope<'s, '_>, bytes: &[u8]) -> Option<v8::Local<'s, v8::String>> {
    v8::String::new_from_one_byte(scope, bytes, v8::NewStringType::Normal)
}

/// `"name\nvalue\nname\nvalue\n..."` (the glue's `headersFlat`) to a
/// `HeaderMap`. Names are tokens and values never hold a newline (both
/// checked on the way into a `Headers`), so the split is exact. One string
/// crosses from JS, where an array read element by element cost about 330
/// instructions an element through V8's generic property lookup.
pub(crate) fn headers_from_js(scope: &mut v8::PinScope<'_, '_>, v: v8::Local<v8::Value>) -> Result<HeaderMap, String> {
    if !v.is_string() {
        return Ok(HeaderMap::new());
    }
    let flat = byte_string(scope, v);
    let lines = flat.iter().filter(|&&b| b == b'\n').count();
    let mut map = HeaderMap::with_capacity(lines / 2);
    let mut parts = flat.split(|&b| b == b'\n');
    while let (Some(k), Some(val)) = (parts.next(), parts.next()) {
        let name =
            HeaderName::from_bytes(k).map_err(|_| format!("invalid header name {:?}", String::from_utf8_lossy(k)))?;
        let value = HeaderValue::from_bytes(val).map_err(|_| format!("invalid value for header {name}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// A `HeaderMap` to `[name, value, ...]`.
pub(crate) fn headers_to_js<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    headers: &HeaderMap,
) -> Option<v8::Local<'s, v8::Array>> {
    // Built in one go: an element set from the embedder API goes through
    // V8's generic property lookup, about 850 instructions each; a request
    // and its response's headers took about 27 of them.
    let mut elements: Vec<v8::Local<'s, v8::Value>> = Vec::with_capacity(headers.len() * 2);
    for (k, v) in headers {
        elements.push(v8::String::new(scope, k.as_str())?.into());
        elements.push(latin1(scope, v.as_bytes())?.into());
    }
    Some(v8::Array::new_with_elements(scope, &elements))
}
