//! What may be stored and for how long: the RFC 9111 rules of a shared
//! cache, on top of Pingora's `Cache-Control` parser and freshness
//! arithmetic. No heuristic freshness: a response without `max-age`,
//! `s-maxage` or `Expires` is not stored.

use std::time::{Duration, SystemTime};

use http::{header, Method, StatusCode};
use pingora_cache::cache_control::{CacheControl, InterpretCacheControl};
use pingora_cache::filters::{calculate_fresh_until, calculate_serve_stale_durations};
use pingora_cache::{CacheMeta, CacheMetaDefaults, NoCacheReason, RespCacheable};
use pingora_http::{RequestHeader, ResponseHeader};

/// No heuristic freshness, no stale windows unless the origin grants them.
const NO_DEFAULTS: CacheMetaDefaults = CacheMetaDefaults::new(|_| None, 0, 0);

/// Statuses a shared cache understands and stores when the origin gives
/// them an explicit lifetime (RFC 9110 §15; 206 is not stored: the cache
/// keeps whole bodies and serves ranges itself).
fn status_understood(s: StatusCode) -> bool {
    matches!(
        s.as_u16(),
        200 | 203 | 204 | 300 | 301 | 302 | 307 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// Why a request does not use the cache at all, if it does not.
pub fn request_bypass(req: &RequestHeader) -> Option<&'static str> {
    if req.method != Method::GET && req.method != Method::HEAD {
        return Some("method");
    }
    if req.headers.contains_key(header::UPGRADE) {
        return Some("upgrade");
    }
    // RFC 9111 §5.2.1.5: the request's `no-store` forbids storing its response.
    if CacheControl::from_req_headers(req).is_some_and(|cc| cc.no_store()) {
        return Some("request-no-store");
    }
    None
}

/// Whether `resp` (the answer to `req`) may be stored, and its metadata.
pub fn response(req: &RequestHeader, resp: &ResponseHeader) -> RespCacheable {
    response_at(req, resp, SystemTime::now())
}

fn uncacheable(why: &'static str) -> RespCacheable {
    RespCacheable::Uncacheable(NoCacheReason::Custom(why))
}

fn response_at(req: &RequestHeader, resp: &ResponseHeader, now: SystemTime) -> RespCacheable {
    if !status_understood(resp.status) {
        return uncacheable("status");
    }
    response_with(resp, req.headers.contains_key(header::AUTHORIZATION), &NO_DEFAULTS, now)
}

/// The rules shared by the HTTP cache and the Cache API: `defaults` gives
/// the lifetime of a response without explicit freshness (none for the
/// HTTP cache), `authorization` whether the request carried credentials.
pub fn response_with(
    resp: &ResponseHeader,
    authorization: bool,
    defaults: &CacheMetaDefaults,
    now: SystemTime,
) -> RespCacheable {
    if resp.status == StatusCode::NOT_MODIFIED || resp.status == StatusCode::PARTIAL_CONTENT {
        return uncacheable("status");
    }
    let vary_any = resp
        .headers
        .get_all(header::VARY)
        .iter()
        .any(|v| v.as_bytes().split(|b| *b == b',').any(|t| t.trim_ascii() == b"*"));
    if vary_any {
        return uncacheable("vary-star");
    }
    let cc = CacheControl::from_resp_headers(resp);
    // `no-store`, `private`, Authorization without `public`/`s-maxage`/
    // `must-revalidate`, and no explicit lifetime all give `None` here.
    let Some(fresh_until) = calculate_fresh_until(now, cc.as_ref(), resp, authorization, defaults) else {
        return RespCacheable::Uncacheable(NoCacheReason::OriginNotCache);
    };
    let mut stored = resp.clone();
    if let Some(cc) = &cc {
        // `private="f"` and `no-cache="f"` name fields not to store.
        cc.strip_private_headers(&mut stored);
    }
    // A cookie set for one client must not reach another (RFC 9111 §7.3
    // leaves it to the cache; nginx and Varnish refuse too) unless the
    // origin named it in `private=`/`no-cache=`, which stripped it above.
    if stored.headers.contains_key(header::SET_COOKIE) {
        return uncacheable("set-cookie");
    }
    // Age the origin (or a cache before it) already reports counts against
    // the lifetime (RFC 9111 §4.2.3).
    let age = age_of(resp);
    let fresh_until = fresh_until.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
    let (swr, sie) = calculate_serve_stale_durations(cc.as_ref(), defaults);
    RespCacheable::Cacheable(CacheMeta::new(fresh_until, now, swr, sie, stored))
}

/// The `Age` a response carries.
pub fn age_of(resp: &ResponseHeader) -> Duration {
    resp.headers
        .get(header::AGE)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)]) -> ResponseHeader {
        let mut r = ResponseHeader::build(status, None).unwrap();
        for (k, v) in headers {
            r.append_header(k.to_string(), *v).unwrap();
        }
        r
    }

    fn req(auth: bool) -> RequestHeader {
        let mut r = RequestHeader::build("GET", b"/", None).unwrap();
        if auth {
            r.insert_header("authorization", "Bearer x").unwrap();
        }
        r
    }

    /// (status, headers, authorization, stored, fresh seconds when stored)
    type Row<'a> = (u16, &'a [(&'a str, &'a str)], bool, bool, u64);

    #[test]
    fn storable_table() {
        let now = SystemTime::now();
        let rows: &[Row] = &[
            (200, &[("cache-control", "max-age=60")], false, true, 60),
            (200, &[("cache-control", "s-maxage=30, max-age=60")], false, true, 30),
            (200, &[], false, false, 0),
            (200, &[("cache-control", "no-store, max-age=60")], false, false, 0),
            (200, &[("cache-control", "private, max-age=60")], false, false, 0),
            (200, &[("cache-control", "no-cache")], false, true, 0),
            (
                200,
                &[("cache-control", "max-age=60"), ("set-cookie", "a=b")],
                false,
                false,
                0,
            ),
            (
                200,
                &[
                    ("cache-control", "max-age=60, private=\"set-cookie\""),
                    ("set-cookie", "a=b"),
                ],
                false,
                true,
                60,
            ),
            (200, &[("cache-control", "max-age=60")], true, false, 0),
            (200, &[("cache-control", "public, max-age=60")], true, true, 60),
            (200, &[("cache-control", "s-maxage=60")], true, true, 60),
            (200, &[("cache-control", "max-age=60"), ("vary", "*")], false, false, 0),
            (200, &[("cache-control", "max-age=60"), ("age", "20")], false, true, 40),
            (206, &[("cache-control", "max-age=60")], false, false, 0),
            (500, &[("cache-control", "max-age=60")], false, false, 0),
            (404, &[("cache-control", "max-age=60")], false, true, 60),
            (301, &[("cache-control", "max-age=60")], false, true, 60),
        ];
        for (i, (status, headers, auth, stored, fresh)) in rows.iter().enumerate() {
            let got = response_at(&req(*auth), &resp(*status, headers), now);
            match got {
                RespCacheable::Cacheable(meta) => {
                    assert!(*stored, "row {i}: stored but should not be");
                    let secs = meta.fresh_until().duration_since(now).map_or(0, |d| d.as_secs());
                    assert_eq!(secs, *fresh, "row {i}: lifetime");
                }
                RespCacheable::Uncacheable(_) => assert!(!*stored, "row {i}: not stored but should be"),
            }
        }
    }

    #[test]
    fn expires_header_gives_the_lifetime() {
        let now = SystemTime::now();
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        let got = response_at(&req(false), &resp(200, &[("expires", &later)]), now);
        assert!(matches!(got, RespCacheable::Cacheable(_)));
        let past = response_at(&req(false), &resp(200, &[("expires", "0")]), now);
        match past {
            RespCacheable::Cacheable(meta) => assert!(!meta.is_fresh(now)),
            RespCacheable::Uncacheable(_) => {}
        }
    }

    #[test]
    fn requests_that_bypass() {
        let mut post = RequestHeader::build("POST", b"/", None).unwrap();
        assert_eq!(request_bypass(&post), Some("method"));
        post.set_method(Method::GET);
        assert_eq!(request_bypass(&post), None);
        post.insert_header("cache-control", "no-store").unwrap();
        assert_eq!(request_bypass(&post), Some("request-no-store"));
    }
}
