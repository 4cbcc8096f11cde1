//! HTTP/2 to origins and gRPC end to end, without a script: an h2c client
//! (prior knowledge) through the proxy to an h2c origin (`http2 = only`),
//! with `TE: trailers`, messages streamed both ways and trailers carried
//! back. Built on the `h2` crate on both sides (no gRPC framework: the
//! proxy sees only HTTP/2 frames).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use support::*;

/// One length-prefixed gRPC message.
fn frame(payload: &[u8]) -> Bytes {
    let mut b = vec![0u8];
    b.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    b.extend_from_slice(payload);
    Bytes::from(b)
}

/// What the origin saw of each call: path, te header, messages.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Vec<Bytes>)>>>;

/// An h2c origin: `/echo.Echo/Stream` answers each request message with
/// `echo:` + message as it arrives, then `grpc-status: 0`; `/echo.Echo/Fail`
/// answers trailers-only with `grpc-status: 13`.
fn start_origin(rt: &tokio::runtime::Runtime) -> (std::net::SocketAddr, Seen) {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let record = record.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    let record = record.clone();
                    tokio::spawn(async move {
                        let path = req.uri().path().to_string();
                        let te = req.headers().get("te").map(|v| v.to_str().unwrap().to_string());
                        let mut body = req.into_body();
                        let resp = http::Response::builder()
                            .status(200)
                            .header("content-type", "application/grpc")
                            .body(())
                            .unwrap();
                        let mut trailers = http::HeaderMap::new();
                        if path == "/echo.Echo/Fail" {
                            let resp = http::Response::builder()
                                .status(200)
                                .header("content-type", "application/grpc")
                                .header("grpc-status", "13")
                                .header("grpc-message", "boom")
                                .body(())
                                .unwrap();
                            while let Some(Ok(d)) = body.data().await {
                                let _ = body.flow_control().release_capacity(d.len());
                            }
                            record.lock().unwrap().push((path, te, vec![]));
                            let _ = respond.send_response(resp, true);
                            return;
                        }
                        let mut send = respond.send_response(resp, false).unwrap();
                        let mut got = Vec::new();
                        while let Some(Ok(d)) = body.data().await {
                            let _ = body.flow_control().release_capacity(d.len());
                            got.push(d.clone());
                            let mut echo = b"echo:".to_vec();
                            echo.extend_from_slice(&d[5..]);
                            send.send_data(frame(&echo), false).unwrap();
                        }
                        record.lock().unwrap().push((path, te, got));
                        trailers.insert("grpc-status", "0".parse().unwrap());
                        trailers.insert("grpc-message", "done".parse().unwrap());
                        send.send_trailers(trailers).unwrap();
                    });
                }
            });
        }
    });
    (addr, seen)
}

