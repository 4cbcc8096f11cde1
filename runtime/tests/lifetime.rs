//! A request owns what it starts: its timers, subrequests and body reads
//! end with it (once answered and its `waitUntil` work settled, or past the
//! grace period), even with many requests interleaved on one isolate. And
//! the depth of Worker-to-Worker calls is capped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;

/// Wait (bounded) until the pool holds no request; returns how many it
/// still holds.
async fn until_no_live_requests(pool: &isoproxy_runtime::WorkerPool) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pool.live_requests() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    pool.live_requests()
}

/// The Worker of the timer tests. `/probe?ms=N` answers after a timer of N
/// ms: a timer that was going to fire earlier on this isolate has fired by
/// then, so the console lines recorded when the probe answers say which
/// earlier timers fired.
const TIMERS: &str = "
    let gate = null;
    export default { async fetch(req, env, ctx) {
        const url = new URL(req.url);
        const ms = Number(url.searchParams.get('ms') ?? '0');
        switch (url.pathname) {
        case '/leave':
            setTimeout(() => console.log('timer of an answered request fired'), ms);
            setInterval(() => console.log('interval of an answered request fired'), ms);
            return new Response('left');
        case '/wait':
            ctx.waitUntil(new Promise((r) => setTimeout(() => { console.log('waitUntil timer fired'); r(); }, ms)));
            setTimeout(() => console.log('timer beside waitUntil fired'), ms / 2);
            return new Response('waiting');
        case '/blocked': {
            // Something of its own stays pending, so that the isolate does
            // not take the request as stalled while it waits for the gate.
            const keep = setTimeout(() => {}, 1e9);
            await new Promise((r) => { gate = r; });
            clearTimeout(keep);
            // This continuation was resumed from inside '/opener': the timer
            // is still this request's, and ends with it.
            setTimeout(() => console.log('timer of the resumed request fired'), ms);
            return new Response('resumed');
        }
        case '/opener':
            gate();
            ctx.waitUntil(new Promise((r) => setTimeout(r, 2 * ms)));
            return new Response('opened');
        case '/probe':
            await new Promise((r) => setTimeout(r, ms));
            return new Response('probed');
        }
        return new Response('no such path', { status: 404 });
    } };";

async fn text(h: &Harness, url: &str) -> String {
    let (status, body) = fetch_text(&h.pool, "w", get(url)).await.unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    body
}

#[tokio::test]
async fn timers_of_an_answered_request_never_fire() {
    let h = start(config(vec![("w", module_worker(TIMERS))]), 1);
    assert_eq!(text(&h, "http://x/leave?ms=20").await, "left");
    assert_eq!(text(&h, "http://x/probe?ms=200").await, "probed");
    assert_eq!(until_no_live_requests(&h.pool).await, 0);
    let lines = h.recorder.console.lock().unwrap().clone();
    assert!(lines.is_empty(), "{lines:?}");
}

#[tokio::test]
async fn wait_until_keeps_the_request_and_its_timers_until_it_settles() {
    // As in workerd: a timer fires after the response if the request still
    // has `waitUntil` work (and within its grace period).
    let h = start(config(vec![("w", module_worker(TIMERS))]), 1);
    assert_eq!(text(&h, "http://x/wait?ms=60").await, "waiting");
    assert_eq!(text(&h, "http://x/probe?ms=300").await, "probed");
    assert_eq!(until_no_live_requests(&h.pool).await, 0);
    let lines = h.recorder.console.lock().unwrap().clone();
    assert_eq!(
        lines,
        ["log: timer beside waitUntil fired", "log: waitUntil timer fired"]
    );
}

