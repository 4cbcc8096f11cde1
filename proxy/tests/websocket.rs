//! WebSockets end to end through the real binary, with a real WebSocket
//! client and origin (`tungstenite`): no script, a pass-through Worker, a
//! rewriting Worker, a Worker serving the socket itself (`WebSocketPair`),
//! message sizes, fragmentation, close codes both ways, invalid frames,
//! and open sockets across a live reload.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// tungstenite's handshake callback returns its (large) error response type.
#![allow(clippy::result_large_err)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{get, Mode, Proxy, IO_TIMEOUT, USING};
use tungstenite::handshake::server::{Request as HsRequest, Response as HsResponse};
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

/// The headers of each handshake an origin saw, in order.
type Handshakes = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A WebSocket origin that echoes every message and records each
/// handshake's headers.
struct EchoOrigin {
    addr: SocketAddr,
    handshakes: Handshakes,
}

impl EchoOrigin {
    fn start() -> EchoOrigin {
        EchoOrigin::start_with(false)
    }

    /// `deflate`: agree to `permessage-deflate` when offered (the 101 says
    /// so; the frames are still sent plain, which is all the tests need).
    fn start_with(deflate: bool) -> EchoOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes: Handshakes = Arc::new(Mutex::new(Vec::new()));
        let seen = handshakes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let record = |req: &HsRequest, mut resp: HsResponse| {
                        let headers = req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                            .collect();
                        seen.lock().unwrap().push(headers);
                        resp.headers_mut().insert("x-origin", "echo".parse().unwrap());
                        if deflate && req.headers().contains_key("sec-websocket-extensions") {
                            resp.headers_mut()
                                .insert("sec-websocket-extensions", "permessage-deflate".parse().unwrap());
                        }
                        Ok(resp)
                    };
                    let config = WebSocketConfig::default().max_message_size(Some(64 << 20));
                    let Ok(mut ws) = tungstenite::accept_hdr_with_config(stream, record, Some(config)) else {
                        return;
                    };
                    loop {
                        match ws.read() {
                            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                                if ws.send(m).is_err() {
                                    return;
                                }
                            }
                            Ok(Message::Close(_)) => {
                                let _ = ws.flush();
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                });
            }
        });
        EchoOrigin { addr, handshakes }
    }

    fn handshake_header(&self, i: usize, name: &str) -> Option<String> {
        self.handshakes.lock().unwrap().get(i).and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        })
    }
}

/// Open a WebSocket to `port` at `path`; returns the socket and the 101.
fn connect(port: u16, path: &str) -> (Ws, tungstenite::handshake::client::Response) {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let config = WebSocketConfig::default().max_message_size(Some(64 << 20));
    let url = format!("ws://127.0.0.1:{port}{path}");
    let (ws, resp) = tungstenite::client::client_with_config(url.as_str(), stream, Some(config)).unwrap();
    (ws, resp)
}

/// Send `m` and expect it back.
fn echo(ws: &mut Ws, m: Message) {
    ws.send(m.clone()).unwrap();
    let got = ws.read().unwrap();
    assert_eq!(got, m);
}

/// Read until a close frame arrives; returns its code and reason.
fn read_close(ws: &mut Ws) -> (u16, String) {
    loop {
        match ws.read() {
            Ok(Message::Close(Some(f))) => return (u16::from(f.code), f.reason.to_string()),
            Ok(Message::Close(None)) => return (1005, String::new()),
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

/// A Worker that serves WebSockets itself: it echoes messages, closes when
/// asked (`close CODE REASON`), says which version it is (`version`), and
/// logs the close events it gets.
fn pair_worker(version: &str) -> String {
    format!(
        "export default {{
  async fetch(request) {{
    if (request.headers.get('Upgrade') !== 'websocket') return new Response('expected a WebSocket', {{ status: 426 }});
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener('message', (e) => {{
      if (typeof e.data === 'string' && e.data.startsWith('close ')) {{
        const [, code, reason] = e.data.split(' ');
        server.close(Number(code), reason);
        return;
      }}
      if (e.data === 'version') {{ server.send('{version}'); return; }}
      server.send(e.data);
    }});
    server.addEventListener('close', (e) => console.log(`closed ${{e.code}} ${{e.reason}} ${{e.wasClean}}`));
    server.addEventListener('error', (e) => console.log(`error ${{e.message}}`));
    return new Response(null, {{ status: 101, webSocket: client, headers: {{ 'x-served-by': 'pair' }} }});
  }},
}};\n"
    )
}

fn worker_config(origin: SocketAddr, extra: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"origin\", external = (address = \"{origin}\", http = ())),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
  accessLog = (format = json),
  {extra}
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"ORIGIN\", service = \"origin\") ],
);\n"
    )
}

