//! Response compression on the no-script path (the socket's `compression`
//! option, off by default), as nginx's `gzip on`: a text-like response not
//! encoded already, not too small, goes to the client in gzip or brotli,
//! whichever its `Accept-Encoding` prefers, with `Vary: Accept-Encoding`.
//!
//! Pingora ships a compression module, but it ignores `q` values (a client
//! saying `gzip;q=0` would still get gzip), so isoproxy makes the choice here
//! and compresses in the response body filter, one upstream chunk at a time
//! (each chunk flushed, so a slow stream is not held back).

use std::io::Write;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use pingora_http::ResponseHeader;

/// A coding isoproxy compresses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// RFC 1952.
    Gzip,
    /// RFC 7932.
    Brotli,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }
}

/// The coding to use for a client's `Accept-Encoding`: the acceptable one
/// (q > 0) with the highest q, brotli on a tie; `*` stands for codings not
/// named. `None` when the client accepts neither (or sent no header).
pub fn choose(accept: Option<&HeaderValue>) -> Option<Coding> {
    let text = accept?.to_str().ok()?;
    let (mut gzip, mut br, mut any) = (None, None, None);
    for item in text.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in parts {
            let p = p.trim();
            if let Some(v) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        match name.as_str() {
            "gzip" | "x-gzip" => gzip = Some(q),
            "br" => br = Some(q),
            "*" => any = Some(q),
            _ => {}
        }
    }
    let gzip = gzip.or(any).unwrap_or(0.0);
    let br = br.or(any).unwrap_or(0.0);
    if br > 0.0 && br >= gzip {
        Some(Coding::Brotli)
    } else if gzip > 0.0 {
        Some(Coding::Gzip)
    } else {
        None
    }
}

/// Whether a response of this type is worth compressing.
fn text_like(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "text/event-stream" {
        // A stream of events: compression would hold events back.
        return false;
    }
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/xml"
                | "application/wasm"
                | "image/svg+xml"
        )
}

/// Whether the response is one compression applies to at all (whatever the
/// client accepts): then it varies on `Accept-Encoding`. Requests in
/// HTTP/1.0 are not compressed either (the handler's check), as nginx's
/// `gzip_http_version 1.1`.
pub fn eligible(resp: &ResponseHeader, min_bytes: u64) -> bool {
    let h = &resp.headers;
    let status = resp.status.as_u16();
    if resp.version == http::Version::HTTP_10 {
        // Pingora relays the origin's version; an HTTP/1.0 response cannot
        // be sent chunked.
        return false;
    }
    if !(200..300).contains(&status) && !(400..600).contains(&status) || status == 204 || status == 206 {
        return false;
    }
    if h.get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        return false;
    }
    if h.get_all(header::CACHE_CONTROL).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|d| d.trim().eq_ignore_ascii_case("no-transform")))
    }) {
        return false;
    }
    if !h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(text_like)
    {
        return false;
    }
    let len = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    len.is_none_or(|n| n >= min_bytes && n > 0)
}

/// Add `Accept-Encoding` to the response's `Vary`.
pub fn add_vary(resp: &mut ResponseHeader) {
    let already = resp.headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim() == "*" || t.trim().eq_ignore_ascii_case("accept-encoding"))
        })
    });
    if !already {
        let _ = resp.append_header(header::VARY, "Accept-Encoding");
    }
}

/// Turn the head into that of the compressed response.
pub fn compressed_head(resp: &mut ResponseHeader, coding: Coding, http2: bool) {
    let _ = resp.remove_header(&header::CONTENT_LENGTH);
    let _ = resp.remove_header(&header::ACCEPT_RANGES);
    let _ = resp.insert_header(header::CONTENT_ENCODING, coding.token());
    if !http2 {
        let _ = resp.insert_header(header::TRANSFER_ENCODING, "chunked");
    }
    // Another byte representation: a strong validator becomes weak, one
    // that is not a valid strong ETag goes (nginx does the same).
    if let Some(etag) = resp.headers.get(header::ETAG).map(|v| v.as_bytes().to_vec()) {
        if etag.starts_with(b"\"") {
            let weak = [b"W/".as_slice(), &etag].concat();
            if let Ok(v) = HeaderValue::from_bytes(&weak) {
                let _ = resp.insert_header(header::ETAG, v);
            }
        } else if !etag.starts_with(b"W/") {
            let _ = resp.remove_header(&header::ETAG);
        }
    }
}

/// gzip level (zlib's default) and brotli quality: most of the gain for
/// little CPU.
const GZIP_LEVEL: u32 = 6;
const BROTLI_QUALITY: u32 = 5;

enum Inner {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Done,
}

/// A response body being compressed.
pub struct Compressor(Inner);

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Compressor")
    }
}

