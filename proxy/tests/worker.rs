//! End-to-end: sockets whose service is a Worker. The Worker answers
//! itself, reads the streamed request body, or passes the request on
//! through a binding to an ExternalServer (the proxy's `Outbound`).

mod support;

use support::*;

fn start(origin: &Origin, script: &str) -> Proxy {
    Proxy::new(&gateway_config(origin.addr, "main.js", ""))
        .files(&[("main.js", script)])
        .sockets(&["http"])
        .start()
}

#[test]
fn worker_answers_itself() {
    let origin = Origin::echo();
    let script = "export default { async fetch(req) {
        const url = new URL(req.url);
        return new Response('hello ' + url.pathname, { status: 201, headers: { 'x-worker': 'yes' } });
    } };";
    let proxy = start(&origin, script);
    let r = get(proxy.port("http"), "/there", "example.test");
    assert_eq!(r.status, 201, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "hello /there");
    assert_eq!(r.header("x-worker"), Some("yes"));
    assert!(origin.requests().is_empty());
}

#[test]
fn worker_reads_the_streamed_request_body() {
    let origin = Origin::echo();
    let script = "export default { async fetch(req) {
        const t = await req.text();
        return new Response(String(t.length) + ':' + t.slice(0, 5));
    } };";
    let proxy = start(&origin, script);
    let body = "abcde".repeat(100_000);
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (r, _) = exchange(proxy.port("http"), raw.as_bytes());
    let r = r.unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "500000:abcde");
}

#[test]
fn pass_through_worker_reaches_the_origin_through_its_binding() {
    let origin = Origin::echo();
    let script = "export default { async fetch(req, env) { return env.ORIGIN.fetch(req); } };";
    let proxy = start(&origin, script);
    let port = proxy.port("http");
    let raw = "POST /pass?q=1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nX-Request-Id: rid-1\r\nConnection: close\r\n\r\nping";
    let (r, _) = exchange(port, raw.as_bytes());
    let r = r.unwrap();
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "ping");
    assert_eq!(r.header("x-echo-target"), Some("/pass?q=1"));
    let got = origin.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].header("host"), Some("a.test"));
    assert_eq!(got[0].header("x-request-id"), Some("rid-1"));
    // A large response streams back through the Worker.
    let big = "z".repeat(3 * 1024 * 1024);
    let raw = format!(
        "PUT /big HTTP/1.1\r\nHost: a.test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
        big.len()
    );
    let (r, _) = exchange(port, raw.as_bytes());
    let r = r.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), big.len());
}

#[test]
fn binding_to_a_down_origin_is_502() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let script = "export default { async fetch(req, env) {
        try { return await env.ORIGIN.fetch(req); }
        catch (e) { return new Response('caught', { status: 599 }); }
    } };";
    let cfg = gateway_config(dead, "main.js", "");
    let proxy = Proxy::new(&cfg)
        .files(&[("main.js", script)])
        .sockets(&["http"])
        .start();
    let r = get(proxy.port("http"), "/", "a");
    assert!(r.status == 599 || r.status == 502, "{} {}", r.status, r.text());
}

#[test]
fn global_fetch_cannot_reach_loopback_through_the_default_internet() {
    let origin = Origin::echo();
    let port = origin.addr.port();
    let script = format!(
        "export default {{ async fetch(req) {{
            const out = [];
            for (const host of ['127.0.0.1', 'localhost', '127.1', '[::ffff:127.0.0.1]']) {{
                try {{
                    const r = await fetch('http://' + host + ':{port}/canary');
                    out.push(host + '=' + r.status);
                }} catch (e) {{ out.push(host + '=refused'); }}
            }}
            return new Response(out.join(','));
        }} }};"
    );
    let proxy = start(&origin, &script);
    let r = get(proxy.port("http"), "/", "a");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    for part in r.text().split(',') {
        assert!(
            part.ends_with("=refused") || part.ends_with("=403") || part.ends_with("=502"),
            "{}",
            r.text()
        );
    }
    assert_eq!(origin.connections.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn worker_sees_the_forwarded_scheme() {
    let origin = Origin::echo();
    let script = "export default { fetch(req) { return new Response(req.url); } };";
    let cfg = gateway_config(origin.addr, "main.js", "").replace(
        "http = (), service = \"w\"",
        "http = (forwardedProtoHeader = \"X-Forwarded-Proto\"), service = \"w\"",
    );
    let proxy = Proxy::new(&cfg)
        .files(&[("main.js", script)])
        .sockets(&["http"])
        .start();
    let raw = "GET /p?q=1 HTTP/1.1\r\nHost: site.test\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n";
    let (r, _) = exchange(proxy.port("http"), raw.as_bytes());
    assert_eq!(r.unwrap().text(), "https://site.test/p?q=1");
    let r = get(proxy.port("http"), "/p", "site.test");
    assert_eq!(r.text(), "http://site.test/p");
}