fn pair_proxy() -> Proxy {
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    Proxy::new(&worker_config(unused, ""))
        .file("main.js", &pair_worker("v1"))
        .socket("http")
        .start()
}

#[test]
fn echo_through_no_script_pass_through_and_rewriting() {
    for mode in Mode::ALL {
        let origin = EchoOrigin::start();
        let proxy = mode.start(origin.addr, "");
        let (mut ws, resp) = connect(proxy.port("http"), "/chat?room=1");
        assert_eq!(resp.status(), 101, "{mode:?}");
        assert_eq!(resp.headers().get("x-origin").unwrap(), "echo", "{mode:?}");
        echo(&mut ws, Message::text("hello"));
        echo(&mut ws, Message::binary(vec![0u8, 1, 2, 255]));
        echo(&mut ws, Message::text(""));
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "done".into(),
        }))
        .unwrap();
        assert_eq!(read_close(&mut ws), (1000, "done".to_string()), "{mode:?}");
        if mode == Mode::Rewriting {
            // The rewriting Worker changed the upgrade request and the 101.
            assert_eq!(origin.handshake_header(0, "x-rewritten").as_deref(), Some("request"));
            assert_eq!(resp.headers().get("x-rewritten").unwrap(), "response");
        }
        assert_eq!(
            origin.handshake_header(0, "upgrade").as_deref(),
            Some("websocket"),
            "{mode:?}"
        );
    }
}

#[test]
fn a_worker_may_rewrite_the_upgrade_request_url() {
    let origin = EchoOrigin::start();
    let script = "export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    url.pathname = '/rewritten' + url.pathname;
    const r = await env.ORIGIN.fetch(new Request(url, request));
    if (r.status !== 101 || r.webSocket === null) return new Response('no socket', { status: 500 });
    return r;
  },
};\n";
    let proxy = Proxy::new(&worker_config(origin.addr, ""))
        .file("main.js", script)
        .socket("http")
        .start();
    let (mut ws, _) = connect(proxy.port("http"), "/x");
    echo(&mut ws, Message::text("through"));
    drop(ws);
    let path = origin.handshakes.lock().unwrap().len();
    assert_eq!(path, 1);
}

#[test]
fn a_worker_serves_a_websocket_pair() {
    let proxy = pair_proxy();
    let (mut ws, resp) = connect(proxy.port("http"), "/");
    assert_eq!(resp.headers().get("x-served-by").unwrap(), "pair");
    echo(&mut ws, Message::text("hi"));
    echo(&mut ws, Message::text("héllo wörld ✓"));
    echo(&mut ws, Message::binary(vec![9u8; 10]));
    // The Worker closes with a code and reason of its choice.
    ws.send(Message::text("close 4001 enough")).unwrap();
    assert_eq!(read_close(&mut ws), (4001, "enough".to_string()));
    // The client's answer completes the handshake: the Worker's close event.
    ws.flush().unwrap();
    wait_log(&proxy, "closed 4001 enough true");
}

#[test]
fn close_codes_from_the_client_reach_the_worker() {
    let proxy = pair_proxy();
    let (mut ws, _) = connect(proxy.port("http"), "/");
    echo(&mut ws, Message::text("x"));
    ws.close(Some(CloseFrame {
        code: CloseCode::from(4321),
        reason: "client says bye".into(),
    }))
    .unwrap();
    // The runtime answers the close handshake with the client's code.
    assert_eq!(read_close(&mut ws).0, 4321);
    wait_log(&proxy, "closed 4321 client says bye true");
}

/// Wait for a line of the Worker's console output.
fn wait_log(proxy: &Proxy, needle: &str) {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !proxy.stderr_text().contains(needle) && !proxy.stdout_text().contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} in {}",
            proxy.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sizes around the frame-length encodings, up to the 1 MiB default limit.
const SIZES: &[usize] = &[0, 1, 125, 126, 127, 65_535, 65_536, 100_000, 1 << 20];

#[test]
fn messages_of_every_size_both_ways() {
    let origin = EchoOrigin::start();
    let pass = Mode::PassThrough.start(origin.addr, "");
    let pair = pair_proxy();
    for port in [pass.port("http"), pair.port("http")] {
        let (mut ws, _) = connect(port, "/");
        for &n in SIZES {
            let bytes: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            echo(&mut ws, Message::binary(bytes));
            let text: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            echo(&mut ws, Message::text(text));
        }
        // Many small messages, in order.
        for i in 0..1000 {
            ws.send(Message::text(format!("m{i}"))).unwrap();
        }
        for i in 0..1000 {
            assert_eq!(ws.read().unwrap(), Message::text(format!("m{i}")));
        }
    }
}

