//! End-to-end: malformed and over-limit requests as raw bytes. Each must
//! get its status, have the connection closed, and never reach the origin.

mod support;

use support::*;

fn config(origin: std::net::SocketAddr) -> String {
    let socket =
        "limits = (maxBodyBytes = 1000, maxRequestLineBytes = 1024, maxHeaderBytes = 4096, maxHeaderCount = 20)";
    reverse_config(
        origin,
        Reverse {
            socket,
            ..Reverse::default()
        },
    )
}

#[test]
fn malformed_requests_are_rejected_and_never_forwarded() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&config(origin.addr)).sockets(&["http"]).start();
    let port = proxy.port("http");
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(1100));
    let big_header = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n", "b".repeat(5000));
    let many_headers = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X-H: 1\r\n".repeat(20));
    let h = "POST / HTTP/1.1\r\nHost: a\r\n";
    let table: Vec<(&str, String, u16)> = vec![
        ("request line over limit", long_target, 414),
        ("header section over limit", big_header, 431),
        ("too many headers", many_headers, 431),
        (
            "body over limit by Content-Length",
            format!("{h}Content-Length: 1001\r\n\r\n"),
            413,
        ),
        (
            "Expect 100-continue over limit",
            format!("{h}Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n"),
            413,
        ),
        ("missing Host", "GET / HTTP/1.1\r\n\r\n".into(), 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(), 400),
        (
            "CL and TE",
            format!("{h}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        (
            "differing CLs",
            format!("{h}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
            400,
        ),
        ("CL list", format!("{h}Content-Length: 3, 3\r\n\r\nabc"), 400),
        ("CL with sign", format!("{h}Content-Length: +3\r\n\r\nabc"), 400),
        ("CL hex", format!("{h}Content-Length: 0x3\r\n\r\nabc"), 400),
        (
            "TE not chunked",
            format!("{h}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        (
            "TE chunked twice",
            format!("{h}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        (
            "TE with unknown coding",
            format!("{h}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
            501,
        ),
        (
            "TE in HTTP/1.0",
            "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(),
            400,
        ),
        (
            "space before colon",
            format!("{h}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        (
            "vertical tab in TE",
            format!("{h}Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        (
            "obs-fold",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n".into(),
            400,
        ),
        ("bare LF", "GET / HTTP/1.1\nHost: a\n\n".into(), 400),
        ("bare CR", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n".into(), 400),
        (
            "NUL in value",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n".into(),
            400,
        ),
        (
            "empty header name",
            "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n".into(),
            400,
        ),
        ("bad version", "GET / HTTP/1.10\r\nHost: a\r\n\r\n".into(), 400),
        ("HTTP/2.0 in h1", "GET / HTTP/2.0\r\nHost: a\r\n\r\n".into(), 400),
        ("fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n".into(), 400),
        (
            "absolute form on reverse proxy",
            "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n".into(),
            400,
        ),
        (
            "CONNECT on reverse proxy",
            "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n".into(),
            405,
        ),
        (
            "garbage",
            "\x16\x03\x01\x02\x00\x01\x00\x01\x7f\x03\x03\r\n\r\n".into(),
            400,
        ),
    ];
    for (name, raw, want) in &table {
        let (resp, closed) = exchange(port, raw.as_bytes());
        let resp = resp.unwrap_or_else(|| panic!("{name}: no response"));
        assert_eq!(resp.status, *want, "{name}: {}", resp.text());
        assert!(closed, "{name}: connection left open");
        assert!(!resp.text().is_empty(), "{name}: empty error body");
    }
    assert!(origin.requests().is_empty(), "forwarded: {:?}", origin.requests());

    // Bad chunk framing after a valid head: the request fails, the
    // connection is closed, and no complete request reaches the origin.
    let bad_chunks = [
        "5 \r\nabcde\r\n0\r\n\r\n",
        "0x5\r\nabcde\r\n0\r\n\r\n",
        "-5\r\nabcde\r\n0\r\n\r\n",
    ];
    for body in bad_chunks {
        let raw = format!("POST /chunky HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
        let mut c = Client::connect(port);
        c.send(raw.as_bytes());
        let resp = c.read_response(false);
        if let Some(r) = &resp {
            assert!(r.status >= 400, "{body:?}: {}", r.status);
        }
        assert!(
            c.closed_within(std::time::Duration::from_secs(5)),
            "{body:?}: connection left open"
        );
    }
    // A valid request still works afterwards.
    assert_eq!(get(port, "/after", "a").status, 200);
}

#[test]
fn chunked_body_over_limit_is_413() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&config(origin.addr)).sockets(&["http"]).start();
    let mut raw = b"POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        raw.extend_from_slice(b"200\r\n");
        raw.extend_from_slice(&[b'x'; 0x200]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let (resp, closed) = exchange(proxy.port("http"), &raw);
    let resp = resp.unwrap();
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert!(closed);
}

#[test]
fn header_timeout_closes_silent_connections() {
    let origin = Origin::echo();
    let cfg = config(origin.addr).replace("maxBodyBytes = 1000", "headerTimeoutMs = 300");
    let proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let started = std::time::Instant::now();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n");
    // The head never completes: 408 (or a plain close) at the deadline.
    let resp = c.read_response(false);
    if let Some(r) = resp {
        assert_eq!(r.status, 408);
    }
    assert!(c.closed_within(std::time::Duration::from_secs(5)));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
