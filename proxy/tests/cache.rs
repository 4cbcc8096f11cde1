//! End-to-end: the shared HTTP cache (RFC 9111) of the no-script path,
//! through the real binary, with the origin's request count asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;

const ADMIN: &str = "admin = (address = \"127.0.0.1:0\"),";

fn cached_config(origin: std::net::SocketAddr, cache: &str) -> String {
    reverse_config(
        origin,
        Reverse {
            top: &format!("{ADMIN} cache = (sockets = [\"http\"]{cache}),"),
            ..Reverse::default()
        },
    )
}

fn hits(origin: &Origin, path: &str) -> usize {
    origin.requests().iter().filter(|r| r.target == path).count()
}

fn send(port: u16, method: &str, path: &str, headers: &str) -> Response {
    let raw = format!("{method} {path} HTTP/1.1\r\nHost: example.test\r\n{headers}Connection: close\r\n\r\n");
    let mut c = Client::connect(port);
    c.send(raw.as_bytes());
    c.read_response(method == "HEAD").expect("no response")
}

/// An origin that answers each path with the status and headers of its
/// row (`/row/N`), a body naming the path and how many times it was
/// asked, and 304 to a matching `If-None-Match`.
fn table_origin(rows: Vec<(u16, Vec<(String, String)>)>) -> Origin {
    let count = Arc::new(Mutex::new(std::collections::HashMap::<String, usize>::new()));
    Origin::start(move |r| {
        let n = {
            let mut m = count.lock().unwrap();
            let e = m.entry(r.target.clone()).or_default();
            *e += 1;
            *e
        };
        let i: usize = r.target.trim_start_matches("/row/").parse().unwrap_or(0);
        let (status, headers) = rows.get(i).cloned().unwrap_or((200, Vec::new()));
        let etag = headers.iter().find(|(k, _)| k == "etag").map(|(_, v)| v.clone());
        if etag.is_some() && r.header("if-none-match") == etag.as_deref() {
            return Reply {
                status: 304,
                headers,
                body: Vec::new(),
                chunked: false,
            };
        }
        Reply {
            status,
            headers,
            body: format!("{} #{n}", r.target).into_bytes(),
            chunked: false,
        }
    })
}

#[test]
fn rfc9111_storage_table() {
    let future = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    // (origin status, origin headers, method, request headers, origin requests after 3 sends)
    let rows: Vec<(u16, Vec<(String, String)>, &str, &str, usize)> = vec![
        (200, h(&[("cache-control", "max-age=60")]), "GET", "", 1),
        (200, h(&[]), "GET", "", 3),
        (200, h(&[("cache-control", "no-store, max-age=60")]), "GET", "", 3),
        (200, h(&[("cache-control", "private, max-age=60")]), "GET", "", 3),
        (200, h(&[("cache-control", "s-maxage=60")]), "GET", "", 1),
        (200, h(&[("expires", future.as_str())]), "GET", "", 1),
        (200, h(&[("expires", "Thu, 01 Jan 1970 00:00:00 GMT")]), "GET", "", 3),
        (
            200,
            h(&[("cache-control", "max-age=60")]),
            "POST",
            "Content-Length: 0\r\n",
            3,
        ),
        (
            200,
            h(&[("cache-control", "max-age=60"), ("set-cookie", "s=1")]),
            "GET",
            "",
            3,
        ),
        (
            200,
            h(&[("cache-control", "max-age=60")]),
            "GET",
            "Authorization: Bearer t\r\n",
            3,
        ),
        (
            200,
            h(&[("cache-control", "public, max-age=60")]),
            "GET",
            "Authorization: Bearer t\r\n",
            1,
        ),
        (500, h(&[("cache-control", "max-age=60")]), "GET", "", 3),
        (404, h(&[("cache-control", "max-age=60")]), "GET", "", 1),
        (200, h(&[("cache-control", "max-age=60"), ("vary", "*")]), "GET", "", 3),
        (
            200,
            h(&[("cache-control", "max-age=60")]),
            "GET",
            "Cache-Control: no-store\r\n",
            3,
        ),
        // no-cache: stored, but every use revalidates (the origin sees all three).
        (
            200,
            h(&[("cache-control", "no-cache"), ("etag", "\"a\"")]),
            "GET",
            "",
            3,
        ),
        // HEAD fills from a GET upstream and is then answered from it.
        (200, h(&[("cache-control", "max-age=60")]), "HEAD", "", 1),
        // max-age=0 with must-revalidate: always revalidated.
        (
            200,
            h(&[("cache-control", "max-age=0, must-revalidate"), ("etag", "\"b\"")]),
            "GET",
            "",
            3,
        ),
        (206, h(&[("cache-control", "max-age=60")]), "GET", "", 3),
    ];
    let origin = table_origin(rows.iter().map(|(s, hs, ..)| (*s, hs.clone())).collect());
    let proxy = Proxy::new(&cached_config(origin.addr, ""))
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let port = proxy.port("http");
    for (i, (status, _, method, req_headers, want)) in rows.iter().enumerate() {
        let path = format!("/row/{i}");
        for _ in 0..3 {
            let r = send(port, method, &path, req_headers);
            assert_eq!(r.status, *status, "row {i}: status");
        }
        assert_eq!(hits(&origin, &path), *want, "row {i}: origin requests");
    }
}