#[test]
fn fragmented_messages_are_joined() {
    let origin = EchoOrigin::start();
    let pass = Mode::PassThrough.start(origin.addr, "");
    let pair = pair_proxy();
    for port in [pass.port("http"), pair.port("http")] {
        let (mut ws, _) = connect(port, "/");
        // "hello world" in three frames, a ping in between.
        ws.write(Message::Frame(Frame::message(
            &b"hel"[..],
            OpCode::Data(Data::Text),
            false,
        )))
        .unwrap();
        ws.write(Message::Ping("p".into())).unwrap();
        ws.write(Message::Frame(Frame::message(
            &b"lo wo"[..],
            OpCode::Data(Data::Continue),
            false,
        )))
        .unwrap();
        ws.write(Message::Frame(Frame::message(
            &b"rld"[..],
            OpCode::Data(Data::Continue),
            true,
        )))
        .unwrap();
        ws.flush().unwrap();
        let mut got = None;
        while got.is_none() {
            match ws.read().unwrap() {
                Message::Text(t) => got = Some(t.to_string()),
                Message::Pong(p) => assert_eq!(&p[..], b"p"),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got.as_deref(), Some("hello world"));
    }
}

/// A raw client frame: FIN + `opcode` (+ `rsv` bits), masked when `mask`.
fn raw_frame(first: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let mut out = vec![first];
    let m = if mask { 0x80 } else { 0 };
    if payload.len() < 126 {
        out.push(m | payload.len() as u8);
    } else if payload.len() <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    }
    if mask {
        let key = [1u8, 2, 3, 4];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// The head of a masked binary frame one byte over 1 MiB.
fn oversized_header() -> Vec<u8> {
    let mut out = vec![0x82, 0x80 | 127];
    out.extend_from_slice(&((1u64 << 20) + 1).to_be_bytes());
    out.extend_from_slice(&[1, 2, 3, 4]);
    out
}

#[test]
fn invalid_frames_from_the_client_get_the_right_close_code() {
    let proxy = pair_proxy();
    let port = proxy.port("http");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked frame", raw_frame(0x81, b"hi", false), 1002),
        ("reserved bit", raw_frame(0x81 | 0x40, b"hi", true), 1002),
        ("unknown data opcode", raw_frame(0x83, b"hi", true), 1002),
        ("unknown control opcode", raw_frame(0x8b, b"", true), 1002),
        ("fragmented control frame", raw_frame(0x09, b"", true), 1002),
        ("continuation without start", raw_frame(0x80, b"x", true), 1002),
        ("invalid UTF-8 text", raw_frame(0x81, &[0xc3, 0x28], true), 1007),
        // Refused from the frame header alone: the payload is never sent.
        ("message over 1 MiB", oversized_header(), 1009),
    ];
    for (name, bytes, code) in cases {
        let (mut ws, _) = connect(port, "/");
        echo(&mut ws, Message::text("before"));
        ws.get_mut().write_all(&bytes).unwrap();
        // The close frame the proxy sends, read off the raw socket.
        let s = ws.get_mut();
        let mut head = [0u8; 4];
        s.read_exact(&mut head).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(head[0], 0x88, "{name}: not a close frame");
        assert_eq!(u16::from_be_bytes([head[2], head[3]]), code, "{name}");
    }
}

#[test]
fn an_upstream_that_refuses_the_upgrade_is_relayed_as_http() {
    let origin = support::Origin::start(|_| support::Reply {
        status: 403,
        headers: vec![],
        body: b"no sockets here".to_vec(),
        chunked: false,
    });
    for mode in Mode::ALL {
        let proxy = mode.start(origin.addr, "");
        let stream = TcpStream::connect(("127.0.0.1", proxy.port("http"))).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let url = format!("ws://127.0.0.1:{}/", proxy.port("http"));
        match tungstenite::client::client(url.as_str(), stream) {
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                assert_eq!(resp.status(), 403, "{mode:?}");
            }
            Err(e) => panic!("{mode:?}: {e}"),
            Ok(_) => panic!("{mode:?}: upgraded"),
        }
    }
}

#[test]
fn a_101_to_a_request_without_upgrade_is_an_error() {
    let proxy = pair_proxy();
    // The pair Worker answers 426 to a plain request ...
    assert_eq!(get(proxy.port("http"), "/", "a.test").status, 426);
    // ... and a Worker that answers 101 anyway gets a 500, not a raw socket.
    let script = "export default { fetch() { const p = new WebSocketPair(); p[1].accept(); return new Response(null, { status: 101, webSocket: p[0] }); } };\n";
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let proxy = Proxy::new(&worker_config(unused, ""))
        .file("main.js", script)
        .socket("http")
        .start();
    assert_eq!(get(proxy.port("http"), "/", "a.test").status, 500);
}

