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
  if (url.pathname === '/byob') {
    // The request body read with a BYOB reader, 4 bytes at most per read.
    const reader = request.body.getReader({ mode: 'byob' });
    const parts = [];
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(4));
      if (done) break;
      parts.push(new TextDecoder().decode(value));
    }
    return new Response(parts.join('|'));
  }
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

/// The platform Worker on a plain and a TLS socket, with the PKI behind the
/// TLS one.
fn start_platform() -> (Proxy, Pki) {
    let pki = pki(&["localhost"]);
    let proxy = Proxy::new(&platform_config())
        .file("m.js", PLATFORM_WORKER)
        .file("key.pem", &pki.leaf_key)
        .file("cert.pem", &pki.leaf_cert)
        .sockets(&["http", "https"])
        .start();
    (proxy, pki)
}

#[test]
fn request_cf_carries_what_the_proxy_knows_of_the_client() {
    let (proxy, pki) = start_platform();

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
fn request_bodies_are_byte_streams_a_byob_reader_can_read() {
    let (proxy, _pki) = start_platform();
    let (r, _) = exchange(
        proxy.port("http"),
        b"POST /byob HTTP/1.1\r\nHost: b.test\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcdefghij",
    );
    let r = r.unwrap();
    assert_eq!(r.status, 200, "{}", proxy.stderr_text());
    // Each read fills at most its 4-byte view; the last one ends the body.
    let parts: Vec<String> = r.text().split('|').map(String::from).collect();
    assert_eq!(parts.concat(), "abcdefghij", "{}", r.text());
    assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= 4), "{}", r.text());
}

#[test]
fn fixed_length_stream_sets_the_content_length_on_the_wire() {
    let (proxy, _pki) = start_platform();
    let port = proxy.port("http");
    // path → Content-Length, Transfer-Encoding, complete body
    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let rows: &[Row] = &[
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

/// The CA every TLS server of the socket tests below uses, trusted by the
/// isoproxy children through `SSL_CERT_FILE` (the platform store a socket's
/// TLS trusts; set once for this test binary, before any child starts).
fn socket_pki() -> &'static Pki {
    static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let pki = pki(&["localhost", "127.0.0.1"]);
        let path = scratch_dir().join("socket-ca.pem");
        std::fs::write(&path, &pki.ca_pem).unwrap();
        std::env::set_var("SSL_CERT_FILE", &path);
        pki
    })
}

/// A TCP server on 127.0.0.1 that speaks TLS with the `socket_pki` leaf.
/// `starttls`: the client first sends "STARTTLS\n" in plain text and gets
/// "GO\n". Over TLS it reads to the end, then answers "tls-echo:" + what
/// it read and closes.
fn tls_echo_server(starttls: bool) -> u16 {
    use rustls::pki_types::pem::PemObject;
    let pki = socket_pki();
    let certs = CertificateDer::pem_slice_iter(pki.leaf_cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.leaf_key.as_bytes()).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { return };
            let config = config.clone();
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                if starttls {
                    let mut line = Vec::new();
                    let mut b = [0u8; 1];
                    while tcp.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
                        line.push(b[0]);
                    }
                    if line != b"STARTTLS" {
                        let _ = tcp.write_all(b"NO\n");
                        return;
                    }
                    tcp.write_all(b"GO\n").unwrap();
                }
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut got = Vec::new();
                if tls.read_to_end(&mut got).is_err() {
                    return;
                }
                let _ = tls.write_all(b"tls-echo:");
                let _ = tls.write_all(&got);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

const SOCKET_WORKER: &str = "import { connect } from 'cloudflare:sockets';
export default { async fetch(request) {
  const url = new URL(request.url);
  const port = Number(url.searchParams.get('port'));
  const mode = url.pathname.slice(1);
  const address = { hostname: '127.0.0.1', port };
  try {
    if (mode === 'on') {
      const socket = connect(address, { secureTransport: 'on' });
      const w = socket.writable.getWriter();
      await w.write('hello over tls');
      await w.close();
      const text = await new Response(socket.readable).text();
      return new Response(`${socket.secureTransport} ${text}`);
    }
    if (mode === 'starttls' || mode === 'wrongname') {
      const plain = connect(address, { secureTransport: 'starttls' });
      const pw = plain.writable.getWriter();
      await pw.write('STARTTLS\\n');
      pw.releaseLock();
      const reader = plain.readable.getReader();
      const { value } = await reader.read();
      reader.releaseLock();
      const tls = plain.startTls(mode === 'wrongname' ? { expectedServerHostname: 'wrong.test' } : undefined);
      await tls.opened;
      const w = tls.writable.getWriter();
      await w.write(new TextEncoder().encode('secret'));
      await w.close();
      const text = await new Response(tls.readable).text();
      return new Response(`${new TextDecoder().decode(value).trim()} ${plain.secureTransport}->${tls.secureTransport} upgraded=${tls.upgraded} ${text}`);
    }
    if (mode === 'errors') {
      const out = [];
      for (const f of [
        () => connect(address, { secureTransport: 'bogus' }),
        () => connect(address).startTls(),
        () => { const s = connect(address, { secureTransport: 'starttls' }); s.startTls(); s.startTls(); },
      ]) {
        try { f(); out.push('no error'); } catch (e) { out.push(`${e.constructor.name}: ${e.message}`); }
      }
      return new Response(out.join('\\n'));
    }
  } catch (e) {
    return new Response('error: ' + e.message, { status: 502 });
  }
  return new Response('?', { status: 404 });
} };";

