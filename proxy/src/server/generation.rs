//! A config generation: everything built from one loaded config that the
//! request path uses (routes, upstream pools, TLS acceptors, the Worker
//! isolate threads and one Pingora app per socket). Start-up builds the
//! first; each successful reload builds the next off the request threads.
//!
//! Listening sockets are not part of a generation (see `crate::server::reload`):
//! a socket whose name and address are unchanged keeps its listener.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use isoproxy_runtime::{Outbound, PoolOptions, WorkerPool};
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

fn usage(message: String) -> BuildError {
    BuildError { usage: true, message }
}

fn needs_workers(config: &Config) -> bool {
    config.services.iter().any(|s| matches!(s.kind, ServiceKind::Worker(_)))
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
    let routes = Routes::new(&config, metrics).map_err(usage)?;
    let workers = if needs_workers(&config) {
        let outbound: Arc<dyn Outbound> = Arc::new(crate::pipeline::outbound::Egress::new(
            routes.services.clone(),
            metrics.clone(),
        ));
        let options = PoolOptions {
            threads: config.server.isolate_threads as usize,
        };
        let pool =
            WorkerPool::start(config.clone(), options, outbound, metrics.clone()).map_err(|e| usage(e.to_string()))?;
        Some(pool)
    } else {
        None
    };
    let mut servers = Vec::with_capacity(config.sockets.len());
    for (sock, route) in config.sockets.iter().zip(&routes.sockets) {
        let tls = match &sock.protocol {
            SocketProtocol::Https { tls, .. } => match crate::tls::server_config(tls) {
                Ok(c) => Some(Acceptor::from_server_config(c)),
                Err(e) => return Err(usage(format!("socket {}: {e}", sock.name))),
            },
            SocketProtocol::Http(_) => None,
        };
        let handler = Handler {
            route: route.clone(),
            workers: workers.clone(),
        };
        let mut app = pingora_proxy::http_proxy(conf, handler);
        let mut options = HttpServerOptions::default();
        let cap = route.limits.max_requests_per_connection;
        options.keepalive_request_limit = (cap > 0).then_some(cap);
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