#[test]
fn open_sockets_stay_on_their_generation_across_a_reload() {
    let origin = EchoOrigin::start();
    // Socket `raw` has no script: its sockets are joined to the origin.
    let config = worker_config(origin.addr, "").replace(
        "service = \"w\") ],",
        "service = \"w\"),\n    (name = \"raw\", address = \"127.0.0.1:0\", http = (), service = \"origin\") ],",
    );
    let proxy = Proxy::new(&config)
        .file("main.js", &pair_worker("v1"))
        .sockets(&["http", "raw"])
        .start();
    let port = proxy.port("http");
    let mut raw: Vec<Ws> = (0..20).map(|_| connect(proxy.port("raw"), "/").0).collect();
    let mut old: Vec<Ws> = (0..200).map(|_| connect(port, "/").0).collect();
    for ws in old.iter_mut().step_by(20) {
        echo(ws, Message::text("warm"));
    }
    proxy.write_file("main.js", &pair_worker("v2"));
    assert_eq!(proxy.reload()["result"], "ok", "{}", proxy.stderr_text());
    // Every old socket still works and still talks to the old Worker.
    for ws in &mut old {
        ws.send(Message::text("version")).unwrap();
    }
    for ws in &mut old {
        assert_eq!(ws.read().unwrap(), Message::text("v1"));
    }
    for ws in &mut raw {
        echo(ws, Message::text("no script, still open"));
    }
    // A new socket gets the new Worker.
    let (mut fresh, _) = connect(port, "/");
    fresh.send(Message::text("version")).unwrap();
    assert_eq!(fresh.read().unwrap(), Message::text("v2"));
    for ws in &mut old {
        ws.close(None).unwrap();
        let _ = read_close(ws);
    }
}

#[test]
fn the_access_log_has_one_record_per_socket_when_it_closes() {
    let origin = EchoOrigin::start();
    for mode in Mode::ALL {
        access_log_record(mode, origin.addr);
    }
}

fn access_log_record(mode: Mode, origin: SocketAddr) {
    let config = limited_config(mode, origin, "", "").replace(
        "\n);\nconst w",
        "\n  accessLog = (format = json), admin = (address = \"127.0.0.1:0\"),\n);\nconst w",
    );
    let proxy = Proxy::new(&config)
        .file("main.js", mode.script().or(Mode::PassThrough.script()).unwrap())
        .socket("http")
        .listeners(&["admin"])
        .start();
    let admin = proxy.port("admin");
    let (mut ws, _) = connect(proxy.port("http"), "/logged");
    echo(&mut ws, Message::binary(vec![7u8; 1000]));
    echo(&mut ws, Message::text("two"));
    let gauge = "isoproxy_websockets_active{socket=\"http\"}";
    assert_eq!(proxy.metric(admin, gauge), 1.0, "{mode:?}");
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: tungstenite::protocol::frame::coding::CloseCode::Library(4321),
        reason: "done".into(),
    }))
    .unwrap();
    let _ = read_close(&mut ws);
    drop(ws);
    assert!(
        proxy.wait_stdout(IO_TIMEOUT, "\"status\":101"),
        "{}",
        proxy.stdout_text()
    );
    let stdout = proxy.stdout_text();
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("/logged")).collect();
    assert_eq!(lines.len(), 1, "{mode:?}: {stdout}");
    let line = lines[0];
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(record["status"], 101, "{mode:?}");
    // A masked 1000-byte frame in (1008 bytes) and an unmasked one out (1004).
    assert!(record["bytes_in"].as_u64().unwrap() >= 1008, "{line}");
    assert!(record["bytes_out"].as_u64().unwrap() >= 1004, "{line}");
    // The client closed first, with its own code.
    assert_eq!(record["ws_close"], 4321, "{mode:?}: {line}");
    // Both messages counted each way on the socket, payload bytes only.
    let series = |name: &str, dir: &str| format!("{name}{{direction=\"{dir}\",socket=\"http\"}}");
    for dir in ["in", "out"] {
        let messages = proxy.metric(admin, &series("isoproxy_websocket_relayed_messages_total", dir));
        assert_eq!(messages, 2.0, "{mode:?} {dir}");
        let bytes = proxy.metric(admin, &series("isoproxy_websocket_relayed_message_bytes_total", dir));
        assert_eq!(bytes, 1003.0, "{mode:?} {dir}");
    }
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while proxy.metric(admin, gauge) != 0.0 {
        assert!(std::time::Instant::now() < deadline, "{mode:?}: the gauge stays up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Worker between the client and the origin that accepts both sockets
/// and relays messages, changing text on the way: upper case towards the
/// origin, brackets back. `how` opens the origin's socket.
fn relay_worker(how: &str) -> String {
    format!(
        "export default {{
  async fetch(request, env) {{
    const upstream = await {how};
    const origin = upstream.webSocket;
    if (origin === null) return new Response('the origin did not upgrade', {{ status: 502 }});
    origin.accept();
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener('message', (e) => origin.send(typeof e.data === 'string' ? e.data.toUpperCase() : e.data));
    origin.addEventListener('message', (e) => server.send(typeof e.data === 'string' ? `[${{e.data}}]` : e.data));
    server.addEventListener('close', (e) => origin.close(e.code, e.reason));
    origin.addEventListener('close', (e) => server.close(e.code, e.reason));
    return new Response(null, {{ status: 101, webSocket: client }});
  }},
}};\n"
    )
}

