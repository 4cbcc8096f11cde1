//! End-to-end: the Workers platform around the Web APIs, as a client and a
//! peer see it on the wire. `request.cf` over plain HTTP and over TLS,
//! a FixedLengthStream body's Content-Length, and `cloudflare:sockets`
//! TLS (`secureTransport: "on"`, `startTls()`) against a real TLS server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use support::*;

/// A test CA and one server certificate it signed.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    leaf_cert: String,
    leaf_key: String,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "isoproxy platform test CA");
    let ca = params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = params.signed_by(&key, &ca, &ca_key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        leaf_cert: leaf.pem(),
        leaf_key: key.serialize_pem(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// One HTTP/1.1 GET over TLS (SNI `localhost`); the whole response text.
fn https_get(port: u16, path: &str, pki: &Pki) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(e) => panic!("https read: {e}"),
    }
    String::from_utf8_lossy(&out).into_owned()
}

const PLATFORM_WORKER: &str = "export default { async fetch(request) {
  const url = new URL(request.url);
  if (url.pathname === '/cf') return new Response(JSON.stringify(request.cf ?? null));
  if (url.pathname === '/fixed' || url.pathname === '/short') {
    const { readable, writable } = new FixedLengthStream(11);
    const w = writable.getWriter();
    w.write(new TextEncoder().encode('hello ')).catch(() => {});
    if (url.pathname === '/fixed') w.write(new TextEncoder().encode('world'));
    w.close().catch(() => {});
    return new Response(readable);
  }
  if (url.pathname === '/identity') {
    const { readable, writable } = new IdentityTransformStream();
    const w = writable.getWriter();
    w.write(new TextEncoder().encode('streamed'));
    w.close();
    return new Response(readable);
  }
  return new Response('?', { status: 404 });
} };";

fn platform_config() -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"w\", worker = (modules = [ (name = \"m.js\", esModule = embed \"m.js\") ], compatibilityDate = \"2024-09-01\")) ],
  sockets = [
    (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\"),
    (name = \"https\", address = \"127.0.0.1:0\", service = \"w\",
     https = (options = (), tlsOptions = (keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\")))),
  ],
);\n"
    )
}

#[test]
fn request_cf_carries_what_the_proxy_knows_of_the_client() {
    let pki = pki(&["localhost"]);
    let proxy = Proxy::new(&platform_config())
        .file("m.js", PLATFORM_WORKER)
        .file("key.pem", &pki.leaf_key)
        .file("cert.pem", &pki.leaf_cert)
        .sockets(&["http", "https"])
        .start();

    // Plain HTTP/1.1 and HTTP/1.0: no TLS fields.
    let r = get(proxy.port("http"), "/cf", "cf.test");
    assert_eq!(r.status, 200, "{}", proxy.stderr_text());
    let cf: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        cf,
        serde_json::json!({ "clientAddress": "127.0.0.1", "httpProtocol": "HTTP/1.1" })
    );
    let (r, _) = exchange(proxy.port("http"), b"GET /cf HTTP/1.0\r\nHost: cf.test\r\n\r\n");
    let cf: serde_json::Value = serde_json::from_slice(&r.unwrap().body).unwrap();
    assert_eq!(cf["httpProtocol"], "HTTP/1.0");
    assert!(cf.get("tlsVersion").is_none(), "{cf}");

    // Over TLS: the version and cipher the handshake chose (rustls prefers
    // TLS 1.3 with AES-256-GCM on this client), in Cloudflare's names.
    let text = https_get(proxy.port("https"), "/cf", &pki);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let cf: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(cf["clientAddress"], "127.0.0.1", "{cf}");
    assert_eq!(cf["httpProtocol"], "HTTP/1.1", "{cf}");
    assert_eq!(cf["tlsVersion"], "TLSv1.3", "{cf}");
    assert_eq!(cf["tlsCipher"], "AEAD-AES256-GCM-SHA384", "{cf}");
    // No geolocation, ASN or RTT: the proxy does not know them.
    for absent in ["country", "asn", "colo", "clientTcpRtt"] {
        assert!(cf.get(absent).is_none(), "{absent} in {cf}");
    }
}

#[test]
fn fixed_length_stream_sets_the_content_length_on_the_wire() {
    let pki = pki(&["localhost"]);
    let proxy = Proxy::new(&platform_config())
        .file("m.js", PLATFORM_WORKER)
        .file("key.pem", &pki.leaf_key)
        .file("cert.pem", &pki.leaf_cert)
        .sockets(&["http", "https"])
        .start();
    let port = proxy.port("http");
    // path → Content-Length, Transfer-Encoding, complete body
    let rows: &[(&str, Option<&str>, Option<&str>, Option<&str>)] = &[
        ("/fixed", Some("11"), None, Some("hello world")),
        ("/identity", None, Some("chunked"), Some("streamed")),
        // Too few bytes: the length was promised, so the connection is cut
        // rather than a short body passed off as complete.
        ("/short", Some("11"), None, None),
    ];
    for (path, length, te, body) in rows {
        let mut c = Client::connect(port);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: fls.test\r\n\r\n").as_bytes());
        let r = c.read_response(false);
        match body {
            Some(b) => {
                let r = r.unwrap_or_else(|| panic!("{path}: no response"));
                assert_eq!(r.status, 200, "{path}");
                assert_eq!(r.header("content-length"), *length, "{path}");
                assert_eq!(r.header("transfer-encoding"), *te, "{path}");
                assert_eq!(r.text(), *b, "{path}");
            }
            None => {
                // Read to the end: the server must close (a read timeout
                // means it left the connection open, which fails).
                assert!(r.is_none(), "{path}: a complete response from a short body");
                if let Err(e) = c.stream.read_to_end(&mut Vec::new()) {
                    panic!("{path}: connection left open ({e})");
                }
            }
        }
    }
}
