//! End-to-end, through the real binary: what a Worker may do to requests
//! (rewrite them, call another Worker) and what happens when it misbehaves
//! (throws, loops, exhausts its heap), plus a large body streamed through a
//! pass-through Worker with the process's memory measured.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::*;

/// One Worker `w` (from `main.js`) on socket `http`, a second Worker `inner`
/// (from `inner.js`) it may call as `env.INNER`, and `origin` as `env.ORIGIN`.
fn config(origin: std::net::SocketAddr, limits: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"inner\", worker = .inner),
    (name = \"origin\", external = (address = \"{origin}\", http = ())),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  bindings = [ (name = \"ORIGIN\", service = \"origin\"), (name = \"INNER\", service = \"inner\") ],
  limits = ({limits}),
);
const inner :Workerd.Worker = (
  modules = [ (name = \"inner.js\", esModule = embed \"inner.js\") ],
  compatibilityDate = \"2024-09-01\",
);\n"
    )
}

const INNER: &str = "export default { async fetch(req) {
    return new Response('inner saw ' + new URL(req.url).pathname + ' ' + req.headers.get('x-from'));
} };";

fn start(origin: std::net::SocketAddr, script: &str, limits: &str) -> Proxy {
    Proxy::new(&config(origin, limits))
        .files(&[("main.js", script), ("inner.js", INNER)])
        .sockets(&["http"])
        .start()
}

#[test]
fn rewrite_is_seen_at_the_origin_and_by_the_client() {
    let origin = Origin::start(|r| Reply {
        status: 200,
        headers: vec![
            ("x-secret".into(), "internal".into()),
            ("x-path".into(), r.target.clone()),
        ],
        body: b"from origin".to_vec(),
        chunked: false,
    });
    let script = "export default { async fetch(req, env) {
        const url = new URL(req.url);
        url.pathname = url.pathname.replace(/^\\/api\\//, '/v1/');
        const headers = new Headers(req.headers);
        headers.set('x-gateway', 'isoproxy');
        headers.delete('cookie');
        const up = await env.ORIGIN.fetch(new Request(url, { method: req.method, headers, body: req.body }));
        const resp = new Response(up.body, up);
        resp.headers.delete('x-secret');
        resp.headers.set('x-rewritten', '1');
        return resp;
    } };";
    let proxy = start(origin.addr, script, "");
    let raw = "GET /api/users?id=7 HTTP/1.1\r\nHost: gw.test\r\nCookie: s=1\r\nConnection: close\r\n\r\n";
    let (r, _) = exchange(proxy.port("http"), raw.as_bytes());
    let r = r.expect("response");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "from origin");
    assert_eq!(r.header("x-rewritten"), Some("1"));
    assert_eq!(r.header("x-secret"), None);
    assert_eq!(r.header("x-path"), Some("/v1/users?id=7"));
    let got = origin.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].target, "/v1/users?id=7");
    assert_eq!(got[0].header("x-gateway"), Some("isoproxy"));
    assert_eq!(got[0].header("cookie"), None);
    assert_eq!(got[0].header("host"), Some("gw.test"));
}

#[test]
fn two_workers_chained_by_a_service_binding() {
    let origin = Origin::echo();
    let script = "export default { async fetch(req, env) {
        const r = await env.INNER.fetch('http://inner.internal/hop', { headers: { 'x-from': 'outer' } });
        return new Response('outer got: ' + await r.text());
    } };";
    let proxy = start(origin.addr, script, "");
    let r = get(proxy.port("http"), "/", "a.test");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "outer got: inner saw /hop outer");
    assert!(
        origin.requests().is_empty(),
        "Worker-to-Worker calls never leave the process"
    );
}

#[test]
fn throwing_worker_then_a_good_request_on_the_same_connection() {
    let origin = Origin::echo();
    let script = "export default { async fetch(req) {
        if (new URL(req.url).pathname === '/throw') throw new Error('secret detail');
        return new Response('fine');
    } };";
    let proxy = start(origin.addr, script, "");
    let mut c = Client::connect(proxy.port("http"));
    c.send(b"GET /throw HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.read_response(false).expect("a 500");
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("secret detail"), "{}", r.text());
    c.send(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.read_response(false).expect("the next request on the same connection");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "fine");
    assert!(proxy.stderr_text().contains("secret detail"), "the exception is logged");
}

