//! Helpers shared by the runtime's integration tests: config builders, an
//! in-test `Outbound` and an `Observer` that records what happened.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// A modules Worker with one `main.js`.
pub fn module_worker(code: &str) -> Worker {
    modules_worker(vec![("main.js", ModuleKind::EsModule(code.to_string()))])
}

/// A modules Worker with several modules, the first being main.
pub fn modules_worker(modules: Vec<(&str, ModuleKind)>) -> Worker {
    Worker {
        source: WorkerSource::Modules(
            modules
                .into_iter()
                .map(|(n, k)| Module {
                    name: n.to_string(),
                    kind: k,
                })
                .collect(),
        ),
        compatibility_date: "2024-09-01".into(),
        compatibility_flags: vec![],
        bindings: vec![],
        global_outbound: ServiceDesignator::named("internet"),
        limits: WorkerLimits::default(),
    }
}

/// A service-worker-syntax Worker.
pub fn script_worker(code: &str) -> Worker {
    Worker {
        source: WorkerSource::ServiceWorkerScript(code.to_string()),
        ..module_worker("")
    }
}

/// A service binding.
pub fn service_binding(name: &str, service: &str) -> Binding {
    Binding {
        name: name.into(),
        value: BindingValue::Service(ServiceDesignator::named(service)),
    }
}

/// An external service (reached through the test `Outbound`).
pub fn external(name: &str) -> Service {
    Service {
        name: name.into(),
        kind: ServiceKind::External(ExternalServer {
            addresses: vec!["127.0.0.1:1".into()],
            protocol: ExternalProtocol::Http(HttpOptions::default()),
            timeouts: UpstreamTimeouts::default(),
            unhealthy_ms: 1000,
            max_concurrent_requests: 0,
            balancing: Default::default(),
            health_check: None,
            http2: Default::default(),
        }),
    }
}