#[tokio::test]
async fn a_continuation_resumed_by_another_request_stays_with_its_own() {
    // '/blocked' is resumed by '/opener', which stays alive (waitUntil) long
    // after '/blocked' answered. The timer '/blocked' sets after resuming is
    // its own (the continuation keeps its request across the await), so it
    // ends with '/blocked' instead of living on with '/opener'.
    let h = start(config(vec![("w", module_worker(TIMERS))]), 1);
    let blocked = {
        let pool = h.pool.clone();
        tokio::spawn(async move { fetch_text(&pool, "w", get("http://x/blocked?ms=50")).await })
    };
    // '/blocked' is in and waiting once the pool holds it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.pool.live_requests() < 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(text(&h, "http://x/opener?ms=100").await, "opened");
    assert_eq!(blocked.await.unwrap().unwrap().1, "resumed");
    assert_eq!(text(&h, "http://x/probe?ms=400").await, "probed");
    assert_eq!(until_no_live_requests(&h.pool).await, 0);
    let lines = h.recorder.console.lock().unwrap().clone();
    assert!(lines.is_empty(), "{lines:?}");
}

#[tokio::test]
async fn wait_until_past_its_grace_period_ends_the_request() {
    // The waitUntil promise never settles; after `waitUntilMs` the request
    // ends anyway and its later timer never fires.
    let mut w = module_worker(
        "export default { async fetch(req, env, ctx) {
            const url = new URL(req.url);
            if (url.pathname === '/probe') { await new Promise((r) => setTimeout(r, 600)); return new Response('probed'); }
            ctx.waitUntil(new Promise((r) => setTimeout(r, 1e9)));
            setTimeout(() => console.log('fired within the grace period'), 20);
            setTimeout(() => console.log('fired after the grace period'), 300);
            return new Response('answered');
        } }",
    );
    w.limits.wait_until_ms = 100;
    let h = start(config(vec![("w", w)]), 1);
    assert_eq!(text(&h, "http://x/").await, "answered");
    assert_eq!(text(&h, "http://x/probe").await, "probed");
    assert_eq!(until_no_live_requests(&h.pool).await, 0);
    let lines = h.recorder.console.lock().unwrap().clone();
    assert_eq!(lines, ["log: fired within the grace period"]);
}

#[tokio::test]
async fn a_body_streamed_from_js_outlasts_the_grace_period() {
    // The grace period starts when the response is complete, body
    // included: a body that JS produces for longer than `waitUntilMs` is
    // sent whole, and the request ends after it.
    let mut w = module_worker(
        "export default { async fetch(req, env, ctx) {
            let n = 0;
            const body = new ReadableStream({
                async pull(c) {
                    await new Promise((r) => setTimeout(r, 50));
                    if (++n > 6) c.close(); else c.enqueue(new TextEncoder().encode('chunk' + n + ' '));
                },
            });
            return new Response(body);
        } }",
    );
    w.limits.wait_until_ms = 100;
    let h = start(config(vec![("w", w)]), 1);
    assert_eq!(
        text(&h, "http://x/").await,
        "chunk1 chunk2 chunk3 chunk4 chunk5 chunk6 "
    );
    assert_eq!(until_no_live_requests(&h.pool).await, 0);
}

/// An `Outbound` whose calls never answer; counts calls dropped unfinished.
struct Hanging {
    started: tokio::sync::Semaphore,
    dropped: Arc<tokio::sync::Semaphore>,
}

