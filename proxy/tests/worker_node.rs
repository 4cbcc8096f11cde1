//! End-to-end: Workers written for workerd's `nodejs_compat`, run unchanged
//! through the `isoproxy` binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;

use support::*;

/// A config whose Worker `main.js` runs with `flags` and reaches `origin`
/// both through its `ORIGIN` binding and as its global `fetch()`.
fn config(origin: SocketAddr, flags: &str) -> String {
    format!(
        "{USING}const config :Workerd.Config = (
  services = [
    (name = \"w\", worker = .w),
    (name = \"origin\", external = (address = \"{origin}\", http = ())),
  ],
  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"w\") ],
);
const w :Workerd.Worker = (
  modules = [ (name = \"main.js\", esModule = embed \"main.js\") ],
  compatibilityDate = \"2025-06-01\",
  compatibilityFlags = [{flags}],
  bindings = [ (name = \"ORIGIN\", service = \"origin\") ],
  globalOutbound = \"origin\",
);\n"
    )
}

/// Cloudflare's documented "Sign requests" example
/// (https://developers.cloudflare.com/workers/examples/signing-requests/,
/// kept unchanged in `fixtures/signing-requests.js`): it imports `Buffer`
/// from `node:buffer`, signs a path, then verifies the signed URL and
/// forwards the request.
#[test]
fn cloudflare_signing_requests_example_runs_unchanged() {
    let origin = Origin::echo();
    let script = include_str!("fixtures/signing-requests.js");
    let proxy = Proxy::new(&config(origin.addr, "\"nodejs_compat\""))
        .file("main.js", script)
        .socket("http")
        .start();
    let port = proxy.port("http");
    let r = get(port, "/generate/some/file.txt", "signer.test");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    let signed = r.text();
    assert!(signed.starts_with("/some/file.txt?verify="), "{signed}");

    // The signed URL passes and reaches the origin.
    let r = get(port, &signed, "signer.test");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.header("x-echo-target"), Some("/some/file.txt"));
    assert_eq!(origin.requests().len(), 1);

    // The same signature on another path, a missing one, and a tampered
    // one are refused.
    let other = signed.replace("/some/file.txt", "/other.txt");
    let r = get(port, &other, "signer.test");
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), "Invalid MAC");
    let r = get(port, "/some/file.txt", "signer.test");
    assert_eq!(r.status, 403);
    assert_eq!(r.text(), "Missing query parameter");
    let (head, mac) = signed.split_once('-').unwrap();
    let flipped = if mac.starts_with('A') { "B" } else { "A" };
    let r = get(port, &format!("{head}-{flipped}{}", &mac[1..]), "signer.test");
    assert_eq!(r.status, 403);
    assert_eq!(origin.requests().len(), 1);
}

/// `AsyncLocalStorage` keeps each request's store across awaits on timers,
/// subrequests and body reads while many requests interleave in one
/// isolate.
#[test]
fn async_local_storage_keeps_each_request_apart_under_concurrency() {
    let origin = Origin::echo();
    let script = "import { AsyncLocalStorage } from 'node:async_hooks';
const als = new AsyncLocalStorage();
const seen = (where) => als.getStore().id + '@' + where;
export default {
  async fetch(request, env) {
    const id = new URL(request.url).searchParams.get('id');
    return als.run({ id }, async () => {
      const marks = [seen('start')];
      await new Promise((r) => setTimeout(r, Number(id) % 4));
      marks.push(seen('timer'));
      const r = await env.ORIGIN.fetch('http://origin/echo', { method: 'POST', body: 'x'.repeat(1000 * (Number(id) % 5)) });
      marks.push(seen('fetch'));
      await r.text();
      marks.push(seen('body'));
      await scheduler.wait(1);
      marks.push(seen('wait'));
      return new Response(marks.join(','));
    });
  },
};";
    let proxy = Proxy::new(&config(origin.addr, "\"nodejs_compat\""))
        .file("main.js", script)
        .socket("http")
        .start();
    let port = proxy.port("http");
    let workers: Vec<_> = (0..16)
        .map(|t| {
            std::thread::spawn(move || {
                let mut bad = vec![];
                for round in 0..5 {
                    let id = t * 100 + round;
                    let r = get(port, &format!("/?id={id}"), "als.test");
                    let want = ["start", "timer", "fetch", "body", "wait"]
                        .iter()
                        .map(|w| format!("{id}@{w}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    if r.status != 200 || r.text() != want {
                        bad.push(format!("{id}: {} {}", r.status, r.text()));
                    }
                }
                bad
            })
        })
        .collect();
    let bad: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(bad.is_empty(), "{bad:?}\n{}", proxy.stderr_text());
}

/// `isoproxy check` runs the Worker's start-up, so a `node:` module the
/// runtime does not provide fails the check, naming the module.
#[test]
fn check_refuses_an_unknown_node_module_naming_it() {
    let origin = Origin::echo();
    let dir = scratch_dir();
    std::fs::write(dir.join("config.capnp"), config(origin.addr, "\"nodejs_compat\"")).unwrap();
    std::fs::write(
        dir.join("main.js"),
        "import net from 'node:net';\nexport default { fetch() { return new Response(typeof net.connect); } };",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .arg("check")
        .arg(dir.join("config.capnp"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("No such module \"node:net\""), "{stderr}");
    assert!(stderr.contains("main.js:1:17"), "{stderr}");
    // With the module gone, the same config checks out.
    std::fs::write(dir.join("main.js"), "import { Buffer } from 'node:buffer';\nexport default { fetch() { return new Response(Buffer.from('ok')); } };").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .arg("check")
        .arg(dir.join("config.capnp"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `EventSource` reads server-sent events through the Worker's global
/// `fetch()`, and reconnects when the stream ends, sending
/// `Last-Event-ID` and waiting the `retry` the server asked for.
#[test]
fn event_source_reads_events_and_reconnects_with_the_last_event_id() {
    let origin = Origin::start(|r| {
        let last: u32 = r.header("last-event-id").and_then(|v| v.parse().ok()).unwrap_or(0);
        let body = format!(
            "retry: 5\n\ndata: event {}\nid: {}\n\ndata: event {}\nid: {}\n\n",
            last + 1,
            last + 1,
            last + 2,
            last + 2
        );
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: body.into_bytes(),
            chunked: false,
        }
    });
    let script = "export default { async fetch(request) {
  const seen = [];
  const es = new EventSource('http://events.test/stream');
  await new Promise((resolve) => {
    es.onmessage = (e) => { seen.push(e.data + '#' + e.lastEventId); if (seen.length === 5) { es.close(); resolve(); } };
  });
  return new Response(seen.join(',') + ' ' + es.readyState);
} };";
    let proxy = Proxy::new(&config(origin.addr, ""))
        .file("main.js", script)
        .socket("http")
        .start();
    let r = get(proxy.port("http"), "/", "es.test");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "event 1#1,event 2#2,event 3#3,event 4#4,event 5#5 2");
    let got = origin.requests();
    assert!(got.len() >= 3, "{}", got.len());
    assert_eq!(got[0].header("accept"), Some("text/event-stream"));
    assert_eq!(got[0].header("last-event-id"), None);
    assert_eq!(got[1].header("last-event-id"), Some("2"));
    assert_eq!(got[2].header("last-event-id"), Some("4"));
}

/// node:http's client (the shape of workerd's nodejs-compat-http sample):
/// get() and request() with a body go out through the Worker's
/// globalOutbound; the response streams back as an IncomingMessage. Without
/// the flag (and before its date) the module is refused at start, naming
/// the flag.
#[test]
fn node_http_client_requests_go_through_the_global_outbound() {
    let origin = Origin::echo();
    let script = "import { get, request } from 'node:http';
export default {
  async fetch(req) {
    const got = await new Promise((resolve, reject) => {
      get('http://origin.test/first?q=1', { headers: { accept: 'text/plain' } }, (res) => {
        let data = '';
        res.on('data', (c) => { data += c; });
        res.on('end', () => resolve(`${res.statusCode} ${res.headers['x-echo-method']} ${res.headers['x-echo-target']} [${data}]`));
      }).on('error', reject);
    });
    const posted = await new Promise((resolve, reject) => {
      const r = request({ host: 'origin.test', path: '/second', method: 'POST' }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(`${res.statusCode} ${res.headers['x-echo-method']} [${Buffer.concat(chunks)}]`));
      });
      r.on('error', reject);
      r.write('one,');
      r.end('two');
    });
    return new Response(got + '\\n' + posted);
  },
};";
    let proxy = Proxy::new(&config(
        origin.addr,
        "\"nodejs_compat\", \"enable_nodejs_http_modules\"",
    ))
    .file("main.js", script)
    .socket("http")
    .start();
    let r = get(proxy.port("http"), "/", "w.test");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), proxy.stderr_text());
    assert_eq!(r.text(), "200 GET /first?q=1 []\n200 POST [one,two]");
    assert_eq!(origin.requests().len(), 2);

    // Without enable_nodejs_http_modules (compatibilityDate 2025-06-01).
    let dir = scratch_dir();
    std::fs::write(dir.join("config.capnp"), config(origin.addr, "\"nodejs_compat\"")).unwrap();
    std::fs::write(dir.join("main.js"), script).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isoproxy"))
        .args(["check", "config.capnp"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("No such module \"node:http\"") && err.contains("enable_nodejs_http_modules"),
        "{err}"
    );
}
