//! End-to-end: live reload (SIGHUP and `--watch`) under load, bad configs,
//! sockets added and removed, in-flight requests keeping their generation,
//! restart with an inherited listener, and the second-signal / drain
//! deadline behaviour of shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

const ADMIN: &str = "admin = (address = \"127.0.0.1:0\"),";

/// A config with one Worker socket `http` whose script is `script` (a file
/// beside the config), one isolate thread, and an admin listener.
fn worker_config(script: &str, extra: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"w\", worker = .w) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
  {ADMIN}
  server = (isolateThreads = 1),
  {extra}
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"{script}\") ],
  compatibilityDate = \"2024-09-01\",
);\n"
    )
}

fn answer(text: &str) -> String {
    format!("export default {{ fetch() {{ return new Response({text:?}); }} }};\n")
}

fn count(names: &[String], prefix: &str) -> usize {
    names.iter().filter(|n| n.starts_with(prefix)).count()
}

/// Wait (bounded) until `cond` holds.
fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn twenty_reloads_under_load_fail_no_request_and_leak_no_threads() {
    let files = [("a.js", answer("A").leak() as &str), ("b.js", answer("B").leak())];
    let proxy = Proxy::new(&worker_config("a.js", ""))
        .files(&files)
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let (port, admin) = (proxy.port("http"), proxy.port("admin"));
    assert_eq!(get(port, "/", "a").text(), "A");
    // A keep-alive connection opened before any reload: its later requests
    // must see each new generation too.
    let mut kept = Client::connect(port);
    let load = Load::start(port, 8, "/");
    load.wait_more(50);
    for i in 0..20u64 {
        let (script, body) = if i % 2 == 0 { ("b.js", "B") } else { ("a.js", "A") };
        proxy.write_file("config.capnp", &worker_config(script, ""));
        let ev = proxy.reload();
        assert_eq!(ev["result"], "ok", "reload {i}: {ev}\n{}", proxy.stderr_text());
        assert_eq!(ev["generation"], i + 2);
        assert_eq!(get(port, "/", "a").text(), body, "new connection after reload {i}");
        kept.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            kept.read_response(false).unwrap().text(),
            body,
            "kept connection after reload {i}"
        );
        load.wait_more(20);
    }
    let report = load.stop();
    assert!(
        report.failures.is_empty(),
        "{} failed: {:?}",
        report.failures.len(),
        &report.failures[..report.failures.len().min(5)]
    );
    assert_eq!(report.retried, 0, "connections were closed under the clients");
    assert!(report.ok >= 400, "only {} requests", report.ok);
    assert!(
        report.bodies.keys().all(|b| b == "A" || b == "B"),
        "{:?}",
        report.bodies
    );
    assert_eq!(
        proxy.metric(admin, "isoproxy_config_reloads_total{result=\"ok\"}"),
        20.0
    );
    assert_eq!(proxy.metric(admin, "isoproxy_config_generation"), 21.0);
    // Every retired generation's isolate thread and watchdog have exited:
    // one of each is left (isolateThreads = 1).
    eventually(Duration::from_secs(10), "old isolate threads to exit", || {
        let names = proxy.thread_names();
        count(&names, "isoproxy-isolat") == 1 && count(&names, "isoproxy-watchd") == 1
    });
    // And their isolates are gone: only the current generation's one is live.
    eventually(Duration::from_secs(10), "old isolates to be counted out", || {
        proxy.metric(admin, "isoproxy_worker_isolates{worker=\"w\"}") == 1.0
    });
    let names = proxy.thread_names();
    assert!(names.len() < 20, "{} threads: {names:?}", names.len());
}

