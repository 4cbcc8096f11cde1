//! `isoproxy serve`: bind every socket, report the ports on the control fd,
//! run the accept loops on a multi-threaded runtime, and drain on SIGTERM.

use std::io::Write;
use std::net::TcpListener as StdListener;
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use isoproxy_runtime::{Outbound, PoolOptions, WorkerPool};
use isoproxy_schema::model::{Config, ServiceKind, SocketProtocol};
use pingora_core::apps::{HttpServerApp, HttpServerOptions};
use pingora_core::listeners::tls::Acceptor;
use pingora_core::server::configuration::ServerConf;
use tokio::sync::{watch, Notify};

use crate::cli::{ServeArgs, EXIT_USAGE};
use crate::conn::SocketServer;
use crate::handler::Handler;
use crate::route::Routes;

/// Deadline for in-flight requests after SIGINT.
const SIGINT_DRAIN: Duration = Duration::from_millis(500);

/// Counts open downstream connections so shutdown can wait for them.
#[derive(Default)]
struct Active {
    count: AtomicUsize,
    idle: Notify,
}

struct ActiveGuard(Arc<Active>);

impl ActiveGuard {
    fn new(a: &Arc<Active>) -> ActiveGuard {
        a.count.fetch_add(1, Ordering::AcqRel);
        ActiveGuard(a.clone())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Run the server until it is told to stop.
pub fn run(args: &ServeArgs, loaded: isoproxy_schema::Loaded) -> ExitCode {
    let config = Arc::new(loaded.config);
    let metrics = match crate::metrics::Metrics::new() {
        Ok(m) => Arc::new(m),
        Err(e) => {
            eprintln!("isoproxy: metrics: {e}");
            return ExitCode::FAILURE;
        }
    };
    let logging = match crate::logging::init(
        &config.access_log,
        config.structured_logging,
        args.config.verbose,
        metrics.access_log_dropped.clone(),
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("isoproxy: access log: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let routes = match Routes::new(&config, &metrics) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("isoproxy: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let listeners = match bind_all(&config) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("isoproxy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let threads = match config.server.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n as usize,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("isoproxy")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("isoproxy: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        reopen_on_sigusr1(logging.access.clone());
        ignore_sighup();
        if args.watch {
            tracing::warn!("--watch is not supported yet: config changes need a restart");
        }
        serve(args, config, routes, listeners, threads, metrics).await
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// Bind (or adopt) every socket's listener, in config order.
fn bind_all(config: &Config) -> Result<Vec<StdListener>, String> {
    let mut out = Vec::new();
    for s in &config.sockets {
        let l = match (s.fd, &s.address) {
            (Some(fd), _) => {
                // SAFETY: the fd was handed to us with `--socket-fd` for this
                // socket; nothing else in the process owns it.
                unsafe { StdListener::from_raw_fd(fd) }
            }
            (None, Some(addr)) => {
                let addr = match addr.strip_prefix("*:") {
                    Some(port) => format!("0.0.0.0:{port}"),
                    None => addr.clone(),
                };
                StdListener::bind(&addr).map_err(|e| format!("socket {}: cannot listen on {addr}: {e}", s.name))?
            }
            (None, None) => return Err(format!("socket {}: no address", s.name)),
        };
        l.set_nonblocking(true).map_err(|e| format!("socket {}: {e}", s.name))?;
        out.push(l);
    }
    Ok(out)
}

fn needs_workers(config: &Config) -> bool {
    config.services.iter().any(|s| matches!(s.kind, ServiceKind::Worker(_)))
}

async fn serve(
    args: &ServeArgs,
    config: Arc<Config>,
    routes: Routes,
    listeners: Vec<StdListener>,
    threads: usize,
    metrics: Arc<crate::metrics::Metrics>,
) -> ExitCode {
    // Signal handlers first: a SIGTERM that comes right after the ports are
    // reported must drain, not kill.
    let signals = Signals::install();
    let workers = if needs_workers(&config) {
        let outbound: Arc<dyn Outbound> =
            Arc::new(crate::outbound::Egress::new(routes.services.clone(), metrics.clone()));
        let options = PoolOptions {
            threads: config.server.isolate_threads as usize,
        };
        match WorkerPool::start(config.clone(), options, outbound, metrics.clone()) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("isoproxy: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        None
    };

    let mut conf = ServerConf {
        threads,
        ..ServerConf::default()
    };
    conf.max_retries = 2;
    let conf = Arc::new(conf);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let active = Arc::new(Active::default());
    let mut control = args.control_fd.map(|fd| {
        // SAFETY: `--control-fd` names a descriptor the parent opened for us.
        unsafe { std::fs::File::from_raw_fd(fd) }
    });
    let mut apps = Vec::new();
    for ((sock, route), std_listener) in config.sockets.iter().zip(&routes.sockets).zip(listeners) {
        let tls = match &sock.protocol {
            SocketProtocol::Https { tls, .. } => match crate::tls::server_config(tls) {
                Ok(c) => Some(Acceptor::from_server_config(c)),
                Err(e) => {
                    eprintln!("isoproxy: socket {}: {e}", sock.name);
                    return ExitCode::from(EXIT_USAGE);
                }
            },
            SocketProtocol::Http(_) => None,
        };
        let handler = Handler {
            route: route.clone(),
            workers: workers.clone(),
        };
        let mut app = pingora_proxy::http_proxy(&conf, handler);
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
        let app = Arc::new(app);
        apps.push(app.clone());
        let server = Arc::new(SocketServer {
            route: route.clone(),
            app,
            tls,
        });
        let listener = match tokio::net::TcpListener::from_std(std_listener) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("isoproxy: socket {}: {e}", sock.name);
                return ExitCode::FAILURE;
            }
        };
        let port = listener.local_addr().map_or(0, |a| a.port());
        tracing::info!(socket = %sock.name, port, "listening");
        if let Some(f) = control.as_mut() {
            let line = serde_json::json!({"event": "listen", "socket": sock.name, "port": port});
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
        let mut stop = shutdown_rx.clone();
        let active = active.clone();
        let open_connections = metrics.connections_active.with_label_values(&[sock.name.as_str()]);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = listener.accept() => match r {
                        Ok((tcp, _)) => {
                            let guard = ActiveGuard::new(&active);
                            let server = server.clone();
                            let sd = stop.clone();
                            let open_connections = open_connections.clone();
                            open_connections.inc();
                            tokio::spawn(async move {
                                server.serve(tcp, sd).await;
                                open_connections.dec();
                                drop(guard);
                            });
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    },
                    _ = stop.changed() => break,
                }
            }
        });
    }

    let ready = Arc::new(AtomicBool::new(false));
    if let Err(e) = start_admin(args, &config, &metrics, &ready, control.as_mut()) {
        eprintln!("isoproxy: {e}");
        return ExitCode::FAILURE;
    }
    ready.store(true, Ordering::Release);

    let deadline = signals.wait(config.server.drain_timeout_ms).await;
    ready.store(false, Ordering::Release);
    tracing::info!(deadline_ms = deadline.as_millis() as u64, "shutting down");
    let _ = shutdown_tx.send(true);
    for app in &apps {
        app.http_cleanup().await;
    }
    let drained = tokio::time::timeout(deadline, async {
        loop {
            let idle = active.idle.notified();
            if active.count.load(Ordering::Acquire) == 0 {
                break;
            }
            idle.await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = active.count.load(Ordering::Acquire),
            "drain deadline passed; closing"
        );
    }
    ExitCode::SUCCESS
}

/// Start the metrics listener (`--metrics-addr` or `metrics.address`) and the
/// admin listener (`admin.address`), reporting their ports like sockets'.
/// When only the admin listener exists (or both name the same address) it
/// serves the metrics too.
fn start_admin(
    args: &ServeArgs,
    config: &Config,
    metrics: &Arc<crate::metrics::Metrics>,
    ready: &Arc<AtomicBool>,
    mut control: Option<&mut std::fs::File>,
) -> Result<(), String> {
    use crate::admin::{spawn, AdminState};
    let admin_addr = config
        .admin
        .as_ref()
        .map(|a| a.address.clone())
        .filter(|a| !a.is_empty());
    let metrics_addr = args
        .metrics_addr
        .clone()
        .or_else(|| config.metrics.as_ref().map(|m| m.address.clone()))
        .filter(|a| !a.is_empty() && Some(a) != admin_addr.as_ref());
    let metrics_path = config
        .metrics
        .as_ref()
        .map_or_else(|| "/metrics".to_string(), |m| m.path.clone());
    let mut report = |name: &str, addr: std::net::SocketAddr| {
        tracing::info!(listener = name, port = addr.port(), "listening");
        if let Some(f) = control.as_mut() {
            let line = serde_json::json!({"event": "listen", "socket": name, "port": addr.port()});
            let _ = writeln!(f, "{line}");
            let _ = f.flush();
        }
    };
    if let Some(addr) = &metrics_addr {
        let state = AdminState {
            metrics: Some(metrics.clone()),
            metrics_path: metrics_path.clone(),
            health: false,
            ready: ready.clone(),
        };
        let local = spawn(addr, Arc::new(state)).map_err(|e| format!("metrics: cannot listen on {addr}: {e}"))?;
        report("metrics", local);
    }
    if let Some(addr) = &admin_addr {
        let state = AdminState {
            metrics: metrics_addr.is_none().then(|| metrics.clone()),
            metrics_path,
            health: true,
            ready: ready.clone(),
        };
        let local = spawn(addr, Arc::new(state)).map_err(|e| format!("admin: cannot listen on {addr}: {e}"))?;
        report("admin", local);
    }
    Ok(())
}

/// SIGTERM and SIGINT streams.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let s = Signals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        };
        if s.term.is_none() || s.int.is_none() {
            tracing::error!("cannot install signal handlers");
        }
        s
    }

    /// Wait for SIGTERM (drain deadline from the config) or SIGINT (short).
    async fn wait(self, drain_ms: u32) -> Duration {
        let (Some(mut term), Some(mut int)) = (self.term, self.int) else {
            std::future::pending::<()>().await;
            return Duration::ZERO;
        };
        tokio::select! {
            _ = term.recv() => Duration::from_millis(u64::from(drain_ms)),
            _ = int.recv() => SIGINT_DRAIN,
        }
    }
}

/// SIGUSR1 reopens the access-log file (for logrotate).
/// Live reload is not built yet. Until it is, SIGHUP (systemd's
/// `ExecReload`, `kill -HUP`) must not kill a serving proxy: log and go on.
fn ignore_sighup() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::warn!("SIGHUP received: live reload is not supported yet; restart to apply config changes");
        }
    });
}

fn reopen_on_sigusr1(access: crate::access_log::AccessLogHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
        return;
    };
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            access.reopen();
        }
    });
}
