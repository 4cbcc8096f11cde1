//! A web-platform-tests runner for `*.any.js` files: each file runs in a fresh
//! Worker isolate (a service-worker script made of a small prelude,
//! `resources/testharness.js`, the `// META: script=` files and the test),
//! with `fetch()` of relative URLs served from the WPT folder. Shared by
//! `examples/wpt.rs` and `tests/wpt.rs`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use isoproxy_runtime::{
    Body, BoxFuture, NoopObserver, Outbound, OutboundError, PoolOptions, Request, RequestInfo, Response, WorkerPool,
};
use isoproxy_schema::model::{
    AccessLogOptions, Config, ExternalProtocol, ExternalServer, HttpOptions, ServerOptions, Service, ServiceDesignator,
    ServiceKind, UpstreamTimeouts, Worker, WorkerLimits, WorkerSource,
};

/// The origin tests run under.
pub const ORIGIN: &str = "http://web-platform.test:8000";

/// The outcome of one test file.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// Path relative to the WPT root.
    pub path: String,
    /// Subtests passed.
    pub passed: usize,
    /// Subtests seen.
    pub total: usize,
    /// `OK`, `ERROR`, `TIMEOUT` or a load failure.
    pub status: String,
    /// Names and messages of failed subtests.
    pub failures: Vec<String>,
}

/// Serves files under the WPT root for `fetch()`.
struct Files {
    root: PathBuf,
}

impl Outbound for Files {
    fn fetch(
        &self,
        _service: &str,
        request: Request,
        _info: &RequestInfo,
    ) -> BoxFuture<Result<Response, OutboundError>> {
        let path = request
            .url
            .strip_prefix(ORIGIN)
            .unwrap_or("")
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string();
        let file = self.root.join(&path);
        Box::pin(async move {
            let mut headers = HeaderMap::new();
            match std::fs::read(&file) {
                Ok(bytes) if !path.contains("..") => {
                    let ct = if path.ends_with(".json") {
                        "application/json"
                    } else {
                        "text/plain"
                    };
                    headers.insert(
                        "content-type",
                        ct.parse().map_err(|_| OutboundError::Other("header".into()))?,
                    );
                    Ok(Response {
                        status: StatusCode::OK,
                        headers,
                        body: Body::Bytes(Bytes::from(bytes)),
                        upgrade: None,
                    })
                }
                _ => Ok(Response {
                    status: StatusCode::NOT_FOUND,
                    headers,
                    body: Body::Empty,
                    upgrade: None,
                }),
            }
        })
    }
}

struct Meta {
    scripts: Vec<String>,
    title: Option<String>,
    long: bool,
}

fn meta(source: &str) -> Meta {
    let mut m = Meta {
        scripts: vec![],
        title: None,
        long: false,
    };
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("// META:") else {
            if !line.trim().is_empty() && !line.starts_with("//") {
                break;
            }
            continue;
        };
        let rest = rest.trim();
        if let Some(s) = rest.strip_prefix("script=") {
            m.scripts.push(s.trim().to_string());
        } else if let Some(t) = rest.strip_prefix("title=") {
            m.title = Some(t.trim().to_string());
        } else if rest == "timeout=long" {
            m.long = true;
        }
    }
    m
}

fn js_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const PRELUDE_END: &str = r#"
const __wpt = {};
__wpt.promise = new Promise((resolve) => { __wpt.done = resolve; });
const __wptResult = (tests, status) => JSON.stringify({
  status: status ? status.status : -1,
  message: status ? String(status.message ?? "") : "",
  tests: tests.map((t) => ({ name: t.name, status: t.status, message: t.message ? String(t.message) : "" })),
});
__wpt.finished = [];
add_result_callback((t) => __wpt.finished.push(t));
add_completion_callback((tests, status) => __wpt.done(__wptResult(tests, status)));
"#;

const HANDLER: &str = r#"
;addEventListener("fetch", (event) => {
  if (event.request.url.endsWith("/partial")) {
    event.respondWith(new Response(__wptResult(__wpt.finished, null)));
    return;
  }
  event.respondWith(__wpt.promise.then((r) => new Response(r)));
});
"#;

