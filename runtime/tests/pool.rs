//! WorkerPool behaviour: both Worker syntaxes, bindings, concurrency,
//! limits and failure handling, streaming pass-through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;

#[tokio::test]
async fn modules_worker_answers() {
    let h = start(
        config(vec![("w", module_worker("export default { async fetch(req, env, ctx) { return new Response('hi ' + new URL(req.url).pathname, { headers: { 'x-a': '1' } }); } }"))]),
        1,
    );
    let (status, body) = fetch_text(&h.pool, "w", get("http://example.com/path")).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, "hi /path");
}

#[tokio::test]
async fn service_worker_syntax_with_global_bindings() {
    let mut w = script_worker(
        r#"addEventListener("fetch", (event) => {
            event.respondWith(new Response(`${GREETING} ${CONFIG.n} ${new Uint8Array(BLOB).length}`));
        });"#,
    );
    w.bindings = vec![
        isoproxy_schema::model::Binding {
            name: "GREETING".into(),
            value: isoproxy_schema::model::BindingValue::Text("hello".into()),
        },
        isoproxy_schema::model::Binding {
            name: "CONFIG".into(),
            value: isoproxy_schema::model::BindingValue::Json("{\"n\": 42}".into()),
        },
        isoproxy_schema::model::Binding {
            name: "BLOB".into(),
            value: isoproxy_schema::model::BindingValue::Data(vec![1, 2, 3]),
        },
    ];
    let h = start(config(vec![("sw", w)]), 1);
    let (status, body) = fetch_text(&h.pool, "sw", get("http://x/")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "hello 42 3"));
}

#[tokio::test]
async fn modules_import_each_other_and_data_modules() {
    use isoproxy_schema::model::ModuleKind;
    let w = modules_worker(vec![
        ("main.js", ModuleKind::EsModule("import { twice } from './lib/util.js'; import txt from 'greeting.txt'; import cfg from 'cfg.json'; import bin from 'bin.dat';\nexport default { fetch() { return new Response(`${twice(cfg.n)} ${txt} ${bin.byteLength}`); } }".into())),
        ("lib/util.js", ModuleKind::EsModule("import { one } from './one.js'; export const twice = (n) => n * 2 + one - 1;".into())),
        ("lib/one.js", ModuleKind::EsModule("export const one = 1;".into())),
        ("greeting.txt", ModuleKind::Text("hey".into())),
        ("cfg.json", ModuleKind::Json("{\"n\": 21}".into())),
        ("bin.dat", ModuleKind::Data(vec![0; 5])),
    ]);
    let h = start(config(vec![("m", w)]), 1);
    let (_, body) = fetch_text(&h.pool, "m", get("http://x/")).await.unwrap();
    assert_eq!(body, "42 hey 5");
}

#[tokio::test]
async fn broken_script_fails_at_start_with_location() {
    let outbound = std::sync::Arc::new(EchoOutbound::default());
    let err = isoproxy_runtime::WorkerPool::start(
        config(vec![(
            "bad",
            module_worker("export default {\n  fetch() { return 1 +; }\n}"),
        )]),
        isoproxy_runtime::PoolOptions {
            threads: 1,
            ..Default::default()
        },
        outbound.clone(),
        std::sync::Arc::new(isoproxy_runtime::NoopObserver),
    )
    .err()
    .expect("start fails");
    assert_eq!(err.worker, "bad");
    assert!(err.message.contains("main.js:2"), "{}", err.message);
    let err = isoproxy_runtime::WorkerPool::start(
        config(vec![(
            "bad",
            module_worker("throw new Error('boom at top');\nexport default {}"),
        )]),
        isoproxy_runtime::PoolOptions {
            threads: 1,
            ..Default::default()
        },
        outbound,
        std::sync::Arc::new(isoproxy_runtime::NoopObserver),
    )
    .err()
    .expect("start fails");
    assert!(err.message.contains("boom at top"), "{}", err.message);
}

#[tokio::test]
async fn service_binding_goes_through_outbound() {
    let mut w = module_worker(
        "export default { async fetch(req, env) { const r = await env.ORIGIN.fetch('http://origin.test/a?b=1', { headers: { 'x-test': 'yes' } }); return new Response(`${r.headers.get('x-service')} ${r.headers.get('x-saw-test')} ${await r.text()}`); } }",
    );
    w.bindings = vec![service_binding("ORIGIN", "origin")];
    let h = start(config(vec![("w", w)]), 1);
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    assert_eq!(body, "origin yes hello from upstream");
    let seen = h.outbound.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].url, "http://origin.test/a?b=1");
}

#[tokio::test]
async fn global_fetch_goes_to_global_outbound() {
    let h = start(
        config(vec![("w", module_worker("export default { async fetch(req) { const r = await fetch('https://example.org/x'); return new Response(r.headers.get('x-service')); } }"))]),
        1,
    );
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    assert_eq!(body, "internet");
}

