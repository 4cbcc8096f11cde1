//! End-to-end: the socket's `compression` option on the no-script path.
//! Off by default; when on, text-like responses not encoded already and not
//! too small are sent in gzip or brotli per the client's Accept-Encoding
//! (checked here by real decoders), with `Vary: Accept-Encoding`; a Worker's
//! responses are left alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Read;

use support::*;

fn page() -> String {
    (0..2000).map(|i| format!("<p>line {i}</p>\n")).collect()
}

fn origin() -> Origin {
    Origin::start(|r| {
        let (ctype, body, extra): (&str, Vec<u8>, Vec<(String, String)>) = match r.target.as_str() {
            "/small" => ("text/plain", b"tiny".to_vec(), vec![]),
            "/png" => ("image/png", page().into_bytes(), vec![]),
            "/encoded" => (
                "text/html",
                b"already-encoded-bytes".repeat(50),
                vec![("content-encoding".into(), "gzip".into())],
            ),
            "/no-transform" => (
                "text/html",
                page().into_bytes(),
                vec![("cache-control".into(), "no-transform".into())],
            ),
            "/chunked" => ("application/json", page().into_bytes(), vec![]),
            _ => (
                "text/html; charset=utf-8",
                page().into_bytes(),
                vec![("etag".into(), "\"v1\"".into())],
            ),
        };
        let mut headers = vec![("content-type".to_string(), ctype.to_string())];
        headers.extend(extra);
        Reply {
            status: 200,
            headers,
            body,
            chunked: r.target == "/chunked",
        }
    })
}

fn request(port: u16, path: &str, accept: Option<&str>) -> Response {
    let ae = accept.map(|a| format!("Accept-Encoding: {a}\r\n")).unwrap_or_default();
    let raw = format!("GET {path} HTTP/1.1\r\nHost: a\r\n{ae}Connection: close\r\n\r\n");
    exchange(port, raw.as_bytes()).0.expect("no response")
}

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b).read_to_string(&mut s).expect("gzip");
    s
}

fn unbrotli(b: &[u8]) -> String {
    let mut s = String::new();
    brotli::Decompressor::new(b, 4096)
        .read_to_string(&mut s)
        .expect("brotli");
    s
}

#[test]
fn off_by_default() {
    let o = origin();
    let p = Proxy::new(&reverse_config(o.addr, Reverse::default()))
        .socket("http")
        .start();
    let r = request(p.port("http"), "/", Some("gzip, br"));
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.text() == page());
    assert_eq!(r.header("vary"), None);
}

#[test]
fn text_responses_are_compressed_per_accept_encoding() {
    let o = origin();
    let cfg = reverse_config(
        o.addr,
        Reverse {
            http: "compression = (enabled = true)",
            ..Default::default()
        },
    );
    let p = Proxy::new(&cfg).socket("http").start();
    let port = p.port("http");

    let r = request(port, "/", Some("gzip"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("etag"), Some("W/\"v1\""));
    assert_eq!(r.header("content-length"), None);
    assert!(r.body.len() < page().len() / 3);
    assert!(gunzip(&r.body) == page());

    let r = request(port, "/", Some("gzip, deflate, br"));
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert!(unbrotli(&r.body) == page());

    let r = request(port, "/chunked", Some("br;q=0.5, gzip"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(gunzip(&r.body) == page());

    // Not accepted: plain, but still varies on Accept-Encoding.
    for ae in [None, Some("gzip;q=0"), Some("identity")] {
        let r = request(port, "/", ae);
        assert_eq!(r.header("content-encoding"), None, "{ae:?}");
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        assert!(r.text() == page());
    }

    // Small, not text, already encoded, no-transform: as the origin sent them.
    let r = request(port, "/small", Some("gzip"));
    assert_eq!((r.header("content-encoding"), r.text().as_str()), (None, "tiny"));
    let r = request(port, "/png", Some("gzip"));
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body.len(), page().len());
    let r = request(port, "/encoded", Some("gzip"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body == b"already-encoded-bytes".repeat(50));
    let r = request(port, "/no-transform", Some("gzip"));
    assert_eq!(r.header("content-encoding"), None);

    // HTTP/1.0 clients get the plain body (no chunked encoding for them).
    let mut c = Client::connect(port);
    c.send(b"GET / HTTP/1.0\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n");
    let r = c.read_response(false).expect("HTTP/1.0 response");
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.text() == page());

    // HEAD: the head as for a plain GET.
    let raw = b"HEAD / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n";
    let mut c = Client::connect(port);
    c.send(raw);
    let r = c.read_response(true).expect("HEAD response");
    assert_eq!(r.header("content-encoding"), None);
}

#[test]
fn keep_alive_connection_carries_compressed_responses_in_turn() {
    let o = origin();
    let cfg = reverse_config(
        o.addr,
        Reverse {
            http: "compression = (enabled = true, minBytes = 10)",
            ..Default::default()
        },
    );
    let p = Proxy::new(&cfg).socket("http").start();
    let mut c = Client::connect(p.port("http"));
    for path in ["/", "/chunked", "/small", "/"] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n").as_bytes());
        let r = c.read_response(false).expect("response");
        assert_eq!(r.status, 200);
        if path == "/small" {
            assert_eq!(r.text(), "tiny");
        } else {
            assert!(gunzip(&r.body) == page(), "{path}");
        }
    }
}

#[test]
fn worker_responses_are_left_alone() {
    let o = origin();
    let cfg = gateway_config(o.addr, "main.js", "").replace(
        "http = (), service = \"w\"",
        "http = (compression = (enabled = true)), service = \"w\"",
    );
    let script = "export default { async fetch(req, env) { return env.ORIGIN.fetch(req); } };";
    let p = Proxy::new(&cfg).file("main.js", script).socket("http").start();
    let r = request(p.port("http"), "/", Some("gzip"));
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.text() == page());
}