#[test]
fn grpc_unary_streaming_and_error_through_h2c() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (origin, seen) = start_origin(&rt);
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"grpc\", external = (address = \"{origin}\", http = (), http2 = only)) ],
  sockets = [ (name = \"h2c\", address = \"127.0.0.1:0\", http = (), service = \"grpc\") ],
);
"
    );
    let proxy = Proxy::new(&config).socket("h2c").start();
    let port = proxy.port("h2c");
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let call = |path: &str| {
            http::Request::builder()
                .method("POST")
                .uri(format!("http://grpc.test{path}"))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(())
                .unwrap()
        };

        // Bidirectional streaming: each message is answered before the next
        // is sent, so nothing is buffered to the end on either hop.
        let mut c = client.clone().ready().await.unwrap();
        let (resp, mut send) = c.send_request(call("/echo.Echo/Stream"), false).unwrap();
        send.send_data(frame(b"one"), false).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/grpc");
        let mut body = resp.into_body();
        let first = body.data().await.unwrap().unwrap();
        let _ = body.flow_control().release_capacity(first.len());
        assert_eq!(&first[..], &frame(b"echo:one")[..]);
        send.send_data(frame(b"two"), true).unwrap();
        let second = body.data().await.unwrap().unwrap();
        let _ = body.flow_control().release_capacity(second.len());
        assert_eq!(&second[..], &frame(b"echo:two")[..]);
        assert!(body.data().await.is_none());
        let trailers = body.trailers().await.unwrap().expect("trailers");
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(trailers["grpc-message"], "done");

        // Unary.
        let mut c = client.clone().ready().await.unwrap();
        let (resp, mut send) = c.send_request(call("/echo.Echo/Stream"), false).unwrap();
        send.send_data(frame(b"unary"), true).unwrap();
        let mut body = resp.await.unwrap().into_body();
        let mut data = Vec::new();
        while let Some(d) = body.data().await {
            let d = d.unwrap();
            let _ = body.flow_control().release_capacity(d.len());
            data.extend_from_slice(&d);
        }
        assert_eq!(data, frame(b"echo:unary").to_vec());
        assert_eq!(body.trailers().await.unwrap().expect("trailers")["grpc-status"], "0");

        // An error status, trailers-only.
        let mut c = client.clone().ready().await.unwrap();
        let (resp, mut send) = c.send_request(call("/echo.Echo/Fail"), false).unwrap();
        send.send_data(frame(b"x"), true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 200);
        let status = resp
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().to_string());
        let mut body = resp.into_body();
        while let Some(d) = body.data().await {
            let _ = d.unwrap();
        }
        let trailer_status = body
            .trailers()
            .await
            .unwrap()
            .and_then(|t| t.get("grpc-status").map(|v| v.to_str().unwrap().to_string()));
        assert_eq!(status.or(trailer_status).as_deref(), Some("13"));
    });
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (path, te, _) in &seen {
        assert_eq!(te.as_deref(), Some("trailers"), "{path}: TE must reach the origin");
    }
    assert_eq!(seen[0].2.len(), 2, "both streamed messages reached the origin");
}

/// An https origin offering `alpn`: over h2 it answers `h2`, over
/// HTTP/1.1 `http/1.1` (in the body and `x-proto`).
fn tls_origin(rt: &tokio::runtime::Runtime, alpn: &[&[u8]]) -> (std::net::SocketAddr, String) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert = rcgen::generate_simple_self_signed(vec!["origin.test".to_string()]).unwrap();
    let pem = cert.cert.pem();
    let key = PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.cert.der().to_vec())], key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    let Ok(mut conn) = h2::server::handshake(tls).await else { return };
                    while let Some(Ok((_req, mut respond))) = conn.accept().await {
                        let resp = http::Response::builder().status(200).header("x-proto", "h2").body(()).unwrap();
                        if let Ok(mut send) = respond.send_response(resp, false) {
                            let _ = send.send_data(Bytes::from_static(b"h2"), true);
                        }
                    }
                } else {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut tls = tls;
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    }
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\nx-proto: http/1.1\r\ncontent-length: 8\r\nconnection: close\r\n\r\nhttp/1.1")
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    (addr, pem)
}

