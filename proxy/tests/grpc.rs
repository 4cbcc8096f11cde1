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