#[tokio::test]
async fn worker_to_worker_binding_in_process() {
    let mut front = module_worker(
        "export default { async fetch(req, env) { const r = await env.BACK.fetch('http://back/hello', { method: 'POST', body: 'ping' }); return new Response('front got: ' + await r.text(), { status: r.status }); } }",
    );
    front.bindings = vec![service_binding("BACK", "back")];
    let back = module_worker("export default { async fetch(req) { return new Response(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`, { status: 201 }); } }");
    let h = start(config(vec![("front", front), ("back", back)]), 2);
    let (status, body) = fetch_text(&h.pool, "front", get("http://x/")).await.unwrap();
    assert_eq!((status, body.as_str()), (201, "front got: POST /hello ping"));
    assert!(h.outbound.seen.lock().unwrap().is_empty(), "no socket/outbound used");
}

#[tokio::test]
async fn fetch_to_missing_or_refused_service_is_a_clear_js_error() {
    let mut w = module_worker(
        r#"export default { async fetch(req, env) {
            const out = [];
            try { await env.NOPE.fetch('http://x/'); } catch (e) { out.push(`${e.name}: ${e.message}`); }
            try { await fetch('http://denied.example/'); } catch (e) { out.push(`${e.name}: ${e.message}`); }
            out.push(typeof env.UNBOUND);
            return new Response(out.join('\n'));
        } }"#,
    );
    w.bindings = vec![service_binding("NOPE", "no-such-service")];
    let h = start(config(vec![("w", w)]), 1);
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[0].starts_with("TypeError") && lines[0].contains("no-such-service"),
        "{body}"
    );
    assert!(
        lines[1].starts_with("TypeError") && lines[1].contains("refused"),
        "{body}"
    );
    assert_eq!(lines[2], "undefined");
}

#[tokio::test]
async fn throwing_worker_then_good_request() {
    let h = start(
        config(vec![("w", module_worker("export default { async fetch(req) { if (req.url.endsWith('/throw')) throw new Error('secret detail'); return new Response('fine'); } }"))]),
        1,
    );
    let err = fetch_text(&h.pool, "w", get("http://x/throw")).await.unwrap_err();
    assert_eq!(err.outcome, isoproxy_runtime::Outcome::Exception);
    assert!(err.message.contains("secret detail"));
    let (status, body) = fetch_text(&h.pool, "w", get("http://x/ok")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "fine"));
}

#[tokio::test]
async fn many_requests_interleave_on_one_isolate() {
    // Each request waits on a timer; with one thread they all share one
    // isolate and must overlap (global state shows how many were in flight).
    let h = start(
        config(vec![("w", module_worker(
            "let inflight = 0, peak = 0; export default { async fetch(req) { inflight++; peak = Math.max(peak, inflight); await new Promise((r) => setTimeout(r, 20)); inflight--; return new Response(String(peak)); } }",
        ))]),
        1,
    );
    let mut tasks = vec![];
    for i in 0..50 {
        let pool = h.pool.clone();
        tasks.push(tokio::spawn(async move {
            fetch_text(&pool, "w", get(&format!("http://x/{i}"))).await.unwrap()
        }));
    }
    let mut peak = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200);
        peak = peak.max(body.parse::<u32>().unwrap());
    }
    assert!(peak > 10, "requests did not interleave: peak {peak}");
}

#[tokio::test]
async fn cpu_limit_kills_infinite_loop_others_keep_being_served() {
    let mut w = module_worker(
        "export default { async fetch(req) { if (req.url.endsWith('/loop')) { for (;;) {} } await new Promise((r) => setTimeout(r, 5)); return new Response('ok'); } }",
    );
    w.limits.cpu_ms = 50;
    let h = start(config(vec![("w", w)]), 1);
    let slow = {
        let pool = h.pool.clone();
        tokio::spawn(async move { fetch_text(&pool, "w", get("http://x/slow")).await })
    };
    let err = fetch_text(&h.pool, "w", get("http://x/loop")).await.unwrap_err();
    assert_eq!(err.outcome, isoproxy_runtime::Outcome::CpuLimit);
    let (_, body) = slow.await.unwrap().unwrap();
    assert_eq!(body, "ok");
    for _ in 0..3 {
        let (_, body) = fetch_text(&h.pool, "w", get("http://x/after")).await.unwrap();
        assert_eq!(body, "ok");
    }
    let inv = h.recorder.invocations.lock().unwrap().clone();
    assert!(inv.iter().any(|(_, o)| *o == isoproxy_runtime::Outcome::CpuLimit));
}

#[tokio::test]
async fn cpu_limit_stops_optimized_builtin_loops() {
    // Loops that TurboFan would compile without interrupt checks.
    for code in [
        "for (;;) new Array(100).fill(1);",
        "const a = []; for (;;) a.push(new Array(10));",
    ] {
        let mut w = module_worker(&format!(
            "export default {{ async fetch(req) {{ {code} return new Response('x'); }} }}"
        ));
        w.limits.cpu_ms = 50;
        w.limits.wall_ms = 5000;
        let h = start(config(vec![("w", w)]), 1);
        let err = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap_err();
        assert_eq!(err.outcome, isoproxy_runtime::Outcome::CpuLimit, "{code}");
    }
}