#[test]
fn a_bad_config_is_refused_and_the_old_one_keeps_serving() {
    let files = [
        ("a.js", answer("A").leak() as &str),
        ("b.js", answer("B").leak()),
        ("throws.js", "throw new Error('top-level boom');\nexport default {};\n"),
        ("spins.js", "for (;;) {}\nexport default {};\n"),
    ];
    let proxy = Proxy::new(&worker_config("a.js", ""))
        .files(&files)
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let (port, admin) = (proxy.port("http"), proxy.port("admin"));
    let load = Load::start(port, 8, "/");
    load.wait_more(50);

    // A syntax error on line 3 of the config.
    proxy.write_file(
        "config.capnp",
        &format!("{USING}const config :Workerd.Config = (\n  services = [ oops ],\n);\n"),
    );
    let ev = proxy.reload();
    assert_eq!(ev["result"], "error", "{ev}");
    assert_eq!(ev["generation"], 1);
    eventually(Duration::from_secs(5), "the error in the log", || {
        proxy.stderr_text().contains("config.capnp:3:")
    });
    assert_eq!(
        proxy.metric(admin, "isoproxy_config_reloads_total{result=\"error\"}"),
        1.0
    );
    load.wait_more(50);
    assert_eq!(get(port, "/", "a").text(), "A");

    // A Worker that throws while loading.
    proxy.write_file("config.capnp", &worker_config("throws.js", ""));
    assert_eq!(proxy.reload()["result"], "error");
    assert!(
        proxy.stderr_text().contains("top-level boom"),
        "{}",
        proxy.stderr_text()
    );
    assert_eq!(
        proxy.metric(admin, "isoproxy_config_reloads_total{result=\"error\"}"),
        2.0
    );

    // A Worker that never finishes loading (stopped by startupMs).
    proxy.write_file("config.capnp", &worker_config("spins.js", ""));
    assert_eq!(proxy.reload()["result"], "error");
    assert_eq!(
        proxy.metric(admin, "isoproxy_config_reloads_total{result=\"error\"}"),
        3.0
    );
    load.wait_more(50);
    assert_eq!(get(port, "/", "a").text(), "A");

    // And a good one still goes through.
    proxy.write_file("config.capnp", &worker_config("b.js", ""));
    let ev = proxy.reload();
    assert_eq!(ev["result"], "ok", "{ev}");
    assert_eq!(ev["generation"], 2);
    assert_eq!(get(port, "/", "a").text(), "B");

    let report = load.stop();
    assert!(
        report.failures.is_empty(),
        "{:?}",
        &report.failures[..report.failures.len().min(5)]
    );
    assert_eq!(report.retried, 0);
    assert_eq!(proxy.metric(admin, "isoproxy_config_reloads_total{result=\"ok\"}"), 1.0);
    assert_eq!(proxy.metric(admin, "isoproxy_config_generation"), 2.0);
}

#[test]
fn watch_reloads_an_edited_script_and_retries_after_a_broken_one() {
    let files = [("main.js", answer("one").leak() as &str)];
    let proxy = Proxy::new(&worker_config("main.js", ""))
        .files(&files)
        .sockets(&["http"])
        .args(&["--watch"])
        .listeners(&["admin"])
        .start();
    let port = proxy.port("http");
    assert_eq!(get(port, "/", "a").text(), "one");

    proxy.write_file("main.js", &answer("two, edited"));
    let ev = proxy.wait_event(Duration::from_secs(15), |v| v["event"] == "reload");
    assert_eq!(ev["result"], "ok", "{ev}");
    assert_eq!(get(port, "/", "a").text(), "two, edited");

    // A file caught half-written fails to load; the next change is picked up.
    proxy.write_file("main.js", "export default { fetch() { return new Resp");
    let ev = proxy.wait_event(Duration::from_secs(15), |v| v["event"] == "reload");
    assert_eq!(ev["result"], "error", "{ev}");
    assert_eq!(get(port, "/", "a").text(), "two, edited");
    proxy.write_file("main.js", &answer("three"));
    let ev = proxy.wait_event(Duration::from_secs(15), |v| v["event"] == "reload");
    assert_eq!(ev["result"], "ok", "{ev}");
    assert_eq!(get(port, "/", "a").text(), "three");
}

fn two_socket_config(origin: std::net::SocketAddr, second: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"origin\", external = (address = \"{origin}\", http = ())) ],
  sockets = [
    (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"origin\"),
    {second}
  ],
  {ADMIN}
);\n"
    )
}

