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
