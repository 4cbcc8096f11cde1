//! End-to-end: host-style sockets in front of an ExternalServer (the
//! no-script reverse proxy), through the real binary.

mod support;

use support::*;

fn config(origin: std::net::SocketAddr, socket_extra: &str, external_extra: &str) -> String {
    let o = Reverse {
        http: socket_extra,
        external_http: external_extra,
        ..Reverse::default()
    };
    reverse_config(origin, o)
}

#[test]
fn forwards_methods_statuses_and_bodies() {
    let origin = Origin::start(|r| {
        let status = r.target.trim_start_matches("/status/").parse().unwrap_or(200);
        Reply {
            status,
            headers: vec![("x-method".into(), r.method.clone())],
            body: if status == 204 { Vec::new() } else { r.body.clone() },
            chunked: false,
        }
    });
    let proxy = Proxy::new(&config(origin.addr, "", "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    // method, path, request body, expected status
    let table: &[(&str, &str, &str, u16)] = &[
        ("GET", "/status/200", "", 200),
        ("POST", "/status/201", "created", 201),
        ("PUT", "/status/200", "put-body", 200),
        ("DELETE", "/status/404", "", 404),
        ("PATCH", "/status/500", "p", 500),
        ("GET", "/status/204", "", 204),
        ("OPTIONS", "/status/200", "", 200),
    ];
    for (method, path, body, want) in table {
        let raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: example.test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (resp, _) = exchange(port, raw.as_bytes());
        let resp = resp.unwrap_or_else(|| panic!("{method} {path}: no response; {}", proxy.stderr_text()));
        assert_eq!(resp.status, *want, "{method} {path}");
        if *want != 204 {
            assert_eq!(resp.text(), *body, "{method} {path}");
            assert_eq!(resp.header("x-method"), Some(*method));
        }
    }
    let got = origin.requests();
    assert_eq!(got.len(), table.len());
    for r in &got {
        assert_eq!(r.header("host"), Some("example.test"));
        assert_eq!(r.header("x-forwarded-for"), Some("127.0.0.1"));
        assert_eq!(r.header("via"), Some("1.1 isoproxy"));
        assert!(
            r.header("x-request-id").is_some_and(|v| v.len() == 32),
            "{:?}",
            r.headers
        );
    }
}

#[test]
fn large_and_chunked_bodies_both_ways() {
    let origin = Origin::start(|r| Reply {
        status: 200,
        headers: Vec::new(),
        body: r.body.clone(),
        chunked: r.target == "/chunked",
    });
    let proxy = Proxy::new(&config(origin.addr, "", "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    let big: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();

    let mut c = Client::connect(port);
    let mut raw = format!(
        "POST /fixed HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    raw.extend_from_slice(&big);
    c.send(&raw);
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == big, "fixed-length body differs ({} bytes)", r.body.len());

    let mut raw = b"POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for c in big.chunks(100_000) {
        raw.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        raw.extend_from_slice(c);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    c.send(&raw);
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == big, "chunked body differs ({} bytes)", r.body.len());
    assert_eq!(origin.requests()[1].body.len(), big.len());
}

#[test]
fn keeps_upstream_connections_alive() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&config(origin.addr, "", "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    let mut c = Client::connect(port);
    for i in 0..5 {
        c.send(format!("GET /{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let r = c.read_response(false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-echo-target"), Some(format!("/{i}").as_str()));
    }
    for i in 0..3 {
        let r = get(port, &format!("/fresh{i}"), "a");
        assert_eq!(r.status, 200);
    }
    assert_eq!(origin.requests().len(), 8);
    // Reused: a new request may race the release of the previous
    // connection to the pool, so allow one extra connection.
    let conns = origin.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(conns <= 2, "{conns} origin connections for 8 requests");
}

#[test]
fn strips_hop_by_hop_and_injects_headers() {
    let origin = Origin::start(|_| Reply {
        status: 200,
        headers: vec![
            ("connection".into(), "x-secret-resp".into()),
            ("x-secret-resp".into(), "1".into()),
            ("keep-alive".into(), "timeout=5".into()),
            ("x-remove-me".into(), "1".into()),
        ],
        body: b"ok".to_vec(),
        chunked: false,
    });
    let socket = "injectRequestHeaders = [(name = \"x-from-socket\", value = \"s\"), (name = \"x-drop\")], \
                  injectResponseHeaders = [(name = \"x-socket-resp\", value = \"r\"), (name = \"x-remove-me\")]";
    let external = "injectRequestHeaders = [(name = \"x-from-external\", value = \"e\")]";
    let proxy = Proxy::new(&config(origin.addr, socket, external))
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");
    let raw = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, x-internal\r\nX-Internal: secret\r\n\
               Proxy-Authorization: Basic Zm9vOmJhcg==\r\nKeep-Alive: 5\r\nX-Drop: 1\r\nX-Forwarded-For: 10.9.9.9\r\n\
               X-Request-Id: abc-123\r\nTE: trailers\r\n\r\n";
    let (resp, _) = exchange(port, raw.as_bytes());
    let resp = resp.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-secret-resp"), None);
    assert_eq!(resp.header("keep-alive"), None);
    assert_eq!(resp.header("x-remove-me"), None);
    assert_eq!(resp.header("x-socket-resp"), Some("r"));
    let r = &origin.requests()[0];
    for h in ["x-internal", "proxy-authorization", "keep-alive", "x-drop", "te"] {
        assert_eq!(r.header(h), None, "{h} reached the origin: {:?}", r.headers);
    }
    assert_eq!(r.header("x-from-socket"), Some("s"));
    assert_eq!(r.header("x-from-external"), Some("e"));
    // The socket does not trust its clients: their X-Forwarded-For is replaced.
    assert_eq!(r.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
}

#[test]
fn upstream_down_is_502_and_timeout_is_504() {
    // A port with nothing listening: bind, learn the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = Proxy::new(&config(dead, "", "")).sockets(&["http"]).start();
    let r = get(proxy.port("http"), "/", "a");
    assert_eq!(r.status, 502);
    assert!(r.text().contains("upstream"), "{}", r.text());

    // An origin that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let cfg = reverse_config(
        addr,
        Reverse {
            external: "timeouts = (readMs = 300)",
            ..Reverse::default()
        },
    );
    let proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let started = std::time::Instant::now();
    let r = get(proxy.port("http"), "/", "a");
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // The whole-exchange budget bounds the wait too.
    let proxy = Proxy::new(&cfg.replace("readMs = 300", "totalMs = 300"))
        .sockets(&["http"])
        .start();
    let started = std::time::Instant::now();
    let r = get(proxy.port("http"), "/", "a");
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(silent);
}

#[test]
fn access_log_has_one_line_per_request() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&config(origin.addr, "", "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    assert_eq!(get(port, "/logged", "a").status, 200);
    let (r, _) = exchange(port, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(r.unwrap().status, 400);
    // The access log is written off the request path: poll, bounded.
    let mut lines = Vec::new();
    for _ in 0..200 {
        lines = proxy.stdout_text().lines().map(str::to_string).collect::<Vec<_>>();
        if lines.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        lines.iter().any(|l| l.contains("/logged") && l.contains("200")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("400")), "{lines:?}");
}

#[test]
fn h2c_upgrade_is_stripped() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&config(origin.addr, "", "")).sockets(&["http"]).start();
    let raw = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
               HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    let (r, _) = exchange(proxy.port("http"), raw.as_bytes());
    assert_eq!(r.unwrap().status, 200);
    let got = &origin.requests()[0];
    assert_eq!(got.header("upgrade"), None, "{:?}", got.headers);
    assert_eq!(got.header("http2-settings"), None, "{:?}", got.headers);
}

#[test]
fn proxy_style_external_server_gets_absolute_form() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&config(origin.addr, "", "style = proxy"))
        .sockets(&["http"])
        .start();
    let r = get(proxy.port("http"), "/x?y=1", "site.test");
    assert_eq!(r.status, 200, "{}", r.text());
    let got = &origin.requests()[0];
    assert_eq!(got.target, "http://site.test/x?y=1");
    assert_eq!(got.header("host"), Some("site.test"));
}