#[tokio::test]
async fn heap_bomb_is_killed_and_next_request_served() {
    let mut w = module_worker(
        "export default { async fetch(req) { if (req.url.endsWith('/bomb')) { const a = []; for (;;) a.push({ s: 'x'.repeat(100) + a.length, n: [a.length, a.length + 1] }); } if (req.url.endsWith('/bomb2')) { const a = []; for (;;) a.push({ x: new Array(1000).fill(a.length) }); } return new Response('alive'); } }",
    );
    w.limits.heap_mb = 32;
    w.limits.cpu_ms = 20_000;
    w.limits.wall_ms = 3000;
    let h = start(config(vec![("w", w)]), 1);
    for bomb in ["bomb", "bomb2"] {
        let err = fetch_text(&h.pool, "w", get(&format!("http://x/{bomb}")))
            .await
            .unwrap_err();
        assert_eq!(err.outcome, isoproxy_runtime::Outcome::HeapLimit, "{}", err.message);
        let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
        assert_eq!(body, "alive");
    }
}

#[tokio::test]
async fn wall_limit() {
    let mut w = module_worker("export default { async fetch(req) { await new Promise((r) => setTimeout(r, 5000)); return new Response('late'); } }");
    w.limits.wall_ms = 100;
    let h = start(config(vec![("w", w)]), 1);
    let err = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap_err();
    assert_eq!(err.outcome, isoproxy_runtime::Outcome::WallLimit);
    let inv = h.recorder.invocations.lock().unwrap().clone();
    assert_eq!(inv, vec![("w".to_string(), isoproxy_runtime::Outcome::WallLimit)]);
}

#[tokio::test]
async fn subrequest_limit() {
    let mut w = module_worker(
        "export default { async fetch(req, env) { let n = 0; try { for (let i = 0; i < 10; i++) { await fetch('http://a/'); n++; } } catch (e) { return new Response(`${n} ${e.message}`); } return new Response('no limit'); } }",
    );
    w.limits.subrequests = 3;
    let h = start(config(vec![("w", w)]), 1);
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    assert!(body.starts_with("3 Too many subrequests"), "{body}");
}

#[tokio::test]
async fn pass_through_on_exception_forwards_original_request() {
    let h = start(
        config(vec![("w", module_worker("export default { async fetch(req, env, ctx) { ctx.passThroughOnException(); throw new Error('oops'); } }"))]),
        1,
    );
    let mut req = get("http://site.test/p");
    req.method = http::Method::POST;
    req.body = isoproxy_runtime::Body::Bytes(bytes::Bytes::from_static(b"original body"));
    let (status, body) = fetch_text(&h.pool, "w", req).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "original body"));
    let seen = h.outbound.seen.lock().unwrap().clone();
    assert_eq!(seen[0].service, "internet");
    assert_eq!(seen[0].url, "http://site.test/p");
}

#[tokio::test]
async fn wait_until_and_console() {
    let h = start(
        config(vec![("w", module_worker(
            "export default { async fetch(req, env, ctx) { console.log('start', { a: 1 }, [1, 'x']); ctx.waitUntil(new Promise((r) => setTimeout(() => { console.warn('later'); r(); }, 10))); return new Response('done'); } }",
        ))]),
        1,
    );
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    assert_eq!(body, "done");
    for _ in 0..200 {
        if h.recorder.console.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let lines = h.recorder.console.lock().unwrap().clone();
    assert_eq!(
        lines,
        vec![
            "log: start { a: 1 } [ 1, 'x' ]".replace('\'', "\""),
            "warn: later".to_string()
        ]
    );
}

/// Stream `total` bytes in 64 KiB chunks through `worker` and check what
/// comes back. The Worker's heap limit is far below `total`, so the body
/// cannot have been pulled into JS.
async fn stream_through(worker_code: &str, total: usize) {
    let mut w = module_worker(worker_code);
    w.limits.heap_mb = 16;
    w.global_outbound = isoproxy_schema::model::ServiceDesignator::named("origin");
    let h = start(config(vec![("fwd", w)]), 1);
    let (tx, body) = isoproxy_runtime::Body::channel(4, Some(total as u64));
    let mut req = get("http://client.test/upload");
    req.method = http::Method::POST;
    req.body = body;
    let producer = tokio::spawn(async move {
        let chunk = bytes::Bytes::from(vec![7u8; 64 * 1024]);
        let mut sent = 0;
        while sent < total {
            tx.send(Ok(chunk.clone())).await.unwrap();
            sent += chunk.len();
        }
    });
    let resp = h.pool.fetch("fwd", req, Default::default()).await.unwrap();
    assert_eq!(
        resp.headers.get("x-forwarded-by").map(|v| v.to_str().unwrap()),
        Some("isoproxy")
    );
    assert_eq!(
        resp.headers.get("x-service").map(|v| v.to_str().unwrap()),
        Some("origin")
    );
    let mut received = 0usize;
    match resp.body {
        isoproxy_runtime::Body::Stream { mut rx, .. } => {
            while let Some(c) = rx.recv().await {
                let c = c.unwrap();
                assert!(c.iter().all(|b| *b == 7));
                received += c.len();
            }
        }
        other => panic!("expected a streamed body, got {other:?}"),
    }
    producer.await.unwrap();
    assert_eq!(received, total);
    let seen = h.outbound.seen.lock().unwrap().clone();
    assert_eq!(seen[0].url, "http://origin.test/upload");
    assert_eq!(seen[0].headers.get("x-test").map(|v| v.to_str().unwrap()), Some("1"));
}

#[tokio::test]
async fn streaming_pass_through_new_request_and_response_copy() {
    stream_through(
        "export default { async fetch(req, env) {
            const url = new URL(req.url); url.hostname = 'origin.test';
            const up = new Request(url, req); up.headers.set('x-test', '1');
            const resp = await env.ORIGIN.fetch(up);
            const out = new Response(resp.body, resp);
            out.headers.set('x-forwarded-by', 'isoproxy');
            return out;
        } }"
        .replace("env.ORIGIN.fetch", "fetch")
        .as_str(),
        256 << 20,
    )
    .await;
}

