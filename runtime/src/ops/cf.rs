//! `request.cf` of an incoming request: what a self-hosted proxy knows about
//! the downstream connection (client address, HTTP version, TLS version and
//! cipher), under the names Cloudflare uses. Geolocation and ASN fields are
//! absent: nothing here knows them.

use super::state;
use crate::api::RequestInfo;

/// `()` → the `cf` object of the current request, or `undefined` when the
/// request did not come from a client (nothing known).
pub(crate) fn op_request_cf(
    scope: &mut v8::PinScope,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let Some(id) = st.current.get() else { return };
    let fields = match st.requests.borrow().get(&id) {
        Some(p) => fields(&p.info),
        None => return,
    };
    if fields.is_empty() {
        return;
    }
    // Made in one call: a property set from the embedder API goes through
    // V8's generic lookup (about 850 instructions each) on every request.
    let mut names: Vec<v8::Local<v8::Name>> = Vec::with_capacity(fields.len());
    let mut values: Vec<v8::Local<v8::Value>> = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        let (Some(k), Some(v)) = (
            v8::String::new_from_one_byte(scope, k.as_bytes(), v8::NewStringType::Internalized),
            v8::String::new(scope, &v),
        ) else {
            return;
        };
        names.push(k.into());
        values.push(v.into());
    }
    let Some(proto) = v8::Object::new(scope).get_prototype(scope) else {
        return;
    };
    rv.set(v8::Object::with_prototype_and_properties(scope, proto, &names, &values).into());
}

/// The `cf` fields for `info`, in a stable order.
fn fields(info: &RequestInfo) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(a) = info.client_addr {
        out.push(("clientAddress", a.ip().to_string()));
    }
    if let Some(v) = info.http_version.and_then(http_protocol) {
        out.push(("httpProtocol", v.to_string()));
    }
    if let Some(tls) = &info.tls {
        out.push(("tlsVersion", tls_version(&tls.version)));
        out.push(("tlsCipher", tls_cipher(&tls.cipher).to_string()));
    }
    out
}

fn http_protocol(v: http::Version) -> Option<&'static str> {
    Some(match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => return None,
    })
}

/// `TLSv1_3` (rustls) → `TLSv1.3` (Cloudflare, OpenSSL).
fn tls_version(v: &str) -> String {
    v.replace('_', ".")
}

/// IANA suite names (rustls) → the OpenSSL/BoringSSL names Cloudflare
/// reports; an unknown suite keeps its own name.
fn tls_cipher(c: &str) -> &str {
    match c {
        "TLS13_AES_128_GCM_SHA256" => "AEAD-AES128-GCM-SHA256",
        "TLS13_AES_256_GCM_SHA384" => "AEAD-AES256-GCM-SHA384",
        "TLS13_CHACHA20_POLY1305_SHA256" => "AEAD-CHACHA20-POLY1305-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => "ECDHE-RSA-CHACHA20-POLY1305",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TlsInfo;

    #[test]
    fn cf_fields_per_connection() {
        let addr = "192.0.2.7:5123".parse().ok();
        let rows: Vec<(RequestInfo, Vec<(&str, &str)>)> = vec![
            (RequestInfo::default(), vec![]),
            (
                RequestInfo {
                    client_addr: addr,
                    http_version: Some(http::Version::HTTP_11),
                    ..Default::default()
                },
                vec![("clientAddress", "192.0.2.7"), ("httpProtocol", "HTTP/1.1")],
            ),
            (
                RequestInfo {
                    client_addr: addr,
                    http_version: Some(http::Version::HTTP_2),
                    tls: Some(TlsInfo {
                        version: "TLSv1_3".into(),
                        cipher: "TLS13_AES_256_GCM_SHA384".into(),
                    }),
                    ..Default::default()
                },
                vec![
                    ("clientAddress", "192.0.2.7"),
                    ("httpProtocol", "HTTP/2"),
                    ("tlsVersion", "TLSv1.3"),
                    ("tlsCipher", "AEAD-AES256-GCM-SHA384"),
                ],
            ),
            (
                RequestInfo {
                    tls: Some(TlsInfo {
                        version: "TLSv1_2".into(),
                        cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
                    }),
                    ..Default::default()
                },
                vec![("tlsVersion", "TLSv1.2"), ("tlsCipher", "ECDHE-RSA-AES128-GCM-SHA256")],
            ),
            (
                RequestInfo {
                    tls: Some(TlsInfo {
                        version: "TLSv1_3".into(),
                        cipher: "NEW_SUITE".into(),
                    }),
                    ..Default::default()
                },
                vec![("tlsVersion", "TLSv1.3"), ("tlsCipher", "NEW_SUITE")],
            ),
        ];
        for (info, want) in rows {
            let got = fields(&info);
            let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(got, want, "{info:?}");
        }
    }
}
