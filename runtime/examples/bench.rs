//! Measures the Worker runtime alone: isolate + context creation, Worker load
//! time and heap, and CPU per request of a pass-through Worker (an in-process
//! `Outbound` answers at once, so only the runtime is measured).
//! `cargo run --release -p isoproxy-runtime --example bench [-- REQUESTS [CONCURRENCY [WORKER]]]`
//!
//! WORKER is `pass` (default: forwards the request to the origin), `rewrite`
//! (rewrites the URL and headers both ways) or `compute` (JSON and a numeric
//! loop per request, where the optimizing compiler matters). Extra V8 flags
//! (e.g. `--no-turbofan`) come from `BENCH_V8_FLAGS`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use isoproxy_runtime::{
    Body, BoxFuture, Observer, Outbound, OutboundError, Outcome, PoolOptions, Request, RequestInfo, Response,
    WorkerPool,
};
use isoproxy_schema::model::{
    AccessLogOptions, Binding, BindingValue, Config, ExternalProtocol, ExternalServer, HttpOptions, Module, ModuleKind,
    ServerOptions, Service, ServiceDesignator, ServiceKind, UpstreamTimeouts, Worker, WorkerLimits, WorkerSource,
};

struct Origin;
impl Outbound for Origin {
    fn fetch(&self, _s: &str, _r: Request, _i: &RequestInfo) -> BoxFuture<Result<Response, OutboundError>> {
        Box::pin(async {
            let mut headers = HeaderMap::new();
            headers.insert("content-type", http::HeaderValue::from_static("text/plain"));
            Ok(Response {
                status: StatusCode::OK,
                headers,
                body: Body::Bytes(Bytes::from_static(&[b'x'; 100])),
                upgrade: None,
            })
        })
    }
}

#[derive(Default)]
struct Cpu {
    total_ns: AtomicU64,
    count: AtomicU64,
}
impl Observer for Cpu {
    fn invocation(&self, _w: &str, _o: Outcome, cpu: Duration) {
        self.total_ns.fetch_add(cpu.as_nanos() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

fn process_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

const PASS: &str = "export default { fetch(req, env) { return env.ORIGIN.fetch(req); } }";

const REWRITE: &str = "export default { async fetch(req, env) {
    const url = new URL(req.url);
    url.pathname = '/api' + url.pathname;
    const headers = new Headers(req.headers);
    headers.set('x-forwarded-by', 'isoproxy');
    headers.delete('user-agent');
    const resp = await env.ORIGIN.fetch(new Request(url, { method: req.method, headers }));
    const out = new Response(resp.body, resp);
    out.headers.set('x-rewritten', '1');
    return out;
} }";

const COMPUTE: &str = "export default { async fetch(req) {
    const q = new URL(req.url).searchParams.get('q');
    const items = [];
    for (let i = 0; i < 200; i++) items.push({ id: i, name: 'item' + i + q, tags: ['a', 'b', String(i % 7)] });
    const doc = JSON.parse(JSON.stringify(items));
    let h = 0;
    for (let r = 0; r < 20; r++) for (const it of doc) for (let k = 0; k < it.name.length; k++) h = (h * 31 + it.name.charCodeAt(k)) | 0;
    return new Response(String(h));
} }";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let conc: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);
    let code = match args.get(3).map(String::as_str).unwrap_or("pass") {
        "pass" => PASS,
        "rewrite" => REWRITE,
        "compute" => COMPUTE,
        other => return Err(format!("unknown worker {other:?}: pass, rewrite or compute").into()),
    };
    let worker = Worker {
        source: WorkerSource::Modules(vec![Module {
            name: "main.js".into(),
            kind: ModuleKind::EsModule(code.into()),
        }]),
        compatibility_date: "2024-09-01".into(),
        compatibility_flags: vec![],
        bindings: vec![Binding {
            name: "ORIGIN".into(),
            value: BindingValue::Service(ServiceDesignator::named("origin")),
        }],
        global_outbound: ServiceDesignator::named("origin"),
        limits: WorkerLimits::default(),
    };
    let config = Arc::new(Config {
        services: vec![
            Service {
                name: "w".into(),
                kind: ServiceKind::Worker(worker),
            },
            Service {
                name: "origin".into(),
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
        v8_flags: std::env::var("BENCH_V8_FLAGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        structured_logging: false,
        metrics: None,
        access_log: AccessLogOptions::default(),
        admin: None,
        server: ServerOptions::default(),
        cache: None,
    });
    let cpu = Arc::new(Cpu::default());
    let pool = WorkerPool::start(
        config,
        PoolOptions {
            threads: 1,
            ..Default::default()
        },
        Arc::new(Origin),
        cpu.clone(),
    )?;
    for s in pool.stats() {
        println!(
            "worker {}: isolate+context+glue {:?}, worker load {:?}, heap after load {} KiB",
            s.worker,
            s.create_time,
            s.load_time,
            s.heap_bytes / 1024
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Warm up.
        for _ in 0..2000 {
            let _ = pool.fetch("w", req(), RequestInfo::default()).await;
        }
        cpu.total_ns.store(0, Ordering::Relaxed);
        cpu.count.store(0, Ordering::Relaxed);
        let start = Instant::now();
        let cpu0 = process_cpu();
        let mut tasks = vec![];
        for _ in 0..conc {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..n / conc {
                    let r = pool.fetch("w", req(), RequestInfo::default()).await;
                    if let Ok(r) = r {
                        drop(r.body);
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let wall = start.elapsed();
        let proc_cpu = process_cpu() - cpu0;
        let done = cpu.count.load(Ordering::Relaxed).max(1);
        println!(
            "{done} requests in {wall:?}: {:.0} req/s; isolate CPU {:.1} µs/request (JS entries); process CPU {:.1} µs/request",
            done as f64 / wall.as_secs_f64(),
            cpu.total_ns.load(Ordering::Relaxed) as f64 / done as f64 / 1000.0,
            proc_cpu.as_nanos() as f64 / done as f64 / 1000.0
        );
    });
    Ok(())
}

fn req() -> Request {
    let mut headers = HeaderMap::new();
    headers.insert("host", http::HeaderValue::from_static("example.com"));
    headers.insert("user-agent", http::HeaderValue::from_static("bench"));
    headers.insert("accept", http::HeaderValue::from_static("*/*"));
    Request {
        method: Method::GET,
        url: "http://example.com/path?q=1".into(),
        headers,
        body: Body::Empty,
    }
}