#[test]
fn a_worker_relays_between_client_and_origin_transforming_text() {
    let origin = EchoOrigin::start();
    let variants = [
        // The client's own upgrade request, passed on.
        "env.ORIGIN.fetch(request)",
        // A fresh upgrade request: the exchange makes the key and checks the answer.
        "env.ORIGIN.fetch('http://origin.test/relay', { headers: { Upgrade: 'websocket' } })",
    ];
    for (i, how) in variants.iter().enumerate() {
        let proxy = Proxy::new(&worker_config(origin.addr, ""))
            .file("main.js", &relay_worker(how))
            .socket("http")
            .start();
        let (mut ws, _) = connect(proxy.port("http"), "/");
        ws.send(Message::text("hello")).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text("[HELLO]"), "{how}");
        echo(&mut ws, Message::binary(vec![1u8, 2, 3]));
        for n in [0usize, 70_000, 1 << 20] {
            let text = "x".repeat(n);
            ws.send(Message::text(text)).unwrap();
            assert_eq!(
                ws.read().unwrap(),
                Message::text(format!("[{}]", "X".repeat(n))),
                "{how} {n}"
            );
        }
        ws.close(Some(CloseFrame {
            code: CloseCode::from(4000),
            reason: "relay".into(),
        }))
        .unwrap();
        assert_eq!(read_close(&mut ws).0, 4000, "{how}");
        assert_eq!(
            origin.handshake_header(i, "upgrade").as_deref(),
            Some("websocket"),
            "{how}"
        );
        assert_eq!(
            origin.handshake_header(i, "sec-websocket-version").as_deref(),
            Some("13"),
            "{how}"
        );
    }
}

/// `mode`'s config with socket limits `limits` and origin timeouts
/// `timeouts`.
fn limited_config(mode: Mode, origin: SocketAddr, limits: &str, timeouts: &str) -> String {
    let service = if mode == Mode::NoScript { "origin" } else { "w" };
    let timeouts = if timeouts.is_empty() {
        String::new()
    } else {
        format!(", timeouts = ({timeouts})")
    };
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"origin\", external = (address = \"{origin}\", http = (){timeouts})),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"{service}\", limits = ({limits})) ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"ORIGIN\", service = \"origin\") ],
);\n"
    )
}

/// A quiet socket outlives the body and upstream read timeouts (which are
/// for requests, not for sockets); `tunnelIdleTimeoutMs` is its limit.
#[test]
fn a_quiet_socket_lives_until_the_idle_timeout() {
    let origin = EchoOrigin::start();
    for mode in Mode::ALL {
        let config = limited_config(
            mode,
            origin.addr,
            "bodyTimeoutMs = 200, tunnelIdleTimeoutMs = 60000",
            "readMs = 200",
        );
        let proxy = Proxy::new(&config)
            .file("main.js", mode.script().or(Mode::PassThrough.script()).unwrap())
            .socket("http")
            .start();
        let (mut ws, _) = connect(proxy.port("http"), "/");
        echo(&mut ws, Message::text("a"));
        std::thread::sleep(Duration::from_millis(800));
        echo(&mut ws, Message::text("still here"));
    }
    for mode in Mode::ALL {
        let config = limited_config(mode, origin.addr, "tunnelIdleTimeoutMs = 200", "");
        let proxy = Proxy::new(&config)
            .file("main.js", mode.script().or(Mode::PassThrough.script()).unwrap())
            .socket("http")
            .start();
        let (mut ws, _) = connect(proxy.port("http"), "/");
        echo(&mut ws, Message::text("a"));
        // Idle past the limit: the proxy closes the connection.
        let r = ws.read();
        assert!(r.is_err() || matches!(r, Ok(Message::Close(_))), "{mode:?}: {r:?}");
    }
}

