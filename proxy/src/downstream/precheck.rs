//! A strict check of each HTTP/1 request head before Pingora sees it.
//!
//! Pingora's parser is lenient in places where a proxy must not be (it
//! accepts bare LF, duplicate Content-Length values, unknown transfer
//! codings, absolute-form targets on a reverse proxy) and refuses CONNECT.
//! The connection driver reads each head, runs [`check_head`], answers the
//! request itself when the head is refused or is a CONNECT, and otherwise
//! hands the unchanged bytes to Pingora.

use isoproxy_schema::model::{HttpStyle, SocketLimits};

use crate::error::Reject;
use crate::syntax::{looks_like_framing, parse_content_length, split_port, trim, valid_authority};

/// Facts about an accepted head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Length of the head including the final empty line.
    pub len: usize,
    /// `CONNECT host:port`: the authority.
    pub connect: Option<String>,
    /// Declared body length.
    pub content_length: Option<u64>,
    /// The body is chunked.
    pub chunked: bool,
}

/// The most headers we ever parse, whatever the configured limit.
const MAX_HEADERS: usize = 256;

/// Check the request head at the start of `buf`.
///
/// `Ok(None)`: the head is not complete yet and within limits; read more.
pub fn check_head(buf: &[u8], limits: &SocketLimits, style: HttpStyle) -> Result<Option<Head>, Reject> {
    let line_limit = limits.max_request_line_bytes as usize;
    let header_limit = limits.max_header_bytes as usize;

    // Line endings: every LF must follow a CR, every CR must precede an LF.
    // Find the end of the request line and the end of the head on the way.
    let mut line_end = None;
    let mut head_end = None;
    let mut i = 0;
    // Leading empty lines before the request line are allowed (RFC 9112 §2.2).
    while buf.len() >= i + 2 && &buf[i..i + 2] == b"\r\n" {
        i += 2;
    }
    let start = i;
    // Longest field line, with its CRLF; 0 in the config: no own limit.
    let field_limit = match limits.max_header_line_bytes {
        0 => usize::MAX,
        n => n as usize + 2,
    };
    let mut field_start = start;
    while i < buf.len() {
        match buf[i] {
            b'\n' => {
                if i == 0 || buf[i - 1] != b'\r' {
                    return Err(Reject::bad_request("bare LF in request head"));
                }
                if line_end.is_none() {
                    line_end = Some(i + 1);
                } else if i >= 3 && &buf[i - 3..i + 1] == b"\r\n\r\n" {
                    head_end = Some(i + 1);
                    break;
                } else if i + 1 - field_start > field_limit {
                    return Err(Reject::new(431, "request header field too large"));
                }
                field_start = i + 1;
            }
            b'\r' if i + 1 < buf.len() && buf[i + 1] != b'\n' => {
                return Err(Reject::bad_request("bare CR in request head"));
            }
            _ => {}
        }
        i += 1;
    }
    let line_len = line_end.unwrap_or(buf.len()) - start;
    if line_len > line_limit + 2 {
        return Err(Reject::new(414, "request line too long"));
    }
    let Some(head_end) = head_end else {
        if line_end.is_some() && buf.len() - field_start > field_limit {
            return Err(Reject::new(431, "request header field too large"));
        }
        if buf.len() - start > line_len + header_limit + 2 {
            return Err(Reject::new(431, "request header section too large"));
        }
        return Ok(None);
    };
    if head_end - start - line_len > header_limit + 2 {
        return Err(Reject::new(431, "request header section too large"));
    }

    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let max = (limits.max_header_count as usize).saturating_add(1).min(MAX_HEADERS);
    let mut req = httparse::Request::new(&mut storage[..max]);
    match req.parse(&buf[..head_end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Reject::bad_request("malformed request head")),
        Err(httparse::Error::TooManyHeaders) => return Err(Reject::new(431, "too many request headers")),
        Err(e) => return Err(Reject::bad_request(parse_error(e))),
    }
    if req.headers.len() > limits.max_header_count as usize {
        return Err(Reject::new(431, "too many request headers"));
    }
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("");
    let http10 = req.version == Some(0);
    if target.bytes().any(|b| !(0x21..0x7f).contains(&b) || b == b'#') {
        return Err(Reject::bad_request("invalid character in request target"));
    }

    let mut content_length = None;
    let mut cl_count = 0;
    let mut te: Option<&[u8]> = None;
    let mut te_count = 0;
    let mut host: Option<&[u8]> = None;
    let mut host_count = 0;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            cl_count += 1;
            content_length = Some(parse_content_length(h.value)?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            te_count += 1;
            te = Some(h.value);
        } else if h.name.eq_ignore_ascii_case("host") {
            host_count += 1;
            host = Some(h.value);
        } else if looks_like_framing(h.name) {
            return Err(Reject::bad_request("suspicious framing header name"));
        }
    }
    if cl_count > 1 {
        return Err(Reject::bad_request("more than one Content-Length"));
    }
    if te_count > 1 {
        return Err(Reject::bad_request("more than one Transfer-Encoding"));
    }
    if host_count > 1 {
        return Err(Reject::bad_request("more than one Host"));
    }
    if let Some(te) = te {
        if http10 {
            return Err(Reject::bad_request("Transfer-Encoding in an HTTP/1.0 request"));
        }
        if content_length.is_some() {
            return Err(Reject::bad_request("both Content-Length and Transfer-Encoding"));
        }
        check_transfer_encoding(te)?;
    }
    if let Some(h) = host {
        if !valid_authority(h) {
            return Err(Reject::bad_request("invalid Host header"));
        }
    }

    let is_connect = method == "CONNECT";
    let mut connect = None;
    if is_connect {
        if style != HttpStyle::Proxy {
            return Err(Reject::new(405, "CONNECT is not allowed on this socket"));
        }
        if !valid_authority(target.as_bytes()) || split_port(target).is_none() {
            return Err(Reject::bad_request("CONNECT target must be host:port"));
        }
        connect = Some(target.to_string());
    } else if target.starts_with('/') || (target == "*" && method == "OPTIONS") {
        if style == HttpStyle::Proxy {
            return Err(Reject::bad_request("a forward proxy needs an absolute URL"));
        }
        if host.is_none() {
            return Err(Reject::bad_request("missing Host header"));
        }
    } else {
        if style != HttpStyle::Proxy {
            return Err(Reject::bad_request("absolute URL on a reverse-proxy socket"));
        }
        let authority = absolute_authority(target).ok_or(Reject::bad_request("invalid request target"))?;
        if let Some(h) = host {
            if !h.eq_ignore_ascii_case(authority.as_bytes()) {
                return Err(Reject::bad_request("Host does not match the request target"));
            }
        } else if !http10 {
            return Err(Reject::bad_request("missing Host header"));
        }
    }

    if let Some(len) = content_length {
        if limits.max_body_bytes > 0 && len > limits.max_body_bytes {
            return Err(Reject::new(413, "request body too large"));
        }
    }
    Ok(Some(Head {
        len: head_end,
        connect,
        content_length,
        chunked: te.is_some(),
    }))
}

