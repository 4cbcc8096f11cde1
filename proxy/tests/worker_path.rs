//! End-to-end: what the Worker path must do as well as the no-script path
//! does for the client: `100 Continue`, the status of a slow body, and
//! the Worker's HTTP/1.1 response framing.

mod support;

use std::time::Duration;

use support::*;

fn worker_config(limits: &str, socket_limits: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"w\", worker = .w) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\", limits = ({socket_limits})) ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  limits = ({limits}),
);\n"
    )
}

const ECHO: &str = "export default { async fetch(request) {
  const body = await request.text();
  return new Response(`got ${body}`);
} };\n";

#[test]
fn expect_100_continue_is_answered_on_the_worker_path() {
    let proxy = Proxy::new(&worker_config("", ""))
        .file("main.js", ECHO)
        .socket("http")
        .start();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    // The client waits for the 100 before sending the body (curl waits 1 s,
    // then sends anyway); the proxy must not make it wait.
    c.stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let interim = c.read_response(true).expect("no 100 Continue before the body was sent");
    assert_eq!(interim.status, 100);
    c.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    c.send(b"hello");
    let r = c.read_final(false).expect("no final response");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "got hello");
}

#[test]
fn a_body_still_arriving_at_the_wall_limit_is_408_not_504() {
    // The Worker waits for the body; the client stops sending. The Worker
    // runs out of wall time first (1 s, the body pause limit is 10 s), but
    // it was the client that kept it waiting: 408, as without a script.
    let proxy = Proxy::new(&worker_config("wallMs = 1000", "bodyTimeoutMs = 10000"))
        .file("main.js", ECHO)
        .socket("http")
        .start();
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8192\r\n\r\nabcd");
    let r = c.read_response(false).expect("no response");
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(c.closed_within(Duration::from_secs(2)), "the connection stayed open");
    assert!(
        proxy.wait_stdout(Duration::from_secs(5), "\"status\":408"),
        "{}",
        proxy.stdout_text()
    );
}

#[test]
fn worker_responses_to_head_and_bodyless_statuses_carry_no_body() {
    // A Worker that answers HEAD with a body, and 204/304 built from a
    // streamed body: the client gets heads only and the connection stays
    // in step for the next request.
    let script = "export default { async fetch(request) {
  const u = new URL(request.url);
  if (u.pathname === '/head') return new Response('x'.repeat(1000));
  if (u.pathname === '/304') return new Response(null, { status: 304, headers: { etag: '\"v\"' } });
  if (u.pathname === '/204') return new Response(null, { status: 204 });
  return new Response('next');
} };\n";
    let proxy = Proxy::new(&worker_config("", ""))
        .file("main.js", script)
        .socket("http")
        .start();
    let mut c = Client::connect(proxy.port("http"));
    for (req, status) in [
        ("HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n", 200),
        ("GET /304 HTTP/1.1\r\nHost: a\r\n\r\n", 304),
        ("GET /204 HTTP/1.1\r\nHost: a\r\n\r\n", 204),
    ] {
        c.send(req.as_bytes());
        let r = c.read_final(true).expect("no response");
        assert_eq!(r.status, status, "{req}");
        c.send(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        let next = c.read_final(false).expect("no next response");
        assert_eq!((next.status, next.text().as_str()), (200, "next"), "after {req}");
    }
}

#[test]
fn a_worker_with_a_full_queue_answers_503_with_retry_after() {
    // One isolate thread, one request of the Worker may wait: of many at
    // once, some are refused at once with 503 + Retry-After (overload),
    // the rest are answered, and the Worker serves again afterwards.
    let config = worker_config("", "").replace(
        "  services = [",
        "  server = (isolateThreads = 1, maxQueuedPerWorker = 1),\n  services = [",
    );
    let spin = "export default { fetch() { const t = Date.now(); while (Date.now() - t < 20) {} return new Response('spun'); } };\n";
    let proxy = Proxy::new(&config).file("main.js", spin).socket("http").start();
    let port = proxy.port("http");
    let clients: Vec<_> = (0..12)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port);
                c.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
                c.read_final(false).expect("no response")
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for c in clients {
        let r = c.join().unwrap();
        match r.status {
            200 => ok += 1,
            503 => {
                assert_eq!(r.header("retry-after"), Some("1"), "{}", r.text());
                refused += 1;
            }
            s => panic!("status {s}: {}", r.text()),
        }
    }
    assert!(ok >= 1 && refused >= 1, "{ok} answered, {refused} refused");
    assert!(
        proxy.wait_stdout(Duration::from_secs(5), "\"error_source\":\"overload\""),
        "{}",
        proxy.stdout_text()
    );
    let mut c = Client::connect(port);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!(c.read_final(false).expect("no response").status, 200);
}

/// A Worker's subrequests reuse pooled upstream connections when they run
/// on more than one isolate thread. Pingora 0.9 loses a pooled connection
/// when it is taken on another thread than the one that watched it idle
/// (counted as `isoproxy_upstream_pool_races_total`, each one a new
/// connect); with a pool per isolate thread that cannot happen, and a
/// keep-alive load of C clients opens about C connections per isolate
/// thread (twice that is the bound here: a client's next request may come
/// before the previous response's connection is back in the pool).
#[test]
fn worker_subrequests_keep_their_pooled_connections_across_isolate_threads() {
    let origin = Origin::echo();
    let cfg = gateway_config(
        origin.addr,
        "main.js",
        "server = (threads = 2, isolateThreads = 2), admin = (address = \"127.0.0.1:0\"),",
    );
    let proxy = Proxy::new(&cfg)
        .file(
            "main.js",
            "export default { fetch(request, env) { return env.ORIGIN.fetch(request); } };\n",
        )
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let clients = 8;
    let load = Load::start(proxy.port("http"), clients, "/pooled");
    load.wait_more(3000);
    let report = load.stop();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let races = proxy.metric(proxy.port("admin"), "isoproxy_upstream_pool_races_total");
    assert_eq!(races, 0.0, "pooled upstream connections lost to the reuse race");
    let opened = origin.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        opened <= clients * 2 * 2,
        "{opened} upstream connections for {clients} keep-alive clients on 2 isolate threads ({} requests)",
        report.ok
    );
}
