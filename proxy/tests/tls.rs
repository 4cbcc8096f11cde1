//! End-to-end TLS: https sockets (test CA made with rcgen), certificates by
//! SNI, client certificates, HTTP/2 by ALPN (and by prior knowledge on
//! plain-text sockets), and https upstreams with their trust anchors and
//! client certificates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use support::*;

/// A test CA and certificates it signs.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A PEM certificate and key.
struct Leaf {
    cert: String,
    key: String,
}

impl Leaf {
    /// The certificate in DER.
    fn der(&self) -> Vec<u8> {
        CertificateDer::from_pem_slice(self.cert.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

impl Ca {
    fn new() -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "isoproxy test CA");
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    fn leaf(&self, names: &[&str], client: bool) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(ca: &Ca, client: Option<&Leaf>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(ca.roots());
    let mut config = match client {
        Some(l) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(l.cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(l.key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// One HTTP/1.1 request over TLS with SNI `name`; the whole response text.
fn https_get(port: u16, name: &str, config: Arc<rustls::ClientConfig>) -> std::io::Result<String> {
    let conn = rustls::ClientConnection::new(config, ServerName::try_from(name.to_string()).unwrap()).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(format!("GET /tls HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        // Some servers close without close_notify; keep what arrived.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn socket_config(origin: std::net::SocketAddr, tls_options: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"origin\", external = (address = \"{origin}\", http = ())) ],
  sockets = [ (name = \"https\", address = \"127.0.0.1:0\", service = \"origin\",
               https = (options = (), tlsOptions = ({tls_options}))) ],
);\n"
    )
}

#[test]
fn https_socket_with_sni_and_default_certificate() {
    let ca = Ca::new();
    let default = ca.leaf(&["localhost"], false);
    let a = ca.leaf(&["a.test"], false);
    let b = ca.leaf(&["*.b.test"], false);
    let origin = Origin::echo();
    let tls = "keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\"),
               sniKeypairs = [
                 (hostnames = [\"a.test\"], keypair = (privateKey = embed \"a.key\", certificateChain = embed \"a.pem\")),
                 (hostnames = [\"*.b.test\"], keypair = (privateKey = embed \"b.key\", certificateChain = embed \"b.pem\")) ]";
    let files = [
        ("key.pem", default.key.as_str()),
        ("cert.pem", default.cert.as_str()),
        ("a.key", a.key.as_str()),
        ("a.pem", a.cert.as_str()),
        ("b.key", b.key.as_str()),
        ("b.pem", b.cert.as_str()),
    ];
    let proxy = Proxy::new(&socket_config(origin.addr, tls))
        .files(&files)
        .sockets(&["https"])
        .start();
    let port = proxy.port("https");
    let config = client_config(&ca, None, &[b"http/1.1"]);
    // Verification checks the name: success means the right certificate.
    for name in ["localhost", "a.test", "x.b.test"] {
        let text = https_get(port, name, config.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.starts_with("HTTP/1.1 200"), "{name}: {text}");
    }
    // A name no certificate covers gets the default one, which fails to verify.
    assert!(https_get(port, "other.test", config).is_err());
    let got = origin.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].header("x-forwarded-for"), Some("127.0.0.1"));
}

#[test]
fn mutual_tls_requires_a_trusted_client_certificate() {
    let ca = Ca::new();
    let server = ca.leaf(&["localhost"], false);
    let client = ca.leaf(&["client"], true);
    let other_ca = Ca::new();
    let stranger = other_ca.leaf(&["stranger"], true);
    let origin = Origin::echo();
    let tls = "keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\"),
               requireClientCerts = true, trustedCertificates = [ embed \"ca.pem\" ]";
    let ca_pem = ca.pem();
    let files = [
        ("key.pem", server.key.as_str()),
        ("cert.pem", server.cert.as_str()),
        ("ca.pem", ca_pem.as_str()),
    ];
    let proxy = Proxy::new(&socket_config(origin.addr, tls))
        .files(&files)
        .sockets(&["https"])
        .start();
    let port = proxy.port("https");
    let text = https_get(port, "localhost", client_config(&ca, Some(&client), &[])).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(https_get(port, "localhost", client_config(&ca, None, &[])).is_err());
    assert!(https_get(port, "localhost", client_config(&ca, Some(&stranger), &[])).is_err());
    assert_eq!(origin.requests().len(), 1);
}

#[test]
fn http2_clients_are_served_over_alpn_h2() {
    let ca = Ca::new();
    let server = ca.leaf(&["localhost"], false);
    let origin = Origin::echo();
    let tls = "keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\")";
    let files = [("key.pem", server.key.as_str()), ("cert.pem", server.cert.as_str())];
    let proxy = Proxy::new(&socket_config(origin.addr, tls))
        .files(&files)
        .sockets(&["https"])
        .start();
    let port = proxy.port("https");
    let config = client_config(&ca, None, &[b"h2"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut client, conn) = h2::client::handshake(tls).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        for i in 0..3 {
            let req = http::Request::builder()
                .method("POST")
                .uri(format!("https://localhost/h2/{i}"))
                .body(())
                .unwrap();
            let (resp, mut stream) = client.send_request(req, false).unwrap();
            stream.send_data(bytes::Bytes::from_static(b"over h2"), true).unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(h2_body(resp).await, b"over h2");
        }
    });
    let got = origin.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].header("host"), Some("localhost"));
}

#[test]
fn http2_requests_to_a_worker_carry_the_authority_in_the_url() {
    // HTTP/2 has no Host header; the URL a Worker sees must take its host
    // from `:authority` (RELIABILITY W13), the same as HTTP/1.1 gives.
    let ca = Ca::new();
    let server = ca.leaf(&["localhost"], false);
    let script = "export default { fetch(request) {
  const u = new URL(request.url);
  return new Response(`${u.protocol}//${u.host}${u.pathname} ${request.headers.get('host') ?? '-'}`);
} };\n";
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"w\", worker = (modules = [ (name = \"m.js\", esModule = embed \"m.js\") ], compatibilityDate = \"2024-09-01\")) ],
  sockets = [ (name = \"https\", address = \"127.0.0.1:0\", service = \"w\",
    https = (options = (), tlsOptions = (keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\")))) ],
);\n"
    );
    let proxy = Proxy::new(&config)
        .file("m.js", script)
        .file("key.pem", &server.key)
        .file("cert.pem", &server.cert)
        .socket("https")
        .start();
    let port = proxy.port("https");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = rt.block_on(async move {
        let (mut client, _conn) = h2_connect(port, &ca).await;
        let req = http::Request::builder()
            .uri("https://localhost/path/x")
            .body(())
            .unwrap();
        let (resp, _) = client.send_request(req, true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 200);
        String::from_utf8(h2_body(resp).await).unwrap()
    });
    assert!(body.starts_with("https://localhost/path/x "), "{body}");
}

/// HTTP/2 with prior knowledge (h2c) on a plain-text `http` socket, as the
/// schema describes it: a client that opens with the HTTP/2 preface is
/// served over HTTP/2, and HTTP/1.1 on the same socket (a `POST`, whose
/// first byte is the preface's) still is.
#[test]
fn h2c_with_prior_knowledge_on_a_plain_text_socket() {
    let origin = Origin::echo();
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"origin\", external = (address = \"{}\", http = ())) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"origin\") ],
);\n",
        origin.addr
    );
    let proxy = Proxy::new(&config).socket("http").start();
    let port = proxy.port("http");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        for i in 0..2 {
            let req = http::Request::builder()
                .method("POST")
                .uri(format!("http://h2c.test/h2c/{i}"))
                .body(())
                .unwrap();
            let (resp, mut stream) = client.send_request(req, false).unwrap();
            stream.send_data(bytes::Bytes::from_static(b"over h2c"), true).unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(h2_body(resp).await, b"over h2c");
        }
    });
    let (r, _) = exchange(
        port,
        b"POST /h1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    let r = r.expect("no HTTP/1.1 response");
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    let got = origin.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].target, "/h2c/0");
    assert_eq!(got[0].header("host"), Some("h2c.test"));
    assert_eq!(got[2].target, "/h1");
}

/// A one-connection-at-a-time TLS origin that answers every request 200 "tls origin".
fn tls_origin(leaf: &Leaf) -> std::net::SocketAddr {
    tls_origin_with(leaf, None)
}

/// As [`tls_origin`]; with `clients`, the origin requires a client
/// certificate signed by that CA (mutual TLS) and adds to its answer
/// whether the certificate presented is `expected` (DER).
fn tls_origin_with(leaf: &Leaf, clients: Option<(&Ca, Vec<u8>)>) -> std::net::SocketAddr {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let (builder, expected) = match clients {
        Some((ca, expected)) => {
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(ca.roots()), provider())
                    .build()
                    .unwrap();
            (builder.with_client_cert_verifier(verifier), Some(expected))
        }
        None => (builder.with_no_client_auth(), None),
    };
    let config = builder
        .with_single_cert(
            CertificateDer::pem_slice_iter(leaf.cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap(),
            PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap(),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let config = config.clone();
            let expected = expected.clone();
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let n = match tls.read(&mut tmp) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&tmp[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let presented = tls.conn.peer_certificates().and_then(|c| c.first());
                        let body = match (&expected, presented) {
                            (None, _) => "tls origin",
                            (Some(e), Some(c)) if c.as_ref() == e.as_slice() => {
                                "tls origin; client certificate as configured"
                            }
                            (Some(_), _) => "tls origin; some other client certificate",
                        };
                        let resp = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                        if tls.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn https_upstream_verified_against_configured_ca() {
    let ca = Ca::new();
    let leaf = ca.leaf(&["origin.test"], false);
    let origin = tls_origin(&leaf);
    let ca_pem = ca.pem();
    let cfg = |tls: &str| {
        format!(
            "{USING}const config :Workerd.Config = (
  services = [ (name = \"origin\", external = (address = \"{origin}\",
                 https = (options = (), certificateHost = \"origin.test\", tlsOptions = ({tls})))) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"origin\") ],
);\n"
        )
    };
    let files = [("ca.pem", ca_pem.as_str())];
    let proxy = Proxy::new(&cfg("trustedCertificates = [ embed \"ca.pem\" ]"))
        .files(&files)
        .sockets(&["http"])
        .start();
    let r = get(proxy.port("http"), "/", "a");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "tls origin");

    // Browser CAs and the configured CA together: the configured one still counts.
    let proxy = Proxy::new(&cfg(
        "trustBrowserCas = true, trustedCertificates = [ embed \"ca.pem\" ]",
    ))
    .files(&files)
    .sockets(&["http"])
    .start();
    assert_eq!(get(proxy.port("http"), "/", "a").status, 200);

    // Without the CA the origin's certificate is not trusted: 502, never plain
    // HTTP; the public CAs do not vouch for a private one either.
    for tls in ["", "trustBrowserCas = true"] {
        let proxy = Proxy::new(&cfg(tls)).files(&files).sockets(&["http"]).start();
        let r = get(proxy.port("http"), "/", "a");
        assert_eq!(r.status, 502, "{tls}: {}", r.text());
    }
}

/// `tlsOptions.keypair` on an https ExternalServer is the client
/// certificate sent to the origin, on the no-script path and by a Worker's
/// `fetch()`; an origin that requires one refuses the handshake without it
/// (502).
#[test]
fn https_upstream_gets_the_configured_client_certificate() {
    let ca = Ca::new();
    let server = ca.leaf(&["origin.test"], false);
    let client = ca.leaf(&["isoproxy"], true);
    let origin = tls_origin_with(&server, Some((&ca, client.der())));
    let ca_pem = ca.pem();
    let files = [
        ("ca.pem", ca_pem.as_str()),
        ("client.key", client.key.as_str()),
        ("client.pem", client.cert.as_str()),
        (
            "main.js",
            "export default { async fetch(request, env) {\n  try { return await env.ORIGIN.fetch(request); }\n  catch (e) { return new Response(\"fetch failed\", { status: 502 }); }\n} };\n",
        ),
    ];
    let cfg = |tls: &str| {
        format!(
            "{USING}const config :Workerd.Config = (
  services = [
    (name = \"origin\", external = (address = \"{origin}\",
      https = (options = (), certificateHost = \"origin.test\", tlsOptions = (trustedCertificates = [ embed \"ca.pem\" ]{tls})))),
    (name = \"w\", worker = .w),
  ],
  sockets = [
    (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"origin\"),
    (name = \"worker\", address = \"127.0.0.1:0\", http = (), service = \"w\"),
  ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"ORIGIN\", service = \"origin\") ],
);\n"
        )
    };
    let with_cert = cfg(", keypair = (privateKey = embed \"client.key\", certificateChain = embed \"client.pem\")");
    let proxy = Proxy::new(&with_cert)
        .files(&files)
        .sockets(&["http", "worker"])
        .start();
    for socket in ["http", "worker"] {
        let r = get(proxy.port(socket), "/", "origin.test");
        assert_eq!(r.status, 200, "{socket}: {}", r.text());
        assert_eq!(r.text(), "tls origin; client certificate as configured", "{socket}");
    }

    // Without it: 502, and the Worker's fetch() rejects (the Worker turns
    // that into its own 502).
    let proxy = Proxy::new(&cfg("")).files(&files).sockets(&["http", "worker"]).start();
    for socket in ["http", "worker"] {
        let r = get(proxy.port(socket), "/", "origin.test");
        assert_eq!(r.status, 502, "{socket}: {}", r.text());
    }
    assert_eq!(get(proxy.port("worker"), "/", "origin.test").text(), "fetch failed");
}

/// The same for a Network: a Worker whose global `fetch()` goes through
/// the Network presents its `tlsOptions.keypair` to the origin.
#[test]
fn network_gets_the_configured_client_certificate() {
    let ca = Ca::new();
    let server = ca.leaf(&["127.0.0.1"], false);
    let client = ca.leaf(&["isoproxy"], true);
    let origin = tls_origin_with(&server, Some((&ca, client.der())));
    let ca_pem = ca.pem();
    let script = format!(
        "export default {{ async fetch() {{\n  try {{ return await fetch(\"https://{origin}/from-worker\"); }}\n  catch (e) {{ return new Response(\"fetch failed\", {{ status: 502 }}); }}\n}} }};\n"
    );
    let files = [
        ("ca.pem", ca_pem.as_str()),
        ("client.key", client.key.as_str()),
        ("client.pem", client.cert.as_str()),
        ("main.js", script.as_str()),
    ];
    let cfg = |tls: &str| {
        format!(
            "{USING}const config :Workerd.Config = (
  services = [
    (name = \"net\", network = (allow = [\"local\"], tlsOptions = (trustedCertificates = [ embed \"ca.pem\" ]{tls}))),
    (name = \"w\", worker = .w),
  ],
  sockets = [
    (name = \"worker\", address = \"127.0.0.1:0\", http = (), service = \"w\"),
  ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  globalOutbound = \"net\",
);\n"
        )
    };
    let with_cert = cfg(", keypair = (privateKey = embed \"client.key\", certificateChain = embed \"client.pem\")");
    let proxy = Proxy::new(&with_cert).files(&files).socket("worker").start();
    let r = get(proxy.port("worker"), "/", "a");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "tls origin; client certificate as configured")
    );

    let proxy = Proxy::new(&cfg("")).files(&files).socket("worker").start();
    let r = get(proxy.port("worker"), "/", "a");
    assert_eq!((r.status, r.text().as_str()), (502, "fetch failed"));
}

/// A keypair that cannot be used as a client certificate is refused at
/// start-up, by `check` as by `serve`, not at the first connection.
#[test]
fn unusable_client_keypair_is_a_config_error() {
    let ca = Ca::new();
    let client = ca.leaf(&["isoproxy"], true);
    let other = ca.leaf(&["someone else"], true);
    let dir = scratch_dir();
    let cases = [
        (
            "not PEM",
            "no certificate here",
            client.key.as_str(),
            "tlsOptions.keypair: no certificate in PEM text",
        ),
        (
            "key of another certificate",
            client.cert.as_str(),
            other.key.as_str(),
            "tlsOptions.keypair: the private key does not match the certificate",
        ),
    ];
    for (name, cert, key, want) in cases {
        std::fs::write(dir.join("client.pem"), cert).unwrap();
        std::fs::write(dir.join("client.key"), key).unwrap();
        let cfg = dir.join("config.capnp");
        std::fs::write(
            &cfg,
            format!(
                "{USING}const config :Workerd.Config = (
  services = [ (name = \"origin\", external = (address = \"127.0.0.1:9\",
    https = (options = (), tlsOptions = (trustBrowserCas = true,
      keypair = (privateKey = embed \"client.key\", certificateChain = embed \"client.pem\"))))) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"origin\") ],
);\n"
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
            .arg("check")
            .arg(&cfg)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{name}: {stderr}");
        assert!(
            stderr.contains("service origin: ") && stderr.contains(want),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn reload_swaps_the_certificate_and_sends_http2_connections_goaway() {
    let (old_ca, new_ca) = (Ca::new(), Ca::new());
    let (old, new) = (old_ca.leaf(&["localhost"], false), new_ca.leaf(&["localhost"], false));
    let origin = Origin::echo();
    let tls = "keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\")";
    let files = [("key.pem", old.key.as_str()), ("cert.pem", old.cert.as_str())];
    let proxy = Proxy::new(&socket_config(origin.addr, tls))
        .files(&files)
        .sockets(&["https"])
        .start();
    let port = proxy.port("https");
    let old_h1 = client_config(&old_ca, None, &[b"http/1.1"]);
    let new_h1 = client_config(&new_ca, None, &[b"http/1.1"]);
    assert!(https_get(port, "localhost", old_h1.clone())
        .unwrap()
        .starts_with("HTTP/1.1 200"));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h2_config = client_config(&old_ca, None, &[b"h2"]);
    let (client, conn) = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(h2_config)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        h2::client::handshake(tls).await.unwrap()
    });
    let conn = rt.spawn(conn);
    let get = |client: &mut h2::client::SendRequest<bytes::Bytes>| {
        let req = http::Request::builder().uri("https://localhost/h2").body(()).unwrap();
        let (resp, _) = client.send_request(req, true).unwrap();
        resp
    };
    rt.block_on(async {
        let mut ready = client.clone().ready().await.unwrap();
        assert_eq!(get(&mut ready).await.unwrap().status(), 200);
    });

    proxy.write_file("key.pem", &new.key);
    proxy.write_file("cert.pem", &new.cert);
    let ev = proxy.reload();
    assert_eq!(ev["result"], "ok", "{ev}");
    // New connections get the new certificate.
    assert!(https_get(port, "localhost", new_h1)
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    assert!(https_get(port, "localhost", old_h1).is_err());
    // The HTTP/2 connection made before the reload is told to go away (it
    // had no stream open, so it ends; without the GOAWAY it would stay up
    // for the 60 s idle timeout).
    let ended = rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(10), conn).await });
    assert!(matches!(ended, Ok(Ok(_))), "{ended:?}");
    rt.block_on(async {
        assert!(client.ready().await.is_err(), "the old connection still takes requests");
    });
    // HTTP/1.1 before, HTTP/2, HTTP/1.1 after (the refused handshake sent nothing).
    assert_eq!(origin.requests().len(), 3);
}

/// An HTTP/2 connection (TLS, ALPN h2) to the proxy's https socket, and
/// the task driving it.
async fn h2_connect(
    port: u16,
    ca: &Ca,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(client_config(ca, None, &[b"h2"]));
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (client, conn) = h2::client::handshake(tls).await.unwrap();
    (client, tokio::spawn(conn))
}

/// The whole body of an HTTP/2 response, releasing flow-control capacity
/// as it arrives.
async fn h2_body(resp: http::Response<h2::RecvStream>) -> Vec<u8> {
    let mut body = resp.into_body();
    let mut got = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        got.extend_from_slice(&chunk);
    }
    got
}

async fn h2_get(client: &mut h2::client::SendRequest<bytes::Bytes>, path: &str) -> u16 {
    let req = http::Request::builder()
        .uri(format!("https://localhost{path}"))
        .body(())
        .unwrap();
    let (resp, _) = client.send_request(req, true).unwrap();
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
    }
    status
}

#[test]
fn http2_concurrency_is_capped_and_rapid_reset_is_bounded() {
    let ca = Ca::new();
    let server = ca.leaf(&["localhost"], false);
    let origin = Origin::echo();
    let tls = "keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\")";
    let files = [("key.pem", server.key.as_str()), ("cert.pem", server.cert.as_str())];
    let proxy = Proxy::new(&socket_config(origin.addr, tls))
        .files(&files)
        .sockets(&["https"])
        .start();
    let port = proxy.port("https");
    let pid = proxy.pid();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // L7: the advertised SETTINGS_MAX_CONCURRENT_STREAMS.
        let (mut client, _conn) = h2_connect(port, &ca).await;
        assert_eq!(h2_get(&mut client, "/first").await, 200);
        let max = client.current_max_send_streams();
        eprintln!("SETTINGS_MAX_CONCURRENT_STREAMS advertised: {max}");
        assert!(max <= 100 && max > 0, "{max}");

        // O6: HEADERS + RST_STREAM pairs on one connection.
        let (mut client, conn) = h2_connect(port, &ca).await;
        let start = std::time::Instant::now();
        let mut sent = 0u32;
        for i in 0..10_000 {
            let ready = tokio::time::timeout(std::time::Duration::from_secs(5), client.ready()).await;
            let Ok(Ok(c)) = ready else { break };
            client = c;
            let req = http::Request::builder()
                .uri(format!("https://localhost/reset/{i}"))
                .body(())
                .unwrap();
            let Ok((_resp, mut stream)) = client.send_request(req, false) else {
                break;
            };
            stream.send_reset(h2::Reason::CANCEL);
            sent += 1;
        }
        let conn_result = tokio::time::timeout(std::time::Duration::from_secs(10), conn).await;
        eprintln!(
            "rapid reset: {sent} pairs sent in {:?}; connection ended: {conn_result:?}",
            start.elapsed()
        );
        // The server ends the connection (h2's cap on resets of streams
        // not yet accepted: GOAWAY, then close) rather than serving them.
        assert!(
            matches!(conn_result, Ok(Ok(Err(_)))),
            "connection still open after the flood: {conn_result:?}"
        );

        // A fresh connection is served promptly afterwards.
        let probe = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let (mut client, _conn) = h2_connect(port, &ca).await;
            h2_get(&mut client, "/probe").await
        })
        .await;
        assert_eq!(probe.ok(), Some(200), "probe after the reset flood");
    });
    let reached = origin
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/reset/"))
        .count();
    eprintln!("requests of reset streams that reached the origin: {reached}");
    assert!(reached <= 100, "{reached} reset streams reached the origin");
    assert_eq!(proxy.pid(), pid);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "proxy died");
}

/// One HTTP/2 frame: (type, flags, stream id, payload).
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Read one frame; `None` on EOF or error.
fn h2_read_frame(r: &mut impl Read) -> Option<(u8, u8, u32, Vec<u8>)> {
    let mut head = [0u8; 9];
    r.read_exact(&mut head).ok()?;
    let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).ok()?;
    Some((head[3], head[4], stream, payload))
}

#[test]
fn http2_stream_over_the_advertised_limit_is_refused() {
    let ca = Ca::new();
    let server = ca.leaf(&["localhost"], false);
    let origin = Origin::echo();
    let tls = "keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\")";
    let files = [("key.pem", server.key.as_str()), ("cert.pem", server.cert.as_str())];
    let proxy = Proxy::new(&socket_config(origin.addr, tls))
        .files(&files)
        .sockets(&["https"])
        .start();
    let config = client_config(&ca, None, &[b"h2"]);
    let conn = rustls::ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", proxy.port("https"))).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    s.write_all(&h2_frame(4, 0, 0, &[])).unwrap();
    // Wait for the server's SETTINGS and acknowledge them, so its stream
    // limit is in force.
    loop {
        let (kind, flags, _, _) = h2_read_frame(&mut s).expect("no SETTINGS from the server");
        if kind == 4 && flags & 1 == 0 {
            s.write_all(&h2_frame(4, 1, 0, &[])).unwrap();
            break;
        }
    }
    // HEADERS for a POST whose body never comes: each stream stays open.
    // HPACK: :method POST (static 3), :scheme https (7), :path / (4),
    // :authority localhost (literal, name index 1).
    let mut block = vec![0x83, 0x87, 0x84, 0x41, 9];
    block.extend_from_slice(b"localhost");
    for i in 0..101u32 {
        s.write_all(&h2_frame(1, 0x4, 1 + 2 * i, &block)).unwrap();
    }
    s.flush().unwrap();
    // Stream 101 (id 201) is reset with REFUSED_STREAM (0x7).
    let mut refused = None;
    while let Some((kind, _, stream, payload)) = h2_read_frame(&mut s) {
        if kind == 3 {
            refused = Some((
                stream,
                u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]),
            ));
            break;
        }
        if kind == 7 {
            panic!("GOAWAY instead of a refused stream: {payload:?}");
        }
    }
    assert_eq!(refused, Some((201, 7)));
}

#[test]
fn sigterm_lets_an_http2_stream_finish_then_closes_the_connection() {
    let ca = Ca::new();
    let server = ca.leaf(&["localhost"], false);
    let origin = Origin::start(|_| {
        // In flight when SIGTERM arrives.
        std::thread::sleep(std::time::Duration::from_millis(500));
        Reply::ok("finished")
    });
    let tls = "keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\")";
    let files = [("key.pem", server.key.as_str()), ("cert.pem", server.cert.as_str())];
    let mut proxy = Proxy::new(&socket_config(origin.addr, tls))
        .files(&files)
        .sockets(&["https"])
        .start();
    let port = proxy.port("https");
    let config = client_config(&ca, None, &[b"h2"]);
    // A worker thread drives the connection while this thread waits.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (client, conn) = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        h2::client::handshake(tls).await.unwrap()
    });
    let conn = rt.spawn(conn);
    let exchange = rt.spawn(async move {
        let mut ready = client.ready().await.unwrap();
        let req = http::Request::builder().uri("https://localhost/slow").body(()).unwrap();
        let resp = ready.send_request(req, true).unwrap().0.await.unwrap();
        let status = resp.status();
        let mut body = resp.into_body();
        let mut got = Vec::new();
        while let Some(chunk) = body.data().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        (status, got)
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while origin.requests().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(origin.requests().len(), 1, "the request never reached the origin");
    proxy.signal(libc::SIGTERM);
    let (status, got) = rt.block_on(exchange).unwrap();
    assert_eq!(status, 200);
    assert_eq!(got, b"finished");
    // The connection ends (after GOAWAY, the server closes it; the client
    // may report a clean end or a broken pipe on its last write).
    let ended = rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(10), conn).await });
    assert!(matches!(ended, Ok(Ok(_))), "{ended:?}");
    assert_eq!(proxy.wait_exit(std::time::Duration::from_secs(10)), Some(0));
}

/// `GET https://host/` sent to a forward proxy (absolute form) leaves over
/// TLS, verified against the Network's trusted certificates; it is never
/// sent to the origin as plain text.
#[test]
fn absolute_form_https_on_a_proxy_socket_leaves_over_tls() {
    let ca = Ca::new();
    let server = ca.leaf(&["127.0.0.1"], false);
    let origin = tls_origin(&server);
    let ca_pem = ca.pem();
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"net\", network = (allow = [\"local\"], tlsOptions = (trustedCertificates = [ embed \"ca.pem\" ]))) ],
  sockets = [ (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"net\") ],
);\n"
    );
    let proxy = Proxy::new(&config).file("ca.pem", &ca_pem).socket("fwd").start();
    let raw = format!("GET https://{origin}/abs HTTP/1.1\r\nHost: {origin}\r\nConnection: close\r\n\r\n");
    let (r, _) = exchange(proxy.port("fwd"), raw.as_bytes());
    let r = r.expect("no response");
    assert_eq!((r.status, r.text().as_str()), (200, "tls origin"));
}