fn parse_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status | httparse::Error::Token => "malformed request line",
        httparse::Error::Version => "unsupported HTTP version",
        httparse::Error::TooManyHeaders => "too many request headers",
    }
}

/// Only `chunked` is supported; another valid coding list is 501, anything
/// else 400.
fn check_transfer_encoding(v: &[u8]) -> Result<(), Reject> {
    let v = trim(v);
    if v.eq_ignore_ascii_case(b"chunked") {
        return Ok(());
    }
    let items: Vec<&[u8]> = v.split(|b| *b == b',').map(trim).collect();
    let tokens_ok = items.iter().all(|t| !t.is_empty() && t.iter().all(|b| is_tchar(*b)));
    let chunked = items.iter().filter(|t| t.eq_ignore_ascii_case(b"chunked")).count();
    let last_chunked = items.last().is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
    if tokens_ok && chunked == 1 && last_chunked {
        return Err(Reject::new(501, "unsupported transfer coding"));
    }
    Err(Reject::bad_request("invalid Transfer-Encoding"))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The authority of an `http://` or `https://` absolute-form target.
fn absolute_authority(target: &str) -> Option<&str> {
    let rest = if target.len() > 7 && target[..7].eq_ignore_ascii_case("http://") {
        &target[7..]
    } else if target.len() > 8 && target[..8].eq_ignore_ascii_case("https://") {
        &target[8..]
    } else {
        return None;
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    (!authority.is_empty() && !authority.contains('@') && valid_authority(authority.as_bytes())).then_some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, style: HttpStyle) -> Result<Option<Head>, u16> {
        let limits = SocketLimits {
            max_body_bytes: 1000,
            ..SocketLimits::default()
        };
        check_head(raw.as_bytes(), &limits, style).map_err(|r| r.status)
    }

    #[test]
    fn accepted() {
        let h = check("GET / HTTP/1.1\r\nHost: a\r\n\r\n", HttpStyle::Host)
            .unwrap()
            .unwrap();
        assert_eq!(h.len, 27);
        // A field line of exactly 16 KiB (with "X: " and without CRLF) passes.
        let field = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "a".repeat(16_381));
        assert!(check(&field, HttpStyle::Host).unwrap().is_some());
        assert!(check("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HttpStyle::Host)
            .unwrap()
            .is_some());
        assert!(check(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
            HttpStyle::Host
        )
        .unwrap()
        .is_some());
        assert!(check(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
            HttpStyle::Host
        )
        .unwrap()
        .is_some());
        assert!(
            check("GET http://a:1/x HTTP/1.1\r\nHost: a:1\r\n\r\n", HttpStyle::Proxy)
                .unwrap()
                .is_some()
        );
        let c = check("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", HttpStyle::Proxy)
            .unwrap()
            .unwrap();
        assert_eq!(c.connect.as_deref(), Some("a:443"));
    }

    #[test]
    fn incomplete() {
        assert_eq!(check("GET / HTTP/1.1\r\nHost: a\r\n", HttpStyle::Host), Ok(None));
        assert_eq!(check("GET / HTTP/1.1\r\nHost: a\r\n\r", HttpStyle::Host), Ok(None));
    }

    #[test]
    fn rejected() {
        let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
        let long_head = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "a".repeat(70_000));
        let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: y\r\n".repeat(100));
        let long_field = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "a".repeat(16_382));
        let long_field_partial = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "a".repeat(16_400));
        let cases: &[(&str, HttpStyle, u16)] = &[
            (&long_line, HttpStyle::Host, 414),
            (&long_head, HttpStyle::Host, 431),
            (&many, HttpStyle::Host, 431),
            (&long_field, HttpStyle::Host, 431),
            (&long_field_partial, HttpStyle::Host, 431),
            ("GET / HTTP/1.1\nHost: a\n\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.1\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.10\r\nHost: a\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", HttpStyle::Host, 400),
            ("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", HttpStyle::Host, 400),
            ("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", HttpStyle::Proxy, 400),
            ("GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", HttpStyle::Proxy, 400),
            ("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", HttpStyle::Host, 405),
            ("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", HttpStyle::Proxy, 400),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n",
                HttpStyle::Host,
                413,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, cow\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                HttpStyle::Host,
                501,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer---Encoding: x\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n",
                HttpStyle::Host,
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nX-Content-Type: a\r\n\r\n",
                HttpStyle::Host,
                200,
            ),
            ("GET / HTTP/1.1\r\nHost: a\r\n: y\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", HttpStyle::Host, 400),
            ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HttpStyle::Host, 400),
        ];
        for (raw, style, want) in cases {
            let got = match check(raw, *style) {
                Ok(Some(_)) => 200,
                Ok(None) => 0,
                Err(s) => s,
            };
            assert_eq!(got, *want, "{raw:?}");
        }
    }
}
