//! A config generation: everything built from one loaded config that the
//! request path uses (routes, upstream pools, TLS acceptors, the Worker
//! isolate threads and one Pingora app per socket). Start-up builds the
//! first; each successful reload builds the next off the request threads.
//!
//! Listening sockets are not part of a generation (see `crate::server::reload`):
//! a socket whose name and address are unchanged keeps its listener.
//!
//! Every step that can refuse a config lives in [`prepare`], which `serve`,
//! each reload and `isoproxy check` all run, so a config that passes
//! `check` starts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use isoproxy_runtime::{
    BoxFuture, Outbound, OutboundError, PoolOptions, QueueLimits, Request, RequestInfo, Response, WorkerPool,
};
use isoproxy_schema::model::{Config, ServiceKind, SocketProtocol};
use pingora_core::apps::HttpServerOptions;
use pingora_core::listeners::tls::Acceptor;
use pingora_core::server::configuration::ServerConf;
use tokio::sync::watch;

use crate::downstream::conn::SocketServer;
use crate::pipeline::handler::Handler;
use crate::pipeline::route::Routes;

/// One generation, ready to serve.
pub struct Generation {
    /// 1 at start-up, +1 per successful reload.
    pub number: u64,
    /// The config it was built from.
    pub config: Arc<Config>,
    /// Every file the config was loaded from (for `--watch`).
    pub files: Vec<PathBuf>,
    /// One server per socket, in config order. Each server's handler holds
    /// the generation's isolate threads (`WorkerPool`), so those threads
    /// stop only once the last request of this generation has finished.
    pub servers: Vec<Arc<SocketServer>>,
}

/// Why a generation could not be built.
#[derive(Debug)]
pub struct BuildError {
    /// The config itself is wrong (exit status 64 at start-up), as opposed
    /// to the machine refusing something.
    pub usage: bool,
    /// What went wrong, for the log.
    pub message: String,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl BuildError {
    /// Print the error as `serve` and `check` both do, and return the exit
    /// status that goes with it.
    pub fn report(&self) -> std::process::ExitCode {
        eprintln!("isoproxy: {}", self.message);
        if self.usage {
            std::process::ExitCode::from(crate::args::EXIT_USAGE)
        } else {
            std::process::ExitCode::FAILURE
        }
    }
}

fn usage(message: String) -> BuildError {
    BuildError { usage: true, message }
}

fn needs_workers(config: &Config) -> bool {
    config.services.iter().any(|s| matches!(s.kind, ServiceKind::Worker(_)))
}

/// What [`prepare`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `serve` or a reload: the configured isolate threads, and Workers'
    /// requests leave through the config's services.
    Serve,
    /// `isoproxy check`: one isolate thread and nowhere for a request to go;
    /// the result is dropped once built.
    Check,
}

/// What start-up builds from a config before any socket opens, made by
/// the steps that can refuse the config: the routes (upstream pools,
/// networks, header injections; a `disk` service is refused there), the
/// Worker pool (every Worker compiled and evaluated, every import
/// resolved) and the TLS server config of each https socket.
pub struct Parts {
    routes: Routes,
    workers: Option<WorkerPool>,
    /// One per socket, in config order; `None` for plain-text sockets.
    tls: Vec<Option<Acceptor>>,
}