#[tokio::test]
async fn fetch_follows_redirects_unless_manual() {
    let h = start(
        config(vec![("w", module_worker(
            "export default { async fetch(req) {
                const a = await fetch('http://origin.test/redirect-me', { method: 'POST', body: 'x' });
                const b = await fetch('http://origin.test/redirect-me', { redirect: 'manual' });
                const c = await fetch(new Request('http://origin.test/redirect-me', req));
                return new Response(`${a.status} ${a.redirected} ${a.url} ${a.headers.get('x-method')} | ${b.status} ${b.headers.get('location')} | ${c.status}`);
            } }",
        ))]),
        1,
    );
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    assert_eq!(body, "200 true http://origin.test/final GET | 302 /final | 302");
}

/// A followed redirect sends the headers as they were when `fetch()` was
/// called, less the request-body headers when a POST turns into a GET, and
/// less `Authorization` when the redirect leaves the origin (Fetch spec).
#[tokio::test]
async fn a_redirect_resends_the_headers_as_sent_less_the_ones_the_spec_drops() {
    let h = start(
        config(vec![("w", module_worker(
            "export default { async fetch() {
                const req = new Request('http://origin.test/redirect-me', {
                    method: 'POST', body: 'x',
                    headers: { 'x-test': 'one', authorization: 'secret', 'content-type': 'text/plain' },
                });
                const sent = fetch(req);
                req.headers.set('x-test', 'changed');
                await sent;
                await fetch('http://origin.test/redirect-away', { headers: { 'x-test': 'two', authorization: 'secret' } });
                return new Response('ok');
            } }",
        ))]),
        1,
    );
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
    assert_eq!(body, "ok");
    let seen = h.outbound.seen.lock().unwrap().clone();
    let row = |s: &support::Seen| {
        let h = |n: &str| s.headers.get(n).map_or("-", |v| v.to_str().unwrap()).to_string();
        format!(
            "{} {} x-test={} auth={} type={}",
            s.method,
            s.url,
            h("x-test"),
            h("authorization"),
            h("content-type")
        )
    };
    let rows: Vec<String> = seen.iter().map(row).collect();
    assert_eq!(
        rows,
        [
            "POST http://origin.test/redirect-me x-test=one auth=secret type=text/plain",
            "GET http://origin.test/final x-test=one auth=secret type=-",
            "GET http://origin.test/redirect-away x-test=two auth=secret type=-",
            "GET http://elsewhere.test/final x-test=two auth=- type=-",
        ]
    );
}

/// The node compatibility glue is deferred in the snapshot: only the isolate
/// of a Worker with a node flag runs it (about 0.29 MB of heap), and there
/// the node modules work.
#[tokio::test]
async fn only_workers_with_a_node_flag_load_the_node_glue() {
    let plain = module_worker(
        "import { Buffer } from 'node:buffer';
         export default { fetch() { return new Response(Buffer.from('node ok').toString('base64')); } }",
    );
    let mut node = plain.clone();
    node.compatibility_flags = vec!["nodejs_compat".into()];
    let plain = module_worker("export default { fetch() { return new Response('ok'); } }");
    let h = start(config(vec![("plain", plain), ("node", node)]), 1);
    let heap = |name: &str| {
        h.pool
            .stats()
            .iter()
            .find(|s| s.worker == name)
            .map(|s| s.heap_bytes)
            .unwrap_or_else(|| panic!("no stats for {name}"))
    };
    let (plain_heap, node_heap) = (heap("plain"), heap("node"));
    // Measured: 830 KB and 1,224 KB; with the node glue run in every
    // isolate the plain Worker's heap was 1,114 KB (the node Worker also
    // holds its own module and the Buffer and process globals).
    assert!(
        node_heap > plain_heap + 250_000,
        "the node glue is not deferred: heap {plain_heap} without a node flag, {node_heap} with"
    );
    let (_, body) = fetch_text(&h.pool, "node", get("http://x/")).await.unwrap();
    assert_eq!(body, "bm9kZSBvaw==");
}

#[tokio::test]
async fn isolates_killed_for_cpu_are_released() {
    // Each killed request holds 16 MiB of ArrayBuffer; a retired isolate that
    // is never disposed would keep all of it.
    let mut w = module_worker(
        "export default { async fetch(req) { if (req.url.endsWith('/loop')) { globalThis.keep = new Uint8Array(16 << 20).fill(1); for (;;) {} } return new Response('ok'); } }",
    );
    w.limits.cpu_ms = 50;
    let h = start(config(vec![("w", w)]), 1);
    let live = || h.recorder.isolates.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..5 {
        let err = fetch_text(&h.pool, "w", get("http://x/loop")).await.unwrap_err();
        assert_eq!(err.outcome, isoproxy_runtime::Outcome::CpuLimit);
        let (_, body) = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap();
        assert_eq!(body, "ok");
    }
    // Disposal happens on the isolate thread just after the kill: wait for
    // it, bounded, until only the current isolate is alive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while live() > 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(live(), 1, "retired isolates must be disposed");
}