#[test]
fn https_origins_negotiate_http2_by_alpn() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (h2_origin, h2_pem) = tls_origin(&rt, &[b"h2", b"http/1.1"]);
    let (h1_origin, h1_pem) = tls_origin(&rt, &[b"http/1.1"]);
    let service = |name: &str, addr: std::net::SocketAddr, mode: &str| {
        format!(
            "(name = \"{name}\", external = (address = \"{addr}\", http2 = {mode},
               https = (options = (), certificateHost = \"origin.test\",
                        tlsOptions = (trustedCertificates = [ embed \"{name}.pem\" ])))),"
        )
    };
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    {}
    {}
    {}
    {}
  ],
  sockets = [
    (name = \"h2\", address = \"127.0.0.1:0\", http = (), service = \"h2\"),
    (name = \"h1\", address = \"127.0.0.1:0\", http = (), service = \"h1\"),
    (name = \"off\", address = \"127.0.0.1:0\", http = (), service = \"off\"),
    (name = \"only\", address = \"127.0.0.1:0\", http = (), service = \"only\"),
  ],
);
",
        service("h2", h2_origin, "negotiate"),
        service("h1", h1_origin, "negotiate"),
        service("off", h2_origin, "off"),
        service("only", h2_origin, "only"),
    );
    let files = [
        ("h2.pem", h2_pem.as_str()),
        ("h1.pem", h1_pem.as_str()),
        ("off.pem", h2_pem.as_str()),
        ("only.pem", h2_pem.as_str()),
    ];
    let proxy = Proxy::new(&config)
        .files(&files)
        .sockets(&["h2", "h1", "off", "only"])
        .start();
    // socket (HTTP/1.1 client) -> protocol the origin was reached with
    for (socket, want) in [("h2", "h2"), ("h1", "http/1.1"), ("off", "http/1.1"), ("only", "h2")] {
        let r = get(proxy.port(socket), "/", "origin.test");
        assert_eq!(r.status, 200, "{socket}: {}", r.text());
        assert_eq!(r.text(), want, "{socket}");
    }
}

/// An h2c origin that answers `grpc.health.v1.Health/Check` with SERVING
/// while `serving` is set (NOT_SERVING otherwise), and anything else with
/// 200 and its `name` in `x-origin`.
fn health_origin(
    rt: &tokio::runtime::Runtime,
    name: &'static str,
    serving: Arc<std::sync::atomic::AtomicBool>,
) -> std::net::SocketAddr {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let serving = serving.clone();
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    let serving = serving.clone();
                    tokio::spawn(async move {
                        let health = req.uri().path() == "/grpc.health.v1.Health/Check";
                        let mut body = req.into_body();
                        while let Some(Ok(d)) = body.data().await {
                            let _ = body.flow_control().release_capacity(d.len());
                        }
                        let resp = http::Response::builder()
                            .status(200)
                            .header("content-type", "application/grpc")
                            .header("x-origin", name)
                            .body(())
                            .unwrap();
                        let Ok(mut send) = respond.send_response(resp, false) else {
                            return;
                        };
                        if health {
                            let status = if serving.load(std::sync::atomic::Ordering::SeqCst) {
                                1
                            } else {
                                2
                            };
                            let _ = send.send_data(frame(&[0x08, status]), false);
                            let mut t = http::HeaderMap::new();
                            t.insert("grpc-status", "0".parse().unwrap());
                            let _ = send.send_trailers(t);
                        } else {
                            let _ = send.send_data(Bytes::from_static(b"ok"), true);
                        }
                    });
                }
            });
        }
    });
    addr
}

#[test]
fn grpc_health_checks_take_a_not_serving_origin_out() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let a_serving = Arc::new(AtomicBool::new(true));
    let a = health_origin(&rt, "a", a_serving.clone());
    let b = health_origin(&rt, "b", Arc::new(AtomicBool::new(true)));
    let config = format!(
        "{USING}const config :Workerd.Config = (
  admin = (address = \"127.0.0.1:0\"),
  services = [ (name = \"pool\", external = (addresses = [\"{a}\", \"{b}\"], http = (), http2 = only,
                healthCheck = (grpc = \"\", intervalMs = 100, rise = 2, fall = 2))) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"pool\") ],
);
"
    );
    let proxy = Proxy::new(&config).socket("http").listeners(&["admin"]).start();
    let admin = proxy.port("admin");
    let state = |addr: std::net::SocketAddr| -> Option<bool> {
        let v: serde_json::Value = serde_json::from_str(&get(admin, "/upstreams", "admin").text()).unwrap();
        v["upstreams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["address"] == addr.to_string())
            .and_then(|u| u["healthy"].as_bool())
    };
    let wait = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !cond() {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let origins_of = |n: usize| {
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        for _ in 0..n {
            let r = get(proxy.port("http"), "/x", "pool.test");
            assert_eq!(r.status, 200, "{}", r.text());
            *seen.entry(r.header("x-origin").unwrap_or("?").to_string()).or_default() += 1;
        }
        seen
    };
    wait("both serving", &|| state(a) == Some(true) && state(b) == Some(true));
    assert_eq!(origins_of(10).len(), 2);
    a_serving.store(false, Ordering::SeqCst);
    wait("a not serving", &|| state(a) == Some(false));
    assert_eq!(origins_of(10).get("b"), Some(&10));
    a_serving.store(true, Ordering::SeqCst);
    wait("a serving again", &|| state(a) == Some(true));
    assert_eq!(origins_of(10).len(), 2);
}
