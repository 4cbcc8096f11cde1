//! Ops behind the small Web APIs: console, URL, encoding, crypto, timers.

use std::time::Duration;

use ring::rand::SecureRandom;

use super::{bytes_of, pair, state, string, throw_error, throw_type_error, uint8_array};
use crate::state::OpResult;

/// `console.*`: `(level, message)`; level 0 debug, 1 info, 2 warn, 3 error.
pub(crate) fn op_console_log(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let level = args.get(0).int32_value(scope).unwrap_or(1);
    let message = string(scope, args.get(1));
    let Some(st) = state(scope) else { return };
    let worker = st.spec.name.as_str();
    match level {
        0 => tracing::debug!(target: "isoproxy::worker", worker, "{message}"),
        2 => tracing::warn!(target: "isoproxy::worker", worker, "{message}"),
        3 => tracing::error!(target: "isoproxy::worker", worker, "{message}"),
        _ => tracing::info!(target: "isoproxy::worker", worker, "{message}"),
    }
    let name = ["debug", "log", "warn", "error"][level.clamp(0, 3) as usize];
    st.env.shared.observer.console(worker, name, &message);
}

fn url_parts<'s>(scope: &mut v8::PinScope<'s, '_>, url: &url::Url) -> Option<v8::Local<'s, v8::Value>> {
    use url::quirks;
    let parts = [
        quirks::href(url),
        &quirks::origin(url),
        quirks::protocol(url),
        quirks::username(url),
        quirks::password(url),
        quirks::host(url),
        quirks::hostname(url),
        quirks::port(url),
        quirks::pathname(url),
        quirks::search(url),
        quirks::hash(url),
    ];
    let mut elements: [v8::Local<'s, v8::Value>; 11] = [v8::undefined(scope).into(); 11];
    for (e, p) in elements.iter_mut().zip(parts) {
        *e = v8::String::new(scope, p)?.into();
    }
    Some(v8::Array::new_with_elements(scope, &elements).into())
}

/// `(href, base?)` → `[href, origin, protocol, username, password, host,
/// hostname, port, pathname, search, hash]`, or `null` when invalid.
pub(crate) fn op_url_parse(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let input = string(scope, args.get(0));
    let base = args.get(1);
    let parsed = if base.is_undefined() || base.is_null() {
        url::Url::parse(&input)
    } else {
        let base = string(scope, base);
        url::Url::parse(&base).and_then(|b| b.join(&input))
    };
    match parsed {
        Ok(u) => {
            if let Some(v) = url_parts(scope, &u) {
                rv.set(v);
            }
        }
        Err(_) => rv.set_null(),
    }
}

/// `(href, field, value)` → parts after the WHATWG setter for `field`
/// (0 href, 2 protocol, 3 username, 4 password, 5 host, 6 hostname, 7 port,
/// 8 pathname, 9 search, 10 hash); `null` if `href` itself is invalid.
pub(crate) fn op_url_set(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    use url::quirks;
    let href = string(scope, args.get(0));
    let field = args.get(1).int32_value(scope).unwrap_or(-1);
    let value = string(scope, args.get(2));
    let Ok(mut u) = url::Url::parse(&href) else {
        rv.set_null();
        return;
    };
    match field {
        0 if quirks::set_href(&mut u, &value).is_err() => {
            throw_type_error(scope, &format!("Invalid URL: {value}"));
            return;
        }
        2 => {
            let _ = quirks::set_protocol(&mut u, &value);
        }
        3 => {
            let _ = quirks::set_username(&mut u, &value);
        }
        4 => {
            let _ = quirks::set_password(&mut u, &value);
        }
        5 => {
            let _ = quirks::set_host(&mut u, &value);
        }
        6 => {
            let _ = quirks::set_hostname(&mut u, &value);
        }
        7 => {
            let _ = quirks::set_port(&mut u, &value);
        }
        8 => quirks::set_pathname(&mut u, &value),
        9 => quirks::set_search(&mut u, &value),
        10 => quirks::set_hash(&mut u, &value),
        _ => {}
    }
    if let Some(v) = url_parts(scope, &u) {
        rv.set(v);
    }
}

/// `application/x-www-form-urlencoded` text → `[name, value, ...]`.
pub(crate) fn op_url_params_parse(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let input = string(scope, args.get(0));
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(input.as_bytes()).into_owned().collect();
    let mut elements = Vec::with_capacity(pairs.len() * 2);
    for (k, v) in &pairs {
        let (Some(k), Some(v)) = (v8::String::new(scope, k), v8::String::new(scope, v)) else {
            return;
        };
        elements.push(k.into());
        elements.push(v.into());
    }
    rv.set(v8::Array::new_with_elements(scope, &elements).into());
}

/// `[name, value, ...]` → `application/x-www-form-urlencoded` text.
pub(crate) fn op_url_params_serialize(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Ok(arr) = v8::Local::<v8::Array>::try_from(args.get(0)) else {
        return;
    };
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    let n = arr.length();
    let mut i = 0;
    while i + 1 < n {
        let (Some(k), Some(v)) = (arr.get_index(scope, i), arr.get_index(scope, i + 1)) else {
            return;
        };
        let (k, v) = (string(scope, k), string(scope, v));
        ser.append_pair(&k, &v);
        i += 2;
    }
    let out = ser.finish();
    if let Some(s) = v8::String::new(scope, &out) {
        rv.set(s.into());
    }
}

/// `TextEncoder.encode`: string → UTF-8 `Uint8Array`.
pub(crate) fn op_encoding_encode(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let s = string(scope, args.get(0));
    if let Some(a) = uint8_array(scope, s.into_bytes()) {
        rv.set(a.into());
    }
}

/// `TextEncoder.encodeInto`: `(string, Uint8Array)` → `[read, written]`.
pub(crate) fn op_encoding_encode_into(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let s = string(scope, args.get(0));
    let Ok(dest) = v8::Local::<v8::Uint8Array>::try_from(args.get(1)) else {
        throw_type_error(scope, "encodeInto: destination must be a Uint8Array");
        return;
    };
    let cap = dest.byte_length();
    let mut written = 0usize;
    let mut read = 0usize;
    let mut out = Vec::with_capacity(cap.min(s.len()));
    for c in s.chars() {
        let n = c.len_utf8();
        if written + n > cap {
            break;
        }
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        written += n;
        read += c.len_utf16();
    }
    if let Some(ab) = dest.buffer(scope) {
        if let Some(ptr) = ab.data() {
            let offset = dest.byte_offset();
            // SAFETY: `written <= byte_length` of the view, which lies within
            // the buffer at `offset`.
            unsafe {
                std::ptr::copy_nonoverlapping(out.as_ptr(), (ptr.as_ptr() as *mut u8).add(offset), written);
            }
        }
    }
    let r = v8::Number::new(scope, read as f64);
    let w = v8::Number::new(scope, written as f64);
    rv.set(pair(scope, r.into(), w.into()).into());
}

/// `TextDecoder.decode`: `(bytes, encoding, fatal, stream)` → `[string,
/// leftover]` where `leftover` is the number of trailing bytes kept for the
/// next call (an incomplete sequence when streaming). Throws a TypeError on
/// invalid input when `fatal`.
pub(crate) fn op_encoding_decode(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let bytes = bytes_of(args.get(0)).unwrap_or_default();
    let encoding = string(scope, args.get(1));
    let fatal = args.get(2).is_true();
    let stream = args.get(3).is_true();
    let (text, leftover) = match encoding.as_str() {
        "utf-16le" | "utf-16be" => {
            let be = encoding == "utf-16be";
            let mut keep = if stream { bytes.len() % 2 } else { 0 };
            let mut units: Vec<u16> = bytes[..bytes.len() - keep]
                .chunks_exact(2)
                .map(|c| {
                    if be {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    }
                })
                .collect();
            if stream && units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
                units.pop();
                keep += 2;
            }
            let odd = !stream && bytes.len() % 2 == 1;
            let text = match String::from_utf16(&units) {
                Ok(s) if !odd => s,
                _ if fatal => {
                    throw_type_error(
                        scope,
                        &format!("The encoded data was not valid for encoding {encoding}"),
                    );
                    return;
                }
                _ => {
                    let mut s = String::from_utf16_lossy(&units);
                    if odd {
                        s.push('\u{FFFD}');
                    }
                    s
                }
            };
            (text, keep)
        }
        "utf-8" => {
            let end = if stream {
                bytes.len() - incomplete_utf8_tail(&bytes)
            } else {
                bytes.len()
            };
            let body = &bytes[..end];
            let text = match std::str::from_utf8(body) {
                Ok(s) => s.to_string(),
                Err(_) if fatal => {
                    throw_type_error(scope, "The encoded data was not valid for encoding utf-8");
                    return;
                }
                Err(_) => String::from_utf8_lossy(body).into_owned(),
            };
            (text, bytes.len() - end)
        }
        other => {
            let Some(enc) = encoding_rs::Encoding::for_label(other.as_bytes()) else {
                throw_type_error(scope, &format!("unknown encoding {other}"));
                return;
            };
            match legacy_decode(enc, &bytes, fatal, stream) {
                Some(r) => r,
                None => {
                    throw_type_error(scope, &format!("The encoded data was not valid for encoding {other}"));
                    return;
                }
            }
        }
    };
    let Some(s) = v8::String::new(scope, &text) else {
        throw_error(scope, "string too long");
        return;
    };
    let n = v8::Number::new(scope, leftover as f64);
    rv.set(pair(scope, s.into(), n.into()).into());
}