/// A Worker's accepted socket keeps its request alive past the `waitUntil`
/// grace period and gives each message the whole CPU budget; when the
/// client goes away, the Worker gets a close event (1006, not clean).
#[test]
fn an_accepted_socket_outlives_the_grace_period_and_has_cpu_per_message() {
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    // Each message costs about 8 ms of CPU; the budget is 20 ms a request.
    let script = "export default {
  async fetch(request) {
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener('message', (e) => {
      const end = performance.now() + 8;
      let spins = 0;
      while (performance.now() < end) spins++;
      server.send(e.data);
    });
    server.addEventListener('close', (e) => console.log(`closed ${e.code} ${e.wasClean}`));
    return new Response(null, { status: 101, webSocket: client });
  },
};\n";
    let config = worker_config(unused, "").replace(
        "compatibilityDate = \"2024-09-01\",",
        "compatibilityDate = \"2024-09-01\",\n  limits = (waitUntilMs = 100, cpuMs = 20),",
    );
    let proxy = Proxy::new(&config).file("main.js", script).socket("http").start();
    let (mut ws, _) = connect(proxy.port("http"), "/");
    for i in 0..10 {
        echo(&mut ws, Message::text(format!("m{i}")));
    }
    // Past the grace period several times over: the socket still works.
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..10 {
        echo(&mut ws, Message::text(format!("n{i}")));
    }
    // The client vanishes without a close frame.
    drop(ws);
    wait_log(&proxy, "closed 1006 false");
}

/// The example in `config-examples/websocket/` does what its README line
/// says, against a real origin.
#[test]
fn the_websocket_example_runs() {
    let origin = EchoOrigin::start();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config-examples/websocket");
    let config = std::fs::read_to_string(dir.join("config.capnp"))
        .unwrap()
        .replace("127.0.0.1:8081", &origin.addr.to_string())
        .replace("*:8080", "127.0.0.1:0");
    let script = std::fs::read_to_string(dir.join("sockets.js")).unwrap();
    let proxy = Proxy::new(&config).file("sockets.js", &script).socket("http").start();
    let port = proxy.port("http");
    assert_eq!(get(port, "/echo", "a.test").status, 426);
    let (mut ws, _) = connect(port, "/echo");
    echo(&mut ws, Message::text("served"));
    let (mut ws, _) = connect(port, "/shout");
    ws.send(Message::text("quiet")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("QUIET"));
    let (mut ws, resp) = connect(port, "/passed");
    assert_eq!(resp.headers().get("x-origin").unwrap(), "echo");
    echo(&mut ws, Message::text("untouched"));
    // Over the example's 64 KiB limit on an accepted socket: 1009.
    let (mut ws, _) = connect(port, "/echo");
    ws.send(Message::binary(vec![0u8; 65_537])).unwrap();
    assert_eq!(read_close(&mut ws).0, 1009);
}

/// `new WebSocket(url)` in a Worker goes out through its globalOutbound,
/// like any subrequest, and is refused where the Network's rules say so.
#[test]
fn a_worker_opens_a_websocket_client() {
    let origin = EchoOrigin::start();
    let script = "export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get('to');
    const ws = new WebSocket(target, ['chat', 'v2']);
    const events = [`state ${ws.readyState}`];
    try { ws.send('too early'); } catch (e) { events.push(e.name); }
    const done = new Promise((resolve) => {
      ws.addEventListener('open', () => { events.push(`open ${ws.readyState} ${ws.url}`); ws.send('ping from worker'); });
      ws.addEventListener('message', (e) => { events.push(`message ${e.data}`); ws.close(1000, 'thanks'); });
      ws.addEventListener('error', (e) => events.push(`error ${e.message}`));
      ws.addEventListener('close', (e) => { events.push(`close ${e.code} ${e.wasClean}`); resolve(); });
    });
    await done;
    return new Response(events.join('\\n'));
  },
};\n";
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"origin\", external = (address = \"{}\", http = ())),
    (name = \"internet\", network = (allow = [\"public\"])),
  ],
  sockets = [
    (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\"),
    (name = \"open\", address = \"127.0.0.1:0\", http = (), service = \"w2\"),
  ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  globalOutbound = \"origin\",
);
const w2 :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  globalOutbound = \"internet\",
);\n",
        origin.addr
    )
    .replace(
        "    (name = \"w\", worker = .w),\n",
        "    (name = \"w\", worker = .w),\n    (name = \"w2\", worker = .w2),\n",
    );
    let proxy = Proxy::new(&config)
        .file("main.js", script)
        .sockets(&["http", "open"])
        .start();
    let r = get(proxy.port("http"), "/?to=ws://origin.test/feed", "a.test");
    assert_eq!(
        r.text(),
        "state 0\nInvalidStateError\nopen 1 ws://origin.test/feed\nmessage ping from worker\nclose 1000 true",
        "{}",
        proxy.stderr_text()
    );
    assert_eq!(
        origin.handshake_header(0, "sec-websocket-protocol").as_deref(),
        Some("chat, v2")
    );
    // The public-only network refuses a loopback address before connecting.
    let target = format!("/?to=ws://{}/feed", origin.addr);
    let r = get(proxy.port("open"), &target, "a.test");
    let text = r.text();
    assert!(
        text.starts_with("state 0\nInvalidStateError\nerror WebSocket connection failed"),
        "{text}"
    );
    assert!(text.ends_with("close 1006 false"), "{text}");
    assert_eq!(origin.handshakes.lock().unwrap().len(), 1);
}

