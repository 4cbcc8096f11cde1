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

/// A connect handler in front of a network: it vets each CONNECT target,
/// opens allowed ones itself through its `NET` binding and pipes the two
/// sockets; a refused target gets the Worker's own 403; a target it
/// answers itself gets a greeting (as workerd's connect-handler sample).
const CONNECT_WORKER: &str = "import { connect } from 'cloudflare:sockets';
export default {
  fetch() { return new Response('http here'); },
  connect(socket, env) { return vet(socket, env); },
};
async function vet(socket, env) {
  const { remoteAddress } = await socket.opened;
  if (remoteAddress === 'hello.test:1') {
    const w = socket.writable.getWriter();
    await w.write(new TextEncoder().encode('hello'));
    return;
  }
  if (remoteAddress.startsWith('blocked.test')) {
    return new Response('no tunnels to ' + remoteAddress + '\\n', { status: 403, headers: { 'x-vetted-by': 'worker' } });
  }
  if (remoteAddress === 'throws.test:1') throw new Error('refused by a bug');
  const port = Number(remoteAddress.split(':')[1]);
  const upstream = env.NET.connect({ hostname: '127.0.0.1', port });
  await Promise.all([socket.readable.pipeTo(upstream.writable), upstream.readable.pipeTo(socket.writable)]);
}";

fn connect_config(echo_port: u16) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"vetting\", worker = .vetting),
    (name = \"local-net\", network = (allow = [\"local\"], connectPorts = [\"{echo_port}\"])),
  ],
  sockets = [ (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"vetting\",
    limits = (tunnelIdleTimeoutMs = 20000)) ],
  accessLog = (format = json),
);
const vetting :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2025-06-01\",
  bindings = [ (name = \"NET\", service = \"local-net\") ],
);\n"
    )
}

/// A TCP server that sends "echo:" + each chunk it reads back at once.
fn chunk_echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(b"echo:").is_err() || s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Send `CONNECT target`, then `payload`; read the answer and, after a 200,
/// `want` bytes (or to the end when `want` is 0) before closing. Returns
/// the answer's head and the bytes after it.
fn tunnel(port: u16, target: &str, payload: &[u8], want: usize) -> (String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .unwrap();
    if !payload.is_empty() {
        s.write_all(payload).unwrap();
    }
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let head_end = all.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
        if let Some(end) = head_end {
            if want > 0 && all.len() >= end + want {
                break;
            }
        }
        match s.read(&mut buf) {
            Ok(n) if n > 0 => all.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(all.len(), |i| i + 4);
    let rest = all.split_off(split);
    (String::from_utf8_lossy(&all).into_owned(), rest)
}

#[test]
fn a_worker_connect_handler_vets_and_carries_tunnels() {
    let echo = chunk_echo_server();
    let proxy = Proxy::new(&connect_config(echo))
        .file("main.js", CONNECT_WORKER)
        .socket("fwd")
        .start();
    let port = proxy.port("fwd");
    let allowed = format!("echo.test:{echo}");
    // (target, client bytes, status line start, bytes expected back)
    let rows: Vec<(&str, &[u8], &str, Vec<u8>)> = vec![
        (
            &allowed,
            b"through the worker",
            "HTTP/1.1 200",
            b"echo:through the worker".to_vec(),
        ),
        ("hello.test:1", b"", "HTTP/1.1 200", b"hello".to_vec()),
        (
            "blocked.test:443",
            b"",
            "HTTP/1.1 403",
            b"no tunnels to blocked.test:443\n".to_vec(),
        ),
        ("throws.test:1", b"", "HTTP/1.1 500", Vec::new()),
    ];
    for (target, payload, status, want) in rows {
        let (head, body) = tunnel(port, target, payload, want.len() * usize::from(!payload.is_empty()));
        assert!(head.starts_with(status), "{target}: {head}");
        if status.ends_with("403") {
            assert!(head.to_ascii_lowercase().contains("x-vetted-by: worker"), "{head}");
        }
        if !want.is_empty() || status.ends_with("200") {
            assert_eq!(
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&want),
                "{target}"
            );
        }
    }
    // HTTP requests to the same Worker still reach its fetch handler.
    let mut c = Client::connect(port);
    c.send(b"GET http://any.test/ HTTP/1.1\r\nHost: any.test\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().text(), "http here");
    // Each tunnel has one access record naming the Worker and its outcome,
    // written when the tunnel closes (the piped one closes last).
    let hosts = [allowed.as_str(), "hello.test:1", "blocked.test:443", "throws.test:1"];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !hosts
        .iter()
        .all(|h| proxy.stdout_text().contains(&format!("\"host\":\"{h}\"")))
    {
        assert!(std::time::Instant::now() < deadline, "{}", proxy.stdout_text());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = proxy.stdout_text();
    let record = |target: &str| -> serde_json::Value {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("\"host\":\"{target}\"")))
            .unwrap_or_else(|| panic!("no record for {target}: {log}"));
        serde_json::from_str(line).unwrap()
    };
    let ok = record(&allowed);
    assert_eq!(
        (ok["status"].as_u64(), ok["worker_outcome"].as_str()),
        (Some(200), Some("ok"))
    );
    assert_eq!(ok["bytes_in"].as_u64(), Some(18), "{ok}");
    assert_eq!(ok["bytes_out"].as_u64(), Some(23), "{ok}");
    let refused = record("blocked.test:443");
    assert_eq!(refused["status"].as_u64(), Some(403));
    let threw = record("throws.test:1");
    assert_eq!(
        (threw["status"].as_u64(), threw["worker_outcome"].as_str()),
        (Some(500), Some("exception"))
    );
}