struct DropCount(Arc<tokio::sync::Semaphore>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

impl isoproxy_runtime::Outbound for Hanging {
    fn fetch(
        &self,
        _service: &str,
        _request: isoproxy_runtime::Request,
        _info: &isoproxy_runtime::RequestInfo,
    ) -> isoproxy_runtime::BoxFuture<Result<isoproxy_runtime::Response, isoproxy_runtime::OutboundError>> {
        self.started.add_permits(1);
        let guard = DropCount(self.dropped.clone());
        Box::pin(async move {
            let _guard = guard;
            std::future::pending().await
        })
    }
}

#[tokio::test]
async fn subrequests_and_body_reads_of_an_answered_request_are_cancelled() {
    // The request starts a subrequest that never answers and reads its own
    // body: the first chunk (sent once the subrequest is under way) and then
    // a read that never completes. It answers without waiting for either:
    // both are dropped with the request.
    let w = module_worker(
        "export default { async fetch(req) {
            fetch('http://hangs.test/').catch(() => {});
            const reader = req.body.getReader();
            await reader.read();
            reader.read().catch(() => {});
            return new Response('answered');
        } }",
    );
    let outbound = Arc::new(Hanging {
        started: tokio::sync::Semaphore::new(0),
        dropped: Arc::new(tokio::sync::Semaphore::new(0)),
    });
    let pool = isoproxy_runtime::WorkerPool::start(
        config(vec![("w", w)]),
        isoproxy_runtime::PoolOptions {
            threads: 1,
            ..Default::default()
        },
        outbound.clone(),
        Arc::new(isoproxy_runtime::NoopObserver),
    )
    .unwrap();
    let (body_tx, body) = isoproxy_runtime::Body::channel(1, None);
    let mut req = get("http://x/");
    req.method = http::Method::POST;
    req.body = body;
    let call = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.fetch("w", req, Default::default()).await })
    };
    let limit = Duration::from_secs(10);
    tokio::time::timeout(limit, outbound.started.acquire())
        .await
        .expect("the subrequest starts")
        .unwrap()
        .forget();
    body_tx.send(Ok(bytes::Bytes::from_static(b"first"))).await.unwrap();
    let resp = call.await.unwrap().unwrap();
    assert_eq!(body_bytes(resp.body).await, b"answered");
    // The body's reader goes away: the read was cancelled.
    tokio::time::timeout(limit, body_tx.closed())
        .await
        .expect("the body read ends with the request");
    // So is the subrequest.
    tokio::time::timeout(limit, outbound.dropped.acquire())
        .await
        .expect("the subrequest ends with the request")
        .unwrap()
        .forget();
    assert_eq!(until_no_live_requests(&pool).await, 0);
}

#[tokio::test]
async fn a_worker_called_by_a_request_that_ended_is_canceled() {
    // '/front' calls '/back' through a service binding and answers without
    // waiting for it; when '/front' ends, its call is aborted and '/back'
    // sees its caller go away (its signal aborts), as a client going away.
    let mut w = module_worker(
        "let backStarted = null;
        export default { async fetch(req, env) {
            if (new URL(req.url).pathname === '/back') {
                const keep = setTimeout(() => {}, 1e9);
                req.signal.addEventListener('abort', () => { clearTimeout(keep); console.log('back: aborted'); });
                backStarted();
                return new Promise(() => {});
            }
            const started = new Promise((r) => { backStarted = r; });
            env.SELF.fetch('http://w/back').catch(() => {});
            await started;
            return new Response('front answered');
        } }",
    );
    w.bindings = vec![service_binding("SELF", "w")];
    let h = start(config(vec![("w", w)]), 1);
    assert_eq!(text(&h, "http://x/front").await, "front answered");
    assert_eq!(until_no_live_requests(&h.pool).await, 0);
    assert_eq!(h.recorder.console.lock().unwrap().clone(), ["log: back: aborted"]);
    let outcomes: Vec<_> = h.recorder.invocations.lock().unwrap().iter().map(|(_, o)| *o).collect();
    assert!(outcomes.contains(&isoproxy_runtime::Outcome::Canceled), "{outcomes:?}");
}

#[tokio::test]
async fn worker_to_worker_calls_are_cut_at_the_depth_cap() {
    let mut w = module_worker(
        "export default { async fetch(req, env) {
            const depth = Number(req.headers.get('x-depth') ?? '1');
            if (depth >= 100) return new Response('reached ' + depth);
            try {
                const r = await env.SELF.fetch('http://self/', { headers: { 'x-depth': String(depth + 1) } });
                return new Response(await r.text());
            } catch (e) {
                return new Response('cut at ' + depth + ': ' + e.name + ': ' + e.message);
            }
        } }",
    );
    w.bindings = vec![service_binding("SELF", "w")];
    let h = start(config(vec![("w", w)]), 1);
    let body = text(&h, "http://x/").await;
    assert!(body.starts_with("cut at 32: Error: "), "{body}");
    assert!(body.contains("depth limit of 32"), "{body}");
    assert_eq!(h.recorder.depth_exceeded.lock().unwrap().clone(), ["w"]);
    assert_eq!(until_no_live_requests(&h.pool).await, 0);
}