/// A socket whose 101 agreed to an extension cannot be accepted (its frames
/// could not be read); the Worker gets a TypeError it can act on.
#[test]
fn an_upstream_socket_with_an_extension_cannot_be_accepted() {
    let origin = EchoOrigin::start_with(true);
    let script = "export default {
  async fetch(request, env) {
    const headers = { Upgrade: 'websocket', 'Sec-WebSocket-Extensions': 'permessage-deflate' };
    const r = await env.ORIGIN.fetch('http://origin.test/', { headers });
    try { r.webSocket.accept(); return new Response('accepted'); }
    catch (e) { return new Response(`${e.name} ${r.webSocket.extensions}`); }
  },
};\n";
    let proxy = Proxy::new(&worker_config(origin.addr, ""))
        .file("main.js", script)
        .socket("http")
        .start();
    assert_eq!(
        get(proxy.port("http"), "/", "a.test").text(),
        "TypeError permessage-deflate"
    );
}

/// HTTP/2 has no WebSocket here: the listener does not offer extended
/// CONNECT (RFC 8441), and a Worker that answers an HTTP/2 request with a
/// WebSocket gets a clear 501.
#[test]
fn websockets_over_http2_get_a_clear_answer() {
    let script = "export default { fetch() { const p = new WebSocketPair(); p[1].accept(); return new Response(null, { status: 101, webSocket: p[0] }); } };\n";
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let proxy = Proxy::new(&worker_config(unused, ""))
        .file("main.js", script)
        .socket("http")
        .start();
    let port = proxy.port("http");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = client.ready().await.unwrap();
        assert!(!client.is_extended_connect_protocol_enabled());
        let req = http::Request::builder().uri("http://h2.test/socket").body(()).unwrap();
        let (resp, _) = client.send_request(req, true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 501);
        let mut body = resp.into_body();
        let mut text = Vec::new();
        while let Some(chunk) = body.data().await {
            text.extend_from_slice(&chunk.unwrap());
        }
        let text = String::from_utf8_lossy(&text).into_owned();
        assert!(
            text.contains("WebSocket over HTTP/2 (extended CONNECT) is not supported"),
            "{text}"
        );
    });
}

/// The resident memory of process `pid`, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Memory does not grow with the messages a socket carries.
#[test]
fn memory_stays_flat_over_ten_thousand_messages() {
    let origin = EchoOrigin::start();
    let pass = Mode::PassThrough.start(origin.addr, "");
    let pair = pair_proxy();
    for proxy in [&pass, &pair] {
        let (mut ws, _) = connect(proxy.port("http"), "/");
        let payload = vec![0x5au8; 8 * 1024];
        let mut run = |n: usize| {
            for _ in 0..n {
                ws.send(Message::binary(payload.clone())).unwrap();
                assert_eq!(ws.read().unwrap().len(), payload.len());
            }
        };
        run(1000);
        let before = rss_kib(proxy.pid());
        // 10,000 messages of 8 KiB each way: 80 MiB through the socket.
        run(10_000);
        let after = rss_kib(proxy.pid());
        assert!(after < before + 16 * 1024, "RSS grew from {before} KiB to {after} KiB");
    }
}

/// At shutdown an open socket is cut at the drain deadline, and its
/// access-log record is still written.
#[test]
fn open_sockets_are_cut_at_the_drain_deadline_with_a_record() {
    let origin = EchoOrigin::start();
    for mode in Mode::ALL {
        let config = limited_config(mode, origin.addr, "", "").replace(
            "\n);\nconst w",
            "\n  accessLog = (format = json), server = (drainTimeoutMs = 300),\n);\nconst w",
        );
        let mut proxy = Proxy::new(&config)
            .file("main.js", mode.script().or(Mode::PassThrough.script()).unwrap())
            .socket("http")
            .start();
        let (mut ws, _) = connect(proxy.port("http"), "/held");
        echo(&mut ws, Message::text("open"));
        proxy.signal(libc::SIGTERM);
        assert_eq!(proxy.wait_exit(IO_TIMEOUT), Some(0), "{mode:?}");
        assert!(ws.read().is_err(), "{mode:?}");
        let stdout = proxy.stdout_text();
        let line = stdout
            .lines()
            .find(|l| l.contains("/held"))
            .unwrap_or_else(|| panic!("{mode:?}: {stdout}"));
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["status"], 101, "{mode:?}: {line}");
    }
}

