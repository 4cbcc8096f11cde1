//! End-to-end: what a Worker request leaves behind ends with it (timers that
//! outlive the response are cancelled and freed; RELIABILITY W11), and a
//! chain of Worker-to-Worker calls is cut at the depth cap (W14).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;

/// Resident set size of process `pid`, in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// One Worker on socket `http`, from `main.js`, with `extra` inside its
/// `Workerd.Worker` struct (bindings, limits).
fn worker_config(extra: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [ (name = \"w\", worker = .w) ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
  admin = (address = \"127.0.0.1:0\"),
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2024-09-01\",
  {extra}
);\n"
    )
}

/// W11: 200 requests each leave 10,000 timers of a billion milliseconds
/// pending and answer. The timers belong to their requests, which are over
/// once answered, so they are cancelled and their memory reused: resident
/// memory stays within 100 MiB of where it started (it grew by more than a
/// gigabyte when they were kept).
#[test]
fn timers_left_by_answered_requests_are_freed() {
    let script = "export default { fetch(req) {
        for (let i = 0; i < 10000; i++) setTimeout(() => {}, 1e9);
        return new Response('ok');
    } };";
    // Creating 10,000 timers takes more than the default 50 ms of CPU in a
    // debug build.
    let proxy = Proxy::new(&worker_config("limits = (cpuMs = 10000),"))
        .files(&[("main.js", script)])
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let port = proxy.port("http");
    // Warm up: the isolate, its heap and the allocator's arenas exist.
    for _ in 0..5 {
        let r = get(port, "/", "w.test");
        assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    }
    let before = rss_kib(proxy.pid());
    let mut failed = Vec::new();
    for i in 0..200 {
        let r = get(port, "/", "w.test");
        if r.status != 200 {
            failed.push((i, r.status));
        }
    }
    let after = rss_kib(proxy.pid());
    let growth_mib = after.saturating_sub(before) / 1024;
    eprintln!("VmRSS before {before} KiB, after {after} KiB, growth {growth_mib} MiB");
    assert!(
        growth_mib < 100,
        "resident memory grew by {growth_mib} MiB over 200 requests ({before} KiB -> {after} KiB)"
    );
    // Kept timers also filled the isolate's heap until it was discarded.
    assert!(
        failed.is_empty(),
        "requests not answered 200: {failed:?}\n{}",
        proxy.stderr_text()
    );
}

/// W14: a Worker that calls itself through a service binding, asking for
/// 100 levels, is cut at the depth cap of 32: the 32nd invocation's
/// `fetch()` rejects with an error naming the cap, which it catches and
/// reports; the process keeps serving and the cut is counted.
#[test]
fn worker_calling_itself_is_cut_at_the_depth_cap() {
    let script = "export default { async fetch(req, env) {
        const depth = Number(req.headers.get('x-depth') ?? '1');
        if (depth >= 100) return new Response('reached ' + depth);
        try {
            const r = await env.SELF.fetch('http://self/', { headers: { 'x-depth': String(depth + 1) } });
            return new Response(await r.text(), { status: r.status });
        } catch (e) {
            return new Response('cut at ' + depth + ': ' + e.name + ': ' + e.message);
        }
    } };";
    let proxy = Proxy::new(&worker_config("bindings = [ (name = \"SELF\", service = \"w\") ],"))
        .files(&[("main.js", script)])
        .sockets(&["http"])
        .listeners(&["admin"])
        .start();
    let port = proxy.port("http");
    let counter = "isoproxy_worker_depth_exceeded_total{worker=\"w\"}";
    assert_eq!(proxy.metric(proxy.port("admin"), counter), 0.0);
    let r = get(port, "/", "w.test");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    let text = r.text();
    assert!(text.starts_with("cut at 32: Error: "), "{text}");
    assert!(text.contains("depth limit of 32"), "{text}");
    assert_eq!(proxy.metric(proxy.port("admin"), counter), 1.0);
    // The process is unaffected: the next request is served the same way.
    let again = get(port, "/", "w.test");
    assert_eq!(again.text(), text);
    assert_eq!(proxy.metric(proxy.port("admin"), counter), 2.0);
}
