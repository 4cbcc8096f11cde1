//! One table of upstream behaviours, run through every mode (no script, a
//! pass-through Worker, a rewriting Worker with `new Response(r.body, r)`):
//! the client must get the same final response in each, and the next
//! request on the same connection must get its own response intact.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Client, Mode, RawOrigin};

/// What the client must see for a row.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This final status, body and headers; the connection then carries
    /// the next request.
    Response {
        status: u16,
        body: &'static str,
        headers: &'static [(&'static str, &'static str)],
    },
    /// The response is cut: the connection closes before the body is whole
    /// (never a fake complete body).
    Cut,
    /// The origin failed. Without a script the proxy answers `status`; a
    /// Worker's `fetch()` rejects, and a Worker that does not catch it
    /// answers 500 (as workerd does for an uncaught exception).
    Fault { status: u16 },
}

struct Row {
    name: &'static str,
    request: &'static str,
    expect: Expect,
}

const ROWS: &[Row] = &[
    Row {
        name: "103 Early Hints then 200",
        request: "GET /early HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Response {
            status: 200,
            body: "hello",
            headers: &[],
        },
    },
    Row {
        name: "100 Continue then 200",
        request: "POST /continue HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde",
        expect: Expect::Response {
            status: 200,
            body: "hello",
            headers: &[],
        },
    },
    Row {
        name: "204 with a Content-Length",
        request: "GET /204 HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Response {
            status: 204,
            body: "",
            headers: &[],
        },
    },
    Row {
        name: "304 revalidation",
        request: "GET /304 HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"v1\"\r\n\r\n",
        expect: Expect::Response {
            status: 304,
            body: "",
            headers: &[("etag", "\"v1\"")],
        },
    },
    Row {
        name: "HEAD keeps the Content-Length, sends no body",
        request: "HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Response {
            status: 200,
            body: "",
            headers: &[("content-length", "1000")],
        },
    },
    Row {
        name: "close-delimited body",
        request: "GET /close HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Response {
            status: 200,
            body: "hello close",
            headers: &[],
        },
    },
    Row {
        name: "chunked body",
        request: "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Response {
            status: 200,
            body: "hello chunked",
            headers: &[],
        },
    },
    Row {
        name: "body shorter than its Content-Length",
        request: "GET /short HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Cut,
    },
    Row {
        name: "two Content-Length values",
        request: "GET /twocl HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Fault { status: 502 },
    },
    Row {
        name: "101 nobody asked for",
        request: "GET /switch HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Fault { status: 502 },
    },
    Row {
        name: "origin slower than readMs",
        request: "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n",
        expect: Expect::Fault { status: 504 },
    },
];