/// Decode `bytes` in one of the legacy encodings of the Encoding Standard
/// (single-byte ones, the CJK multi-byte ones, x-user-defined) with
/// `encoding_rs`: `(text, leftover)`, where `leftover` counts the trailing
/// bytes of an incomplete character kept for the next call when
/// `stream`ing. `None`: malformed input under `fatal`.
///
/// Each call starts a fresh decoder, so the state a stateful encoding
/// (ISO-2022-JP's current mode) is in at the end of one call is not
/// carried to the next.
fn legacy_decode(
    enc: &'static encoding_rs::Encoding,
    bytes: &[u8],
    fatal: bool,
    stream: bool,
) -> Option<(String, usize)> {
    let decode = |input: &[u8], last: bool| -> Option<String> {
        let mut decoder = enc.new_decoder_without_bom_handling();
        let cap = decoder.max_utf8_buffer_length(input.len())?;
        let mut out = String::with_capacity(cap);
        if fatal {
            let (result, _) = decoder.decode_to_string_without_replacement(input, &mut out, last);
            if !matches!(result, encoding_rs::DecoderResult::InputEmpty) {
                return None;
            }
        } else {
            // The buffer holds the worst case, so all input is decoded.
            let _ = decoder.decode_to_string(input, &mut out, last);
        }
        Some(out)
    };
    if !stream {
        return decode(bytes, true).map(|t| (t, 0));
    }
    // A decoder told more input follows keeps an incomplete character to
    // itself; find how many trailing bytes that is (at most 4 in these
    // encodings) as the shortest tail whose removal, with the input then
    // ended, gives the same text.
    let text = decode(bytes, false)?;
    if decode(bytes, true).is_some_and(|t| t == text) {
        return Some((text, 0));
    }
    for keep in 1..=4.min(bytes.len()) {
        if decode(&bytes[..bytes.len() - keep], true).is_some_and(|t| t == text) {
            return Some((text, keep));
        }
    }
    Some((text, 0))
}