#[test]
fn unrequested_101_from_upstream_is_refused() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        // Answer every request (bounded: at most two connections) with a 101.
        for stream in listener.incoming().take(2) {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: Upgrade\r\n\r\nRAW-BYTES",
            );
        }
    });
    let proxy = Proxy::new(&config(origin, "", "")).sockets(&["http"]).start();
    let resp = get(proxy.port("http"), "/", "a.test");
    assert_eq!(resp.status, 502, "{}", proxy.stderr_text());
    assert!(!resp.text().contains("RAW-BYTES"));
}

#[test]
fn get_with_a_body_is_forwarded_but_no_connection_is_reused() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&config(origin.addr, "", "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    let mut c = Client::connect(port);
    c.send(b"GET /with-body HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello");
    let r = c.read_response(false).expect("a response");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello");
    // The client connection is closed after the answer ...
    assert!(c.closed_within(std::time::Duration::from_secs(5)));
    // ... and the origin was told to close its side too.
    let got = origin.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("connection"), Some("close"));
    // A following request needs a fresh upstream connection.
    assert_eq!(get(port, "/next", "a.test").status, 200);
    assert_eq!(origin.connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// The proxy gathers a response head with the first body bytes, but must
/// never sit on body bytes it has: each piece of a streamed body (with a
/// Content-Length or chunked) reaches the client while the origin still
/// waits for the client to confirm the previous piece.
#[test]
fn streamed_body_pieces_are_not_held_back() {
    use std::io::{Read, Write};
    use std::sync::mpsc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = listener.local_addr().unwrap();
    let (seen_tx, seen_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let Some(Ok(mut s)) = listener.incoming().next() else {
            return;
        };
        for head in [
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let chunked = head.contains("chunked");
            let _ = s.write_all(head.as_bytes());
            for piece in ["one", "two", "six"] {
                let bytes = if chunked {
                    format!("3\r\n{piece}\r\n")
                } else {
                    piece.to_string()
                };
                let _ = s.write_all(bytes.as_bytes());
                // The next piece only after the client has this one.
                if seen_rx.recv_timeout(std::time::Duration::from_secs(10)).is_err() {
                    return;
                }
            }
            if chunked {
                let _ = s.write_all(b"0\r\n\r\n");
            }
        }
    });
    let proxy = Proxy::new(&config(origin, "", "")).sockets(&["http"]).start();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", proxy.port("http"))).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    for round in 0..2 {
        c.write_all(b"GET /stream HTTP/1.1\r\nHost: a.test\r\n\r\n").unwrap();
        let mut got = Vec::new();
        for piece in ["one", "two", "six"] {
            // Read until this piece has arrived (a read timeout fails the test).
            while !String::from_utf8_lossy(&got).contains(piece) {
                let mut buf = [0u8; 1024];
                let n = c
                    .read(&mut buf)
                    .unwrap_or_else(|e| panic!("round {round}: waiting for {piece:?}: {e}"));
                assert!(n > 0, "round {round}: closed before {piece:?}");
                got.extend_from_slice(&buf[..n]);
            }
            seen_tx.send(()).unwrap();
        }
        if round == 1 {
            // The last chunk, so the next read of the test does not see it.
            while !got.ends_with(b"0\r\n\r\n") {
                let mut buf = [0u8; 64];
                let n = c.read(&mut buf).unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 200"), "round {round}: {text}");
    }
}