/// A config with these Workers plus an `internet` and an `origin` external.
pub fn config(workers: Vec<(&str, Worker)>) -> Arc<Config> {
    let mut services: Vec<Service> = workers
        .into_iter()
        .map(|(n, w)| Service {
            name: n.into(),
            kind: ServiceKind::Worker(w),
        })
        .collect();
    services.push(external("internet"));
    services.push(external("origin"));
    Arc::new(Config {
        services,
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

/// What the test outbound saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub service: String,
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
}

/// An `Outbound` that answers every request itself: it echoes the request
/// body back as a stream (chunk by chunk) with a few headers describing the
/// request, or refuses services named `denied`.
#[derive(Default)]
pub struct EchoOutbound {
    pub seen: Mutex<Vec<Seen>>,
    /// Bytes of request body echoed so far.
    pub echoed: Arc<std::sync::atomic::AtomicU64>,
}

impl Outbound for EchoOutbound {
    fn fetch(
        &self,
        service: &str,
        request: Request,
        _info: &RequestInfo,
    ) -> BoxFuture<Result<Response, OutboundError>> {
        self.seen.lock().unwrap().push(Seen {
            service: service.into(),
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
        });
        let echoed = self.echoed.clone();
        let service = service.to_string();
        Box::pin(async move {
            if request.url.contains("denied.example") {
                return Err(OutboundError::Denied(format!("{} is not allowed", request.url)));
            }
            let mut headers = HeaderMap::new();
            let away = request.url.ends_with("/redirect-away");
            if request.url.ends_with("/redirect-me") || away {
                let to = if away { "http://elsewhere.test/final" } else { "/final" };
                headers.insert("location", to.parse().unwrap());
                return Ok(Response {
                    status: StatusCode::FOUND,
                    headers,
                    body: Body::Bytes(Bytes::from_static(b"moved")),
                    upgrade: None,
                });
            }
            headers.insert("x-service", service.parse().unwrap());
            headers.insert("x-method", request.method.as_str().parse().unwrap());
            headers.insert("x-url", request.url.parse().unwrap());
            if let Some(v) = request.headers.get("x-test") {
                headers.insert("x-saw-test", v.clone());
            }
            let body = match request.body {
                Body::Empty => Body::Bytes(Bytes::from_static(b"hello from upstream")),
                Body::Bytes(b) => {
                    echoed.fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    Body::Bytes(b)
                }
                Body::Stream { mut rx, len } => {
                    let (tx, body) = Body::channel(4, len);
                    tokio::spawn(async move {
                        while let Some(chunk) = rx.recv().await {
                            if let Ok(c) = &chunk {
                                echoed.fetch_add(c.len() as u64, std::sync::atomic::Ordering::Relaxed);
                            }
                            if tx.send(chunk).await.is_err() {
                                break;
                            }
                        }
                    });
                    body
                }
            };
            Ok(Response {
                status: StatusCode::OK,
                headers,
                body,
                upgrade: None,
            })
        })
    }
}

/// An observer that records invocations and console lines.
#[derive(Default)]
pub struct Recorder {
    pub invocations: Mutex<Vec<(String, Outcome)>>,
    pub console: Mutex<Vec<String>>,
    /// Live isolates, from `isolates_changed`.
    pub isolates: std::sync::atomic::AtomicI64,
    /// Workers whose call was refused at the depth limit.
    pub depth_exceeded: Mutex<Vec<String>>,
}

impl Observer for Recorder {
    fn invocation(&self, worker: &str, outcome: Outcome, _cpu: Duration) {
        self.invocations.lock().unwrap().push((worker.into(), outcome));
    }
    fn isolates_changed(&self, _worker: &str, delta: i64) {
        self.isolates.fetch_add(delta, std::sync::atomic::Ordering::SeqCst);
    }
    fn console(&self, _worker: &str, level: &str, message: &str) {
        self.console.lock().unwrap().push(format!("{level}: {message}"));
    }
    fn depth_exceeded(&self, worker: &str) {
        self.depth_exceeded.lock().unwrap().push(worker.into());
    }
}

/// A started pool with its outbound and recorder.
pub struct Harness {
    pub pool: WorkerPool,
    pub outbound: Arc<EchoOutbound>,
    pub recorder: Arc<Recorder>,
}

pub fn start(config: Arc<Config>, threads: usize) -> Harness {
    start_with(
        config,
        PoolOptions {
            threads,
            ..PoolOptions::default()
        },
    )
}

/// As [`start`], with every pool option chosen by the test.
pub fn start_with(config: Arc<Config>, mut options: PoolOptions) -> Harness {
    if options.cache.is_none() {
        options.cache = Some(isoproxy_runtime::CacheHandle(Arc::new(MapCache::default())));
    }
    let outbound = Arc::new(EchoOutbound::default());
    let recorder = Arc::new(Recorder::default());
    let pool = WorkerPool::start(config, options, outbound.clone(), recorder.clone()).expect("pool starts");
    Harness {
        pool,
        outbound,
        recorder,
    }
}

/// A Cache API store for the tests: a map from (cache, URL) to the
/// response's status, headers and body, storing everything it is given
/// (the storage rules are the embedder's; see proxy/tests/cache.rs).
#[derive(Default)]
pub struct MapCache(Arc<Mutex<CacheMap>>);

type CacheMap = std::collections::HashMap<(String, String), (http::StatusCode, HeaderMap, Vec<u8>)>;

impl isoproxy_runtime::CacheStore for MapCache {
    fn lookup(&self, cache: &str, url: &str) -> BoxFuture<Result<Option<Response>, String>> {
        let found = self
            .0
            .lock()
            .unwrap()
            .get(&(cache.to_string(), url.to_string()))
            .cloned();
        Box::pin(async move {
            Ok(found.map(|(status, mut headers, body)| {
                headers.insert("cf-cache-status", http::HeaderValue::from_static("HIT"));
                Response::new(status, headers, Body::Bytes(body.into()))
            }))
        })
    }

    fn store(&self, cache: &str, url: &str, response: Response) -> BoxFuture<Result<bool, String>> {
        let key = (cache.to_string(), url.to_string());
        let map = self.0.clone();
        Box::pin(async move {
            let bytes = body_bytes(response.body).await;
            map.lock()
                .unwrap()
                .insert(key, (response.status, response.headers, bytes));
            Ok(true)
        })
    }

    fn remove(&self, cache: &str, url: &str) -> BoxFuture<Result<bool, String>> {
        let removed = self
            .0
            .lock()
            .unwrap()
            .remove(&(cache.to_string(), url.to_string()))
            .is_some();
        Box::pin(async move { Ok(removed) })
    }
}

/// A GET request.
pub fn get(url: &str) -> Request {
    Request {
        method: Method::GET,
        url: url.into(),
        headers: HeaderMap::new(),
        body: Body::Empty,
    }
}

/// Read a whole body.
pub async fn body_bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Empty => vec![],
        Body::Bytes(b) => b.to_vec(),
        Body::Stream { mut rx, .. } => {
            let mut out = vec![];
            while let Some(c) = rx.recv().await {
                out.extend_from_slice(&c.unwrap());
            }
            out
        }
    }
}

/// Fetch and return status and body text.
pub async fn fetch_text(
    pool: &WorkerPool,
    worker: &str,
    req: Request,
) -> Result<(u16, String), isoproxy_runtime::WorkerFailure> {
    let resp = pool.fetch(worker, req, RequestInfo::default()).await?;
    let status = resp.status.as_u16();
    let body = body_bytes(resp.body).await;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