fn config_for(script: String, long: bool) -> Arc<Config> {
    let worker = Worker {
        source: WorkerSource::ServiceWorkerScript(script),
        compatibility_date: "2024-09-01".into(),
        compatibility_flags: vec![],
        bindings: vec![],
        global_outbound: ServiceDesignator::named("wpt"),
        limits: WorkerLimits {
            cpu_ms: 60_000,
            startup_ms: 60_000,
            wall_ms: if long { 120_000 } else { 60_000 },
            subrequests: 1000,
            ..WorkerLimits::default()
        },
    };
    Arc::new(Config {
        services: vec![
            Service {
                name: "test".into(),
                kind: ServiceKind::Worker(worker),
            },
            Service {
                name: "wpt".into(),
                kind: ServiceKind::External(ExternalServer {
                    addresses: vec!["127.0.0.1:1".into()],
                    protocol: ExternalProtocol::Http(HttpOptions::default()),
                    timeouts: UpstreamTimeouts::default(),
                    unhealthy_ms: 0,
                    max_concurrent_requests: 0,
                    balancing: Default::default(),
                    health_check: None,
                    http2: Default::default(),
                }),
            },
        ],
        sockets: vec![],
        v8_flags: vec![],
        structured_logging: false,
        metrics: None,
        access_log: AccessLogOptions::default(),
        admin: None,
        server: ServerOptions::default(),
        cache: None,
    })
}

fn parse_result(path: &str, json: &str, status_override: Option<&str>) -> FileResult {
    // A tiny extraction instead of a JSON dependency: the harness output is
    // parsed by the isolate itself in `summarize`.
    let mut r = FileResult {
        path: path.to_string(),
        passed: 0,
        total: 0,
        status: status_override.unwrap_or("OK").to_string(),
        failures: vec![],
    };
    for line in json.lines() {
        if let Some(rest) = line.strip_prefix("S ") {
            if status_override.is_none() && rest != "0" {
                r.status = if rest == "2" { "TIMEOUT".into() } else { "ERROR".into() };
            }
        } else if let Some(rest) = line.strip_prefix("T ") {
            r.total += 1;
            if rest.starts_with("0 ") {
                r.passed += 1;
            } else {
                r.failures.push(rest.to_string());
            }
        }
    }
    r
}

/// Run one test file (path relative to `root`).
pub async fn run_file(root: &Path, rel: &str) -> FileResult {
    let fail = |status: String| FileResult {
        path: rel.to_string(),
        passed: 0,
        total: 0,
        status,
        failures: vec![],
    };
    let test_path = root.join(rel);
    let Ok(source) = std::fs::read_to_string(&test_path) else {
        return fail("MISSING".into());
    };
    let Ok(harness) = std::fs::read_to_string(root.join("resources/testharness.js")) else {
        return fail("NO HARNESS".into());
    };
    let m = meta(&source);
    let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
    let mut script = format!(
        "globalThis.location = new URL({});\nglobalThis.GLOBAL = {{ isWindow: () => false, isWorker: () => true, isShadowRealm: () => false }};\n",
        js_string(&format!("{ORIGIN}/{rel}"))
    );
    if let Some(t) = &m.title {
        script.push_str(&format!("globalThis.META_TITLE = {};\n", js_string(t)));
    }
    script.push_str(&harness);
    script.push_str(PRELUDE_END);
    for s in &m.scripts {
        let p = match s.strip_prefix('/') {
            Some(abs) => root.join(abs),
            None => root.join(dir).join(s),
        };
        match std::fs::read_to_string(&p) {
            Ok(code) => {
                script.push_str("\n;\n");
                script.push_str(&code);
            }
            Err(_) => return fail(format!("MISSING META SCRIPT {s}")),
        }
    }
    script.push_str("\n;\n");
    script.push_str(&source);
    script.push_str(HANDLER);

    let outbound = Arc::new(Files {
        root: root.to_path_buf(),
    });
    let pool = match WorkerPool::start(
        config_for(script, m.long),
        PoolOptions {
            threads: 1,
            ..Default::default()
        },
        outbound,
        Arc::new(NoopObserver),
    ) {
        Ok(p) => p,
        Err(e) => {
            let first = e.message.lines().next().unwrap_or("").to_string();
            return fail(format!("ERROR (load: {first})"));
        }
    };
    let limit = Duration::from_secs(if m.long { 60 } else { 10 });
    let request = |path: &str| Request {
        method: Method::GET,
        url: format!("{ORIGIN}/{path}"),
        headers: HeaderMap::new(),
        body: Body::Empty,
    };
    let (json, status) =
        match tokio::time::timeout(limit, pool.fetch("test", request("result"), RequestInfo::default())).await {
            Ok(Ok(resp)) => (body_text(resp.body).await, None),
            Ok(Err(e)) => {
                // The isolate is still there: collect the subtests that finished.
                let status = format!("ERROR ({})", e.message.lines().next().unwrap_or(""));
                match pool.fetch("test", request("partial"), RequestInfo::default()).await {
                    Ok(resp) => {
                        let json = body_text(resp.body).await;
                        return parse_result(rel, &summarize(&json), Some(&status));
                    }
                    Err(_) => return fail(status),
                }
            }
            Err(_) => match pool.fetch("test", request("partial"), RequestInfo::default()).await {
                Ok(resp) => (body_text(resp.body).await, Some("TIMEOUT")),
                Err(_) => return fail("TIMEOUT".into()),
            },
        };
    parse_result(rel, &summarize(&json), status)
}