/// The origin's answer to each path of the table.
fn answer(head: &str) -> (Vec<u8>, bool) {
    let path = head.split(' ').nth(1).unwrap_or("/");
    let (raw, close): (&str, bool) = match path {
        "/early" => (
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            false,
        ),
        "/continue" => (
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            false,
        ),
        "/204" => ("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false),
        "/304" => ("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n", false),
        "/head" => ("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", false),
        "/close" => ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello close", true),
        "/chunked" => (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n8\r\n chunked\r\n0\r\n\r\n",
            false,
        ),
        "/short" => ("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello", true),
        "/twocl" => ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", true),
        "/clte" => (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            true,
        ),
        "/switch" => ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", true),
        "/slow" => {
            std::thread::sleep(Duration::from_millis(1500));
            ("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate", false)
        }
        _ => ("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", false),
    };
    (raw.as_bytes().to_vec(), close)
}

fn check_row(mode: Mode, port: u16, row: &Row) -> Result<(), String> {
    let mut c = Client::connect(port);
    c.send(row.request.as_bytes());
    let head_only = row.request.starts_with("HEAD");
    let asked = std::time::Instant::now();
    let got = c.read_final(head_only);
    match row.expect {
        Expect::Response { status, body, headers } => {
            let r = got.ok_or("no response")?;
            if r.status != status {
                return Err(format!("status {} (body {:?}), want {status}", r.status, r.text()));
            }
            if r.text() != body {
                return Err(format!("body {:?}, want {body:?}", r.text()));
            }
            for (k, v) in headers {
                if r.header(k) != Some(*v) {
                    return Err(format!("header {k}: {:?}, want {v:?}", r.header(k)));
                }
            }
            // The connection is intact: the next request gets its own answer.
            c.send(b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
            let next = c
                .read_final(false)
                .ok_or("no response to the next request on the connection")?;
            if next.status != 200 || next.text() != "next" {
                return Err(format!("next response {} {:?}", next.status, next.text()));
            }
        }
        Expect::Cut => {
            if let Some(r) = got {
                return Err(format!("a complete response arrived: {} {:?}", r.status, r.text()));
            }
            // No complete response: the read ended at the close, not at the
            // test client's own timeout.
            if asked.elapsed() >= Duration::from_secs(10) {
                return Err("the connection stayed open after a cut body".into());
            }
        }
        Expect::Fault { status } => {
            let want = if mode == Mode::NoScript { status } else { 500 };
            let r = got.ok_or("no response")?;
            if r.status != want {
                return Err(format!("status {} ({:?}), want {want}", r.status, r.text()));
            }
            if r.text().contains("hello") {
                return Err("part of the refused response was forwarded".into());
            }
        }
    }
    Ok(())
}

#[test]
fn upstream_behaviours_are_the_same_in_every_mode() {
    let origin = RawOrigin::start(answer);
    let mut failures = Vec::new();
    for mode in Mode::ALL {
        let proxy = mode.start(origin.addr, "timeouts = (readMs = 500)");
        let port = proxy.port("http");
        for row in ROWS {
            if let Err(e) = check_row(mode, port, row) {
                failures.push(format!("{mode:?} / {}: {e}", row.name));
            }
        }
        // The proxy is still there and serving.
        let mut c = Client::connect(port);
        c.send(b"GET /next HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let r = c.read_final(false);
        if r.as_ref().map(|r| r.status) != Some(200) {
            failures.push(format!("{mode:?}: the probe after the table failed"));
        }
        if proxy.stderr_text().contains("panicked") {
            failures.push(format!("{mode:?}: a thread panicked:\n{}", proxy.stderr_text()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unreachable_origins_fail_alike() {
    // A port nobody listens on: refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for mode in Mode::ALL {
        let proxy = mode.start(closed, "");
        let mut c = Client::connect(proxy.port("http"));
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let r = c.read_final(false).expect("no response");
        let want = if mode == Mode::NoScript { 502 } else { 500 };
        assert_eq!(r.status, want, "{mode:?}: {}", r.text());
    }
}

#[test]
fn the_origin_sees_the_same_forwarding_headers_in_every_mode() {
    let origin = RawOrigin::start(|_| (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(), false));
    for mode in Mode::ALL {
        let proxy = mode.start(origin.addr, "");
        let mut c = Client::connect(proxy.port("http"));
        c.send(
            b"GET /fwd HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close, x-drop\r\nX-Drop: 1\r\nKeep-Alive: 5\r\n\r\n",
        );
        assert_eq!(c.read_final(false).expect("no response").status, 200, "{mode:?}");
        let head = origin
            .heads
            .lock()
            .unwrap()
            .pop()
            .expect("the origin got nothing")
            .to_ascii_lowercase();
        assert!(head.contains("\r\nx-forwarded-for: 127.0.0.1\r\n"), "{mode:?}: {head}");
        assert!(head.contains("\r\nvia: 1.1 isoproxy\r\n"), "{mode:?}: {head}");
        assert!(!head.contains("x-drop"), "{mode:?}: {head}");
        assert!(!head.contains("keep-alive"), "{mode:?}: {head}");
        assert!(!head.contains("6.6.6.6"), "{mode:?}: {head}");
        assert!(head.contains("\r\nx-request-id: "), "{mode:?}: {head}");
    }
}

#[test]
fn an_origin_that_fails_the_tls_handshake_fails_alike() {
    // The origin is configured as https but speaks plain HTTP: the
    // handshake fails before any request is sent.
    let origin = RawOrigin::start(|_| (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(), true));
    for mode in Mode::ALL {
        let plain = format!("external = (address = \"{}\", http = ()", origin.addr);
        let tls = format!("external = (address = \"{}\", https = (options = ())", origin.addr);
        let config = mode.config(origin.addr, "");
        assert!(config.contains(&plain), "{config}");
        let proxy = support::Proxy::new(&config.replace(&plain, &tls))
            .file("main.js", mode.script().unwrap_or(Mode::PassThrough.script().unwrap()))
            .socket("http")
            .start();
        let mut c = Client::connect(proxy.port("http"));
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let r = c.read_final(false).expect("no response");
        let want = if mode == Mode::NoScript { 502 } else { 500 };
        assert_eq!(r.status, want, "{mode:?}: {}", r.text());
        assert!(!r.text().contains("hello"), "{mode:?}: {}", r.text());
    }
}

/// One h2 row: method, path, status, content-length, body (`None`: cut).
type H2Row = (
    &'static str,
    &'static str,
    u16,
    Option<&'static str>,
    Option<&'static str>,
);

/// What an HTTP/2 client gets for one request: status, content-length,
/// body; `None` for the body when the stream was reset before its end.
async fn h2_exchange(
    client: &mut h2::client::SendRequest<bytes::Bytes>,
    method: &str,
    path: &str,
) -> Result<(u16, Option<String>, Option<Vec<u8>>), h2::Error> {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://t{path}"))
        .body(())
        .unwrap();
    let (resp, _) = client.send_request(req, true)?;
    let resp = resp.await?;
    let status = resp.status().as_u16();
    let length = resp
        .headers()
        .get("content-length")
        .map(|v| v.to_str().unwrap().to_string());
    let mut body = resp.into_body();
    let mut got = Vec::new();
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else {
            return Ok((status, length, None));
        };
        body.flow_control().release_capacity(chunk.len()).unwrap();
        got.extend_from_slice(&chunk);
    }
    Ok((status, length, Some(got)))
}

#[test]
fn h2_clients_get_the_same_answers_in_every_mode() {
    // HTTP/2 with prior knowledge on the plain-text socket, the same
    // origin answers as the table above, each on one h2 connection.
    let origin = RawOrigin::start(answer);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for mode in Mode::ALL {
        let proxy = mode.start(origin.addr, "timeouts = (readMs = 500)");
        let port = proxy.port("http");
        let fault = if mode == Mode::NoScript { 502 } else { 500 };
        let rows: [H2Row; 7] = [
            ("GET", "/early", 200, None, Some("hello")),
            ("GET", "/204", 204, None, Some("")),
            ("HEAD", "/head", 200, Some("1000"), Some("")),
            ("GET", "/chunked", 200, None, Some("hello chunked")),
            ("GET", "/close", 200, None, Some("hello close")),
            ("GET", "/short", 200, None, None),
            ("GET", "/twocl", fault, None, Some("")),
        ];
        rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            for (method, path, status, length, body) in rows {
                let got = match h2_exchange(&mut client, method, path).await {
                    Ok(got) => got,
                    // A cut body: the stream may be reset before the head
                    // was sent (a Worker's body failed before its first
                    // byte) as well as after; either way nothing is faked.
                    Err(e) if body.is_none() && e.is_reset() => continue,
                    Err(e) => {
                        failures.push(format!("{mode:?} / {method} {path}: {e}"));
                        continue;
                    }
                };
                if got.0 != status {
                    failures.push(format!("{mode:?} / {method} {path}: status {}, want {status}", got.0));
                    continue;
                }
                if let Some(l) = length {
                    if got.1.as_deref() != Some(l) {
                        failures.push(format!("{mode:?} / {method} {path}: content-length {:?}", got.1));
                    }
                }
                let text = got.2.map(|b| String::from_utf8_lossy(&b).into_owned());
                match body {
                    // A refusal's own text is fine; the origin's is not.
                    Some("") if status >= 500 => {
                        if text.as_deref().is_some_and(|t| t.contains("hello")) {
                            failures.push(format!("{mode:?} / {path}: origin bytes forwarded"));
                        }
                    }
                    want => {
                        if text.as_deref() != want {
                            failures.push(format!("{mode:?} / {method} {path}: body {text:?}, want {want:?}"));
                        }
                    }
                }
            }
        });
        if proxy.stderr_text().contains("panicked") {
            failures.push(format!("{mode:?}: a thread panicked:\n{}", proxy.stderr_text()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