#[test]
fn reload_opens_added_sockets_and_drains_removed_ones() {
    let origin = Origin::echo();
    let old = "(name = \"old\", address = \"127.0.0.1:0\", http = (), service = \"origin\"),";
    let proxy = Proxy::new(&two_socket_config(origin.addr, old))
        .sockets(&["http"])
        .listeners(&["admin", "old"])
        .start();
    let (port, old_port) = (proxy.port("http"), proxy.port("old"));
    let mut kept = Client::connect(port);
    kept.send(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(kept.read_response(false).unwrap().status, 200);
    let mut on_old = Client::connect(old_port);
    on_old.send(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(on_old.read_response(false).unwrap().status, 200);

    let extra = "(name = \"extra\", address = \"127.0.0.1:0\", http = (), service = \"origin\"),";
    proxy.write_file("config.capnp", &two_socket_config(origin.addr, extra));
    proxy.signal(libc::SIGHUP);
    let listen = proxy.wait_event(Duration::from_secs(30), |v| v["event"] == "listen");
    assert_eq!(listen["socket"], "extra");
    let extra_port = listen["port"].as_u64().unwrap() as u16;
    let ev = proxy.wait_event(Duration::from_secs(30), |v| v["event"] == "reload");
    assert_eq!(ev["result"], "ok", "{ev}");

    assert_eq!(get(extra_port, "/x", "a").status, 200);
    // The kept socket kept its listener and its connections.
    assert_eq!(get(port, "/2", "a").status, 200);
    kept.send(b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(kept.read_response(false).unwrap().status, 200);
    // The removed socket stops accepting; its idle connection is closed.
    eventually(Duration::from_secs(5), "the removed socket to close", || {
        std::net::TcpStream::connect(("127.0.0.1", old_port)).is_err()
    });
    assert!(on_old.closed_within(Duration::from_secs(5)));

    // A socket that cannot be bound fails the whole reload.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!(
        "{extra}\n    (name = \"busy\", address = \"{}\", http = (), service = \"origin\"),",
        taken.local_addr().unwrap()
    );
    proxy.write_file("config.capnp", &two_socket_config(origin.addr, &busy));
    let ev = proxy.reload();
    assert_eq!(ev["result"], "error", "{ev}");
    assert!(
        proxy.stderr_text().contains("socket busy: cannot listen"),
        "{}",
        proxy.stderr_text()
    );
    assert_eq!(get(extra_port, "/y", "a").status, 200);
    assert_eq!(get(port, "/3", "a").status, 200);
}

#[test]
fn an_in_flight_request_finishes_on_its_own_generation() {
    let (release, gate) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let origin = Origin::start(move |_| {
        let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(15));
        Reply::ok("slow")
    });
    let config = |script: &str| gateway_config(origin.addr, script, "server = (isolateThreads = 1),");
    let v1 = "export default { async fetch(req, env) {\n  const r = await env.ORIGIN.fetch(req);\n  return new Response('v1:' + await r.text());\n} };\n";
    let v2 = "export default { fetch() { return new Response('v2'); } };\n";
    let proxy = Proxy::new(&config("v1.js"))
        .files(&[("v1.js", v1), ("v2.js", v2)])
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");

    let mut slow = Client::connect(port);
    slow.send(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    eventually(Duration::from_secs(10), "the origin to get the request", || {
        !origin.requests().is_empty()
    });
    proxy.write_file("config.capnp", &config("v2.js"));
    assert_eq!(proxy.reload()["result"], "ok");
    assert_eq!(get(port, "/", "a").text(), "v2");
    release.send(()).unwrap();
    let r = slow.read_response(false).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "v1:slow"));
    // The same connection's next request is on the new generation.
    slow.send(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(slow.read_response(false).unwrap().text(), "v2");
}

#[test]
fn restart_with_an_inherited_listener_fails_no_request() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = worker_config("main.js", "").replace(ADMIN, "");
    let mut old = Proxy::new(&config)
        .files(&[("main.js", &answer("old"))])
        .inherit_all(&[("http", &listener)])
        .start();
    let load = Load::start(port, 8, "/");
    load.wait_more(100);
    // The new process shares the listening socket; once it reports it, it
    // accepts too.
    let new = Proxy::new(&config)
        .files(&[("main.js", &answer("new"))])
        .inherit_all(&[("http", &listener)])
        .start();
    assert_eq!(new.port("http"), port);
    load.wait_more(50);
    old.signal(libc::SIGTERM);
    assert_eq!(old.wait_exit(Duration::from_secs(10)), Some(0));
    load.wait_more(200);
    let report = load.stop();
    assert!(
        report.failures.is_empty(),
        "{:?}",
        &report.failures[..report.failures.len().min(5)]
    );
    assert!(
        report.bodies.contains_key("old") && report.bodies.contains_key("new"),
        "{:?}",
        report.bodies
    );
    eprintln!(
        "restart: {} ok, {} retried on a new connection",
        report.ok, report.retried
    );
    // Busy keep-alive connections are closed only after a response that
    // says `Connection: close`, so no client had to send anything twice.
    assert_eq!(report.retried, 0);
    assert_eq!(get(port, "/", "a").text(), "new");
}

