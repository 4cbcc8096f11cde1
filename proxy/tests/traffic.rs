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
        (
            "trusted",
            with(b"PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\r\n"),
            Some("198.51.100.7"),
        ),
        (
            "trusted",
            with(b"PROXY TCP6 2001:db8::7 ::1 5555 80\r\n"),
            Some("2001:db8::7"),
        ),
        ("trusted", with(b"PROXY UNKNOWN\r\n"), Some("127.0.0.1")),
        ("trusted", with(&v2_tcp4([203, 0, 113, 9], 6000)), Some("203.0.113.9")),
        ("trusted", with(&v2_tcp6("2001:db8::9", 6000)), Some("2001:db8::9")),
        ("trusted", with(&v2(0, 0x00, &[])), Some("127.0.0.1")),
        ("trusted", get.clone(), None),
        ("trusted", with(b"PROXY TCP4 198.51.100.300 127.0.0.1 1 2\r\n"), None),
        ("trusted", with(&v2(1, 0x11, &[1, 2, 3])), None),
        ("optional", get.clone(), Some("127.0.0.1")),
        (
            "optional",
            with(b"PROXY TCP4 198.51.100.8 127.0.0.1 5555 80\r\n"),
            Some("198.51.100.8"),
        ),
        ("untrusted", get.clone(), Some("127.0.0.1")),
        (
            "untrusted",
            with(b"PROXY TCP4 198.51.100.7 127.0.0.1 5555 80\r\n"),
            None,
        ),
        ("untrusted", with(&v2_tcp4([203, 0, 113, 9], 6000)), None),
        (
            "worker",
            with(b"PROXY TCP4 192.0.2.44 127.0.0.1 5555 80\r\n"),
            Some("192.0.2.44"),
        ),
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
    for ip in [
        "198.51.100.7",
        "2001:db8::7",
        "203.0.113.9",
        "2001:db8::9",
        "198.51.100.8",
        "192.0.2.44",
    ] {
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

/// An origin that answers with its own name in `x-origin`.
fn named_origin(name: &'static str) -> Origin {
    Origin::start(move |r| Reply {
        status: 200,
        headers: vec![
            ("x-origin".into(), name.into()),
            ("x-echo-target".into(), r.target.clone()),
            ("x-echo-tenant".into(), r.header("x-tenant").unwrap_or("").into()),
        ],
        body: Vec::new(),
        chunked: false,
    })
}

#[test]
fn routing_table_by_host_and_path() {
    let (api, v1, wild, static_, fallback) = (
        named_origin("api"),
        named_origin("v1"),
        named_origin("wild"),
        named_origin("static"),
        named_origin("fallback"),
    );
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"api\", external = (address = \"{}\", http = ())),
    (name = \"v1\", external = (address = \"{}\", http = ())),
    (name = \"wild\", external = (address = \"{}\", http = ())),
    (name = \"static\", external = (address = \"{}\", http = ())),
    (name = \"fallback\", external = (address = \"{}\", http = ())),
    (name = \"w\", worker = .w),
    (name = \"edge\", router = (
      routes = [
        (host = \"api.example.com\", service = \"api\",
         injectRequestHeaders = [(name = \"X-Tenant\", value = \"api\")],
         injectResponseHeaders = [(name = \"X-Route\", value = \"api\")]),
        (host = \"api.example.com\", pathPrefix = \"/v1\", service = \"v1\", rewritePrefix = \"/internal/v1\"),
        (host = \"*.example.com\", service = \"wild\"),
        (host = \"*.example.com\", pathPrefix = \"/static/\", service = \"static\", stripPrefix = true),
        (pathPrefix = \"/js\", service = \"w\", name = \"script\",
         injectResponseHeaders = [(name = \"X-Route\", value = \"script\")]),
      ],
      default = \"fallback\",
    )),
    (name = \"strict\", router = (routes = [ (host = \"only.test\", service = \"api\") ])),
  ],
  sockets = [
    (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"edge\"),
    (name = \"strict\", address = \"127.0.0.1:0\", http = (), service = \"strict\"),
  ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = \"export default {{ fetch(r) {{ return new Response(new URL(r.url).pathname, {{ headers: {{ 'x-origin': 'worker' }} }}); }} }}\") ],
  compatibilityDate = \"2024-09-01\",
);
",
        api.addr, v1.addr, wild.addr, static_.addr, fallback.addr
    );
    let proxy = Proxy::new(&config).sockets(&["http", "strict"]).start();
    let port = proxy.port("http");
    // host, path -> origin, path the origin sees, X-Tenant it sees, X-Route the client sees
    let rows = [
        ("api.example.com", "/", "api", "/", "api", Some("api")),
        (
            "API.Example.com:8080",
            "/users?id=1",
            "api",
            "/users?id=1",
            "api",
            Some("api"),
        ),
        ("api.example.com", "/v1", "v1", "/internal/v1", "", None),
        (
            "api.example.com",
            "/v1/users?x=2",
            "v1",
            "/internal/v1/users?x=2",
            "",
            None,
        ),
        ("api.example.com", "/v10", "api", "/v10", "api", Some("api")),
        ("www.example.com", "/", "wild", "/", "", None),
        ("www.example.com", "/static/app.css", "static", "/app.css", "", None),
        ("a.b.example.com", "/static", "static", "/", "", None),
        ("example.com", "/", "fallback", "/", "", None),
        ("other.org", "/static/x", "fallback", "/static/x", "", None),
        ("other.org", "/js/x", "worker", "/js/x", "", Some("script")),
        ("api.example.com", "/js", "api", "/js", "api", Some("api")),
    ];
    for (host, path, origin, target, tenant, route) in rows {
        let r = get(port, path, host);
        let name = format!("{host} {path}");
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.header("x-origin"), Some(origin), "{name}");
        if origin == "worker" {
            assert_eq!(r.text(), target, "{name}");
        } else {
            assert_eq!(r.header("x-echo-target"), Some(target), "{name}");
            assert_eq!(r.header("x-echo-tenant"), Some(tenant), "{name}");
        }
        assert_eq!(r.header("x-route"), route, "{name}");
    }
    // A client cannot choose its route's injected headers away.
    let (r, _) = exchange(
        port,
        b"GET / HTTP/1.1\r\nHost: api.example.com\r\nX-Tenant: evil\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.unwrap().header("x-echo-tenant"), Some("api"));
    // Without a default, no match is 404 and nothing is forwarded.
    let before = api.requests().len();
    let r = get(proxy.port("strict"), "/", "elsewhere.test");
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(api.requests().len(), before);
    assert_eq!(
        get(proxy.port("strict"), "/", "only.test").header("x-origin"),
        Some("api")
    );
}

/// Status of a GET on a fresh connection, with extra header lines.
fn status_with(port: u16, host: &str, path: &str, extra: &str) -> (u16, Option<String>) {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
    let (r, _) = exchange(port, raw.as_bytes());
    let r = r.expect("no response");
    (r.status, r.header("retry-after").map(str::to_string))
}

#[test]
fn rate_limits_admit_the_burst_then_refuse() {
    let origin = Origin::echo();
    let config = format!(
        "{USING}const config :Workerd.Config = (
  admin = (address = \"127.0.0.1:0\"),
  services = [
    (name = \"origin\", external = (address = \"{0}\", http = ())),
    (name = \"edge\", router = (
      routes = [
        (pathPrefix = \"/limited\", service = \"origin\", name = \"limited\",
         rateLimit = (requestsPerSecond = 1, burst = 10, key = (all = void))),
      ],
      default = \"origin\",
    )),
  ],
  sockets = [
    (name = \"by-client\", address = \"127.0.0.1:0\", http = (), service = \"origin\",
     rateLimit = (requestsPerSecond = 1, burst = 20)),
    (name = \"by-header\", address = \"127.0.0.1:0\", http = (), service = \"origin\",
     rateLimit = (requestsPerSecond = 1, burst = 20, key = (header = \"X-Api-Key\"))),
    (name = \"routes\", address = \"127.0.0.1:0\", http = (), service = \"edge\"),
  ],
);
",
        origin.addr
    );
    let proxy = Proxy::new(&config)
        .sockets(&["by-client", "by-header", "routes"])
        .listeners(&["admin"])
        .start();
    // The windows are 20 and 10 seconds long, at 1 request per second: a
    // burst of requests gets the burst admitted, plus at most one more per
    // second the burst takes (a few at most), then 429 with Retry-After.
    let count = |port: u16, path: &str, extra: &str, n: usize| -> usize {
        let mut ok = 0;
        for _ in 0..n {
            match status_with(port, "x.test", path, extra) {
                (200, _) => ok += 1,
                (429, Some(secs)) => assert!(secs.parse::<u64>().unwrap() >= 1, "{secs}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        ok
    };
    // socket, path, header line, requests sent, admitted (±10 %)
    let rows = [
        ("by-client", "/", "", 60, 20),
        ("by-header", "/", "X-Api-Key: a\r\n", 60, 20),
        ("by-header", "/", "X-Api-Key: b\r\n", 60, 20),
        ("by-header", "/", "", 60, 20),
        ("routes", "/limited/x", "", 40, 10),
    ];
    let mut refused = 0;
    for (socket, path, extra, n, want) in rows {
        let ok = count(proxy.port(socket), path, extra, n);
        let (lo, hi) = (want - want / 10, want + want / 10);
        assert!(
            (lo..=hi).contains(&ok),
            "{socket} {extra:?}: {ok} admitted of {n}, want {want} ±10 %"
        );
        refused += n - ok;
    }
    // Another route on the same socket has no limit.
    assert_eq!(count(proxy.port("routes"), "/free", "", 30), 30);
    let admin = proxy.port("admin");
    let sum: f64 = [("", "by-client"), ("", "by-header"), ("limited", "routes")]
        .iter()
        .map(|(route, socket)| {
            proxy.metric(
                admin,
                &format!("isoproxy_rate_limited_total{{route=\"{route}\",socket=\"{socket}\"}}"),
            )
        })
        .sum();
    assert_eq!(sum as usize, refused);
}

#[test]
fn concurrent_requests_cap_answers_503_at_once() {
    use std::sync::{Arc, Condvar, Mutex};
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let g = gate.clone();
    let origin = Origin::start(move |_| {
        let (open, cv) = &*g;
        let mut o = open.lock().unwrap();
        while !*o {
            o = cv.wait(o).unwrap();
        }
        Reply::ok("done")
    });
    let config = format!(
        "{USING}const config :Workerd.Config = (
  admin = (address = \"127.0.0.1:0\"),
  services = [ (name = \"origin\", external = (address = \"{}\", http = (), maxConcurrentRequests = 2)) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"origin\") ],
);
",
        origin.addr
    );
    let proxy = Proxy::new(&config).socket("http").listeners(&["admin"]).start();
    let port = proxy.port("http");
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = Client::connect(port);
        c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
        held.push(c);
    }
    // Both reached the origin (and wait there).
    let deadline = Instant::now() + Duration::from_secs(10);
    while origin.requests().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(origin.requests().len(), 2);
    for _ in 0..3 {
        let r = get(port, "/more", "x");
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(r.header("retry-after").is_some());
    }
    assert_eq!(origin.requests().len(), 2, "refused requests never reach the origin");
    {
        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
    for c in &mut held {
        assert_eq!(c.read_response(false).unwrap().status, 200);
    }
    drop(held);
    assert_eq!(get(port, "/after", "x").status, 200, "places are given back");
    assert_eq!(
        proxy.metric(
            proxy.port("admin"),
            "isoproxy_upstream_overloaded_total{service=\"origin\"}"
        ),
        3.0
    );
}

/// Send `n` GETs on one keep-alive connection; count answers by `x-origin`.
fn spread(port: u16, n: usize, extra: impl Fn(usize) -> String) -> std::collections::BTreeMap<String, usize> {
    let mut c = Client::connect(port);
    let mut out = std::collections::BTreeMap::new();
    for i in 0..n {
        c.send(format!("GET /r{i} HTTP/1.1\r\nHost: pool.test\r\n{}\r\n", extra(i)).as_bytes());
        let r = c.read_response(false).expect("response");
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        *out.entry(r.header("x-origin").unwrap_or("?").to_string()).or_default() += 1;
    }
    out
}

#[test]
fn balancing_policies_over_1000_requests() {
    let origins = [named_origin("a"), named_origin("b"), named_origin("c")];
    let list = origins
        .iter()
        .map(|o| format!("\"{}\"", o.addr))
        .collect::<Vec<_>>()
        .join(", ");
    let pool = |name: &str, balancing: &str| {
        format!("(name = \"{name}\", external = (addresses = [{list}], http = (), balancing = ({balancing}))),")
    };
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    {}
    {}
    {}
    {}
    {}
  ],
  sockets = [
    (name = \"rr\", address = \"127.0.0.1:0\", http = (), service = \"rr\"),
    (name = \"weighted\", address = \"127.0.0.1:0\", http = (), service = \"weighted\"),
    (name = \"random\", address = \"127.0.0.1:0\", http = (), service = \"random\"),
    (name = \"hash\", address = \"127.0.0.1:0\", http = (), service = \"hash\"),
    (name = \"least\", address = \"127.0.0.1:0\", http = (), service = \"least\"),
  ],
);
",
        pool("rr", "policy = roundRobin"),
        pool("weighted", "policy = roundRobin, weights = [1, 2, 3]"),
        pool("random", "policy = random"),
        pool("hash", "policy = consistentHash, hashKey = (header = \"X-User\")"),
        pool("least", "policy = leastConnections"),
    );
    let proxy = Proxy::new(&config)
        .sockets(&["rr", "weighted", "random", "hash", "least"])
        .start();
    let none = |_| String::new();
    // socket -> (low, high) per origin a, b, c over 1,000 requests
    let rows: [(&str, [(usize, usize); 3]); 4] = [
        ("rr", [(333, 334); 3]), // the turn order follows the addresses
        ("weighted", [(166, 167), (332, 334), (499, 501)]),
        ("random", [(250, 420); 3]),
        // Sequential requests tie at 0 in flight: ties take turns (a
        // request still finishing when the next is chosen can move one).
        ("least", [(300, 367); 3]),
    ];
    for (socket, want) in rows {
        let got = spread(proxy.port(socket), 1000, none);
        for (o, (lo, hi)) in ["a", "b", "c"].iter().zip(want) {
            let n = got.get(*o).copied().unwrap_or(0);
            assert!(
                (lo..=hi).contains(&n),
                "{socket}: {o} got {n}, want {lo}..={hi} ({got:?})"
            );
        }
    }
    // Consistent hashing: 1,000 users spread over all three, and each user
    // always reaches the same origin.
    let got = spread(proxy.port("hash"), 1000, |i| format!("X-User: user-{i}\r\n"));
    assert!(
        ["a", "b", "c"].iter().all(|o| got.get(*o).copied().unwrap_or(0) >= 150),
        "{got:?}"
    );
    for u in 0..20 {
        let seen = spread(proxy.port("hash"), 10, |_| format!("X-User: sticky-{u}\r\n"));
        assert_eq!(seen.len(), 1, "user sticky-{u} moved: {seen:?}");
    }
}

#[test]
fn least_connections_avoids_the_busy_origin() {
    use std::sync::{Arc, Condvar, Mutex};
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let gated = |name: &'static str| {
        let g = gate.clone();
        Origin::start(move |r| {
            if r.target == "/hold" {
                let (open, cv) = &*g;
                let mut o = open.lock().unwrap();
                while !*o {
                    o = cv.wait(o).unwrap();
                }
            }
            let mut reply = Reply::ok("");
            reply.headers.push(("x-origin".into(), name.into()));
            reply
        })
    };
    let origins = [gated("a"), gated("b"), gated("c")];
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"pool\", external = (addresses = [\"{}\", \"{}\", \"{}\"], http = (),
                balancing = (policy = leastConnections))) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"pool\") ],
);
",
        origins[0].addr, origins[1].addr, origins[2].addr
    );
    let proxy = Proxy::new(&config).socket("http").start();
    let port = proxy.port("http");
    let mut held = Client::connect(port);
    held.send(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    let busy = loop {
        if let Some(i) = origins
            .iter()
            .position(|o| o.requests().iter().any(|r| r.target == "/hold"))
        {
            break ["a", "b", "c"][i];
        }
        assert!(Instant::now() < deadline, "the held request never arrived");
        std::thread::sleep(Duration::from_millis(10));
    };
    let got = spread(port, 30, |_| String::new());
    assert_eq!(got.get(busy), None, "{busy} has a request in flight: {got:?}");
    assert_eq!(got.values().sum::<usize>(), 30);
    {
        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
    assert_eq!(held.read_response(false).unwrap().status, 200);
}

/// An origin that can be stopped (its port then refuses connections) and
/// started again on the same port. Every response closes its connection,
/// so no pooled connection outlives a stop.
struct Killable {
    name: &'static str,
    addr: std::net::SocketAddr,
    stop: Option<(
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        std::thread::JoinHandle<()>,
    )>,
    served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Killable {
    fn start(name: &'static str) -> Killable {
        let mut k = Killable {
            name,
            addr: "127.0.0.1:0".parse().unwrap(),
            stop: None,
            served: Default::default(),
        };
        k.restart();
        k
    }

    fn restart(&mut self) {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(self.addr).unwrap();
        self.addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, served, name) = (stop.clone(), self.served.clone(), self.name);
        let t = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let served = served.clone();
                        std::thread::spawn(move || {
                            s.set_nonblocking(false).unwrap();
                            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                            let mut buf = Vec::new();
                            let mut chunk = [0u8; 4096];
                            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                                match s.read(&mut chunk) {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                                }
                            }
                            if !buf.starts_with(b"GET /health") {
                                served.fetch_add(1, Ordering::SeqCst);
                            }
                            let _ = write!(
                                s,
                                "HTTP/1.1 200 OK\r\nx-origin: {name}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                            );
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        self.stop = Some((stop, t));
    }

    fn kill(&mut self) {
        if let Some((flag, t)) = self.stop.take() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            t.join().unwrap();
        }
    }
}

impl Drop for Killable {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The admin listener's view of one origin's health.
fn healthy(admin: u16, origin: std::net::SocketAddr) -> Option<bool> {
    let body = get(admin, "/upstreams", "admin").text();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["address"] == origin.to_string())
        .and_then(|u| u["healthy"].as_bool())
}

#[test]
fn health_checks_mark_an_origin_down_and_up_without_client_errors() {
    let mut a = Killable::start("a");
    let b = Killable::start("b");
    let config = format!(
        "{USING}const config :Workerd.Config = (
  admin = (address = \"127.0.0.1:0\"),
  services = [ (name = \"pool\", external = (addresses = [\"{}\", \"{}\"], http = (), unhealthyMs = 200,
                healthCheck = (http = (path = \"/health\"), intervalMs = 100, rise = 2, fall = 2))) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"pool\") ],
);
",
        a.addr, b.addr
    );
    let proxy = Proxy::new(&config).socket("http").listeners(&["admin"]).start();
    let (port, admin) = (proxy.port("http"), proxy.port("admin"));
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        // Meanwhile, clients keep coming: none of them may fail.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            assert_eq!(get(port, "/", "pool.test").status, 200, "while waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("both healthy", &|| {
        healthy(admin, a.addr) == Some(true) && healthy(admin, b.addr) == Some(true)
    });
    let both = spread(port, 20, |_| String::new());
    assert_eq!(both.len(), 2, "{both:?}");

    a.kill();
    wait_for("a marked down", &|| healthy(admin, a.addr) == Some(false));
    assert_eq!(healthy(admin, b.addr), Some(true));
    let only_b = spread(port, 30, |_| String::new());
    assert_eq!(only_b.get("b"), Some(&30), "{only_b:?}");

    a.restart();
    wait_for("a marked up", &|| healthy(admin, a.addr) == Some(true));
    let before = a.served.load(std::sync::atomic::Ordering::SeqCst);
    let again = spread(port, 30, |_| String::new());
    assert!(again.get("a").copied().unwrap_or(0) >= 10, "{again:?}");
    assert!(a.served.load(std::sync::atomic::Ordering::SeqCst) > before);
    assert_eq!(
        proxy.metric(
            admin,
            &format!(
                "isoproxy_upstream_healthy{{address=\"{0}\",origin=\"{0}\",service=\"pool\"}}",
                a.addr
            )
        ),
        1.0
    );
}

/// On an https socket the PROXY header comes before the TLS handshake.
#[test]
fn proxy_protocol_before_tls() {
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::io::{Read, Write};
    let origin = Origin::echo();
    let cert = rcgen::generate_simple_self_signed(vec!["edge.test".to_string()]).unwrap();
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"origin\", external = (address = \"{}\", http = ())) ],
  sockets = [ (name = \"https\", address = \"127.0.0.1:0\", service = \"origin\",
     https = (options = (), tlsOptions = (keypair = (privateKey = embed \"key.pem\", certificateChain = embed \"cert.pem\"))),
     proxyProtocol = (trustedSources = [\"local\"])) ],
);
",
        origin.addr
    );
    let key_pem = cert.key_pair.serialize_pem();
    let cert_pem = cert.cert.pem();
    let proxy = Proxy::new(&config)
        .files(&[("key.pem", key_pem.as_str()), ("cert.pem", cert_pem.as_str())])
        .socket("https")
        .start();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(cert.cert.der().to_vec())).unwrap();
    let client =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    for (header, want) in [
        (
            b"PROXY TCP4 198.51.100.77 127.0.0.1 1234 443\r\n".to_vec(),
            "198.51.100.77",
        ),
        (v2_tcp6("2001:db8::77", 1234), "2001:db8::77"),
    ] {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", proxy.port("https"))).unwrap();
        tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        tcp.write_all(&header).unwrap();
        let conn = rustls::ClientConnection::new(
            std::sync::Arc::new(client.clone()),
            ServerName::try_from("edge.test").unwrap(),
        )
        .unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(b"GET /tls HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        let got = origin.requests();
        assert_eq!(got.last().unwrap().header("x-forwarded-for"), Some(want));
    }
}

/// A reload swaps the routing table, and the replaced pools' health-check
/// threads end.
#[test]
fn reload_swaps_routes_and_retires_health_checks() {
    let (a, b) = (named_origin("a"), named_origin("b"));
    let config = |target: &str| {
        format!(
            "{USING}const config :Workerd.Config = (
  services = [
    (name = \"a\", external = (address = \"{}\", http = (), healthCheck = (tcp = void, intervalMs = 50))),
    (name = \"b\", external = (address = \"{}\", http = ())),
    (name = \"edge\", router = (routes = [ (pathPrefix = \"/x\", service = \"{target}\") ], default = \"a\")),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"edge\") ],
);
",
            a.addr, b.addr
        )
    };
    let proxy = Proxy::new(&config("a")).socket("http").start();
    let port = proxy.port("http");
    assert_eq!(get(port, "/x", "h").header("x-origin"), Some("a"));
    for (i, target) in ["b", "a", "b", "a", "b"].iter().enumerate() {
        proxy.write_file("config.capnp", &config(target));
        let ev = proxy.reload();
        assert_eq!(ev["result"], "ok", "reload {i}: {ev}");
        assert_eq!(
            get(port, "/x", "h").header("x-origin"),
            Some(*target),
            "after reload {i}"
        );
        assert_eq!(
            get(port, "/y", "h").header("x-origin"),
            Some("a"),
            "default after reload {i}"
        );
    }
    // One pool with health checks per generation alive: the old ones' threads
    // notice within an interval that their pool is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = proxy
            .thread_names()
            .iter()
            .filter(|t| t.starts_with("health-a"))
            .count();
        if (1..=2).contains(&n) {
            break;
        }
        assert!(Instant::now() < deadline, "{n} health threads still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}
