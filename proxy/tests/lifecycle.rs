//! End-to-end: upstream pools with passive health and retries, the Worker
//! path's failure mapping, and graceful shutdown.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use support::*;

fn pool_config(addresses: &[std::net::SocketAddr]) -> String {
    let first = addresses[0];
    let rest: Vec<String> = addresses[1..].iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"pool\", external = (address = \"{first}\", addresses = [{}], http = (), unhealthyMs = 60000)) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"pool\") ],
);\n",
        rest.join(", ")
    )
}

#[test]
fn pool_round_robin_skips_and_retries_dead_addresses() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let one = Origin::echo();
    let two = Origin::echo();
    let proxy = Proxy::new(&pool_config(&[dead, one.addr, two.addr]))
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");
    for i in 0..10 {
        let r = get(port, &format!("/{i}"), "a");
        assert_eq!(r.status, 200, "GET {i}: {}", r.text());
    }
    let (a, b) = (one.requests().len(), two.requests().len());
    assert_eq!(a + b, 10);
    assert!(a >= 3 && b >= 3, "uneven round robin: {a} / {b}");
}

#[test]
fn non_idempotent_requests_are_not_retried() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let live = Origin::echo();
    let proxy = Proxy::new(&pool_config(&[dead, live.addr])).sockets(&["http"]).start();
    let port = proxy.port("http");
    let mut failed = 0;
    for i in 0..6 {
        let raw = format!("POST /{i} HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
        let (r, _) = exchange(port, raw.as_bytes());
        match r.unwrap().status {
            200 => {}
            502 => failed += 1,
            s => panic!("POST {i}: {s}"),
        }
    }
    // At most the first POST hits the dead address; it is then skipped.
    assert!(failed <= 1, "{failed} POSTs failed");
    assert_eq!(live.requests().len(), 6 - failed);
}

#[test]
fn worker_failures_map_to_5xx_with_a_short_body() {
    let cfg = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"w\", worker = .w) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = \"export default {{ fetch() {{ throw new Error('boom'); }} }};\") ],
  compatibilityDate = \"2024-09-01\",
);\n"
    );
    let proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let (r, _) = exchange(proxy.port("http"), raw.as_bytes());
    let r = r.unwrap();
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(!r.text().is_empty() && !r.text().contains("boom"), "{}", r.text());
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let origin = Origin::start(|_| {
        // A slow origin: the request is in flight when SIGTERM arrives.
        std::thread::sleep(Duration::from_millis(500));
        Reply::ok("slow")
    });
    let cfg = reverse_config(
        origin.addr,
        Reverse {
            top: "server = (drainTimeoutMs = 5000),",
            ..Reverse::default()
        },
    );
    let mut proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let port = proxy.port("http");
    let mut c = Client::connect(port);
    c.send(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    // Wait (bounded) until the origin has the request.
    let deadline = Instant::now() + Duration::from_secs(10);
    while origin.connections.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    proxy.signal(libc::SIGTERM);
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "slow");
    assert_eq!(proxy.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

fn limits_config(origin: std::net::SocketAddr, limits: &str) -> String {
    let socket = format!("limits = ({limits})");
    reverse_config(
        origin,
        Reverse {
            socket: &socket,
            ..Reverse::default()
        },
    )
}

#[test]
fn idle_keepalive_and_slow_bodies_are_closed_by_their_timeouts() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&limits_config(
        origin.addr,
        "keepaliveTimeoutMs = 300, bodyTimeoutMs = 300",
    ))
    .sockets(&["http"])
    .start();
    let port = proxy.port("http");

    let mut c = Client::connect(port);
    c.send(b"GET /idle HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().status, 200);
    let started = Instant::now();
    assert!(c.closed_within(Duration::from_secs(5)), "idle connection kept open");
    assert!(started.elapsed() < Duration::from_secs(5));

    let mut c = Client::connect(port);
    c.send(b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly ten b");
    let started = Instant::now();
    if let Some(r) = c.read_response(false) {
        assert!(r.status >= 400, "slow body got {}", r.status);
    }
    assert!(c.closed_within(Duration::from_secs(5)), "slow body kept open");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn max_requests_per_connection_closes_after_the_cap() {
    let origin = Origin::echo();
    let proxy = Proxy::new(&limits_config(origin.addr, "maxRequestsPerConnection = 3"))
        .sockets(&["http"])
        .start();
    let mut c = Client::connect(proxy.port("http"));
    for i in 0..3 {
        c.send(format!("GET /{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let r = c.read_response(false).unwrap();
        assert_eq!(r.status, 200);
        if i == 2 {
            assert_eq!(r.header("connection"), Some("close"));
        }
    }
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn sigint_exits_promptly() {
    let origin = Origin::echo();
    let mut proxy = Proxy::new(&limits_config(origin.addr, "")).sockets(&["http"]).start();
    assert_eq!(get(proxy.port("http"), "/", "a").status, 200);
    proxy.signal(libc::SIGINT);
    assert_eq!(proxy.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn inherited_listening_socket_is_served() {
    let origin = Origin::echo();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let proxy = Proxy::new(&limits_config(origin.addr, ""))
        .inherit_all(&[("http", &listener)])
        .start();
    assert_eq!(proxy.port("http"), port);
    drop(listener);
    assert_eq!(get(port, "/fd", "a").status, 200);
}

#[test]
fn sighup_reloads_without_stopping_the_server() {
    let origin = Origin::echo();
    let mut proxy = Proxy::new(&limits_config(origin.addr, "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    assert_eq!(get(port, "/before", "a").status, 200);
    // An unchanged config reloads too: a new generation, same listener.
    let ev = proxy.reload();
    assert_eq!(ev["result"], "ok", "{ev}\n{}", proxy.stderr_text());
    assert_eq!(ev["generation"], 2);
    assert!(
        proxy.stderr_text().contains("config reloaded (generation 2)"),
        "{}",
        proxy.stderr_text()
    );
    assert_eq!(get(port, "/after", "a").status, 200);
    assert_eq!(proxy.wait_exit(Duration::from_millis(1)), None, "still running");
}

#[test]
fn a_disk_service_on_a_socket_is_refused_at_start_up() {
    let dir = scratch_dir();
    let path = dir.join("config.capnp");
    std::fs::write(
        &path,
        format!(
            "{USING}const config :Workerd.Config = (
  services = [ (name = \"files\", disk = (path = \"/tmp\")) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"files\") ],
);\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .arg("serve")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("socket http: a disk service can only be reached through a Worker's binding"),
        "{stderr}"
    );
}