fn slow_origin_config(origin: std::net::SocketAddr, drain_ms: u32) -> String {
    let top = format!("server = (drainTimeoutMs = {drain_ms}),");
    reverse_config(
        origin,
        Reverse {
            top: &top,
            ..Reverse::default()
        },
    )
}

/// An origin that holds every request until the test ends (at most 20 s).
fn stuck_origin() -> (Origin, mpsc::Sender<()>) {
    let (release, gate) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let origin = Origin::start(move |_| {
        let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(20));
        Reply::ok("late")
    });
    (origin, release)
}

fn access_records(proxy: &Proxy) -> Vec<serde_json::Value> {
    proxy
        .stdout_text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_second_sigterm_exits_at_once_and_logs_the_cut_request() {
    let (origin, _release) = stuck_origin();
    let mut proxy = Proxy::new(&slow_origin_config(origin.addr, 20_000))
        .sockets(&["http"])
        .start();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"GET /stuck HTTP/1.1\r\nHost: a\r\n\r\n");
    eventually(Duration::from_secs(10), "the origin to get the request", || {
        !origin.requests().is_empty()
    });
    proxy.signal(libc::SIGTERM);
    eventually(Duration::from_secs(10), "the drain to start", || {
        proxy.stderr_text().contains("shutting down")
    });
    assert_eq!(proxy.wait_exit(Duration::from_millis(300)), None, "still draining");
    let second = Instant::now();
    proxy.signal(libc::SIGTERM);
    assert_eq!(proxy.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(second.elapsed() < Duration::from_secs(5));
    let records = access_records(&proxy);
    let cut = records
        .iter()
        .find(|r| r["path"] == "/stuck")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(cut["error_source"], "internal", "{cut}");
}

#[test]
fn requests_cut_at_the_drain_deadline_are_logged() {
    let (origin, _release) = stuck_origin();
    let mut proxy = Proxy::new(&slow_origin_config(origin.addr, 300))
        .sockets(&["http"])
        .start();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"GET /cut HTTP/1.1\r\nHost: a\r\n\r\n");
    eventually(Duration::from_secs(10), "the origin to get the request", || {
        !origin.requests().is_empty()
    });
    proxy.signal(libc::SIGTERM);
    assert_eq!(proxy.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(c.read_response(false).is_none(), "the cut request got a response");
    let records = access_records(&proxy);
    let cut = records
        .iter()
        .find(|r| r["path"] == "/cut")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(cut["error_source"], "internal", "{cut}");
    assert_eq!(cut["method"], "GET");
    assert_eq!(cut["socket"], "http");
}

#[test]
fn a_tunnel_cut_at_the_drain_deadline_is_logged() {
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = target.local_addr().unwrap();
    let config = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"net\", network = (allow = [\"local\"], connectPorts = [\"1-65535\"])) ],
  sockets = [ (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"net\") ],
  server = (drainTimeoutMs = 300),
);\n"
    );
    let mut proxy = Proxy::new(&config).sockets(&["fwd"]).start();
    let mut c = Client::connect(proxy.port("fwd"));
    c.send(format!("CONNECT {addr} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
    let (mut far, _) = target.accept().unwrap();
    let mut got = [0u8; 39];
    std::io::Read::read_exact(&mut c.stream, &mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got));
    c.send(b"ping");
    let mut ping = [0u8; 4];
    std::io::Read::read_exact(&mut far, &mut ping).unwrap();
    proxy.signal(libc::SIGTERM);
    assert_eq!(proxy.wait_exit(Duration::from_secs(10)), Some(0));
    let records = access_records(&proxy);
    let cut = records
        .iter()
        .find(|r| r["method"] == "CONNECT")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(cut["error_source"], "internal", "{cut}");
    assert_eq!(cut["status"], 200, "{cut}");
    assert_eq!(cut["bytes_in"], 4, "{cut}");
}

/// RELIABILITY O1: a reload while 200 clients each keep a 2 s request in
/// flight: no request fails, every request in flight at the reload finishes
/// on the old version, and every request sent after it sees the new one.
#[test]
fn reload_with_200_clients_in_slow_requests() {
    let origin = Origin::start(|_| {
        std::thread::sleep(Duration::from_secs(2));
        Reply::ok("slow")
    });
    let config = |script: &str| gateway_config(origin.addr, script, "server = (isolateThreads = 1),");
    let script = |v: &str| {
        format!("export default {{ async fetch(req, env) {{ const r = await env.ORIGIN.fetch(req); return new Response('{v}:' + await r.text()); }} }};\n")
    };
    let (v1, v2) = (script("v1"), script("v2"));
    let proxy = Proxy::new(&config("v1.js"))
        .files(&[("v1.js", &v1), ("v2.js", &v2)])
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");
    // Set once the reload has been reported; requests sent after that must
    // see v2.
    let reloaded = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Clients that have had an answer to a request sent after the reload.
    let caught_up = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..200)
        .map(|i| {
            let (reloaded, stop, caught_up) = (reloaded.clone(), stop.clone(), caught_up.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut c = Client::connect(port);
                let mut counted = false;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let after = reloaded.load(std::sync::atomic::Ordering::SeqCst);
                    c.send(format!("GET / HTTP/1.1\r\nHost: a\r\nX-Client: {i}\r\n\r\n").as_bytes());
                    let r = c.read_response(false);
                    seen.push((after, r.map(|r| (r.status, r.text()))));
                    if after && !counted {
                        counted = true;
                        caught_up.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                seen
            })
        })
        .collect();
    // Every client has a request at the origin (so in flight on v1).
    eventually(
        Duration::from_secs(20),
        "a request from every client at the origin",
        || {
            let ids: std::collections::HashSet<String> = origin
                .requests()
                .iter()
                .filter_map(|r| r.header("x-client").map(str::to_string))
                .collect();
            ids.len() == 200
        },
    );
    proxy.write_file("config.capnp", &config("v2.js"));
    assert_eq!(proxy.reload()["result"], "ok");
    reloaded.store(true, std::sync::atomic::Ordering::SeqCst);
    // Every client finishes its in-flight request and gets one more answer.
    eventually(
        Duration::from_secs(30),
        "every client to be served after the reload",
        || caught_up.load(std::sync::atomic::Ordering::SeqCst) == 200,
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut old, mut new) = (0, 0);
    for c in clients {
        for (after, r) in c.join().unwrap() {
            let (status, body) = r.expect("a request failed");
            assert_eq!(status, 200, "{body}");
            match body.as_str() {
                "v1:slow" => {
                    assert!(!after, "a request sent after the reload got the old version");
                    old += 1;
                }
                "v2:slow" => new += 1,
                other => panic!("unexpected body {other:?}"),
            }
        }
    }
    assert!(old >= 200 && new >= 200, "old {old}, new {new}");
}

#[test]
fn reload_moves_the_access_log_and_names_settings_that_need_a_restart() {
    let origin = Origin::echo();
    let config = |top: &str| {
        reverse_config(
            origin.addr,
            Reverse {
                top,
                ..Reverse::default()
            },
        )
    };
    let proxy = Proxy::new(&config("")).sockets(&["http"]).start();
    let port = proxy.port("http");
    assert_eq!(get(port, "/before", "a").status, 200);
    let file = proxy.dir.join("access.log");
    proxy.write_file(
        "config.capnp",
        &config(&format!(
            "accessLog = (format = combined, path = {:?}), server = (threads = 1),",
            file.to_str().unwrap()
        )),
    );
    assert_eq!(proxy.reload()["result"], "ok");
    assert!(
        proxy
            .stderr_text()
            .contains("server.threads changed but needs a restart"),
        "{}",
        proxy.stderr_text()
    );
    assert_eq!(get(port, "/after", "a").status, 200);
    eventually(Duration::from_secs(5), "the record in the new file", || {
        std::fs::read_to_string(&file).is_ok_and(|t| t.contains("\"GET /after HTTP/1.1\" 200"))
    });
    let stdout = proxy.stdout_text();
    assert!(stdout.contains("\"path\":\"/before\""), "{stdout}");
    assert!(!stdout.contains("/after"), "{stdout}");

    // An access-log path that cannot be opened fails the reload.
    proxy.write_file(
        "config.capnp",
        &config("accessLog = (path = \"/nonexistent-dir/access.log\"),"),
    );
    assert_eq!(proxy.reload()["result"], "error");
    assert!(proxy.stderr_text().contains("access log:"), "{}", proxy.stderr_text());

    // The running thread count is still the start-up one: a reload that
    // keeps `threads = 1` warns again.
    proxy.write_file("config.capnp", &config("server = (threads = 1),"));
    assert_eq!(proxy.reload()["result"], "ok");
    let warnings = proxy.stderr_text().matches("server.threads changed").count();
    assert_eq!(warnings, 2, "{}", proxy.stderr_text());
}

#[test]
fn upgrade_hands_the_listeners_to_a_new_process_without_failing_a_request() {
    let sock = scratch_dir().join("upgrade.sock");
    let sock_arg = sock.to_str().unwrap();
    // With an admin listener: it is handed over too (same address).
    let config = worker_config("main.js", "");
    let mut old = Proxy::new(&config)
        .files(&[("main.js", &answer("old"))])
        .sockets(&["http"])
        .args(&["--upgrade-socket", sock_arg])
        .listeners(&["admin"])
        .start();
    let port = old.port("http");
    let load = Load::start(port, 8, "/");
    load.wait_more(100);
    let new = Proxy::new(&config)
        .files(&[("main.js", &answer("new"))])
        .sockets(&["http"])
        .args(&["--upgrade-socket", sock_arg, "--upgrade"])
        .listeners(&["admin"])
        .start();
    // Same sockets, not new ones on other ports.
    assert_eq!(new.port("http"), port);
    assert_eq!(new.port("admin"), old.port("admin"));
    // The old process drains and exits by itself once the new one is ready.
    assert_eq!(old.wait_exit(Duration::from_secs(15)), Some(0));
    load.wait_more(200);
    let report = load.stop();
    assert!(
        report.failures.is_empty(),
        "{:?}",
        &report.failures[..report.failures.len().min(5)]
    );
    assert_eq!(report.retried, 0);
    assert!(
        report.bodies.contains_key("old") && report.bodies.contains_key("new"),
        "{:?}",
        report.bodies
    );
    assert_eq!(get(port, "/", "a").text(), "new");
    assert!(
        old.stderr_text().contains("the new process is ready"),
        "{}",
        old.stderr_text()
    );

    // The new process listens on the upgrade socket in turn: a successor
    // that fails before it is ready changes nothing.
    // This one takes the sockets, then fails to bind a socket of its own.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!(
        "sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\"),
                     (name = \"busy\", address = \"{}\", http = (), service = \"w\") ],",
        taken.local_addr().unwrap()
    );
    let failing = worker_config("main.js", "").replace(ADMIN, "").replace(
        "sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],",
        &busy,
    );
    std::fs::write(new.dir.join("failing.capnp"), failing).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .arg("serve")
        .arg(new.dir.join("failing.capnp"))
        .args(["-s", "http=127.0.0.1:0", "--upgrade-socket", sock_arg, "--upgrade"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("socket busy: cannot listen"));
    eventually(Duration::from_secs(5), "the failed hand-over to be logged", || {
        new.stderr_text().contains("hand-over failed")
    });
    assert_eq!(get(port, "/", "a").text(), "new");
}

#[test]
fn reload_requests_during_a_reload_are_merged_into_one() {
    // Top-level code that takes a while (within startupMs), so that the
    // burst of signals below lands while a reload is running.
    let slow = "const end = Date.now() + 300; while (Date.now() < end) {}\nexport default { fetch() { return new Response('slow'); } };\n";
    let files = [("fast.js", answer("fast").leak() as &str), ("slow.js", slow)];
    let proxy = Proxy::new(&worker_config("fast.js", ""))
        .files(&files)
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let port = proxy.port("http");
    proxy.write_file("config.capnp", &worker_config("slow.js", ""));
    proxy.signal(libc::SIGHUP);
    eventually(Duration::from_secs(10), "the first reload to start", || {
        proxy.stderr_text().contains("reloading config generation=2")
    });
    for _ in 0..10 {
        proxy.signal(libc::SIGHUP);
    }
    // Still ready while reloading.
    assert_eq!(get(proxy.port("admin"), "/readyz", "a").status, 200);
    let ev = proxy.wait_event(Duration::from_secs(30), |v| v["event"] == "reload");
    assert_eq!(
        (ev["result"].as_str(), ev["generation"].as_u64()),
        (Some("ok"), Some(2)),
        "{ev}"
    );
    // The ten requests became one more reload, not ten.
    let ev = proxy.wait_event(Duration::from_secs(30), |v| v["event"] == "reload");
    assert_eq!(
        (ev["result"].as_str(), ev["generation"].as_u64()),
        (Some("ok"), Some(3)),
        "{ev}"
    );
    proxy.write_file("config.capnp", &worker_config("fast.js", ""));
    let ev = proxy.reload();
    assert_eq!(
        (ev["result"].as_str(), ev["generation"].as_u64()),
        (Some("ok"), Some(4)),
        "{ev}"
    );
    assert_eq!(get(port, "/", "a").text(), "fast");
    let started = proxy.stderr_text().matches("reloading config").count();
    assert_eq!(started, 3, "{}", proxy.stderr_text());
}
