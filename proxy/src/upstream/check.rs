//! The strict check of an upstream response head, and which responses
//! carry a body: one set of rules for the no-script path and for a
//! Worker's subrequest.

use http::{Method, StatusCode};

use crate::syntax::{looks_like_framing, parse_content_length, trim};
use crate::upstream::fault::{Fault, FaultKind};

/// Most headers an upstream response may carry (RFC-free; HAProxy and
/// Envoy use about this many).
pub const MAX_RESPONSE_HEADERS: usize = 100;

/// Largest upstream response head, counted as name + value + 4 per field.
pub const MAX_RESPONSE_HEAD_BYTES: usize = 65536;

/// Check an upstream response's parsed header fields: one Content-Length
/// of digits only, at most one Transfer-Encoding and it `chunked`, no
/// look-alike framing names, no CR/LF/NUL in values, and within the
/// count and size limits. Pingora's client parser accepts (and partly
/// repairs) all of these, so a proxy that forwarded them could hand a
/// client, or a cache behind it, a response other parsers frame
/// differently.
pub fn check_response_headers(headers: &http::HeaderMap) -> Result<(), &'static str> {
    if headers.len() > MAX_RESPONSE_HEADERS {
        return Err("too many upstream response headers");
    }
    let mut size = 0usize;
    let mut cl = 0;
    let mut te = 0;
    for (name, value) in headers.iter() {
        size += name.as_str().len() + value.len() + 4;
        let v = value.as_bytes();
        if v.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err("CR, LF or NUL in an upstream response header");
        }
        if name == http::header::CONTENT_LENGTH {
            cl += 1;
            parse_content_length(v).map_err(|_| "invalid Content-Length in upstream response")?;
        } else if name == http::header::TRANSFER_ENCODING {
            te += 1;
            if !trim(v).eq_ignore_ascii_case(b"chunked") {
                return Err("unsupported Transfer-Encoding in upstream response");
            }
        } else if looks_like_framing(name.as_str()) {
            return Err("suspicious framing header name in upstream response");
        }
    }
    if size > MAX_RESPONSE_HEAD_BYTES {
        return Err("upstream response head too large");
    }
    if cl > 1 {
        return Err("more than one Content-Length in upstream response");
    }
    if te > 1 {
        return Err("more than one Transfer-Encoding in upstream response");
    }
    if cl > 0 && te > 0 {
        return Err("both Content-Length and Transfer-Encoding in upstream response");
    }
    Ok(())
}

/// Check a final or interim response head from upstream: its parsed
/// fields, and a `101` that the request did not ask for (it would turn the
/// connection into a raw pipe the client never agreed to). Both ways out
/// read heads with Pingora's client parser, which repairs what RFC 9112
/// lets a proxy repair (whitespace before a colon removed, obs-fold joined
/// with spaces, a bare LF read as CRLF, `Content-Length` dropped beside
/// `Transfer-Encoding`); what is left ambiguous after that is refused here,
/// the same for the no-script path and a Worker's `fetch()`.
pub fn response_head(status: StatusCode, headers: &http::HeaderMap, upgrade_requested: bool) -> Result<(), Fault> {
    if let Err(reason) = check_response_headers(headers) {
        return Err(Fault::new(FaultKind::BadResponse, reason));
    }
    if status == StatusCode::SWITCHING_PROTOCOLS && !upgrade_requested {
        return Err(Fault::new(
            FaultKind::BadResponse,
            "upstream switched protocols unasked",
        ));
    }
    Ok(())
}

/// An interim response (1xx other than 101): never the final answer.
/// `100 Continue` and `103 Early Hints` are read past; the response that
/// follows is the one that counts.
pub fn is_interim(status: StatusCode) -> bool {
    status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS
}

/// Whether a response to `method` with `status` has a body at all (RFC 9110
/// §6.4.1): never for HEAD, 1xx, 204 or 304, whatever its Content-Length
/// says.
pub fn has_body(method: &Method, status: StatusCode) -> bool {
    !(method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodyless_responses() {
        assert!(!has_body(&Method::HEAD, StatusCode::OK));
        assert!(!has_body(&Method::GET, StatusCode::NO_CONTENT));
        assert!(!has_body(&Method::GET, StatusCode::NOT_MODIFIED));
        assert!(has_body(&Method::GET, StatusCode::OK));
        assert!(is_interim(StatusCode::from_u16(103).unwrap()));
        assert!(!is_interim(StatusCode::SWITCHING_PROTOCOLS));
    }

    #[test]
    fn unasked_switch_is_refused() {
        let h = http::HeaderMap::new();
        assert!(response_head(StatusCode::SWITCHING_PROTOCOLS, &h, false).is_err());
        assert!(response_head(StatusCode::SWITCHING_PROTOCOLS, &h, true).is_ok());
    }

    #[test]
    fn upstream_response_headers() {
        let map = |pairs: &[(&str, &str)]| {
            let mut m = http::HeaderMap::new();
            for (k, v) in pairs {
                m.append(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    http::HeaderValue::from_str(v).unwrap(),
                );
            }
            m
        };
        assert_eq!(check_response_headers(&map(&[("content-length", "5")])), Ok(()));
        assert_eq!(
            check_response_headers(&map(&[("transfer-encoding", "Chunked")])),
            Ok(())
        );
        for bad in [
            map(&[("content-length", "5"), ("content-length", "5")]),
            map(&[("content-length", "5, 5")]),
            map(&[("content-length", "+5")]),
            map(&[("transfer-encoding", "xchunked")]),
            map(&[("transfer-encoding", "chunked"), ("transfer-encoding", "chunked")]),
            map(&[("transfer-encoding", "chunked"), ("content-length", "5")]),
            map(&[("transfer_encoding", "chunked")]),
            map(&[("x-big", &"a".repeat(70_000))]),
        ] {
            assert!(check_response_headers(&bad).is_err(), "{bad:?}");
        }
        let many: Vec<(String, String)> = (0..101).map(|i| (format!("x-{i}"), "v".to_string())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(check_response_headers(&map(&many)).is_err());
    }
}