/// Counters shared by `GatedOutbound` and its calls.
struct Gate {
    active: std::sync::atomic::AtomicUsize,
    max_active: std::sync::atomic::AtomicUsize,
    started: std::sync::atomic::AtomicUsize,
    changed: tokio::sync::Notify,
    open: tokio::sync::Semaphore,
}

/// An `Outbound` that holds every call until the test opens its gate, and
/// records how many calls were in progress at once.
struct GatedOutbound(std::sync::Arc<Gate>);

impl Default for GatedOutbound {
    fn default() -> Self {
        GatedOutbound(std::sync::Arc::new(Gate {
            active: Default::default(),
            max_active: Default::default(),
            started: Default::default(),
            changed: Default::default(),
            open: tokio::sync::Semaphore::new(0),
        }))
    }
}

impl isoproxy_runtime::Outbound for GatedOutbound {
    fn fetch(
        &self,
        _service: &str,
        _request: isoproxy_runtime::Request,
        _info: &isoproxy_runtime::RequestInfo,
    ) -> isoproxy_runtime::BoxFuture<Result<isoproxy_runtime::Response, isoproxy_runtime::OutboundError>> {
        use std::sync::atomic::Ordering::SeqCst;
        let gate = self.0.clone();
        let now = gate.active.fetch_add(1, SeqCst) + 1;
        gate.max_active.fetch_max(now, SeqCst);
        gate.started.fetch_add(1, SeqCst);
        gate.changed.notify_waiters();
        Box::pin(async move {
            gate.open.acquire().await.unwrap().forget();
            gate.active.fetch_sub(1, SeqCst);
            Ok(isoproxy_runtime::Response {
                status: http::StatusCode::OK,
                headers: http::HeaderMap::new(),
                body: isoproxy_runtime::Body::Bytes(bytes::Bytes::from_static(b"x")),
                upgrade: None,
            })
        })
    }
}

impl Gate {
    /// Wait until at least `n` calls have started.
    async fn started(&self, n: usize) {
        loop {
            let changed = self.changed.notified();
            if self.started.load(std::sync::atomic::Ordering::SeqCst) >= n {
                return;
            }
            changed.await;
        }
    }
}

#[tokio::test]
async fn seventh_concurrent_subrequest_waits_for_a_slot() {
    use std::sync::atomic::Ordering::SeqCst;
    let w = module_worker(
        "export default { async fetch(req) { const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => fetch(`http://a/${i}`))); return new Response(`${rs.length} ${(await Promise.all(rs.map((r) => r.text()))).join('')}`); } }",
    );
    assert_eq!(w.limits.max_concurrent_subrequests, 6);
    let outbound = std::sync::Arc::new(GatedOutbound::default());
    let gate = outbound.0.clone();
    let pool = isoproxy_runtime::WorkerPool::start(
        config(vec![("w", w)]),
        isoproxy_runtime::PoolOptions {
            threads: 1,
            ..Default::default()
        },
        outbound,
        std::sync::Arc::new(isoproxy_runtime::NoopObserver),
    )
    .unwrap();
    let call = tokio::spawn(async move { fetch_text(&pool, "w", get("http://x/")).await });
    // All ten fetch() calls were made in one turn; only six may be under way.
    tokio::time::timeout(std::time::Duration::from_secs(10), gate.started(6))
        .await
        .expect("six subrequests start");
    assert_eq!(gate.active.load(SeqCst), 6);
    // Let them finish one at a time: each frees a slot for the next one.
    for n in 7..=10 {
        gate.open.add_permits(1);
        tokio::time::timeout(std::time::Duration::from_secs(10), gate.started(n))
            .await
            .expect("the next subrequest starts");
        assert_eq!(gate.active.load(SeqCst), 6);
    }
    gate.open.add_permits(6);
    let (status, body) = call.await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (200, "10 xxxxxxxxxx"));
    assert_eq!(gate.max_active.load(SeqCst), 6);
    assert_eq!(gate.started.load(SeqCst), 10);
}

