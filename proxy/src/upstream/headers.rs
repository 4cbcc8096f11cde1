//! The header policy of the upstream exchange, on the way out and back:
//! hop-by-hop removal, the forwarding headers (`X-Forwarded-For`, `Via`),
//! and the configured injections. The no-script phases and a Worker's
//! subrequests apply the same functions, so an origin sees the same
//! headers whichever path a request took.

use std::net::IpAddr;

use http::header::{self, HeaderName, HeaderValue};
use isoproxy_schema::model::{HeaderInjection, HttpOptions, HttpStyle};

/// A header to set (`Some`) or remove (`None`).
#[derive(Debug, Clone)]
pub struct Injection {
    /// Header name.
    pub name: HeaderName,
    /// New value, or removal.
    pub value: Option<HeaderValue>,
}

/// Compiled [`HttpOptions`].
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Request-target style.
    pub style: HttpStyle,
    /// Header that carries the original scheme.
    pub forwarded_proto: Option<HeaderName>,
    /// Applied to requests.
    pub request: Vec<Injection>,
    /// Applied to responses.
    pub response: Vec<Injection>,
    /// Client-sent forwarding headers are believed (`trustForwardedHeaders`).
    pub trust_forwarded: bool,
    /// No-script responses are compressed from this Content-Length on
    /// (`compression`); `None` when off.
    pub compress_from: Option<u64>,
}

/// Compile a list of headers to set or remove; fails on a name or value
/// that is not valid HTTP.
pub fn injections(list: &[HeaderInjection]) -> Result<Vec<Injection>, String> {
    list.iter()
        .map(|h| {
            let name =
                HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| format!("invalid header name {:?}", h.name))?;
            let value = match &h.value {
                Some(v) => Some(HeaderValue::from_str(v).map_err(|_| format!("invalid header value {v:?}"))?),
                None => None,
            };
            Ok(Injection { name, value })
        })
        .collect()
}

impl HttpSettings {
    /// Compile options; fails on a header name or value that is not valid HTTP.
    pub fn new(o: &HttpOptions) -> Result<HttpSettings, String> {
        let compile = injections;
        let forwarded_proto = match &o.forwarded_proto_header {
            Some(h) => Some(HeaderName::from_bytes(h.as_bytes()).map_err(|_| format!("invalid header name {h:?}"))?),
            None => None,
        };
        Ok(HttpSettings {
            style: o.style,
            forwarded_proto,
            request: compile(&o.inject_request_headers)?,
            response: compile(&o.inject_response_headers)?,
            trust_forwarded: o.trust_forwarded_headers,
            compress_from: o.compression.enabled.then_some(u64::from(o.compression.min_bytes)),
        })
    }
}

/// Header editing over Pingora's headers (which keep a case map and so
/// give no `&mut HeaderMap`) and plain header maps.
pub trait Headers {
    /// The headers.
    fn map(&self) -> &http::HeaderMap;
    /// Set a header, replacing others of the name.
    fn set(&mut self, name: HeaderName, value: HeaderValue);
    /// Remove every header of the name.
    fn del(&mut self, name: &HeaderName);
}

impl Headers for http::HeaderMap {
    fn map(&self) -> &http::HeaderMap {
        self
    }
    fn set(&mut self, name: HeaderName, value: HeaderValue) {
        self.insert(name, value);
    }
    fn del(&mut self, name: &HeaderName) {
        self.remove(name);
    }
}

impl Headers for pingora_http::RequestHeader {
    fn map(&self) -> &http::HeaderMap {
        &self.headers
    }
    fn set(&mut self, name: HeaderName, value: HeaderValue) {
        let _ = self.insert_header(name, value);
    }
    fn del(&mut self, name: &HeaderName) {
        let _ = self.remove_header(name);
    }
}

impl Headers for pingora_http::ResponseHeader {
    fn map(&self) -> &http::HeaderMap {
        &self.headers
    }
    fn set(&mut self, name: HeaderName, value: HeaderValue) {
        let _ = self.insert_header(name, value);
    }
    fn del(&mut self, name: &HeaderName) {
        let _ = self.remove_header(name);
    }
}

/// Apply injections to headers.
pub fn inject<H: Headers>(headers: &mut H, list: &[Injection]) {
    for i in list {
        match &i.value {
            Some(v) => headers.set(i.name.clone(), v.clone()),
            None => headers.del(&i.name),
        }
    }
}

/// Headers that never cross a proxy (RFC 9110 §7.6.1), besides those the
/// Connection header names.
const HOP_BY_HOP: &[&str] = &["keep-alive", "proxy-connection", "te", "trailer", "proxy-authorization"];

/// Client-supplied forwarding headers, removed on sockets that do not
/// trust their clients (`trustForwardedHeaders = false`, the default).
pub const UNTRUSTED_FORWARDING: &[&str] = &["x-forwarded-for", "forwarded", "x-real-ip"];

