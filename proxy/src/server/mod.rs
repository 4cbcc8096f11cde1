//! `isoproxy serve`: build the first generation, bind every socket, report
//! the ports on the control fd, run the accept loops on a multi-threaded
//! runtime, reload on SIGHUP or `--watch`, and drain on SIGTERM.

pub mod generation;
pub mod reload;
pub mod socket_fd;
pub mod upgrade;

use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use isoproxy_schema::model::Config;
use pingora_core::apps::HttpServerApp;
use pingora_core::server::configuration::ServerConf;
use tokio::sync::Notify;

use crate::args::ServeArgs;
use crate::server::reload::Server;

/// Deadline for in-flight requests after SIGINT.
const SIGINT_DRAIN: Duration = Duration::from_millis(500);

/// Run the server until it is told to stop.
pub fn run(args: &ServeArgs, loaded: isoproxy_schema::Loaded) -> ExitCode {
    let config = Arc::new(loaded.config);
    let metrics = match crate::observe::metrics::Metrics::new() {
        Ok(m) => Arc::new(m),
        Err(e) => {
            eprintln!("isoproxy: metrics: {e}");
            return ExitCode::FAILURE;
        }
    };
    let logging = match crate::observe::logging::init(
        &config.access_log,
        config.structured_logging,
        args.config.verbose,
        &metrics,
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("isoproxy: access log: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    let mut conf = ServerConf {
        threads,
        ..ServerConf::default()
    };
    conf.max_retries = 2;
    let conf = Arc::new(conf);
    let access = logging.access.clone();
    let code = runtime.block_on(serve(args, config, loaded.files, conf, metrics, access));
    // Tasks still running (requests cut at the drain deadline) are dropped
    // here; their access-log records are queued as they go.
    runtime.shutdown_timeout(Duration::from_millis(100));
    logging.access.flush(Duration::from_secs(1));
    code
}

async fn serve(
    args: &ServeArgs,
    config: Arc<Config>,
    files: Vec<std::path::PathBuf>,
    conf: Arc<ServerConf>,
    metrics: Arc<crate::observe::metrics::Metrics>,
    access: crate::observe::access_log::AccessLogHandle,
) -> ExitCode {
    // Signal handlers first: a SIGTERM (or SIGHUP) that comes right after
    // the ports are reported must drain (or reload), not kill.
    let mut signals = Signals::install();
    let first = match generation::build(1, config.clone(), files, &conf, &metrics) {
        Ok(g) => g,
        Err(e) => return e.report(),
    };
    // A successor (`--upgrade`) takes the old process's sockets first.
    let (mut inherited, predecessor) = match (&args.upgrade_socket, args.upgrade) {
        (Some(path), true) => match crate::server::upgrade::receive(path) {
            Ok((i, stream)) => (i, Some(stream)),
            Err(e) => {
                eprintln!("isoproxy: upgrade: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => (crate::server::upgrade::Inherited::default(), None),
    };
    let mut listeners = Vec::with_capacity(config.sockets.len());
    for s in &config.sockets {
        let adopted = match s.fd {
            None => inherited.take(&s.name, s.address.as_deref()),
            Some(_) => None,
        };
        match crate::server::reload::bind(s, adopted) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                eprintln!("isoproxy: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let control = args.control_fd.map(|fd| {
        // SAFETY: `--control-fd` names a descriptor the parent opened for us.
        unsafe { std::fs::File::from_raw_fd(fd) }
    });
    let server = match Server::start(
        args.clone(),
        conf,
        metrics.clone(),
        access.clone(),
        control,
        first,
        listeners,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("isoproxy: {e}");
            return ExitCode::FAILURE;
        }
    };
    reopen_on_sigusr1(access);
    let trigger = Arc::new(Notify::new());
    server.spawn_reloader(trigger.clone());
    if let Some(hup) = signals.hup.take() {
        reload_on_sighup(hup, trigger.clone());
    }
    if args.watch {
        server.spawn_watcher(trigger);
    }

    let ready = Arc::new(AtomicBool::new(false));
    if let Err(e) = start_admin(args, &config, &metrics, &ready, &server, &mut inherited) {
        eprintln!("isoproxy: {e}");
        return ExitCode::FAILURE;
    }
    ready.store(true, Ordering::Release);

    let handed_over = Arc::new(Notify::new());
    if let Some(path) = &args.upgrade_socket {
        let me = server.clone();
        let started = crate::server::upgrade::listen(path)
            .and_then(|l| crate::server::upgrade::serve(l, path.clone(), move || me.offer(), handed_over.clone()));
        if let Err(e) = started {
            eprintln!("isoproxy: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(stream) = predecessor {
        crate::server::upgrade::say_ready(stream);
    }

    let deadline = tokio::select! {
        d = signals.first(server.drain_timeout_ms()) => d,
        () = handed_over.notified() => Duration::from_millis(u64::from(server.drain_timeout_ms())),
    };
    ready.store(false, Ordering::Release);
    tracing::info!(deadline_ms = deadline.as_millis() as u64, "shutting down");
    for s in server.begin_shutdown() {
        s.app.http_cleanup().await;
    }
    let active = server.active().clone();
    tokio::select! {
        r = tokio::time::timeout(deadline, active.wait_idle()) => {
            if r.is_err() {
                crate::pipeline::handler::cut_in_flight();
                tracing::warn!(open = active.count(), "drain deadline passed; closing");
            }
        }
        () = signals.second() => {
            crate::pipeline::handler::cut_in_flight();
            tracing::warn!(open = active.count(), "second signal: exiting without waiting for the drain");
        }
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
    metrics: &Arc<crate::observe::metrics::Metrics>,
    ready: &Arc<AtomicBool>,
    server: &Server,
    inherited: &mut crate::server::upgrade::Inherited,
) -> Result<(), String> {
    use crate::observe::admin::{spawn, AdminState};
    // Bind, or take the listener a previous process handed over
    // (`--upgrade`), keeping a copy to hand to the next one.
    let mut open = |name: &str, addr: &str| -> Result<std::net::TcpListener, String> {
        let l = match inherited.take_internal(name, addr) {
            Some(fd) => std::net::TcpListener::from(fd),
            None => crate::observe::admin::bind(addr).map_err(|e| format!("{name}: cannot listen on {addr}: {e}"))?,
        };
        if let Ok(copy) = l.try_clone() {
            server.keep_internal(name, addr, copy.into());
        }
        Ok(l)
    };
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
    let report = |name: &str, addr: std::net::SocketAddr| {
        tracing::info!(listener = name, port = addr.port(), "listening");
        server.report(&serde_json::json!({"event": "listen", "socket": name, "port": addr.port()}));
    };
    if let Some(addr) = &metrics_addr {
        let state = AdminState {
            metrics: Some(metrics.clone()),
            metrics_path: metrics_path.clone(),
            health: false,
            ready: ready.clone(),
            upstreams: None,
        };
        let local = spawn(open("metrics", addr)?, Arc::new(state))
            .map_err(|e| format!("metrics: cannot listen on {addr}: {e}"))?;
        report("metrics", local);
    }
    if let Some(addr) = &admin_addr {
        let state = AdminState {
            metrics: metrics_addr.is_none().then(|| metrics.clone()),
            metrics_path,
            health: true,
            ready: ready.clone(),
            upstreams: Some(metrics.clone()),
        };
        let local =
            spawn(open("admin", addr)?, Arc::new(state)).map_err(|e| format!("admin: cannot listen on {addr}: {e}"))?;
        report("admin", local);
    }
    Ok(())
}

/// SIGTERM, SIGINT and SIGHUP streams.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let s = Signals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        };
        if s.term.is_none() || s.int.is_none() || s.hup.is_none() {
            tracing::error!("cannot install signal handlers");
        }
        s
    }

    /// Wait for SIGTERM (drain deadline from the config) or SIGINT (short).
    async fn first(&mut self, drain_ms: u32) -> Duration {
        let (Some(term), Some(int)) = (self.term.as_mut(), self.int.as_mut()) else {
            std::future::pending::<()>().await;
            return Duration::ZERO;
        };
        tokio::select! {
            _ = term.recv() => Duration::from_millis(u64::from(drain_ms)),
            _ = int.recv() => SIGINT_DRAIN,
        }
    }

    /// Wait for another SIGTERM or SIGINT.
    async fn second(&mut self) {
        let (Some(term), Some(int)) = (self.term.as_mut(), self.int.as_mut()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}

/// SIGHUP (systemd's `ExecReload`, `kill -HUP`) asks for a reload.
fn reload_on_sighup(mut hup: tokio::signal::unix::Signal, trigger: Arc<Notify>) {
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading the config");
            trigger.notify_one();
        }
    });
}

/// SIGUSR1 reopens the access-log file (for logrotate).
fn reopen_on_sigusr1(access: crate::observe::access_log::AccessLogHandle) {
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
