//! How requests are placed on isolate threads and taken in turn: a Worker
//! flooded with CPU-heavy requests does not hold up another Worker's
//! request on the same thread, a Worker uses as many threads as its load
//! needs (one when idle), and waiting is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use isoproxy_runtime::{Outcome, PoolOptions, QueueLimits};
use support::*;

/// A handler that keeps the CPU busy for `ms` milliseconds.
fn spinning(ms: u32) -> isoproxy_schema::model::Worker {
    module_worker(&format!(
        "export default {{ fetch() {{ const t = Date.now(); while (Date.now() - t < {ms}) {{}} return new Response('spun'); }} }}"
    ))
}

fn trivial() -> isoproxy_schema::model::Worker {
    module_worker("export default { fetch() { return new Response('quick'); } }")
}

/// Wait until `f` holds (checked every 10 ms, at most 10 s).
async fn eventually(f: impl Fn() -> bool) -> bool {
    for _ in 0..1000 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooded_worker_does_not_hold_up_another_on_the_same_thread() {
    // One isolate thread; 40 requests of 5 ms CPU each wait for Worker A.
    // B's request arrives behind them and must be taken after at most a
    // few of them, not after the whole queue.
    let h = start(config(vec![("a", spinning(5)), ("b", trivial())]), 1);
    let pool = h.pool.clone();
    let done_a = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for _ in 0..40 {
        let pool = pool.clone();
        let done_a = done_a.clone();
        flood.push(tokio::spawn(async move {
            let r = fetch_text(&pool, "a", get("http://a/")).await;
            done_a.fetch_add(1, Ordering::SeqCst);
            r
        }));
    }
    // Let the flood reach the isolate's queue first.
    assert!(eventually(|| pool.live_requests() >= 1).await);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, body) = fetch_text(&pool, "b", get("http://b/")).await.unwrap();
    let a_before_b = done_a.load(Ordering::SeqCst);
    assert_eq!((status, body.as_str()), (200, "quick"));
    for f in flood {
        assert_eq!(f.await.unwrap().unwrap().0, 200);
    }
    assert!(
        a_before_b <= 8,
        "{a_before_b} of Worker A's 40 requests were answered before Worker B's one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_gets_threads_as_its_load_needs_and_gives_them_back() {
    let h = start_with(
        config(vec![("w", spinning(2))]),
        PoolOptions {
            threads: 4,
            idle_isolate: Duration::from_millis(300),
            ..PoolOptions::default()
        },
    );
    // One request at a time: one isolate, however many threads there are.
    for _ in 0..20 {
        assert_eq!(fetch_text(&h.pool, "w", get("http://w/")).await.unwrap().0, 200);
    }
    assert_eq!(h.recorder.isolates.load(Ordering::SeqCst), 1);
    // A queue builds up: the Worker spreads to more threads.
    let mut load = Vec::new();
    for _ in 0..60 {
        let pool = h.pool.clone();
        load.push(tokio::spawn(
            async move { fetch_text(&pool, "w", get("http://w/")).await },
        ));
    }
    let mut peak = 0;
    for l in load {
        assert_eq!(l.await.unwrap().unwrap().0, 200);
        peak = peak.max(h.recorder.isolates.load(Ordering::SeqCst));
    }
    assert!(peak > 1, "60 concurrent requests stayed on one thread");
    // Idle again: the extra isolates go, the first stays.
    let recorder = h.recorder.clone();
    assert!(
        eventually(|| recorder.isolates.load(Ordering::SeqCst) == 1).await,
        "{} isolates left after the load",
        h.recorder.isolates.load(Ordering::SeqCst)
    );
    assert_eq!(fetch_text(&h.pool, "w", get("http://w/")).await.unwrap().0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_past_the_queue_bound_are_refused_at_once() {
    let h = start_with(
        config(vec![("w", spinning(10))]),
        PoolOptions {
            threads: 1,
            queue: QueueLimits {
                max_queued_per_worker: 2,
                ..QueueLimits::default()
            },
            ..PoolOptions::default()
        },
    );
    let mut load = Vec::new();
    for _ in 0..20 {
        let pool = h.pool.clone();
        load.push(tokio::spawn(
            async move { fetch_text(&pool, "w", get("http://w/")).await },
        ));
    }
    let (mut ok, mut refused) = (0, 0);
    for l in load {
        match l.await.unwrap() {
            Ok((200, _)) => ok += 1,
            Err(f) if f.outcome == Outcome::Overloaded => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(ok >= 2, "{ok} answered");
    assert!(refused >= 1, "none refused");
    // The queue drained and counts nothing left over.
    assert_eq!(fetch_text(&h.pool, "w", get("http://w/")).await.unwrap().0, 200);
    let pool = h.pool.clone();
    assert!(eventually(|| pool.live_requests() == 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_of_worker_calls_runs_on_one_thread_with_one_isolate_each() {
    // router -> middle -> leaf, on a pool of 4 threads: the callees are
    // placed on their caller's thread at the first call, so sequential
    // requests make one isolate per Worker, not one per thread.
    let mut router = module_worker(
        "export default { async fetch(req, env) { const r = await env.NEXT.fetch(req); return new Response('router>' + await r.text()); } }",
    );
    router.bindings = vec![service_binding("NEXT", "middle")];
    let mut middle = module_worker(
        "export default { async fetch(req, env) { const r = await env.NEXT.fetch(req); return new Response('middle>' + await r.text()); } }",
    );
    middle.bindings = vec![service_binding("NEXT", "leaf")];
    let leaf = module_worker("export default { fetch() { return new Response('leaf'); } }");
    let h = start(config(vec![("router", router), ("middle", middle), ("leaf", leaf)]), 4);
    for _ in 0..30 {
        let (status, body) = fetch_text(&h.pool, "router", get("http://r/")).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "router>middle>leaf"));
    }
    assert_eq!(h.recorder.isolates.load(Ordering::SeqCst), 3);
}
