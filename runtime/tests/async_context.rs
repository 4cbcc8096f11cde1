//! `AsyncLocalStorage` shares V8's continuation-preserved embedder data
//! with the request tag (which request a continuation belongs to): a store
//! restored in another request never moves that request's work to the
//! request that captured it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;

#[tokio::test]
async fn a_snapshot_taken_by_one_request_runs_as_the_request_that_calls_it() {
    let code = "import { AsyncLocalStorage } from 'node:async_hooks';
const als = new AsyncLocalStorage();
let snap = null;
export default { async fetch(request) {
  const path = new URL(request.url).pathname;
  if (path === '/capture') {
    als.run('from capture', () => { snap = AsyncLocalStorage.snapshot(); });
    return new Response('captured');
  }
  // The capturing request has ended; the timer below belongs to this
  // request, which runs the snapshot, so it fires.
  const seen = await new Promise((resolve) => snap(() => setTimeout(() => resolve(als.getStore()), 5)));
  const after = await new Promise((resolve) => snap(() => Promise.resolve().then(() => resolve(als.getStore()))));
  return new Response(`${seen} | ${after} | ${als.getStore()}`);
} };";
    let mut w = module_worker(code);
    w.compatibility_flags = vec!["nodejs_compat".into()];
    let h = start(config(vec![("w", w)]), 1);
    let (status, body) = fetch_text(&h.pool, "w", get("http://x/capture")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "captured"));
    let (status, body) = fetch_text(&h.pool, "w", get("http://x/use")).await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "from capture | from capture | undefined")
    );
}

#[tokio::test]
async fn stores_of_interleaved_requests_stay_apart() {
    let code = "import { AsyncLocalStorage } from 'node:async_hooks';
const als = new AsyncLocalStorage();
export default { async fetch(request) {
  const id = new URL(request.url).searchParams.get('id');
  return als.run(id, async () => {
    const seen = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, id === 'first' ? 3 : 1));
      seen.push(als.getStore());
    }
    return new Response(`${id}=${seen.join(',')}`);
  });
} };";
    let mut w = module_worker(code);
    w.compatibility_flags = vec!["nodejs_compat".into()];
    let h = start(config(vec![("w", w)]), 1);
    let first = fetch_text(&h.pool, "w", get("http://x/?id=first"));
    let second = fetch_text(&h.pool, "w", get("http://x/?id=second"));
    let (a, b) = tokio::join!(first, second);
    assert_eq!(a.unwrap().1, "first=first,first,first,first,first");
    assert_eq!(b.unwrap().1, "second=second,second,second,second,second");
}

#[tokio::test]
async fn work_started_inside_run_still_belongs_to_the_request() {
    // A request's timer dies with the request (it answered without
    // waitUntil); one started inside `als.run` too, which it would not if
    // the store's frame had lost the request tag.
    let code = "import { AsyncLocalStorage } from 'node:async_hooks';
const als = new AsyncLocalStorage();
export default { async fetch(request) {
  if (new URL(request.url).pathname === '/start') {
    als.run('x', () => setTimeout(() => { globalThis.fired = true; }, 10));
    return new Response('started');
  }
  await scheduler.wait(60);
  return new Response(String(globalThis.fired));
} };";
    let mut w = module_worker(code);
    w.compatibility_flags = vec!["nodejs_compat".into()];
    let h = start(config(vec![("w", w)]), 1);
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/start")).await.unwrap();
    assert_eq!(body, "started");
    let (_, body) = fetch_text(&h.pool, "w", get("http://x/check")).await.unwrap();
    assert_eq!(body, "undefined");
}