/// Remove hop-by-hop headers; `keep_upgrade` keeps Upgrade and Connection.
///
/// One pass over the names decides what goes, and only names present are
/// deleted: most messages carry none of them but `Connection`, and each
/// deletion of an absent name still costs a hash lookup in both of
/// Pingora's header maps.
pub fn strip_hop_by_hop<H: Headers>(headers: &mut H, keep_upgrade: bool) {
    let map = headers.map();
    // The names Connection lists, as the tokens stand (compared without
    // case below): no header names are built, and a message without
    // Connection allocates nothing.
    let listed: Vec<&str> = map
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty() && (!keep_upgrade || !t.eq_ignore_ascii_case("upgrade")))
        .collect();
    let listed = |name: &HeaderName| listed.iter().any(|t| t.eq_ignore_ascii_case(name.as_str()));
    let doomed: Vec<HeaderName> = map
        .keys()
        .filter(|name| {
            HOP_BY_HOP.contains(&name.as_str())
                || (!keep_upgrade && (*name == header::UPGRADE || *name == header::CONNECTION))
                || listed(name)
        })
        .cloned()
        .collect();
    for n in &doomed {
        headers.del(n);
    }
}

/// Set a header from a string, ignoring a value that is not valid HTTP.
pub fn set_str<H: Headers>(headers: &mut H, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.set(name, v);
    }
}

/// Drop the forwarding headers a client claims for itself, on sockets that
/// do not trust their clients: they are not evidence, and neither a Worker
/// nor an origin should believe them.
pub fn drop_untrusted_forwarding<H: Headers>(headers: &mut H) {
    if headers.map().keys().any(|k| UNTRUSTED_FORWARDING.contains(&k.as_str())) {
        for name in UNTRUSTED_FORWARDING {
            headers.del(&HeaderName::from_static(name));
        }
    }
}

/// Our hop in `Via`.
const VIA: &str = "1.1 isoproxy";

/// An address as text; IPv4 (the common case) without the formatting
/// machinery, which cost about 1,000 instructions a request.
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
    out
}

/// The header policy on the way out, the same for every path: hop-by-hop
/// headers go (Upgrade and Connection stay for an upgrade request), the
/// client's address is appended to `X-Forwarded-For`, `Via` gets our hop,
/// and the service's `injectRequestHeaders` apply last.
pub fn outgoing_request<H: Headers>(
    headers: &mut H,
    client: Option<IpAddr>,
    keep_upgrade: bool,
    service: Option<&HttpSettings>,
) {
    strip_hop_by_hop(headers, keep_upgrade);
    if let Some(ip) = client {
        let ip = ip_text(ip);
        let xff = match headers.map().get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prev) => format!("{prev}, {ip}"),
            None => ip,
        };
        set_str(headers, HeaderName::from_static("x-forwarded-for"), &xff);
    }
    match headers.map().get(header::VIA).and_then(|v| v.to_str().ok()) {
        Some(prev) => {
            let via = format!("{prev}, {VIA}");
            set_str(headers, header::VIA, &via);
        }
        None => headers.set(header::VIA, HeaderValue::from_static(VIA)),
    }
    if let Some(s) = service {
        inject(headers, &s.request);
    }
}

/// The header policy on the way back: hop-by-hop headers go (a 101 keeps
/// `Upgrade` and says `Connection: upgrade`), then the service's
/// `injectResponseHeaders`.
pub fn incoming_response<H: Headers>(headers: &mut H, switching: bool, service: Option<&HttpSettings>) {
    strip_hop_by_hop(headers, switching);
    if switching {
        headers.set(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if let Some(s) = service {
        inject(headers, &s.response);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_policy() {
        let mut h = http::HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("close, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("5"));
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.insert(header::VIA, HeaderValue::from_static("1.0 other"));
        outgoing_request(&mut h, Some("192.0.2.7".parse().unwrap()), false, None);
        assert!(h.get("x-secret").is_none());
        assert!(h.get(header::CONNECTION).is_none());
        assert!(h.get("keep-alive").is_none());
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(h[header::VIA], "1.0 other, 1.1 isoproxy");
    }

    #[test]
    fn connection_listed_names_go_in_any_case() {
        for keep_upgrade in [false, true] {
            let mut h = http::HeaderMap::new();
            h.append(header::CONNECTION, HeaderValue::from_static("X-Secret ,  upgrade"));
            h.append(header::CONNECTION, HeaderValue::from_static("x-other, bad token"));
            h.insert("x-secret", HeaderValue::from_static("1"));
            h.insert("x-other", HeaderValue::from_static("1"));
            h.insert("x-kept", HeaderValue::from_static("1"));
            h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            strip_hop_by_hop(&mut h, keep_upgrade);
            assert!(h.get("x-secret").is_none() && h.get("x-other").is_none());
            assert_eq!(h["x-kept"], "1");
            assert_eq!(h.contains_key(header::UPGRADE), keep_upgrade);
            assert_eq!(h.contains_key(header::CONNECTION), keep_upgrade);
        }
    }

    #[test]
    fn ip_text_is_the_standard_form() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.0.0.1",
            "99.100.109.110",
            "192.168.10.255",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(addr), addr.to_string(), "{ip}");
        }
    }

    #[test]
    fn untrusted_forwarding_is_dropped() {
        let mut h = http::HeaderMap::new();
        h.insert("forwarded", HeaderValue::from_static("for=1.2.3.4"));
        h.insert("x-real-ip", HeaderValue::from_static("1.2.3.4"));
        drop_untrusted_forwarding(&mut h);
        assert!(h.is_empty());
    }
}