#[test]
fn hit_carries_age_cache_status_and_is_counted() {
    let origin = table_origin(vec![(200, vec![("cache-control".into(), "max-age=60".into())])]);
    let proxy = Proxy::new(&cached_config(origin.addr, ""))
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let port = proxy.port("http");
    let first = send(port, "GET", "/row/0", "");
    assert_eq!(
        first.header("cache-status"),
        Some("isoproxy; fwd=uri-miss; fwd-status=200; stored")
    );
    assert_eq!(first.header("age"), None);
    let second = send(port, "GET", "/row/0", "");
    assert_eq!(second.header("cache-status"), Some("isoproxy; hit"));
    assert!(second.header("age").is_some_and(|a| a.parse::<u64>().is_ok()));
    assert_eq!(second.text(), "/row/0 #1");
    let head = send(port, "HEAD", "/row/0", "");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("9"));
    assert_eq!(hits(&origin, "/row/0"), 1);
    let admin = proxy.port("admin");
    // The record of the last request is written just after its response.
    let hit = "isoproxy_cache_requests_total{cache=\"HIT\",socket=\"http\"}";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while proxy.metric(admin, hit) < 2.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(proxy.metric(admin, hit), 2.0);
    assert_eq!(
        proxy.metric(admin, "isoproxy_cache_requests_total{cache=\"MISS\",socket=\"http\"}"),
        1.0
    );
    assert!(proxy.metric(admin, "isoproxy_cache_bytes{tier=\"memory\"}") > 9.0);
    assert_eq!(proxy.metric(admin, "isoproxy_cache_entries{tier=\"memory\"}"), 1.0);
}

