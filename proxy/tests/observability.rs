//! End-to-end: a known mix of requests (2xx, 4xx, 5xx, a malformed request,
//! policy refusals, a CONNECT, a throwing Worker) through the real binary,
//! then the exact counter values on `/metrics` and one JSON access-log line
//! per request.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn config(origin: std::net::SocketAddr) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"origin\", external = (address = \"{origin}\", http = ())),
    (name = \"egress\", network = (allow = [\"public\"])),
    (name = \"gw\", worker = (
      serviceWorkerScript = \"addEventListener('fetch', e => e.respondWith((async () => {{ \
if (new URL(e.request.url).pathname === '/throw') throw new Error('boom'); \
return new Response('hi'); }})()));\",
      compatibilityDate = \"2024-09-01\")),
    (name = \"pass\", worker = (
      modules = [ (name = \"p.js\", esModule = \"export default {{ fetch(req, env) {{ return env.ORIGIN.fetch(req); }} }};\") ],
      bindings = [ (name = \"ORIGIN\", service = \"origin\") ],
      compatibilityDate = \"2024-09-01\")),
  ],
  sockets = [
    (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"origin\"),
    (name = \"fwd\", address = \"127.0.0.1:0\", http = (style = proxy), service = \"egress\"),
    (name = \"gw\", address = \"127.0.0.1:0\", http = (), service = \"gw\"),
    (name = \"pass\", address = \"127.0.0.1:0\", http = (), service = \"pass\"),
  ],
  admin = (address = \"127.0.0.1:0\"),
  accessLog = (format = json),
);\n"
    )
}

/// GET a path on the admin listener.
fn scrape(port: u16, path: &str) -> Response {
    get(port, path, "127.0.0.1")
}

/// The value of one sample line (`name{labels} value`) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn metrics_and_access_log_count_every_request() {
    let origin = Origin::start(|r| {
        let status = r.target.trim_start_matches("/status/").parse().unwrap_or(200);
        Reply {
            status,
            headers: vec![],
            body: b"origin".to_vec(),
            chunked: false,
        }
    });
    let proxy = Proxy::new(&config(origin.addr))
        .sockets(&["http", "fwd", "gw", "pass"])
        .listeners(&["admin"])
        .start();
    let (http, fwd, gw, admin) = (
        proxy.port("http"),
        proxy.port("fwd"),
        proxy.port("gw"),
        proxy.port("admin"),
    );

    assert_eq!(scrape(admin, "/healthz").status, 200);
    assert_eq!(scrape(admin, "/readyz").status, 200);

    // Reverse proxy: 3 × 200, 2 × 404, 1 × POST 500.
    for _ in 0..3 {
        assert_eq!(get(http, "/status/200", "a.test").status, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(http, "/status/404", "a.test").status, 404);
    }
    let (r, _) = exchange(
        http,
        b"POST /status/500 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody",
    );
    assert_eq!(r.map(|r| r.status), Some(500));
    // Malformed: two different Content-Lengths, refused before Pingora.
    let (r, closed) = exchange(
        http,
        b"GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
    );
    assert_eq!(r.map(|r| r.status), Some(400));
    assert!(closed);

    // Forward proxy: loopback is not public, so both are refused by policy.
    let raw = format!(
        "GET http://{0}/ HTTP/1.1\r\nHost: {0}\r\nConnection: close\r\n\r\n",
        origin.addr
    );
    assert_eq!(exchange(fwd, raw.as_bytes()).0.map(|r| r.status), Some(403));
    let (r, _) = exchange(fwd, b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n");
    assert_eq!(r.map(|r| r.status), Some(403));

    // Worker: 2 × 200, 1 exception → 500.
    assert_eq!(get(gw, "/", "w.test").text(), "hi");
    assert_eq!(get(gw, "/again", "w.test").status, 200);
    assert_eq!(get(gw, "/throw", "w.test").status, 500);
    // A Worker subrequest through a binding counts as an upstream request.
    assert_eq!(get(proxy.port("pass"), "/status/200", "p.test").text(), "origin");

    const TOTAL: usize = 13;
    // Metrics and log records are written when each exchange ends, which can
    // be just after the client saw its response: wait (bounded) until all
    // thirteen are counted, then check exact values.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = scrape(admin, "/metrics").text();
        let counted: f64 = text
            .lines()
            .filter(|l| l.starts_with("isoproxy_requests_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if counted as usize >= TOTAL || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };

    let expect = [
        (
            "isoproxy_requests_total{method=\"GET\",service=\"origin\",socket=\"http\",status_class=\"2xx\"}",
            3.0,
        ),
        (
            "isoproxy_requests_total{method=\"GET\",service=\"origin\",socket=\"http\",status_class=\"4xx\"}",
            3.0,
        ),
        (
            "isoproxy_requests_total{method=\"POST\",service=\"origin\",socket=\"http\",status_class=\"5xx\"}",
            1.0,
        ),
        (
            "isoproxy_requests_total{method=\"GET\",service=\"egress\",socket=\"fwd\",status_class=\"4xx\"}",
            1.0,
        ),
        (
            "isoproxy_requests_total{method=\"CONNECT\",service=\"egress\",socket=\"fwd\",status_class=\"4xx\"}",
            1.0,
        ),
        (
            "isoproxy_requests_total{method=\"GET\",service=\"gw\",socket=\"gw\",status_class=\"2xx\"}",
            2.0,
        ),
        (
            "isoproxy_requests_total{method=\"GET\",service=\"gw\",socket=\"gw\",status_class=\"5xx\"}",
            1.0,
        ),
        (
            "isoproxy_request_duration_seconds_count{service=\"origin\",socket=\"http\"}",
            7.0,
        ),
        (
            "isoproxy_request_duration_seconds_count{service=\"gw\",socket=\"gw\"}",
            3.0,
        ),
        (
            "isoproxy_upstream_requests_total{outcome=\"ok\",service=\"origin\"}",
            7.0,
        ),
        (
            "isoproxy_upstream_requests_total{outcome=\"denied\",service=\"egress\"}",
            2.0,
        ),
        ("isoproxy_policy_denied_total{service=\"egress\"}", 2.0),
        ("isoproxy_worker_invocations_total{outcome=\"ok\",worker=\"gw\"}", 2.0),
        (
            "isoproxy_worker_invocations_total{outcome=\"exception\",worker=\"gw\"}",
            1.0,
        ),
        ("isoproxy_worker_cpu_seconds_count{worker=\"gw\"}", 3.0),
        ("isoproxy_bytes_received_total{socket=\"http\"}", 4.0),
        ("isoproxy_tunnels_active", 0.0),
    ];
    for (series, want) in expect {
        assert_eq!(sample(&text, series), Some(want), "{series}\n{text}");
    }
    // Five origin responses of 6 bytes each went out through socket http
    // (the 500 too); the refusals' short bodies are not counted as proxied bytes.
    assert!(
        sample(&text, "isoproxy_bytes_sent_total{socket=\"http\"}").is_some_and(|v| v >= 36.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "isoproxy_upstream_response_duration_seconds_count{service=\"origin\"}"
        ),
        Some(7.0)
    );
    assert_eq!(
        sample(
            &text,
            "isoproxy_worker_invocations_total{outcome=\"ok\",worker=\"pass\"}"
        ),
        Some(1.0)
    );
    assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
    for line in text.lines().filter(|l| l.starts_with("isoproxy_")) {
        // No URL paths or client addresses in labels.
        assert!(
            !line.contains("/status") && !line.contains("127.0.0.1"),
            "high-cardinality label: {line}"
        );
    }

    // One JSON access-log line per request, with the right fields.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = proxy.stdout_text();
        if log.lines().count() >= TOTAL || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(records.len(), TOTAL, "{log}");
    let count = |f: &dyn Fn(&serde_json::Value) -> bool| records.iter().filter(|r| f(r)).count();
    assert_eq!(count(&|r| r["socket"] == "http"), 7);
    assert_eq!(count(&|r| r["status"] == 400 && r["error_source"] == "downstream"), 1);
    assert_eq!(count(&|r| r["status"] == 403 && r["error_source"] == "policy"), 2);
    assert_eq!(count(&|r| r["method"] == "CONNECT"), 1);
    assert_eq!(count(&|r| r["worker"] == "gw" && r["worker_outcome"] == "ok"), 2);
    assert_eq!(
        count(&|r| r["worker"] == "gw" && r["worker_outcome"] == "exception" && r["status"] == 500),
        1
    );
    assert_eq!(
        count(&|r| r["upstream_status"] == 200 && r["upstream_service"] == "origin"),
        3
    );
    for r in &records {
        // JavaScript CPU time: a number for Worker requests, null otherwise.
        if r["worker"].is_null() {
            assert!(r["worker_cpu_ms"].is_null(), "{r}");
        } else {
            assert!(r["worker_cpu_ms"].as_f64().is_some_and(|v| v >= 0.0), "{r}");
        }
        for field in [
            "ts",
            "request_id",
            "client",
            "socket",
            "method",
            "status",
            "duration_ms",
        ] {
            assert!(!r[field].is_null(), "{field} missing in {r}");
        }
    }
}

#[test]
fn combined_log_format_matches_its_grammar() {
    let origin = Origin::echo();
    let cfg = reverse_config(
        origin.addr,
        Reverse {
            top: "accessLog = (format = combined),",
            ..Reverse::default()
        },
    );
    let proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let port = proxy.port("http");
    let raw =
        b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nUser-Agent: t\"est\r\nReferer: http://r/\r\nConnection: close\r\n\r\n";
    let _ = exchange(port, raw);
    assert_eq!(get(port, "/two", "x").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = proxy.stdout_text();
        if log.lines().count() >= 2 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    for line in &lines {
        // host ident user [time] "request" status bytes "referer" "agent"
        let (client, rest) = line.split_once(" - - [").expect(line);
        assert_eq!(client, "127.0.0.1");
        let (time, rest) = rest.split_once("] \"").expect(line);
        assert_eq!(time.len(), "23/Nov/2026:12:00:00 +0000".len(), "{line}");
        assert!(time.ends_with(" +0000"));
        let (request, rest) = rest.split_once("\" ").expect(line);
        assert_eq!(request.split(' ').count(), 3, "{line}");
        let mut fields = rest.splitn(3, ' ');
        assert!(fields.next().unwrap().parse::<u16>().is_ok(), "{line}");
        let bytes = fields.next().unwrap();
        assert!(bytes == "-" || bytes.parse::<u64>().is_ok(), "{line}");
        let quoted = fields.next().unwrap();
        assert!(
            quoted.starts_with('"') && quoted.ends_with('"') && quoted.matches("\" \"").count() == 1,
            "{line}"
        );
    }
    assert!(
        lines[0].contains("\"t\\x22est\""),
        "quote in User-Agent escaped: {}",
        lines[0]
    );
    assert!(lines[0].contains("\"http://r/\""), "{}", lines[0]);
}

#[test]
fn cpu_limited_worker_request_logs_at_least_the_limit() {
    let cfg = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = (
      modules = [ (name = \"m.js\", esModule = \"export default {{ fetch(req) {{ if (req.url.endsWith('/loop')) for (;;) {{}} return new Response('ok'); }} }};\") ],
      compatibilityDate = \"2024-09-01\",
      limits = (cpuMs = 50))),
  ],
  sockets = [ (name = \"w\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
  accessLog = (format = json),
);\n"
    );
    let proxy = Proxy::new(&cfg).sockets(&["w"]).start();
    let port = proxy.port("w");
    assert_eq!(get(port, "/loop", "w.test").status, 503);
    assert_eq!(get(port, "/", "w.test").text(), "ok");
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = proxy.stdout_text();
        if log.lines().count() >= 2 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let records: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 2, "{log}");
    let limited = records.iter().find(|r| r["path"] == "/loop").expect("record for /loop");
    assert_eq!(limited["worker_outcome"], "cpu_limit", "{limited}");
    assert!(
        limited["worker_cpu_ms"].as_f64().is_some_and(|v| v >= 50.0),
        "{limited}"
    );
    let ok = records.iter().find(|r| r["path"] == "/").expect("record for /");
    assert_eq!(ok["worker_outcome"], "ok", "{ok}");
    assert!(ok["worker_cpu_ms"].as_f64().is_some_and(|v| v >= 0.0), "{ok}");
}

#[test]
fn worker_subrequest_connects_are_timed() {
    // The origin closes the connection after /close, so the Worker's
    // subrequests need more than one upstream connection.
    let origin = Origin::start(|r| Reply {
        status: 200,
        headers: if r.target == "/close" {
            vec![("connection".into(), "close".into())]
        } else {
            vec![]
        },
        body: b"origin".to_vec(),
        chunked: false,
    });
    let cfg = format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"backend\", external = (address = \"{}\", http = ())),
    (name = \"w\", worker = (
      modules = [ (name = \"m.js\", esModule = \"export default {{ async fetch(req, env) {{ const r = await env.B.fetch(req); return new Response(await r.text()); }} }};\") ],
      bindings = [ (name = \"B\", service = \"backend\") ],
      compatibilityDate = \"2024-09-01\")),
  ],
  sockets = [ (name = \"w\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
  admin = (address = \"127.0.0.1:0\"),
);\n",
        origin.addr
    );
    let proxy = Proxy::new(&cfg).sockets(&["w"]).listeners(&["admin"]).start();
    let port = proxy.port("w");
    for path in ["/a", "/close", "/b", "/c"] {
        assert_eq!(get(port, path, "w.test").text(), "origin");
    }
    let text = scrape(proxy.port("admin"), "/metrics").text();
    let connects = sample(
        &text,
        "isoproxy_upstream_connect_duration_seconds_count{service=\"backend\"}",
    );
    let accepted = origin.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(accepted >= 2, "the origin accepted {accepted} connections");
    assert_eq!(connects, Some(accepted as f64), "{text}");
}

/// `--access-log` and `--access-log-path` override the config: a config
/// asking for JSON on stdout writes combined lines to the file instead, and
/// `--access-log off` writes nothing.
#[test]
fn access_log_flags_override_the_config() {
    let origin = Origin::echo();
    let cfg = reverse_config(
        origin.addr,
        Reverse {
            top: "accessLog = (format = json),",
            ..Reverse::default()
        },
    );
    let file = scratch_dir().join("flags-access.log");
    let path = file.to_str().unwrap();
    let proxy = Proxy::new(&cfg)
        .sockets(&["http"])
        .args(&["--access-log", "combined", "--access-log-path", path])
        .start();
    assert_eq!(get(proxy.port("http"), "/flag", "x").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if !text.is_empty() || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("127.0.0.1 - - ["), "combined, not JSON: {text}");
    assert!(text.contains("\"GET /flag HTTP/1.1\" 200"), "{text}");
    assert_eq!(proxy.stdout_text(), "", "nothing on stdout once a path is given");

    let quiet = Proxy::new(&cfg)
        .sockets(&["http"])
        .args(&["--access-log", "off"])
        .start();
    assert_eq!(get(quiet.port("http"), "/quiet", "x").status, 200);
    // The request is answered, so its record (if any) is queued by now;
    // give the writer thread a moment to show it would have written.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(quiet.stdout_text(), "", "--access-log off writes nothing");
    // Without the flag the same config logs JSON to stdout: the override,
    // not the config, silenced it.
    let loud = Proxy::new(&cfg).sockets(&["http"]).start();
    assert_eq!(get(loud.port("http"), "/loud", "x").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while loud.stdout_text().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(loud.stdout_text().starts_with('{'), "{}", loud.stdout_text());

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .args(["check", "/dev/null", "--access-log", "xml"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--access-log expects json, combined or off"));
}

/// A stalled access-log destination (a pipe nobody reads) must not slow or
/// fail requests: once `bufferRecords` records wait, new ones are dropped
/// and counted in `isoproxy_access_log_dropped_total`.
#[test]
fn a_stalled_access_log_drops_and_counts_instead_of_blocking() {
    use std::os::unix::fs::OpenOptionsExt;
    let origin = Origin::echo();
    let fifo = scratch_dir().join("access.fifo");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    // The read end stays open and unread, so the proxy's writes fill the
    // pipe (64 KiB) and then block its writer thread.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let cfg = reverse_config(
        origin.addr,
        Reverse {
            top: &format!(
                "accessLog = (format = json, path = \"{}\", bufferRecords = 4), admin = (address = \"127.0.0.1:0\"),",
                fifo.display()
            ),
            ..Reverse::default()
        },
    );
    let mut proxy = Proxy::new(&cfg).sockets(&["http"]).listeners(&["admin"]).start();
    // About 400 bytes a record: 1,000 records are several times what the
    // pipe and the queue hold together.
    let mut c = Client::connect(proxy.port("http"));
    for i in 0..1000 {
        c.send(format!("GET /r{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
        let r = c
            .read_response(false)
            .unwrap_or_else(|| panic!("request {i} got no response"));
        assert_eq!(r.status, 200, "request {i}");
    }
    let dropped = proxy.metric(proxy.port("admin"), "isoproxy_access_log_dropped_total");
    assert!(dropped > 0.0, "no record was dropped: {}", proxy.stderr_text());
    assert!(dropped <= 1000.0);
    // Nor may the stuck writer hold up shutdown: the exit-time flush gives
    // up after its deadline.
    drop(c);
    proxy.signal(libc::SIGTERM);
    assert_eq!(
        proxy.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        proxy.stderr_text()
    );
}
