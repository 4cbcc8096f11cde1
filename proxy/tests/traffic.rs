//! Traffic management without a script, through the binary: PROXY protocol
//! receive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::*;

fn v2(command: u8, family: u8, addrs: &[u8]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    h.extend_from_slice(addrs);
    h
}

fn v2_tcp4(src: [u8; 4], port: u16) -> Vec<u8> {
    let mut a = src.to_vec();
    a.extend_from_slice(&[127, 0, 0, 1]);
    a.extend_from_slice(&port.to_be_bytes());
    a.extend_from_slice(&80u16.to_be_bytes());
    v2(1, 0x11, &a)
}

fn v2_tcp6(src: &str, port: u16) -> Vec<u8> {
    let mut a = src.parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec();
    a.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    a.extend_from_slice(&port.to_be_bytes());
    a.extend_from_slice(&80u16.to_be_bytes());
    v2(1, 0x21, &a)
}

/// The access log's lines so far, once it has at least `n`.
fn access_log(proxy: &Proxy, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = proxy.stdout_text();
        if log.lines().count() >= n || Instant::now() > deadline {
            return log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn proxy_protocol_from_allowed_and_disallowed_sources() {
    let origin = Origin::echo();
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"origin\", external = (address = \"{}\", http = ())),
    (name = \"w\", worker = .w),
  ],
  sockets = [
    (name = \"trusted\", address = \"127.0.0.1:0\", http = (), service = \"origin\",
     proxyProtocol = (trustedSources = [\"127.0.0.0/8\"])),
    (name = \"optional\", address = \"127.0.0.1:0\", http = (), service = \"origin\",
     proxyProtocol = (trustedSources = [\"local\"], optional = true)),
    (name = \"untrusted\", address = \"127.0.0.1:0\", http = (), service = \"origin\",
     proxyProtocol = (trustedSources = [\"10.0.0.0/8\", \"2001:db8::/32\"])),
    (name = \"worker\", address = \"127.0.0.1:0\", http = (), service = \"w\",
     proxyProtocol = (trustedSources = [\"127.0.0.1\"])),
  ],
  accessLog = (format = json),
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = \"export default {{ fetch(r, env) {{ return env.ORIGIN.fetch(r); }} }}\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"ORIGIN\", service = \"origin\") ],
);
",
        origin.addr
    );
    let proxy = Proxy::new(&config)
        .sockets(&["trusted", "optional", "untrusted", "worker"])
        .start();
    let get = b"GET /pp HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".to_vec();
    let with = |header: &[u8]| [header, get.as_slice()].concat();
    // socket, bytes sent, X-Forwarded-For the origin must see (None: the
    // connection is closed without a response and nothing reaches the origin).
    let rows: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("trusted", with(b"PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\r\n"), Some("198.51.100.7")),
        ("trusted", with(b"PROXY TCP6 2001:db8::7 ::1 5555 80\r\n"), Some("2001:db8::7")),
        ("trusted", with(b"PROXY UNKNOWN\r\n"), Some("127.0.0.1")),
        ("trusted", with(&v2_tcp4([203, 0, 113, 9], 6000)), Some("203.0.113.9")),
        ("trusted", with(&v2_tcp6("2001:db8::9", 6000)), Some("2001:db8::9")),
        ("trusted", with(&v2(0, 0x00, &[])), Some("127.0.0.1")),
        ("trusted", get.clone(), None),
        ("trusted", with(b"PROXY TCP4 198.51.100.300 127.0.0.1 1 2\r\n"), None),
        ("trusted", with(&v2(1, 0x11, &[1, 2, 3])), None),
        ("optional", get.clone(), Some("127.0.0.1")),
        ("optional", with(b"PROXY TCP4 198.51.100.8 127.0.0.1 5555 80\r\n"), Some("198.51.100.8")),
        ("untrusted", get.clone(), Some("127.0.0.1")),
        ("untrusted", with(b"PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\r\n"), None),
        ("untrusted", with(&v2_tcp4([203, 0, 113, 9], 6000)), None),
        ("worker", with(b"PROXY TCP4 192.0.2.44 127.0.0.1 5555 80\r\n"), Some("192.0.2.44")),
    ];
    let mut served = 0;
    for (socket, bytes, want) in &rows {
        let before = origin.requests().len();
        let (resp, _) = exchange(proxy.port(socket), bytes);
        let name = format!("{socket} {:?}", String::from_utf8_lossy(&bytes[..bytes.len().min(48)]));
        match want {
            Some(xff) => {
                let resp = resp.unwrap_or_else(|| panic!("{name}: no response"));
                assert_eq!(resp.status, 200, "{name}");
                let got = origin.requests();
                assert_eq!(got.len(), before + 1, "{name}");
                assert_eq!(got[before].header("x-forwarded-for"), Some(*xff), "{name}");
                assert_eq!(got[before].target, "/pp", "{name}");
                served += 1;
            }
            None => {
                assert!(resp.is_none(), "{name}: expected a closed connection, got {resp:?}");
                assert_eq!(origin.requests().len(), before, "{name}: reached the origin");
            }
        }
    }
    // The access log has the carried address as the client.
    let refused = rows.iter().filter(|r| r.2.is_none()).count();
    let log = access_log(&proxy, served + refused);
    let clients: Vec<String> = log
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| r["client"].as_str().unwrap_or("").to_string())
        .collect();
    for ip in ["198.51.100.7", "2001:db8::7", "203.0.113.9", "2001:db8::9", "198.51.100.8", "192.0.2.44"] {
        assert!(clients.iter().any(|c| c.contains(ip)), "{ip} not in {clients:?}");
    }
    assert_eq!(
        log.iter().filter(|r| r["status"] == 400).count(),
        refused,
        "one 400 record per refused connection: {log:?}"
    );
}

/// Two requests on one keep-alive connection both carry the address; the
/// header is read once, at the start.
#[test]
fn proxy_protocol_address_holds_for_the_connection() {
    let origin = Origin::echo();
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"origin\", external = (address = \"{}\", http = ())) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"origin\",
     proxyProtocol = (trustedSources = [\"127.0.0.1/32\"])) ],
);
",
        origin.addr
    );
    let proxy = Proxy::new(&config).socket("http").start();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"PROXY TCP4 198.51.100.1 127.0.0.1 40000 80\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().status, 200);
    c.send(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().status, 200);
    let got = origin.requests();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(r.header("x-forwarded-for"), Some("198.51.100.1"), "{}", r.target);
    }
    let (resp, _) = exchange(
        proxy.port("http"),
        b"PROXY TCP4 198.51.100.1 127.0.0.1 40000 80\r\nPROXY TCP4 198.51.100.2 127.0.0.1 40000 80\r\n\r\n",
    );
    assert_eq!(resp.map(|r| r.status), Some(400), "a second header is not HTTP");
    assert_eq!(origin.requests().len(), 2);
}