#[test]
fn conditional_and_range_requests_are_answered_from_the_entry() {
    let origin = table_origin(vec![(
        200,
        vec![
            ("cache-control".into(), "max-age=60".into()),
            ("etag".into(), "\"e1\"".into()),
        ],
    )]);
    let proxy = Proxy::new(&cached_config(origin.addr, "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    assert_eq!(send(port, "GET", "/row/0", "").text(), "/row/0 #1");
    // (request headers, status, body)
    let rows: &[(&str, u16, &str)] = &[
        ("If-None-Match: \"e1\"\r\n", 304, ""),
        ("If-None-Match: \"other\"\r\n", 200, "/row/0 #1"),
        ("Range: bytes=0-3\r\n", 206, "/row"),
        ("Range: bytes=7-\r\n", 206, "#1"),
    ];
    for (i, (headers, status, body)) in rows.iter().enumerate() {
        let r = send(port, "GET", "/row/0", headers);
        assert_eq!((r.status, r.text().as_str()), (*status, *body), "row {i}");
    }
    assert_eq!(hits(&origin, "/row/0"), 1);
}

#[test]
fn concurrent_misses_collapse_into_one_origin_request() {
    let origin = Origin::start(|_| {
        // Slow enough that the requests overlap.
        std::thread::sleep(Duration::from_millis(300));
        Reply {
            status: 200,
            headers: vec![("cache-control".into(), "max-age=60".into())],
            body: b"shared".to_vec(),
            chunked: false,
        }
    });
    let proxy = Proxy::new(&cached_config(origin.addr, "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    let threads: Vec<_> = (0..100)
        .map(|_| std::thread::spawn(move || send(port, "GET", "/same", "")))
        .collect();
    for t in threads {
        let r = t.join().unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "shared"));
    }
    assert_eq!(hits(&origin, "/same"), 1);
}

#[test]
fn vary_keeps_one_entry_per_variant() {
    let origin = Origin::start(|r| Reply {
        status: 200,
        headers: vec![
            ("cache-control".into(), "max-age=60".into()),
            ("vary".into(), "Accept-Language".into()),
        ],
        body: r.header("accept-language").unwrap_or("none").as_bytes().to_vec(),
        chunked: false,
    });
    let proxy = Proxy::new(&cached_config(origin.addr, "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    // (Accept-Language, body, origin requests so far)
    let rows = [
        ("en", "en", 1),
        ("fr", "fr", 2),
        ("en", "en", 2),
        ("fr", "fr", 2),
        ("", "none", 3),
        ("", "none", 3),
    ];
    for (i, (lang, body, want)) in rows.iter().enumerate() {
        let h = if lang.is_empty() {
            String::new()
        } else {
            format!("Accept-Language: {lang}\r\n")
        };
        let r = send(port, "GET", "/v", &h);
        assert_eq!(r.text(), *body, "row {i}");
        assert_eq!(hits(&origin, "/v"), *want, "row {i}: origin requests");
    }
}

/// Waits until an entry stored with max-age=1 is stale (the one place a
/// wait is unavoidable; nothing about its length is asserted).
fn let_it_go_stale() {
    std::thread::sleep(Duration::from_millis(2100));
}

#[test]
fn stale_entry_is_revalidated_with_its_validators() {
    let origin = table_origin(vec![(
        200,
        vec![
            ("cache-control".into(), "max-age=1".into()),
            ("etag".into(), "\"v1\"".into()),
        ],
    )]);
    let proxy = Proxy::new(&cached_config(origin.addr, "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    assert_eq!(send(port, "GET", "/row/0", "").text(), "/row/0 #1");
    let_it_go_stale();
    let r = send(port, "GET", "/row/0", "");
    assert_eq!((r.status, r.text().as_str()), (200, "/row/0 #1"));
    assert_eq!(r.header("cache-status"), Some("isoproxy; fwd=stale; fwd-status=304"));
    let reqs = origin.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("if-none-match"), Some("\"v1\""));
    // Refreshed by the 304: fresh again, the origin is not asked.
    assert_eq!(
        send(port, "GET", "/row/0", "").header("cache-status"),
        Some("isoproxy; hit")
    );
    assert_eq!(origin.requests().len(), 2);
}

#[test]
fn stale_while_revalidate_serves_stale_and_refreshes_in_the_background() {
    let origin = table_origin(vec![(
        200,
        vec![("cache-control".into(), "max-age=1, stale-while-revalidate=60".into())],
    )]);
    let proxy = Proxy::new(&cached_config(origin.addr, "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    assert_eq!(send(port, "GET", "/row/0", "").text(), "/row/0 #1");
    let_it_go_stale();
    let stale = send(port, "GET", "/row/0", "");
    assert_eq!(stale.text(), "/row/0 #1");
    assert_eq!(stale.header("cache-status"), Some("isoproxy; hit; detail=stale"));
    // The background refresh reaches the origin.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while hits(&origin, "/row/0") < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(hits(&origin, "/row/0"), 2);
    // Once stored, the refreshed body is served.
    let mut body = String::new();
    while std::time::Instant::now() < deadline {
        body = send(port, "GET", "/row/0", "").text();
        if body == "/row/0 #2" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(body, "/row/0 #2");
    assert_eq!(hits(&origin, "/row/0"), 2);
}

#[test]
fn stale_if_error_serves_stale_when_the_origin_fails() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = fail.clone();
    let origin = Origin::start(move |_| Reply {
        status: if f.load(std::sync::atomic::Ordering::SeqCst) {
            503
        } else {
            200
        },
        headers: vec![("cache-control".into(), "max-age=1, stale-if-error=60".into())],
        body: b"good".to_vec(),
        chunked: false,
    });
    let proxy = Proxy::new(&cached_config(origin.addr, "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    assert_eq!(send(port, "GET", "/e", "").status, 200);
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let_it_go_stale();
    let r = send(port, "GET", "/e", "");
    assert_eq!((r.status, r.text().as_str()), (200, "good"));
    assert_eq!(hits(&origin, "/e"), 2);
}

#[test]
fn reload_keeps_the_cache() {
    let origin = table_origin(vec![(200, vec![("cache-control".into(), "max-age=60".into())])]);
    let proxy = Proxy::new(&cached_config(origin.addr, "")).sockets(&["http"]).start();
    let port = proxy.port("http");
    send(port, "GET", "/row/0", "");
    assert_eq!(proxy.reload()["result"], "ok");
    let r = send(port, "GET", "/row/0", "");
    assert_eq!(r.header("cache-status"), Some("isoproxy; hit"));
    assert_eq!(hits(&origin, "/row/0"), 1);
}

#[test]
fn memory_budget_is_kept_by_eviction() {
    let origin = Origin::start(|_| Reply {
        status: 200,
        headers: vec![("cache-control".into(), "max-age=600".into())],
        body: vec![b'x'; 4096],
        chunked: false,
    });
    let budget = 64 * 1024;
    let proxy = Proxy::new(&cached_config(origin.addr, &format!(", memoryBytes = {budget}")))
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let port = proxy.port("http");
    // Ten times the budget in distinct objects.
    for i in 0..160 {
        assert_eq!(send(port, "GET", &format!("/o/{i}"), "").status, 200);
    }
    let admin = proxy.port("admin");
    assert!(proxy.metric(admin, "isoproxy_cache_evictions_total{tier=\"memory\"}") > 0.0);
    // Evicted entries are dropped by a task right after the insert.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let bytes = "isoproxy_cache_bytes{tier=\"memory\"}";
    while proxy.metric(admin, bytes) > budget as f64 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let held = proxy.metric(admin, bytes);
    assert!(held > 0.0 && held <= budget as f64, "held {held} bytes");
}

#[test]
fn forty_times_the_budget_in_objects_keeps_memory_bounded() {
    let origin = Origin::start(|_| Reply {
        status: 200,
        headers: vec![("cache-control".into(), "max-age=600".into())],
        body: vec![b'r'; 256 * 1024],
        chunked: false,
    });
    let budget = 4 << 20;
    let proxy = Proxy::new(&cached_config(origin.addr, &format!(", memoryBytes = {budget}")))
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");
    assert_eq!(send(port, "GET", "/warm", "").status, 200);
    let before = proxy.peak_rss_kib();
    // 160 MiB of distinct objects through a 4 MiB budget.
    for i in 0..640 {
        assert_eq!(send(port, "GET", &format!("/r/{i}"), "").body.len(), 256 * 1024);
    }
    let grown_mib = (proxy.peak_rss_kib().saturating_sub(before)) / 1024;
    // Keeping everything would add 160 MiB. What may stay: the budget, the
    // bodies in flight, and what the allocator keeps of freed ones (about
    // 25 MiB here, reached early and not growing with more objects).
    assert!(grown_mib < 48, "peak RSS grew by {grown_mib} MiB");
}

#[test]
fn bodies_over_the_object_limit_are_not_stored() {
    let origin = Origin::start(|r| Reply {
        status: 200,
        headers: vec![("cache-control".into(), "max-age=60".into())],
        body: vec![b'y'; if r.target == "/big" { 2048 } else { 100 }],
        chunked: false,
    });
    let proxy = Proxy::new(&cached_config(origin.addr, ", maxObjectBytes = 1024"))
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");
    for _ in 0..2 {
        assert_eq!(send(port, "GET", "/big", "").body.len(), 2048);
        assert_eq!(send(port, "GET", "/small", "").body.len(), 100);
    }
    assert_eq!((hits(&origin, "/big"), hits(&origin, "/small")), (2, 1));
}

#[test]
fn a_socket_without_the_cache_never_stores() {
    let origin = table_origin(vec![(200, vec![("cache-control".into(), "max-age=60".into())])]);
    let proxy = Proxy::new(&reverse_config(origin.addr, Reverse::default()))
        .sockets(&["http"])
        .start();
    let port = proxy.port("http");
    for _ in 0..2 {
        assert_eq!(send(port, "GET", "/row/0", "").header("cache-status"), None);
    }
    assert_eq!(hits(&origin, "/row/0"), 2);
}

fn purge_request(admin: u16, query: &str, token: Option<&str>) -> Response {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let raw = format!("POST /cache/purge?{query} HTTP/1.1\r\nHost: admin\r\n{auth}Content-Length: 0\r\n\r\n");
    let mut c = Client::connect(admin);
    c.send(raw.as_bytes());
    c.read_response(false).expect("no purge response")
}

#[test]
fn purge_by_url_and_prefix_needs_the_token() {
    let origin = Origin::start(|_| Reply {
        status: 200,
        headers: vec![("cache-control".into(), "max-age=600".into())],
        body: b"x".to_vec(),
        chunked: false,
    });
    let proxy = Proxy::new(&cached_config(origin.addr, ", purgeToken = \"s3cret\""))
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let (port, admin) = (proxy.port("http"), proxy.port("admin"));
    let paths = ["/a", "/static/1", "/static/2", "/other"];
    for p in paths {
        send(port, "GET", p, "");
    }
    // (query, token, status, body, origin requests per path after refetching all)
    let rows: &[(&str, Option<&str>, u16, &str, [usize; 4])] = &[
        ("url=http%3A%2F%2Fexample.test%2Fa", None, 401, "", [1, 1, 1, 1]),
        (
            "url=http%3A%2F%2Fexample.test%2Fa",
            Some("wrong"),
            401,
            "",
            [1, 1, 1, 1],
        ),
        ("nothing=1", Some("s3cret"), 400, "", [1, 1, 1, 1]),
        (
            "url=http%3A%2F%2Fexample.test%2Fa",
            Some("s3cret"),
            200,
            "{\"purged\":1}\n",
            [2, 1, 1, 1],
        ),
        (
            "prefix=http://example.test/static/",
            Some("s3cret"),
            200,
            "{\"purged\":2}\n",
            [2, 2, 2, 1],
        ),
        (
            "url=http://example.test/missing",
            Some("s3cret"),
            200,
            "{\"purged\":0}\n",
            [2, 2, 2, 1],
        ),
    ];
    for (i, (query, token, status, body, want)) in rows.iter().enumerate() {
        let r = purge_request(admin, query, *token);
        assert_eq!(r.status, *status, "row {i}: {}", r.text());
        if !body.is_empty() {
            assert_eq!(r.text(), *body, "row {i}");
        }
        for p in paths {
            send(port, "GET", p, "");
        }
        let got: Vec<usize> = paths.iter().map(|p| hits(&origin, p)).collect();
        assert_eq!(got, want.to_vec(), "row {i}: origin requests per path");
    }
}

const CACHE_API_WORKER: &str = r#"
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const name = url.searchParams.get("cache");
    const cache = name ? await caches.open(name) : caches.default;
    const key = new Request("https://example.test" + url.pathname);
    if (url.searchParams.has("delete")) return new Response(String(await cache.delete(key)));
    if (url.pathname === "/refusals") {
      const out = [];
      const tries = [
        () => cache.put(new Request("https://example.test/p", { method: "POST" }), new Response("x")),
        () => cache.put(key, new Response("x", { status: 206 })),
        () => cache.put(key, new Response("x", { headers: { vary: "*" } })),
        () => cache.put(key, new Response(null, { status: 304 })),
      ];
      for (const t of tries) {
        try { await t(); out.push("stored"); } catch (e) { out.push(`${e.name}: ${e.message}`); }
      }
      out.push(String(await cache.match(new Request("https://example.test/x", { method: "POST" }))));
      // Nothing above was stored (a 304 put resolves, as in workerd, but stores nothing).
      out.push(String(await cache.match(key)));
      return new Response(out.join("\n"));
    }
    const hit = await cache.match(key);
    if (hit) return new Response(hit.body, { headers: { "x-from": "cache", "x-cf": hit.headers.get("cf-cache-status") ?? "" } });
    const resp = await env.ORIGIN.fetch("http://origin" + url.pathname);
    const body = await resp.text();
    await cache.put(key, new Response(body, resp));
    return new Response(body, { headers: { "x-from": "origin" } });
  }
};
"#;

#[test]
fn workers_cache_api_match_put_delete() {
    let origin = Origin::start(|r| {
        let cc = match r.target.as_str() {
            "/fresh" => "max-age=600",
            "/no-store" => "no-store",
            "/private" => "private, max-age=600",
            _ => "",
        };
        let mut headers = vec![("cache-control".to_string(), cc.to_string())];
        if r.target == "/cookie" {
            headers = vec![
                ("cache-control".into(), "max-age=600".into()),
                ("set-cookie".into(), "a=1".into()),
            ];
        }
        Reply {
            status: if r.target == "/teapot" { 418 } else { 200 },
            headers,
            body: format!("body of {}", r.target).into_bytes(),
            chunked: false,
        }
    });
    // workerd's `cacheApiOutbound` is accepted (and not used: the
    // built-in store answers).
    let cfg = gateway_config(origin.addr, "main.js", "").replace(
        "bindings = [ (name = \"ORIGIN\", service = \"origin\") ],",
        "bindings = [ (name = \"ORIGIN\", service = \"origin\") ], cacheApiOutbound = \"origin\",",
    );
    assert!(cfg.contains("cacheApiOutbound"));
    let proxy = Proxy::new(&cfg)
        .sockets(&["http"])
        .file("main.js", CACHE_API_WORKER)
        .start();
    let port = proxy.port("http");
    // (path, where the second request is answered from, origin requests after two)
    let rows: &[(&str, &str, usize)] = &[
        ("/fresh", "cache", 1),
        // No Cache-Control: the platform's edge TTL for a 200 applies.
        ("/default-ttl", "cache", 1),
        ("/no-store", "origin", 2),
        ("/private", "origin", 2),
        ("/cookie", "origin", 2),
        // No Cache-Control and a status without an edge TTL.
        ("/teapot", "origin", 2),
    ];
    for (i, (path, second, want)) in rows.iter().enumerate() {
        let first = send(port, "GET", path, "");
        assert_eq!(
            (first.header("x-from"), first.text()),
            (Some("origin"), format!("body of {path}")),
            "row {i}"
        );
        let again = send(port, "GET", path, "");
        assert_eq!(again.header("x-from"), Some(*second), "row {i}");
        assert_eq!(again.text(), format!("body of {path}"), "row {i}");
        if *second == "cache" {
            assert_eq!(again.header("x-cf"), Some("HIT"), "row {i}");
        }
        assert_eq!(hits(&origin, path), *want, "row {i}: origin requests");
    }
    // A named cache is separate from the default one.
    assert_eq!(
        send(port, "GET", "/fresh?cache=other", "").header("x-from"),
        Some("origin")
    );
    assert_eq!(
        send(port, "GET", "/fresh?cache=other", "").header("x-from"),
        Some("cache")
    );
    // delete: true once, then false; the next request goes to the origin.
    assert_eq!(send(port, "GET", "/fresh?delete=1", "").text(), "true");
    assert_eq!(send(port, "GET", "/fresh?delete=1", "").text(), "false");
    assert_eq!(send(port, "GET", "/fresh", "").header("x-from"), Some("origin"));
    assert_eq!(
        send(port, "GET", "/fresh?cache=other", "").header("x-from"),
        Some("cache")
    );
    let refusals = send(port, "GET", "/refusals", "").text();
    assert_eq!(
        refusals,
        "TypeError: Cannot cache response to non-GET request.\n\
         TypeError: Cannot cache response to a range request (206 Partial Content).\n\
         TypeError: Cannot cache response with 'Vary: *' header.\n\
         stored\n\
         undefined\n\
         undefined"
    );
}

fn stop(mut proxy: Proxy) {
    proxy.signal(libc::SIGTERM);
    assert!(proxy.wait_exit(Duration::from_secs(30)).is_some(), "proxy did not exit");
}

fn disk_origin() -> Origin {
    Origin::start(|r| Reply {
        status: 200,
        headers: vec![("cache-control".into(), "max-age=600".into())],
        body: if r.target == "/big" {
            vec![b'z'; 200 * 1024]
        } else {
            format!("disk {}", r.target).into_bytes()
        },
        chunked: false,
    })
}

#[test]
fn disk_tier_survives_a_restart_and_drops_damaged_entries() {
    let origin = disk_origin();
    let dir = scratch_dir();
    let cfg = cached_config(origin.addr, &format!(", diskPath = \"{}\"", dir.display()));
    let proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let port = proxy.port("http");
    for p in ["/a", "/b", "/c"] {
        assert_eq!(send(port, "GET", p, "").text(), format!("disk {p}"));
    }
    stop(proxy);
    let file_of = |url: &str, ext: &str| -> std::path::PathBuf {
        // Find the entry whose meta names `url`.
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "meta") {
                let bytes = std::fs::read(&path).unwrap();
                let needle = format!("http://example.test{url}");
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    return path.with_extension(ext);
                }
            }
        }
        panic!("no entry for {url}");
    };
    // /b: a byte of its body flipped (same length); /c: its meta damaged.
    let body = file_of("/b", "body");
    let mut bytes = std::fs::read(&body).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&body, bytes).unwrap();
    let meta = file_of("/c", "meta");
    let mut bytes = std::fs::read(&meta).unwrap();
    let n = bytes.len();
    bytes[n - 40] ^= 0xff;
    std::fs::write(&meta, bytes).unwrap();

    let proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let port = proxy.port("http");
    // /a from disk, untouched by the restart.
    let a = send(port, "GET", "/a", "");
    assert_eq!(
        (a.text().as_str(), a.header("cache-status")),
        ("disk /a", Some("isoproxy; hit"))
    );
    // /b: the damaged body is never passed off as complete.
    let mut c = Client::connect(port);
    c.send(b"GET /b HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n");
    let damaged = c.read_response(false);
    assert!(damaged.as_ref().is_none_or(|r| r.text() != "Disk /b"), "{damaged:?}");
    // ... and the entry is gone: the next request goes to the origin.
    assert_eq!(send(port, "GET", "/b", "").text(), "disk /b");
    // /c was dropped at start-up.
    assert_eq!(send(port, "GET", "/c", "").text(), "disk /c");
    assert_eq!(
        (hits(&origin, "/a"), hits(&origin, "/b"), hits(&origin, "/c")),
        (1, 2, 2)
    );
}

#[test]
fn large_bodies_stream_to_disk_only() {
    let origin = disk_origin();
    let dir = scratch_dir();
    // Memory keeps bodies up to memoryBytes/16 = 64 KiB when a disk tier exists.
    let cfg = cached_config(
        origin.addr,
        &format!(", memoryBytes = 1048576, diskPath = \"{}\"", dir.display()),
    );
    let proxy = Proxy::new(&cfg).sockets(&["http"]).listeners(&["admin"]).start();
    let port = proxy.port("http");
    for _ in 0..3 {
        let r = send(port, "GET", "/big", "");
        assert_eq!(r.body.len(), 200 * 1024);
        assert!(r.body.iter().all(|b| *b == b'z'));
    }
    assert_eq!(hits(&origin, "/big"), 1);
    let admin = proxy.port("admin");
    assert_eq!(proxy.metric(admin, "isoproxy_cache_entries{tier=\"memory\"}"), 0.0);
    assert_eq!(proxy.metric(admin, "isoproxy_cache_entries{tier=\"disk\"}"), 1.0);
    assert!(proxy.metric(admin, "isoproxy_cache_bytes{tier=\"disk\"}") > 200.0 * 1024.0);
}

#[test]
fn a_worker_socket_cannot_be_listed() {
    let origin = Origin::echo();
    let cfg = gateway_config(origin.addr, "main.js", "cache = (sockets = [\"http\"]),");
    let dir = scratch_dir();
    std::fs::write(dir.join("config.capnp"), cfg).unwrap();
    std::fs::write(
        dir.join("main.js"),
        "export default { fetch() { return new Response(\"w\"); } };\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .args(["check", dir.join("config.capnp").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cache.sockets: socket http serves a Worker"), "{err}");
}

#[test]
fn access_log_records_the_cache_outcome() {
    let origin = table_origin(vec![(200, vec![("cache-control".into(), "max-age=60".into())])]);
    let dir = scratch_dir();
    let log = dir.join("access.log");
    let cfg = reverse_config(
        origin.addr,
        Reverse {
            top: &format!(
                "accessLog = (format = json, path = \"{}\"), cache = (sockets = [\"http\"]),",
                log.display()
            ),
            ..Reverse::default()
        },
    );
    let proxy = Proxy::new(&cfg).sockets(&["http"]).start();
    let port = proxy.port("http");
    send(port, "GET", "/row/0", "");
    send(port, "GET", "/row/0", "");
    send(port, "POST", "/row/0", "Content-Length: 0\r\n");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut outcomes: Vec<String> = Vec::new();
    while std::time::Instant::now() < deadline {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        outcomes = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["cache"].as_str().unwrap_or("null").to_string())
            .collect();
        if outcomes.len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // A record is written once its request is done; a miss finishes storing
    // after its client has the response, so the order may differ.
    outcomes.sort();
    assert_eq!(outcomes, ["BYPASS", "HIT", "MISS"]);
}