impl Compressor {
    /// A compressor for `coding`.
    pub fn new(coding: Coding) -> Compressor {
        Compressor(match coding {
            Coding::Gzip => Inner::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(GZIP_LEVEL),
            )),
            Coding::Brotli => Inner::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                16 * 1024,
                BROTLI_QUALITY,
                22,
            ))),
        })
    }

    /// Compress `data` (and flush it), and at `end` finish the stream:
    /// the bytes to send now.
    pub fn filter(&mut self, data: Option<&[u8]>, end: bool) -> std::io::Result<Bytes> {
        let data = data.unwrap_or_default();
        let mut out = match &mut self.0 {
            Inner::Gzip(e) => {
                e.write_all(data)?;
                if !end && !data.is_empty() {
                    e.flush()?;
                }
                std::mem::take(e.get_mut())
            }
            Inner::Brotli(e) => {
                e.write_all(data)?;
                if !end && !data.is_empty() {
                    e.flush()?;
                }
                std::mem::take(e.get_mut())
            }
            Inner::Done => Vec::new(),
        };
        if end {
            match std::mem::replace(&mut self.0, Inner::Done) {
                Inner::Gzip(e) => out.extend_from_slice(&e.finish()?),
                Inner::Brotli(e) => out.extend_from_slice(&e.into_inner()),
                Inner::Done => {}
            }
        }
        Ok(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ae(s: &str) -> Option<Coding> {
        choose(Some(&HeaderValue::from_str(s).unwrap()))
    }

    #[test]
    fn accept_encoding_choice() {
        assert_eq!(choose(None), None);
        assert_eq!(ae("gzip"), Some(Coding::Gzip));
        assert_eq!(ae("gzip, deflate, br, zstd"), Some(Coding::Brotli));
        assert_eq!(ae("br;q=0.5, gzip"), Some(Coding::Gzip));
        assert_eq!(ae("gzip;q=0"), None);
        assert_eq!(ae("gzip;q=0, br;q=0"), None);
        assert_eq!(ae("*"), Some(Coding::Brotli));
        assert_eq!(ae("*;q=0.1, gzip;q=0.5"), Some(Coding::Gzip));
        assert_eq!(ae("identity"), None);
        assert_eq!(ae("zstd"), None);
    }

    #[test]
    fn eligibility() {
        let head = |status: u16, headers: &[(&str, &str)]| {
            let mut h = ResponseHeader::build(status, None).unwrap();
            for (k, v) in headers {
                h.append_header(k.to_string(), *v).unwrap();
            }
            h
        };
        assert!(eligible(
            &head(200, &[("content-type", "text/html; charset=utf-8")]),
            256
        ));
        assert!(eligible(&head(404, &[("content-type", "application/json")]), 256));
        assert!(eligible(
            &head(
                200,
                &[("content-type", "application/ld+json"), ("content-length", "300")]
            ),
            256
        ));
        assert!(!eligible(
            &head(200, &[("content-type", "text/html"), ("content-length", "100")]),
            256
        ));
        assert!(!eligible(&head(200, &[("content-type", "image/png")]), 256));
        assert!(!eligible(&head(200, &[("content-type", "text/event-stream")]), 256));
        assert!(!eligible(
            &head(200, &[("content-type", "text/html"), ("content-encoding", "gzip")]),
            256
        ));
        assert!(!eligible(
            &head(
                200,
                &[("content-type", "text/html"), ("cache-control", "public, no-transform")]
            ),
            256
        ));
        assert!(!eligible(&head(206, &[("content-type", "text/html")]), 256));
        assert!(!eligible(&head(304, &[("content-type", "text/html")]), 256));
        assert!(!eligible(&head(200, &[]), 256));
    }

    #[test]
    fn head_and_body() {
        let mut h = ResponseHeader::build(200, None).unwrap();
        h.append_header("content-length", "1000").unwrap();
        h.append_header("etag", "\"abc\"").unwrap();
        h.append_header("vary", "Origin").unwrap();
        compressed_head(&mut h, Coding::Gzip, false);
        add_vary(&mut h);
        add_vary(&mut h);
        assert!(h.headers.get("content-length").is_none());
        assert_eq!(h.headers.get("content-encoding").unwrap(), "gzip");
        assert_eq!(h.headers.get("etag").unwrap(), "W/\"abc\"");
        assert_eq!(h.headers.get_all("vary").iter().count(), 2);
        let mut c = Compressor::new(Coding::Gzip);
        let mut all = c.filter(Some(b"hello "), false).unwrap().to_vec();
        all.extend_from_slice(&c.filter(Some(b"world"), true).unwrap());
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&all[..]), &mut out).unwrap();
        assert_eq!(out, "hello world");
    }
}