/// Run every start-up step that can refuse `config`, binding nothing.
/// This blocks (it compiles and evaluates every Worker).
pub fn prepare(
    config: &Arc<Config>,
    metrics: &Arc<crate::observe::metrics::Metrics>,
    purpose: Purpose,
) -> Result<Parts, BuildError> {
    let routes = Routes::new(config, metrics).map_err(usage)?;
    if let Some(cache) = &config.cache {
        let _ = metrics.cache_counts.set(crate::cache::counts);
        // The cache sits in front of the no-script path only.
        for name in &cache.sockets {
            let worker = routes
                .sockets
                .iter()
                .any(|r| &*r.name == name && matches!(r.service.target, crate::pipeline::route::Target::Worker));
            if worker {
                return Err(usage(format!(
                    "cache.sockets: socket {name} serves a Worker; the HTTP cache is for sockets whose service is an ExternalServer or a Network"
                )));
            }
        }
    }
    let workers = if needs_workers(config) {
        let (outbound, threads): (Arc<dyn Outbound>, usize) = match purpose {
            Purpose::Serve => (
                Arc::new(crate::pipeline::outbound::Egress::new(
                    routes.services.clone(),
                    metrics.clone(),
                )),
                config.server.isolate_threads as usize,
            ),
            Purpose::Check => (Arc::new(Nowhere), 1),
        };
        let d = QueueLimits::default();
        let or_default = |n: u32, default: usize| if n == 0 { default } else { n as usize };
        let options = PoolOptions {
            threads,
            queue: QueueLimits {
                max_queued_per_worker: or_default(config.server.max_queued_per_worker, d.max_queued_per_worker),
                max_queued_per_thread: or_default(config.server.max_queued_per_isolate_thread, d.max_queued_per_thread),
            },
            // The Workers Cache API shares the HTTP cache's store.
            cache: matches!(purpose, Purpose::Serve).then(|| crate::cache::workers::handle(config.cache.as_ref())),
            ..PoolOptions::default()
        };
        let pool =
            WorkerPool::start(config.clone(), options, outbound, metrics.clone()).map_err(|e| usage(e.to_string()))?;
        Some(pool)
    } else {
        None
    };
    let mut tls = Vec::with_capacity(config.sockets.len());
    for sock in &config.sockets {
        tls.push(match &sock.protocol {
            SocketProtocol::Https { tls, .. } => match crate::tls::server_config(tls) {
                Ok(c) => Some(Acceptor::from_server_config(c)),
                Err(e) => return Err(usage(format!("socket {}: {e}", sock.name))),
            },
            SocketProtocol::Http(_) | SocketProtocol::Tcp => None,
        });
    }
    Ok(Parts { routes, workers, tls })
}

/// `isoproxy check`: everything `serve` does before it binds a socket,
/// then nothing more.
pub fn check(config: &Arc<Config>) -> Result<(), BuildError> {
    let metrics = crate::observe::metrics::Metrics::new().map_err(|e| BuildError {
        usage: false,
        message: format!("metrics: {e}"),
    })?;
    prepare(config, &Arc::new(metrics), Purpose::Check).map(drop)
}

/// The outbound of a `check` pool. No request runs there, so nothing
/// should ever reach it; if top-level code tries, it fails.
struct Nowhere;

impl Outbound for Nowhere {
    fn fetch(
        &self,
        service: &str,
        _request: Request,
        _info: &RequestInfo,
    ) -> BoxFuture<Result<Response, OutboundError>> {
        let message = format!("service {service}: no request leaves during isoproxy check");
        Box::pin(async move { Err(OutboundError::Other(message)) })
    }
}

/// Build generation `number` from `config`. This blocks (it compiles and
/// evaluates every Worker), so a reload runs it on a blocking thread.
pub fn build(
    number: u64,
    config: Arc<Config>,
    files: Vec<PathBuf>,
    conf: &Arc<ServerConf>,
    metrics: &Arc<crate::observe::metrics::Metrics>,
) -> Result<Generation, BuildError> {
    let Parts { routes, workers, tls } = prepare(&config, metrics, Purpose::Serve)?;
    let mut servers = Vec::with_capacity(config.sockets.len());
    let connector = Arc::new(pingora_core::connectors::http::Connector::new(None));
    for (route, tls) in routes.sockets.iter().zip(tls) {
        let handler = Handler {
            route: route.clone(),
            workers: workers.clone(),
            connector: connector.clone(),
            cache: crate::cache::SocketCache::for_socket(config.cache.as_ref(), &route.name),
        };
        let mut app = pingora_proxy::http_proxy(conf, handler);
        let mut options = HttpServerOptions::default();
        let cap = route.limits.max_requests_per_connection;
        options.keepalive_request_limit = (cap > 0).then_some(cap);
        // Plain-text sockets also speak HTTP/2 with prior knowledge (the
        // connection loop hands over a stream that opens with the preface).
        options.h2c = !route.tls;
        options.h2_idle_timeout = Some(Duration::from_millis(u64::from(
            route.limits.keepalive_timeout_ms.max(1),
        )));
        app.server_options = Some(options);
        let mut h2 = pingora_core::protocols::http::v2::server::default_h2_options();
        h2.max_header_list_size(route.limits.max_header_bytes);
        app.h2_options = Some(h2);
        servers.push(Arc::new(SocketServer {
            route: route.clone(),
            app: Arc::new(app),
            workers: workers.clone(),
            tls,
            retired: watch::channel(false).0,
        }));
    }
    Ok(Generation {
        number,
        config,
        files,
        servers,
    })
}
