//! End-to-end reliability checks against raw-socket origins that can send
//! any bytes: malformed and oversized upstream responses, an HTTP/1.0
//! origin, spoofable client headers, slow request bodies and the
//! per-socket connection cap.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;

/// An origin that answers every request on every connection with the same
/// raw bytes, then closes the connection; it records each request head.
struct RawOrigin {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
}

impl RawOrigin {
    fn start(reply: Vec<u8>) -> RawOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let h = heads.clone();
        let reply = Arc::new(reply);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let (h, reply) = (h.clone(), reply.clone());
                std::thread::spawn(move || {
                    conn.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    if let Some(head) = read_head(&mut conn) {
                        h.lock().unwrap().push(head);
                        let _ = conn.write_all(&reply);
                        let _ = conn.flush();
                    }
                    // Let the proxy read everything before the close.
                    std::thread::sleep(Duration::from_millis(100));
                });
            }
        });
        RawOrigin { addr, heads }
    }

    /// Like [`RawOrigin::start`], but every connection is kept open and
    /// answers request after request; `connections` counts them.
    fn keepalive(reply: Vec<u8>) -> (RawOrigin, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (h, n) = (heads.clone(), connections.clone());
        let reply = Arc::new(reply);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (h, reply) = (h.clone(), reply.clone());
                std::thread::spawn(move || {
                    conn.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    while let Some(head) = read_head(&mut conn) {
                        h.lock().unwrap().push(head);
                        if conn.write_all(&reply).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (RawOrigin { addr, heads }, connections)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// Read one request head (up to the empty line).
fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn external_config(origin: SocketAddr, limits: &str) -> String {
    let o = Reverse {
        external: "timeouts = (readMs = 5000)",
        socket: limits,
        ..Reverse::default()
    };
    reverse_config(origin, o)
}

const SMUGGLE: &str = "SMUGGLED";

/// Malformed upstream response heads; each carries the marker so a test
/// can see that nothing of it reached the client. The bool is true for
/// the faults Pingora's client repairs while parsing (as RFC 9112 §§5.1, 5.2, 6.3 permit a proxy
/// to): whitespace before a colon and obs-fold are normalised, a bare LF
/// is read as CRLF, and Content-Length is dropped beside
/// Transfer-Encoding. Both ways out read heads with that parser and apply
/// one check after it, so each row has one result in every mode.
fn malformed_responses() -> Vec<(&'static str, String, bool)> {
    let body = format!("{SMUGGLE}-body");
    let n = body.len();
    let ok = "HTTP/1.1 200 OK\r\n";
    let mark = format!("X-M: {SMUGGLE}\r\n");
    let cl = format!("Content-Length: {n}\r\n");
    let chunked = format!("{n:x}\r\n{body}\r\n0\r\n\r\n");
    vec![
        (
            "bad status line",
            format!("HTTP/1.1 200OK\r\n{mark}{cl}\r\n{body}"),
            false,
        ),
        (
            "non-numeric status",
            format!("HTTP/1.1 2x0 OK\r\n{mark}{cl}\r\n{body}"),
            false,
        ),
        (
            "four-digit status",
            format!("HTTP/1.1 2000 OK\r\n{mark}{cl}\r\n{body}"),
            false,
        ),
        ("bad version", format!("HTTP/2.0 200 OK\r\n{mark}{cl}\r\n{body}"), false),
        (
            "CL and TE",
            format!("{ok}{mark}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}"),
            true,
        ),
        (
            "two different Content-Length",
            format!("{ok}{mark}{cl}Content-Length: 3\r\n\r\n{body}"),
            false,
        ),
        (
            "two equal Content-Length",
            format!("{ok}{mark}{cl}{cl}\r\n{body}"),
            false,
        ),
        (
            "Content-Length list",
            format!("{ok}{mark}Content-Length: {n}, {n}\r\n\r\n{body}"),
            false,
        ),
        (
            "signed Content-Length",
            format!("{ok}{mark}Content-Length: +{n}\r\n\r\n{body}"),
            false,
        ),
        ("obs-fold", format!("{ok}{mark} folded\r\n{cl}\r\n{body}"), true),
        (
            "space before colon",
            format!("{ok}X-M : {SMUGGLE}\r\n{cl}\r\n{body}"),
            true,
        ),
        (
            "NUL in a value",
            format!("{ok}X-M: {SMUGGLE}\0x\r\n{cl}\r\n{body}"),
            false,
        ),
        (
            "bare CR in a value",
            format!("{ok}X-M: {SMUGGLE}\rx\r\n{cl}\r\n{body}"),
            false,
        ),
        (
            "bare LF line end",
            format!("HTTP/1.1 200 OK\nX-M: {SMUGGLE}\nContent-Length: {n}\n\n{body}"),
            true,
        ),
        (
            "TE not chunked",
            format!("{ok}{mark}Transfer-Encoding: xchunked\r\n\r\n{chunked}"),
            false,
        ),
        (
            "two Transfer-Encoding",
            format!("{ok}{mark}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}"),
            false,
        ),
        (
            "Transfer_Encoding look-alike",
            format!("{ok}{mark}Transfer_Encoding: chunked\r\n{cl}\r\n{body}"),
            false,
        ),
        ("empty header name", format!("{ok}: {SMUGGLE}\r\n{cl}\r\n{body}"), false),
        (
            "101 headers",
            format!("{ok}{mark}{}{cl}\r\n{body}", "X-H: 1\r\n".repeat(100)),
            false,
        ),
        (
            "head over 64 KiB",
            format!("{ok}{mark}X-Big: {}\r\n{cl}\r\n{body}", "b".repeat(66_000)),
            false,
        ),
    ]
}

/// Send `GET /x` with `Connection: close` and read everything the proxy
/// sends until it closes: (status, raw bytes).
fn fetch_raw(port: u16) -> (u16, String) {
    fetch_raw_path(port, "/x")
}

fn fetch_raw_path(port: u16, path: &str) -> (u16, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[test]
fn malformed_upstream_responses_are_refused_or_repaired_alike_in_every_mode() {
    // One origin answers row i at path /i; every mode sees the same rows.
    let rows = malformed_responses();
    let replies: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    let origin = support::RawOrigin::start(move |head| {
        let i: usize = head
            .split(' ')
            .nth(1)
            .and_then(|p| p.strip_prefix('/'))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        (replies.get(i).cloned().unwrap_or_default().into_bytes(), true)
    });
    let mut failures = Vec::new();
    for mode in Mode::ALL {
        let proxy = mode.start(origin.addr, "");
        let port = proxy.port("http");
        for (i, (name, _, repaired)) in rows.iter().enumerate() {
            origin.heads.lock().unwrap().clear();
            let path = format!("/{i}");
            let (status, raw) = fetch_raw_path(port, &path);
            let sent = origin.heads.lock().unwrap().len();
            if sent != 1 {
                failures.push(format!("{mode:?} / {name}: reached the origin {sent} times"));
            }
            if *repaired {
                // Forwarded, but in canonical form: one framing header, CRLF
                // line ends, no folded or padded field lines.
                let head = raw.split("\r\n\r\n").next().unwrap_or("");
                let framing = head
                    .lines()
                    .filter(|l| {
                        let l = l.to_ascii_lowercase();
                        l.starts_with("content-length:") || l.starts_with("transfer-encoding:")
                    })
                    .count();
                if status != 200
                    || framing != 1
                    || raw.contains(" :")
                    || head.contains("\n ")
                    || !raw.to_ascii_lowercase().contains("\r\nx-m: smuggled")
                    || !raw.contains("SMUGGLED-body")
                {
                    failures.push(format!("{mode:?} / {name} (repaired): {raw:?}"));
                }
            } else {
                // Refused: 502 without a script; a Worker's fetch() rejects
                // and the uncaught rejection is a 500. Nothing of it passes.
                let want = if mode == Mode::NoScript { 502 } else { 500 };
                if status != want || raw.contains(SMUGGLE) {
                    failures.push(format!("{mode:?} / {name}: {raw:?}"));
                }
            }
            // The proxy survives the bad response and answers alike again.
            let (again, _) = fetch_raw_path(port, &path);
            if again != status {
                failures.push(format!("{mode:?} / {name}: second request {again}, first {status}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn worker_fetch_rejection_names_the_fault_never_the_bytes() {
    // A Worker that catches the rejected fetch() sees the fault's reason.
    let script = "export default { async fetch(req, env) {
        try { return await env.ORIGIN.fetch(req); }
        catch (e) { return new Response('refused: ' + e.message, { status: 502 }); }
    } };";
    let (_, reply, _) = malformed_responses()
        .into_iter()
        .find(|r| r.0 == "two different Content-Length")
        .unwrap();
    let origin = RawOrigin::start(reply.into_bytes());
    let proxy = Proxy::new(&gateway_config(origin.addr, "main.js", ""))
        .files(&[("main.js", script)])
        .sockets(&["http"])
        .start();
    let (status, raw) = fetch_raw(proxy.port("http"));
    assert_eq!(status, 502, "{raw}");
    assert!(raw.contains("refused: "), "{raw}");
    assert!(raw.contains("Content-Length"), "{raw}");
    assert!(!raw.contains(SMUGGLE), "{raw}");
}

fn echo_config(origin: SocketAddr, http: &str, limits: &str) -> String {
    reverse_config(
        origin,
        Reverse {
            http,
            socket: limits,
            ..Reverse::default()
        },
    )
}

#[test]
fn spoofable_forwarding_headers_are_dropped_unless_trusted() {
    let raw = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.9.9.9\r\nForwarded: for=10.9.9.9\r\n\
               X-Real-IP: 10.9.9.9\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\n\
               Connection: close\r\n\r\n";
    for (trusted, http) in [(false, ""), (true, "trustForwardedHeaders = true")] {
        let origin = Origin::echo();
        let proxy = Proxy::new(&echo_config(origin.addr, http, ""))
            .sockets(&["http"])
            .start();
        let (r, _) = exchange(proxy.port("http"), raw.as_bytes());
        assert_eq!(r.unwrap().status, 200, "trusted={trusted}");
        let got = &origin.requests()[0];
        assert_eq!(got.header("proxy-authorization"), None, "trusted={trusted}");
        assert_eq!(got.header("proxy-connection"), None, "trusted={trusted}");
        if trusted {
            assert_eq!(got.header("x-forwarded-for"), Some("10.9.9.9, 127.0.0.1"));
            assert_eq!(got.header("forwarded"), Some("for=10.9.9.9"));
            assert_eq!(got.header("x-real-ip"), Some("10.9.9.9"));
        } else {
            assert_eq!(got.header("x-forwarded-for"), Some("127.0.0.1"));
            assert_eq!(got.header("forwarded"), None);
            assert_eq!(got.header("x-real-ip"), None);
        }
    }
}

#[test]
fn one_header_line_over_16_kib_is_431_and_closed() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&echo_config(origin.addr, "", "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    // "X-Big: " + value + CRLF: the field line without CRLF is 16 KiB exactly.
    let field = |len: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "v".repeat(len - "X-Big: ".len())
        )
    };
    let (ok, _) = exchange(port, field(16_384).as_bytes());
    assert_eq!(ok.unwrap().status, 200);
    let (r, closed) = exchange(port, field(16_385).as_bytes());
    assert_eq!(r.unwrap().status, 431);
    assert!(closed);
    assert_eq!(origin.requests().len(), 1, "the oversized request reached the origin");
}

/// The value of one sample line (`name{labels} value`) on `/metrics`.
fn sample(port: u16, series: &str) -> Option<f64> {
    get(port, "/metrics", "127.0.0.1")
        .text()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn connections_over_the_cap_get_503_and_existing_ones_are_served() {
    let origin = Origin::echo();
    let config = echo_config(origin.addr, "", ", limits = (maxConnections = 2)");
    let proxy = Proxy::new(&config)
        .sockets(&["http"])
        .args(&["--metrics-addr", "127.0.0.1:0"])
        .listeners(&["metrics"])
        .start();
    let (port, metrics) = (proxy.port("http"), proxy.port("metrics"));
    let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut open: Vec<Client> = (0..2).map(|_| Client::connect(port)).collect();
    for c in &mut open {
        c.send(request);
        assert_eq!(c.read_response(false).unwrap().status, 200);
    }
    assert_eq!(
        sample(metrics, "isoproxy_connections_active{socket=\"http\"}"),
        Some(2.0)
    );

    // A third connection is turned away with a 503 and closed.
    let (r, closed) = exchange(port, request);
    let r = r.unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(closed);
    // It is logged and counted like any refusal (the writer is a
    // background thread: poll, bounded).
    let logged = (0..100).any(|_| {
        let found = proxy.stdout_text().contains("\"status\":503");
        if !found {
            std::thread::sleep(Duration::from_millis(20));
        }
        found
    });
    assert!(logged, "no access-log record for the 503:\n{}", proxy.stdout_text());
    assert!(
        proxy.stdout_text().contains("\"error_source\":\"overload\""),
        "the cap is an overload, not an internal fault:\n{}",
        proxy.stdout_text()
    );
    assert_eq!(
        sample(
            metrics,
            "isoproxy_requests_total{method=\"OTHER\",service=\"origin\",socket=\"http\",status_class=\"5xx\"}"
        ),
        Some(1.0),
        "{}",
        get(metrics, "/metrics", "127.0.0.1").text()
    );

    // The two open connections are still served.
    for c in &mut open {
        c.send(request);
        assert_eq!(c.read_response(false).unwrap().status, 200);
    }

    // Once one closes, a new connection is accepted (the count drops when
    // the proxy notices the close: poll, bounded).
    drop(open.pop());
    let mut served = false;
    for _ in 0..100 {
        let (r, _) = exchange(port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        if r.is_some_and(|r| r.status == 200) {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(served, "no connection accepted after one closed");
}

fn slow_body_config(origin: SocketAddr, read_ms: u32, body_ms: u32) -> String {
    let external = format!("timeouts = (readMs = {read_ms})");
    let socket = format!("limits = (bodyTimeoutMs = {body_ms})");
    reverse_config(
        origin,
        Reverse {
            external: &external,
            socket: &socket,
            ..Reverse::default()
        },
    )
}

/// A client that sends a head announcing 8192 body bytes, a few of them,
/// then nothing: the proxy must answer 408 and close once the body read
/// timeout passes, whatever the upstream's read timeout.
fn stalled_body(read_ms: u32, body_ms: u32) -> (u16, bool, Duration) {
    let origin = Origin::echo();
    let proxy = Proxy::new(&slow_body_config(origin.addr, read_ms, body_ms))
        .sockets(&["http"])
        .start();
    let mut c = Client::connect(proxy.port("http"));
    let start = std::time::Instant::now();
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8192\r\n\r\nabcd");
    let r = c.read_response(false).expect("no response");
    let elapsed = start.elapsed();
    (r.status, c.closed_within(Duration::from_secs(2)), elapsed)
}

#[test]
fn stalled_request_body_is_408_not_504() {
    for (read_ms, body_ms) in [(10_000, 1000), (1500, 1500), (1000, 3000)] {
        let (status, closed, elapsed) = stalled_body(read_ms, body_ms);
        eprintln!("readMs={read_ms} bodyTimeoutMs={body_ms}: {status} after {elapsed:?}");
        assert_eq!(status, 408, "readMs={read_ms} bodyTimeoutMs={body_ms}");
        assert!(closed);
        assert!(
            elapsed < Duration::from_millis(u64::from(body_ms) + 5000),
            "{elapsed:?}"
        );
    }
}

#[test]
fn a_client_that_stops_reading_is_cut_off_after_the_send_timeout() {
    const BODY: usize = 32 << 20;
    let origin = Origin::start(|_| Reply::ok(vec![b'x'; BODY]));
    let config = echo_config(origin.addr, "", ", limits = (sendTimeoutMs = 1000)");
    let proxy = Proxy::new(&config).sockets(&["http"]).start();
    let baseline_kib = proxy.peak_rss_kib();
    // Kernel buffers on both sides hold a few MiB; the rest of the 32 MiB
    // must wait for a reader that does not come.
    let mut c = TcpStream::connect(("127.0.0.1", proxy.port("http"))).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    // The slow reader: nothing read for three send timeouts.
    std::thread::sleep(Duration::from_secs(3));
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = loop {
        match c.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                break false
            }
            Err(_) => break true,
        }
    };
    assert!(ended, "the proxy kept the connection open");
    assert!(got < BODY, "the whole response arrived ({got} bytes): no send timeout");
    // The proxy did not buffer the response it could not send.
    let grown_kib = proxy.peak_rss_kib().saturating_sub(baseline_kib);
    eprintln!("received {got} of {BODY} bytes; proxy peak RSS grew by {grown_kib} KiB");
    assert!(grown_kib < (BODY / 1024 / 2) as u64, "peak RSS grew by {grown_kib} KiB");
    // And it still serves.
    let mut probe = Client::connect(proxy.port("http"));
    probe.send(b"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!(probe.read_response(true).unwrap().status, 200);
}

#[test]
fn dripped_request_body_is_408_by_the_minimum_body_rate() {
    // One byte every 300 ms beats the pause limit (bodyTimeoutMs = 1 s)
    // every time, and the upstream waits for the whole body without
    // reading timing out (10 s); the body deadline (1 s plus one second
    // per 1024 bytes received) ends it with 408.
    let origin = Origin::echo();
    let proxy = Proxy::new(&slow_body_config(origin.addr, 10_000, 1000))
        .sockets(&["http"])
        .start();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8192\r\n\r\n");
    let mut writer = c.stream.try_clone().unwrap();
    let start = std::time::Instant::now();
    let drip = std::thread::spawn(move || {
        for _ in 0..100 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let r = c.read_response(false).expect("no response");
    let elapsed = start.elapsed();
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    assert!(c.closed_within(Duration::from_secs(2)));
    drip.join().unwrap();
    assert!(origin.requests().is_empty(), "the origin got a complete request");
}

#[test]
fn an_http_1_0_origin_is_answered_as_http_1_1_with_sound_framing() {
    // Close-delimited body: no Content-Length, the end is the close.
    let origin = RawOrigin::start(b"HTTP/1.0 200 OK\r\nX-Origin: old\r\n\r\nhello from 1.0".to_vec());
    let proxy = Proxy::new(&external_config(origin.addr, "")).sockets(&["http"]).start();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the chunked terminator or the close, whichever framing
    // the proxy chose.
    while !raw.ends_with(b"0\r\n\r\n") {
        match c.stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 "), "{text:?}");
    let head = text.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    let chunked = head.contains("\r\ntransfer-encoding: chunked");
    let closes = head.contains("\r\nconnection: close");
    eprintln!("response head from the proxy: {head:?}");
    assert!(chunked || closes, "no framing for a close-delimited body: {text:?}");
    assert!(text.contains("hello from 1.0"), "{text:?}");
    assert!(head.contains("x-origin: old"));
    if chunked {
        // Chunked framing keeps the client connection usable.
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert_eq!(c.read_response(false).unwrap().status, 200);
    }
}

#[test]
fn a_worker_reading_a_dripped_body_gets_408_not_its_own_failure() {
    let origin = Origin::echo();
    let script = "export default { async fetch(req) {
        const t = await req.text();
        return new Response('read ' + t.length);
    } };";
    let config = gateway_config(origin.addr, "main.js", "").replace(
        "service = \"w\") ]",
        "service = \"w\", limits = (bodyTimeoutMs = 1000)) ]",
    );
    assert!(config.contains("bodyTimeoutMs"));
    let proxy = Proxy::new(&config)
        .files(&[("main.js", script)])
        .sockets(&["http"])
        .start();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8192\r\n\r\n");
    let mut writer = c.stream.try_clone().unwrap();
    let drip = std::thread::spawn(move || {
        for _ in 0..100 {
            if writer.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let r = c.read_response(false).expect("no response");
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(c.closed_within(Duration::from_secs(2)));
    drip.join().unwrap();
}

#[test]
fn a_refused_upstream_response_does_not_leave_its_connection_in_the_pool() {
    let count = |reply: &str| {
        let (origin, connections) = RawOrigin::keepalive(reply.as_bytes().to_vec());
        let proxy = Proxy::new(&external_config(origin.addr, "")).sockets(&["http"]).start();
        let statuses: Vec<u16> = (0..2).map(|_| fetch_raw(proxy.port("http")).0).collect();
        assert_eq!(origin.heads().len(), 2);
        (statuses, connections.load(std::sync::atomic::Ordering::SeqCst))
    };
    // A good response: the second request reuses the pooled connection.
    let (statuses, n) = count("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!((statuses, n), (vec![200, 200], 1));
    // A refused one (two Content-Length fields, which Pingora alone accepts):
    // its connection is dropped, so the second request needs a new one.
    let (statuses, n) = count("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!((statuses, n), (vec![502, 502], 2));
}