#[test]
fn infinite_loop_is_killed_while_other_requests_are_served() {
    let origin = Origin::echo();
    let script = "export default { async fetch(req) {
        if (new URL(req.url).pathname === '/loop') { for (;;) {} }
        return new Response('alive');
    } };";
    let proxy = start(origin.addr, script, "cpuMs = 50");
    let port = proxy.port("http");
    let looping = std::thread::spawn(move || get(port, "/loop", "a"));
    // Requests keep being answered while (and after) the loop burns its budget.
    for _ in 0..5 {
        assert_eq!(get(port, "/", "a").text(), "alive");
    }
    let r = looping.join().unwrap();
    assert_eq!(r.status, 503, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(get(port, "/", "a").text(), "alive");
}

#[test]
fn heap_bomb_is_killed_and_the_process_keeps_serving() {
    let origin = Origin::echo();
    let script = "export default { async fetch(req) {
        if (new URL(req.url).pathname === '/bomb') { const a = []; for (;;) a.push({ s: 'x'.repeat(64) + a.length }); }
        return new Response('alive');
    } };";
    let proxy = start(origin.addr, script, "heapMb = 32, cpuMs = 20000");
    let port = proxy.port("http");
    let r = get(port, "/bomb", "a");
    assert_eq!(r.status, 503, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(get(port, "/", "a").text(), "alive");
}

#[test]
fn large_body_streams_through_a_pass_through_worker_in_flat_memory() {
    const TOTAL: u64 = 256 << 20;
    // An origin that counts the body instead of keeping it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else { return };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read_exact(&mut byte).is_ok() {
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let chunked = head.contains("transfer-encoding: chunked");
        let mut counted = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        if chunked {
            // Count payload bytes of a chunked body (sizes on their own lines).
            let mut reader = std::io::BufReader::new(s.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) == 0 {
                    break;
                }
                let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
                if size == 0 {
                    let _ = std::io::BufRead::read_line(&mut reader, &mut line);
                    break;
                }
                let mut left = size;
                while left > 0 {
                    let want = left.min(buf.len() as u64) as usize;
                    let n = reader.read(&mut buf[..want]).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    left -= n as u64;
                    counted += n as u64;
                }
                let mut crlf = [0u8; 2];
                let _ = reader.read_exact(&mut crlf);
            }
        } else {
            while counted < TOTAL {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => counted += n as u64,
                }
            }
        }
        let body = counted.to_string();
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let script = "export default { async fetch(req, env) { return env.ORIGIN.fetch(req); } };";
    let proxy = start(origin, script, "");
    let mut c = Client::connect(proxy.port("http"));
    c.send(format!("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {TOTAL}\r\n\r\n").as_bytes());
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..(TOTAL >> 20) {
        c.stream.write_all(&chunk).unwrap();
    }
    c.stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let r = c.read_response(false).expect("response");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), TOTAL.to_string());
    let peak_mib = proxy.peak_rss_kib() / 1024;
    eprintln!("isoproxy peak RSS after a 256 MiB body: {peak_mib} MiB");
    // Buffering the body would need 256 MiB on its own.
    assert!(peak_mib > 0 && peak_mib < 160, "peak RSS {peak_mib} MiB");
}

#[test]
fn socket_can_name_an_entrypoint_and_props() {
    let cfg = format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"w\", worker = .w) ],
  sockets = [
    (name = \"main\", address = \"127.0.0.1:0\", http = (), service = \"w\"),
    (name = \"admin\", address = \"127.0.0.1:0\", http = (),
     service = (name = \"w\", entrypoint = \"admin\", props = (json = \"{{\\\"role\\\": \\\"ops\\\"}}\"))),
  ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
);\n"
    );
    let script = "export default { fetch(req, env, ctx) { return new Response('default'); } };
        export const admin = { fetch(req, env, ctx) { return new Response('admin for ' + ctx.props.role); } };";
    let proxy = Proxy::new(&cfg)
        .files(&[("main.js", script)])
        .sockets(&["main", "admin"])
        .start();
    assert_eq!(get(proxy.port("main"), "/", "a").text(), "default");
    let r = get(proxy.port("admin"), "/", "a");
    assert_eq!(r.text(), "admin for ops", "{}", proxy.stderr_text());
}