/// An open socket holds its client connection, so it counts against the
/// socket's `maxConnections`.
#[test]
fn open_sockets_count_against_max_connections() {
    let origin = EchoOrigin::start();
    for mode in [Mode::NoScript, Mode::PassThrough] {
        let config = limited_config(mode, origin.addr, "maxConnections = 2", "");
        let proxy = Proxy::new(&config)
            .file("main.js", mode.script().or(Mode::PassThrough.script()).unwrap())
            .socket("http")
            .start();
        let port = proxy.port("http");
        let (mut a, _) = connect(port, "/");
        let (mut b, _) = connect(port, "/");
        echo(&mut a, Message::text("a"));
        echo(&mut b, Message::text("b"));
        assert_eq!(get(port, "/", "a.test").status, 503, "{mode:?}");
        a.close(None).unwrap();
        let _ = read_close(&mut a);
        drop(a);
        // Once the socket is gone, its connection slot is free again.
        let deadline = std::time::Instant::now() + IO_TIMEOUT;
        while get(port, "/", "a.test").status == 503 {
            assert!(std::time::Instant::now() < deadline, "{mode:?}: the slot stays taken");
            std::thread::sleep(Duration::from_millis(20));
        }
        echo(&mut b, Message::text("still open"));
    }
}

/// Messages on a socket a Worker accepted are counted by worker and
/// direction.
#[test]
fn messages_on_accepted_sockets_are_counted() {
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let proxy = Proxy::new(&worker_config(unused, "admin = (address = \"127.0.0.1:0\"),"))
        .file("main.js", &pair_worker("v1"))
        .socket("http")
        .listeners(&["admin"])
        .start();
    let (mut ws, _) = connect(proxy.port("http"), "/");
    for _ in 0..3 {
        echo(&mut ws, Message::binary(vec![1u8; 100]));
    }
    let admin = proxy.port("admin");
    let series = |name: &str, dir: &str| format!("{name}{{direction=\"{dir}\",worker=\"w\"}}");
    assert_eq!(
        proxy.metric(admin, &series("isoproxy_websocket_messages_total", "in")),
        3.0
    );
    assert_eq!(
        proxy.metric(admin, &series("isoproxy_websocket_message_bytes_total", "in")),
        300.0
    );
    // The third echo may still be on its way out when the client has it.
    assert!(proxy.metric(admin, &series("isoproxy_websocket_messages_total", "out")) >= 2.0);
}

/// A close handshake the Worker starts ends even if the peer never
/// answers (after 10 s): the close event says 1006, and the request ends.
#[test]
fn a_close_the_peer_never_answers_ends_the_socket() {
    let proxy = pair_proxy();
    let (mut ws, _) = connect(proxy.port("http"), "/");
    ws.send(Message::text("close 4002 bye")).unwrap();
    // Never read: tungstenite answers a close only when it reads it.
    // (The log line has an empty reason between code and wasClean.)
    wait_log_for(&proxy, "closed 1006  false", Duration::from_secs(30));
    drop(ws);
}

fn wait_log_for(proxy: &Proxy, needle: &str, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while !proxy.stderr_text().contains(needle) && !proxy.stdout_text().contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} in {}",
            proxy.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Worker may pass a WebSocket on to another Worker through a service
/// binding; the socket the second one serves reaches the client.
#[test]
fn a_websocket_served_by_a_worker_behind_a_service_binding() {
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"front\", worker = .front),
    (name = \"back\", worker = .back),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"front\") ],
);
const front :Workerd.Worker = (
  modules = [ (name = \"front.js\", esModule = embed \"front.js\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"BACK\", service = \"back\") ],
);
const back :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
);\n"
    );
    let front = "export default { fetch(request, env) { return env.BACK.fetch(request); } };\n";
    let proxy = Proxy::new(&config)
        .file("front.js", front)
        .file("main.js", &pair_worker("back"))
        .socket("http")
        .start();
    let (mut ws, resp) = connect(proxy.port("http"), "/");
    assert_eq!(resp.headers().get("x-served-by").unwrap(), "pair");
    echo(&mut ws, Message::text("through two Workers"));
    ws.send(Message::text("version")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("back"));
}

/// A handshake with a body (whose bytes would be read as frames once
/// upgraded) is refused, and nothing reaches the origin.
#[test]
fn a_handshake_with_a_body_is_refused() {
    let origin = EchoOrigin::start();
    let proxy = Mode::NoScript.start(origin.addr, "");
    let raw = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
               Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
               Content-Length: 5\r\n\r\nhello";
    let (r, _) = support::exchange(proxy.port("http"), raw.as_bytes());
    assert_eq!(r.map(|r| r.status), Some(400));
    assert!(origin.handshakes.lock().unwrap().is_empty());
}