async fn body_text(body: Body) -> String {
    let bytes = match body {
        Body::Empty => vec![],
        Body::Bytes(b) => b.to_vec(),
        Body::Stream { mut rx, .. } => {
            let mut out = vec![];
            while let Some(Ok(c)) = rx.recv().await {
                out.extend_from_slice(&c);
            }
            out
        }
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Turn the harness JSON into `S <status>` and `T <status> <name>: <message>`
/// lines (one JSON object per test, fields in a fixed order).
fn summarize(json: &str) -> String {
    let mut out = String::new();
    if let Some(i) = json.find("\"status\":") {
        let rest = &json[i + 9..];
        let n: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
        out.push_str(&format!("S {n}\n"));
    }
    let Some(start) = json.find("\"tests\":[") else {
        return out;
    };
    let mut rest = &json[start + 9..];
    while let Some(i) = rest.find("{\"name\":") {
        rest = &rest[i + 8..];
        let (name, after) = json_str(rest);
        rest = after;
        let Some(j) = rest.find("\"status\":") else { break };
        rest = &rest[j + 9..];
        let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let msg = rest
            .find("\"message\":")
            .map(|k| json_str(&rest[k + 10..]).0)
            .unwrap_or_default();
        out.push_str(&format!("T {n} {name}: {msg}\n"));
    }
    out
}

/// Read a JSON string literal at the start of `s`; returns it (escapes kept
/// simple) and the rest.
fn json_str(s: &str) -> (String, &str) {
    let mut chars = s.char_indices();
    if !matches!(chars.next(), Some((_, '"'))) {
        return (String::new(), s);
    }
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            out.push(match c {
                'n' => ' ',
                c => c,
            });
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return (out, &s[i + 1..]);
        } else {
            out.push(c);
        }
    }
    (out, "")
}

/// The WPT root: `$ISOPROXY_WPT_ROOT`, else `../shared/wpt` beside the
/// workspace.
pub fn default_root() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ISOPROXY_WPT_ROOT") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/wpt");
    p.join("MANIFEST.txt").exists().then_some(p)
}

/// The area of a test path, for per-area pass rates.
pub fn area(path: &str) -> &str {
    for prefix in ["fetch/api", "dom/abort", "html/atob", "html/webappapis"] {
        if path.starts_with(prefix) {
            return if prefix == "html/webappapis" {
                "html/atob"
            } else {
                prefix
            };
        }
    }
    path.split('/').next().unwrap_or(path)
}
