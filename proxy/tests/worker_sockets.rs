//! End-to-end: `connect()` from `cloudflare:sockets` opens TCP connections
//! through the Worker's globalOutbound network, under its rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use support::*;

/// A TCP server on 127.0.0.1 that answers each connection with
/// "echo:" + what it read, until the client half-closes.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                let _ = s.write_all(b"echo:");
                let _ = s.write_all(&got);
            });
        }
    });
    port
}

const WORKER: &str = "import { connect } from 'cloudflare:sockets';
export default { async fetch(request, env) {
  const url = new URL(request.url);
  const port = Number(url.searchParams.get('port'));
  try {
    const address = { hostname: '127.0.0.1', port };
    const socket = url.searchParams.has('binding') ? env.NET.connect(address) : connect(address);
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode('ping '));
    await writer.write('pong');
    await writer.close();
    const text = await new Response(socket.readable).text();
    const info = await socket.opened;
    await socket.close();
    await socket.closed;
    return new Response(text + ' from ' + info.remoteAddress);
  } catch (e) {
    return new Response('error: ' + e.message, { status: 502 });
  }
} };";

/// Two Workers, each with its own globalOutbound network.
fn config(echo_port: u16) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"allowed\", worker = .allowed),
    (name = \"refused\", worker = .refused),
    (name = \"local-net\", network = (allow = [\"local\"], connectPorts = [\"{echo_port}\"])),
    (name = \"public-net\", network = (allow = [\"public\"], connectPorts = [\"{echo_port}\"])),
  ],
  sockets = [
    (name = \"a\", address = \"127.0.0.1:0\", http = (), service = \"allowed\"),
    (name = \"b\", address = \"127.0.0.1:0\", http = (), service = \"refused\"),
  ],
);
const allowed :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2025-06-01\",
  globalOutbound = \"local-net\",
);
const refused :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2025-06-01\",
  globalOutbound = \"public-net\",
  bindings = [ (name = \"NET\", service = \"local-net\") ],
);\n"
    )
}

#[test]
fn tcp_echo_through_one_network_and_refused_by_another() {
    let echo = echo_server();
    let proxy = Proxy::new(&config(echo))
        .file("main.js", WORKER)
        .sockets(&["a", "b"])
        .start();
    let r = get(proxy.port("a"), &format!("/?port={echo}"), "sock.test");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), format!("echo:ping pong from 127.0.0.1:{echo}"));

    // The public-only network refuses a loopback address.
    let r = get(proxy.port("b"), &format!("/?port={echo}"), "sock.test");
    assert_eq!(r.status, 502);
    assert!(
        r.text().starts_with("error: destination refused by policy"),
        "{}",
        r.text()
    );

    // The same Worker reaches it through a binding to the allowing network.
    let r = get(proxy.port("b"), &format!("/?port={echo}&binding"), "sock.test");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), format!("echo:ping pong from 127.0.0.1:{echo}"));

    // A port outside connectPorts is refused before any connection.
    let r = get(
        proxy.port("a"),
        &format!("/?port={}", echo.wrapping_add(1).max(1)),
        "sock.test",
    );
    assert_eq!(r.status, 502);
    assert!(r.text().contains("connectPorts"), "{}", r.text());
}