/// The canonical (lower-case) name of the encoding `label` names
/// (https://encoding.spec.whatwg.org/#concept-encoding-get), or undefined.
pub(crate) fn op_encoding_label(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let label = string(scope, args.get(0));
    let Some(enc) = encoding_rs::Encoding::for_label(label.as_bytes()) else {
        return;
    };
    if let Some(name) = v8::String::new(scope, &enc.name().to_ascii_lowercase()) {
        rv.set(name.into());
    }
}

/// Length of an incomplete (but so far valid) UTF-8 sequence at the end of
/// `bytes`, to keep for the next streaming call.
fn incomplete_utf8_tail(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=3.min(n) {
        let b = bytes[n - back];
        if b & 0xC0 == 0x80 {
            continue;
        }
        // `b` starts the last sequence: incomplete iff decoding it stops at
        // the end of input rather than on an invalid byte.
        return match std::str::from_utf8(&bytes[n - back..]) {
            Err(e) if e.error_len().is_none() && e.valid_up_to() == 0 => back,
            _ => 0,
        };
    }
    0
}

/// `crypto.getRandomValues`: fills the view in place.
pub(crate) fn op_crypto_random_fill(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Ok(view) = v8::Local::<v8::ArrayBufferView>::try_from(args.get(0)) else {
        throw_type_error(scope, "getRandomValues: argument must be an integer TypedArray");
        return;
    };
    let len = view.byte_length();
    let mut buf = vec![0u8; len];
    if ring::rand::SystemRandom::new().fill(&mut buf).is_err() {
        throw_error(scope, "random source failed");
        return;
    }
    if let Some(ab) = view.buffer(scope) {
        if let Some(ptr) = ab.data() {
            // SAFETY: the view's bytes lie within its buffer.
            unsafe {
                std::ptr::copy_nonoverlapping(buf.as_ptr(), (ptr.as_ptr() as *mut u8).add(view.byte_offset()), len);
            }
        }
    }
}

/// `crypto.randomUUID`: a version 4 UUID.
pub(crate) fn op_crypto_random_uuid(
    scope: &mut v8::PinScope,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let mut b = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        throw_error(scope, "random source failed");
        return;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let s = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    if let Some(s) = v8::String::new(scope, &s) {
        rv.set(s.into());
    }
}

/// Start a timer of `ms` milliseconds; returns the op id that completes.
pub(crate) fn op_timer_start(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let ms = args.get(0).number_value(scope).unwrap_or(0.0);
    let ms = if ms.is_finite() && ms > 0.0 { ms.min(1e10) } else { 0.0 };
    let Some(st) = state(scope) else { return };
    let op = st.spawn_op(async move {
        tokio::time::sleep(Duration::from_micros((ms * 1000.0) as u64)).await;
        OpResult::Timer
    });
    rv.set_uint32(op);
}

/// Cancel a timer started by `op_timer_start`.
pub(crate) fn op_timer_cancel(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let op = args.get(0).uint32_value(scope).unwrap_or(0);
    let Some(st) = state(scope) else { return };
    st.cancel_op(op);
}