#[tokio::test]
async fn array_buffers_count_against_the_heap_limit() {
    // 64 MiB of typed arrays in a Worker limited to 32 MiB: the allocation
    // past the budget fails inside JavaScript instead of taking the memory.
    let mut w = module_worker(
        "export default { async fetch(req) { if (req.url.endsWith('/small')) return new Response('ok'); \
         const keep = []; \
         try { for (let i = 0; i < 64; i++) keep.push(new Uint8Array(1 << 20)); } \
         catch (e) { return new Response(`${e.name} after ${keep.length} MiB`); } \
         return new Response('allocated all'); } }",
    );
    w.limits.heap_mb = 32;
    let h = start(config(vec![("w", w)]), 1);
    // The refused allocation either surfaces in JavaScript as a RangeError
    // after at most 32 MiB, or V8's last-resort collection finds the isolate
    // at its limit and it is discarded (503). Never "allocated all".
    for _ in 0..2 {
        match fetch_text(&h.pool, "w", get("http://x/")).await {
            Ok((_, body)) => {
                let mib: usize = body
                    .strip_prefix("RangeError after ")
                    .and_then(|b| b.strip_suffix(" MiB"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{body}"));
                assert!(mib <= 32, "{body}");
            }
            Err(e) => assert_eq!(e.outcome, isoproxy_runtime::Outcome::HeapLimit, "{}", e.message),
        }
    }
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/small")).await.unwrap();
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn named_entrypoints_and_props() {
    use isoproxy_schema::model::{Binding, BindingValue, ServiceDesignator};
    let designator = |entrypoint: Option<&str>, props: Option<&str>| Binding {
        name: String::new(),
        value: BindingValue::Service(ServiceDesignator {
            name: "back".into(),
            entrypoint: entrypoint.map(Into::into),
            props_json: props.map(Into::into),
        }),
    };
    let mut front = module_worker(
        "export default { async fetch(req, env) { const out = []; for (const b of [env.PLAIN, env.ADMIN, env.API, env.NOPE]) { try { out.push(await (await b.fetch('http://back/')).text()); } catch (e) { out.push('error'); } } return new Response(out.join('|')); } }",
    );
    front.bindings = vec![
        Binding {
            name: "PLAIN".into(),
            ..designator(None, None)
        },
        Binding {
            name: "ADMIN".into(),
            ..designator(Some("Admin"), Some(r#"{"role":"admin"}"#))
        },
        Binding {
            name: "API".into(),
            ..designator(Some("api"), Some(r#"{"n":1}"#))
        },
        Binding {
            name: "NOPE".into(),
            ..designator(Some("missing"), None)
        },
    ];
    let back = module_worker(
        "export default { fetch(req, env, ctx) { return new Response('default ' + JSON.stringify(ctx.props)); } };
         export class Admin { constructor(ctx, env) { this.ctx = ctx; } fetch(req) { return new Response('Admin ' + JSON.stringify(this.ctx.props)); } }
         export const api = { fetch(req, env, ctx) { return new Response('api ' + JSON.stringify(ctx.props)); } };",
    );
    let h = start(config(vec![("front", front), ("back", back)]), 1);
    let (_, body) = fetch_text(&h.pool, "front", get("http://x/")).await.unwrap();
    assert_eq!(body, r#"default {}|Admin {"role":"admin"}|api {"n":1}|error"#);

    // What a socket naming an entrypoint would do.
    let resp = h
        .pool
        .fetch_entrypoint(
            "back",
            Some("api"),
            Some(r#"{"from":"socket"}"#),
            get("http://x/"),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(body_bytes(resp.body).await, br#"api {"from":"socket"}"#);
    let resp = h
        .pool
        .fetch_entrypoint("back", Some("default"), None, get("http://x/"), Default::default())
        .await
        .unwrap();
    assert_eq!(body_bytes(resp.body).await, b"default {}");
    let err = h
        .pool
        .fetch_entrypoint("back", Some("missing"), None, get("http://x/"), Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.outcome, isoproxy_runtime::Outcome::Exception);
    assert!(
        err.message.contains("no entrypoint named \"missing\""),
        "{}",
        err.message
    );
}

/// An observer that keeps invocation outcomes and console lines in order
/// and wakes waiters on each.
#[derive(Default)]
struct Events {
    lines: std::sync::Mutex<Vec<String>>,
    changed: tokio::sync::Notify,
}

impl isoproxy_runtime::Observer for Events {
    fn invocation(&self, _worker: &str, outcome: isoproxy_runtime::Outcome, _cpu: std::time::Duration) {
        self.lines.lock().unwrap().push(format!("outcome {}", outcome.as_str()));
        self.changed.notify_waiters();
    }
    fn console(&self, _worker: &str, _level: &str, message: &str) {
        self.lines.lock().unwrap().push(message.to_string());
        self.changed.notify_waiters();
    }
}

impl Events {
    /// Wait until `n` events were recorded; returns them.
    async fn wait(&self, n: usize) -> Vec<String> {
        loop {
            let changed = self.changed.notified();
            {
                let lines = self.lines.lock().unwrap();
                if lines.len() >= n {
                    return lines.clone();
                }
            }
            changed.await;
        }
    }
}

#[tokio::test]
async fn dropped_fetch_aborts_request_signal_and_reports_canceled() {
    let w = module_worker(
        "export default { async fetch(req) {
            req.signal.addEventListener('abort', () => console.log('signal: ' + req.signal.reason.name));
            try { await fetch('http://a/', { signal: req.signal }); console.log('fetch done'); }
            catch (e) { console.log('fetch: ' + e.name); }
            return new Response('too late');
        } }",
    );
    let outbound = std::sync::Arc::new(GatedOutbound::default());
    let gate = outbound.0.clone();
    let events = std::sync::Arc::new(Events::default());
    let pool = isoproxy_runtime::WorkerPool::start(
        config(vec![("w", w)]),
        isoproxy_runtime::PoolOptions {
            threads: 1,
            ..Default::default()
        },
        outbound,
        events.clone(),
    )
    .unwrap();
    let p = pool.clone();
    let call = tokio::spawn(async move { p.fetch("w", get("http://x/"), Default::default()).await.map(|_| ()) });
    let limit = std::time::Duration::from_secs(10);
    // The handler is waiting for its subrequest: the client goes away.
    tokio::time::timeout(limit, gate.started(1))
        .await
        .expect("the handler runs");
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    let lines = tokio::time::timeout(limit, events.wait(3))
        .await
        .expect("the Worker sees the abort");
    assert_eq!(
        lines,
        vec!["outcome canceled", "signal: AbortError", "fetch: AbortError"]
    );

    // A request that is answered is not reported as canceled afterwards.
    gate.open.add_permits(10);
    let w2 = pool.fetch("w", get("http://x/"), Default::default()).await.unwrap();
    assert_eq!(body_bytes(w2.body).await, b"too late");
    let lines = tokio::time::timeout(limit, events.wait(5)).await.unwrap();
    assert_eq!(&lines[3..], ["fetch done", "outcome ok"]);
}

#[tokio::test]
async fn invoke_reports_cpu_time_for_every_outcome() {
    let mut w = module_worker(
        "export default { async fetch(req) {
            const p = new URL(req.url).pathname;
            const spin = (ms) => { const end = Date.now() + ms; while (Date.now() < end) {} };
            if (p === '/busy') { spin(20); return new Response('ok'); }
            if (p === '/throw') { spin(5); throw new Error('no'); }
            if (p === '/loop') { for (;;) {} }
            if (p === '/hang') { spin(5); await new Promise((r) => setTimeout(r, 10000)); }
            return new Response('quick');
        } }",
    );
    w.limits.cpu_ms = 60;
    w.limits.wall_ms = 10_000;
    // The same code with a short wall-time limit, for `/hang`.
    let mut short = w.clone();
    short.limits.wall_ms = 300;
    let h = start(config(vec![("w", w), ("short", short)]), 1);
    let run = |path: &'static str| {
        let pool = h.pool.clone();
        let worker = if path == "/hang" { "short" } else { "w" };
        async move {
            pool.invoke(worker, None, None, get(&format!("http://x{path}")), Default::default())
                .await
        }
    };
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let busy = run("/busy").await;
    assert!(busy.result.is_ok());
    assert!(busy.cpu > std::time::Duration::ZERO, "busy: {:?}", busy.cpu);
    let thrown = run("/throw").await;
    assert_eq!(thrown.result.unwrap_err().outcome, isoproxy_runtime::Outcome::Exception);
    assert!(thrown.cpu > std::time::Duration::ZERO, "throw: {:?}", thrown.cpu);
    let looped = run("/loop").await;
    assert_eq!(looped.result.unwrap_err().outcome, isoproxy_runtime::Outcome::CpuLimit);
    assert!(ms(looped.cpu) >= 60.0, "loop: {:?}", looped.cpu);
    let hung = run("/hang").await;
    assert_eq!(hung.result.unwrap_err().outcome, isoproxy_runtime::Outcome::WallLimit);
    assert!(
        hung.cpu > std::time::Duration::ZERO && ms(hung.cpu) < 60.0,
        "hang: {:?}",
        hung.cpu
    );
    let quick = run("/").await;
    assert!(quick.result.is_ok());
    assert!(
        quick.cpu < std::time::Duration::from_millis(60),
        "quick: {:?}",
        quick.cpu
    );
}

/// Wait (bounded) until the pool holds no request any more.
async fn settle_live_requests(pool: &isoproxy_runtime::WorkerPool) -> usize {
    for _ in 0..500 {
        if pool.live_requests() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    pool.live_requests()
}

#[tokio::test]
async fn abandoned_never_settling_requests_are_dropped() {
    // Each request holds a request body resource and an unsettled promise;
    // `/timer` also starts a long timer (cleared when its client goes away),
    // so something is pending and the isolate does not answer "will never
    // generate a response" by itself.
    let mut w = module_worker(
        "export default { async fetch(req) {
            if (new URL(req.url).pathname === '/timer') {
                const t = setTimeout(() => {}, 60000);
                req.signal.addEventListener('abort', () => clearTimeout(t));
            }
            await new Promise(() => {});
        } }",
    );
    w.limits.wall_ms = 30_000;
    let h = start(config(vec![("w", w)]), 1);
    // A long-lived timer keeps the isolate from seeing the others as stalled.
    let keeper = {
        let pool = h.pool.clone();
        tokio::spawn(async move { fetch_text(&pool, "w", get("http://x/timer")).await })
    };
    for _ in 0..500 {
        if h.pool.live_requests() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(h.pool.live_requests(), 1, "the keeper is in");
    // A thousand requests whose clients go away before any answer.
    for i in 0..1000 {
        let mut req = get(&format!("http://x/{i}"));
        req.method = http::Method::POST;
        req.body = isoproxy_runtime::Body::Bytes(bytes::Bytes::from(vec![b'x'; 1024]));
        let fut = h.pool.fetch("w", req, Default::default());
        let _ = tokio::time::timeout(std::time::Duration::from_millis(1), fut).await;
    }
    for _ in 0..500 {
        if h.pool.live_requests() <= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(h.pool.live_requests(), 1, "only the request with its own timer is left");
    keeper.abort();
    assert_eq!(settle_live_requests(&h.pool).await, 0);
    let canceled = h
        .recorder
        .invocations
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, o)| *o == isoproxy_runtime::Outcome::Canceled)
        .count();
    assert_eq!(canceled, 1001);
}

#[tokio::test]
async fn wall_limited_request_is_dropped_from_the_isolate() {
    // The handler waits on a timer far beyond the wall limit; when the limit
    // passes, the request is abandoned and, once its timer is cleared by the
    // abort listener, dropped.
    let mut w = module_worker(
        "export default { async fetch(req) {
            await new Promise((resolve) => {
                const t = setTimeout(resolve, 60000);
                req.signal.addEventListener('abort', () => clearTimeout(t));
            });
            return new Response('late');
        } }",
    );
    w.limits.wall_ms = 100;
    let h = start(config(vec![("w", w)]), 1);
    for _ in 0..20 {
        let err = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap_err();
        assert_eq!(err.outcome, isoproxy_runtime::Outcome::WallLimit);
    }
    assert_eq!(settle_live_requests(&h.pool).await, 0);
    let inv = h.recorder.invocations.lock().unwrap().clone();
    assert_eq!(inv.len(), 20, "one report per request: {inv:?}");
    assert!(inv.iter().all(|(_, o)| *o == isoproxy_runtime::Outcome::WallLimit));
}

#[tokio::test]
async fn never_settling_handler_fails_at_once_unless_something_is_pending() {
    // workerd's "script will never generate a response": nothing pending can
    // settle the promise, so the request fails (500) at once, not at the wall
    // limit. With a timer pending the request waits, up to the wall limit.
    let mut w = module_worker(
        "export default { async fetch(req) {
            if (new URL(req.url).pathname === '/timer') setTimeout(() => {}, 60000);
            return new Promise(() => {});
        } }",
    );
    w.limits.wall_ms = 2000;
    let h = start(config(vec![("w", w)]), 1);
    let t0 = std::time::Instant::now();
    let err = fetch_text(&h.pool, "w", get("http://x/")).await.unwrap_err();
    assert_eq!(err.outcome, isoproxy_runtime::Outcome::Exception);
    assert!(
        err.message.contains("will never generate a response"),
        "{}",
        err.message
    );
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(settle_live_requests(&h.pool).await, 0);

    let t0 = std::time::Instant::now();
    let err = fetch_text(&h.pool, "w", get("http://x/timer")).await.unwrap_err();
    assert_eq!(err.outcome, isoproxy_runtime::Outcome::WallLimit);
    assert!(
        t0.elapsed() >= std::time::Duration::from_millis(2000),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn busy_top_level_code_fails_start_at_the_startup_limit() {
    // RELIABILITY W9: a Worker whose global scope never finishes is refused
    // at load with an error naming it, instead of hanging start-up.
    for (name, code) in [
        (
            "spin",
            "for (;;) {}\nexport default { fetch() { return new Response('x'); } }",
        ),
        (
            "alloc",
            "let a; for (;;) a = new Array(100).fill(1);\nexport default { fetch() { return new Response('x'); } }",
        ),
        (
            "await",
            "await new Promise(() => {});\nexport default { fetch() { return new Response('x'); } }",
        ),
    ] {
        let mut w = module_worker(code);
        w.limits.startup_ms = 200;
        let t0 = std::time::Instant::now();
        let err = isoproxy_runtime::WorkerPool::start(
            config(vec![
                (
                    "good",
                    module_worker("export default { fetch() { return new Response('ok'); } }"),
                ),
                (name, w),
            ]),
            isoproxy_runtime::PoolOptions {
                threads: 1,
                ..Default::default()
            },
            std::sync::Arc::new(EchoOutbound::default()),
            std::sync::Arc::new(isoproxy_runtime::NoopObserver),
        )
        .err()
        .unwrap_or_else(|| panic!("{name}: start succeeded"));
        assert_eq!(err.worker, name);
        assert!(err.to_string().contains(name), "{err}");
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(5),
            "{name}: {:?}",
            t0.elapsed()
        );
        eprintln!("{name}: {err}");
    }
}

#[tokio::test]
async fn pass_through_on_exception_after_the_body_was_read_answers_500() {
    // Forwarding a request whose body JS already consumed (wholly or in
    // part) would send a truncated request upstream: 500 instead.
    let h = start(
        config(vec![(
            "w",
            module_worker(
                "export default { async fetch(req, env, ctx) {
                ctx.passThroughOnException();
                const p = new URL(req.url).pathname;
                if (p === '/all') await req.text();
                if (p === '/part') await req.body.getReader().read();
                throw new Error('oops');
            } }",
            ),
        )]),
        1,
    );
    let post = |path: &str| {
        let mut req = get(&format!("http://site.test{path}"));
        req.method = http::Method::POST;
        let (tx, body) = isoproxy_runtime::Body::channel(4, Some(8));
        req.body = body;
        tokio::spawn(async move {
            for part in [&b"abcd"[..], &b"efgh"[..]] {
                if tx.send(Ok(bytes::Bytes::from_static(part))).await.is_err() {
                    break;
                }
            }
        });
        req
    };
    for path in ["/all", "/part"] {
        let err = fetch_text(&h.pool, "w", post(path)).await.unwrap_err();
        assert_eq!(err.outcome, isoproxy_runtime::Outcome::Exception, "{path}");
        assert!(err.message.contains("already used"), "{path}: {}", err.message);
    }
    assert!(h.outbound.seen.lock().unwrap().is_empty(), "nothing forwarded");
    // Untouched, the body still goes through whole.
    let (status, body) = fetch_text(&h.pool, "w", post("/untouched")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "abcdefgh"));
    assert_eq!(h.outbound.seen.lock().unwrap().len(), 1);
}