fn socket_config(ports: &[u16]) -> String {
    let ports = ports.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"net\", network = (allow = [\"local\"], connectPorts = [{ports}])),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"m.js\", esModule = embed \"m.js\") ],
  compatibilityDate = \"2024-09-01\",
  globalOutbound = \"net\",
);\n"
    )
}

#[test]
fn sockets_speak_tls_with_secure_transport_on_and_start_tls() {
    socket_pki();
    let tls_port = tls_echo_server(false);
    let starttls_port = tls_echo_server(true);
    let proxy = Proxy::new(&socket_config(&[tls_port, starttls_port]))
        .file("m.js", SOCKET_WORKER)
        .socket("http")
        .start();
    let port = proxy.port("http");
    // request → status, body (prefix for the error row)
    let rows: Vec<(String, u16, &str)> = vec![
        (format!("/on?port={tls_port}"), 200, "on tls-echo:hello over tls"),
        (
            format!("/starttls?port={starttls_port}"),
            200,
            "GO starttls->on upgraded=true tls-echo:secret",
        ),
        // The certificate is for localhost and 127.0.0.1: another expected
        // name fails the handshake, and `opened` rejects with why.
        (
            format!("/wrongname?port={starttls_port}"),
            502,
            "error: TLS handshake failed: invalid peer certificate",
        ),
        // TLS to a server that speaks plain text first fails the same way.
        (format!("/on?port={starttls_port}"), 502, "error: TLS handshake failed"),
        (
            format!("/errors?port={tls_port}"),
            200,
            "TypeError: connect(): secureTransport must be \"off\", \"on\" or \"starttls\", not \"bogus\"\n\
             TypeError: startTls() can only be called on a socket opened with secureTransport: \"starttls\"\n\
             TypeError: startTls() can only be called once",
        ),
    ];
    for (path, status, body) in rows {
        let r = get(port, &path, "sockets.test");
        assert_eq!(r.status, status, "{path}: {}\n{}", r.text(), proxy.stderr_text());
        assert!(r.text().starts_with(body), "{path}: {}", r.text());
    }
}

#[test]
fn fixed_length_stream_request_bodies_reach_the_origin_with_a_content_length() {
    let origin = Origin::echo();
    let script = "export default { async fetch(request, env) {
  const fixed = new URL(request.url).pathname === '/fixed';
  const { readable, writable } = fixed ? new FixedLengthStream(9) : new IdentityTransformStream();
  const w = writable.getWriter();
  w.write(new TextEncoder().encode('up'));
  w.write(new TextEncoder().encode('loaded!'));
  w.close();
  const r = await env.ORIGIN.fetch('http://origin.test/in', { method: 'POST', body: readable });
  return new Response(await r.text());
} };";
    let proxy = Proxy::new(&gateway_config(origin.addr, "main.js", ""))
        .file("main.js", script)
        .socket("http")
        .start();
    // path → the origin's Content-Length, Transfer-Encoding
    let rows: &[(&str, Option<&str>, Option<&str>)] =
        &[("/fixed", Some("9"), None), ("/identity", None, Some("chunked"))];
    for (path, length, te) in rows {
        let r = get(proxy.port("http"), path, "fls.test");
        assert_eq!(r.status, 200, "{path}: {}", proxy.stderr_text());
        assert_eq!(r.text(), "uploaded!", "{path}");
        let got = origin.requests().pop().unwrap();
        assert_eq!(got.header("content-length"), *length, "{path}");
        assert_eq!(got.header("transfer-encoding"), *te, "{path}");
    }
}