/// A Worker without a connect handler answers CONNECT with 405; one with
/// only a connect handler loads, and an HTTP request to it fails with 500.
#[test]
fn connect_without_a_handler_and_a_handler_without_fetch() {
    let echo = echo_server();
    let rows = [
        ("export default { fetch() { return new Response('x'); } };", "HTTP/1.1 405", "HTTP/1.1 200"),
        (
            "export default { async connect(socket) { await socket.writable.getWriter().write(new Uint8Array([104, 105])); } };",
            "HTTP/1.1 200",
            "HTTP/1.1 500",
        ),
    ];
    for (script, connect_status, get_status) in rows {
        let proxy = Proxy::new(&connect_config(echo))
            .file("main.js", script)
            .socket("fwd")
            .start();
        let port = proxy.port("fwd");
        let (head, _) = tunnel(port, "x.test:1", b"", 0);
        assert!(head.starts_with(connect_status), "{script}: {head}");
        let mut c = Client::connect(port);
        c.send(b"GET http://any.test/ HTTP/1.1\r\nHost: any.test\r\n\r\n");
        let r = c.read_response(false).unwrap();
        assert!(
            format!("HTTP/1.1 {}", r.status).starts_with(get_status),
            "{script}: {}",
            r.status
        );
    }
}

/// A `tcp = ()` socket hands each connection to the connect handler (the
/// shape of workerd's tcp-ingress sample): bytes echo back with no HTTP
/// around them, one record per connection.
#[test]
fn a_tcp_socket_hands_connections_to_the_connect_handler() {
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"main\", worker = .worker) ],
  sockets = [
    (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"main\"),
    (name = \"tcp\", address = \"127.0.0.1:0\", tcp = (), service = \"main\"),
  ],
  accessLog = (format = json),
);
const worker :Workerd.Worker = (
  modules = [ (name = \"worker\", esModule = embed \"worker.js\") ],
  compatibilityFlags = [\"nodejs_compat_v2\"],
  compatibilityDate = \"2026-03-01\",
);\n"
    );
    let script = "export default {
  async fetch(req) { return new Response('ok'); },
  async connect(socket) { await socket.readable.pipeTo(socket.writable); },
};";
    let proxy = Proxy::new(&config)
        .file("worker.js", script)
        .sockets(&["http", "tcp"])
        .start();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", proxy.port("tcp"))).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    for msg in [&b"first line\n"[..], b"GET / HTTP/1.1\r\n\r\n", &[0u8, 255, 1]] {
        s.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(get(proxy.port("http"), "/", "x").text(), "ok");
    assert!(proxy.wait_stdout(std::time::Duration::from_secs(10), "\"method\":\"TCP\""));
    let log = proxy.stdout_text();
    let line = log.lines().find(|l| l.contains("\"method\":\"TCP\"")).unwrap();
    let r: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        (r["socket"].as_str(), r["status"].as_u64()),
        (Some("tcp"), Some(200)),
        "{line}"
    );
    assert_eq!(
        (r["bytes_in"].as_u64(), r["bytes_out"].as_u64()),
        (Some(32), Some(32)),
        "{line}"
    );
}

/// A Worker reaches another Worker's connect handler through a service
/// binding (`env.TARGET.connect()`, a named `WorkerEntrypoint`, as in
/// workerd's connect-handler tests): bytes go both ways in process.
#[test]
fn a_service_binding_connects_to_another_workers_connect_handler() {
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"a\", worker = .a), (name = \"b\", worker = .b) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"a\") ],
);
const a :Workerd.Worker = (
  modules = [ (name = \"a.js\", esModule = embed \"a.js\") ],
  compatibilityDate = \"2025-09-20\",
  bindings = [ (name = \"TARGET\", service = (name = \"b\", entrypoint = \"ConnectEndpoint\")) ],
);
const b :Workerd.Worker = (
  modules = [ (name = \"b.js\", esModule = embed \"b.js\") ],
  compatibilityDate = \"2025-09-20\",
);\n"
    );
    let caller = "export default {
  async fetch(req, env) {
    const socket = env.TARGET.connect('localhost:8083');
    const { remoteAddress } = await socket.opened;
    const w = socket.writable.getWriter();
    await w.write(new TextEncoder().encode('ping'));
    let result = '';
    const dec = new TextDecoder();
    for await (const chunk of socket.readable) result += dec.decode(chunk, { stream: true });
    return new Response(remoteAddress + ' ' + result);
  },
};";
    let callee = "import { WorkerEntrypoint } from 'cloudflare:workers';
export class ConnectEndpoint extends WorkerEntrypoint {
  async connect(socket) {
    const { value } = await socket.readable.getReader().read();
    const { remoteAddress } = await socket.opened;
    await socket.writable.getWriter().write(new TextEncoder().encode(`hello ${new TextDecoder().decode(value)} via ${remoteAddress}`));
  }
}
export default { fetch() { return new Response('b'); } };";
    let proxy = Proxy::new(&config)
        .files(&[("a.js", caller), ("b.js", callee)])
        .socket("http")
        .start();
    let r = get(proxy.port("http"), "/", "a.test");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "localhost:8083 hello ping via localhost:8083");
}
