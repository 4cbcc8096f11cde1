//! The running server's listeners and live reload.
//!
//! Each listening socket has a [`Slot`] holding its current
//! [`SocketServer`]; connections load it per request. A reload (SIGHUP or
//! `--watch`) loads, validates and builds the whole next generation on a
//! blocking thread, binds any new sockets, and only then switches: kept
//! listeners get the new server, new ones start accepting, removed ones
//! stop accepting and their connections drain. Any failure before the
//! switch leaves the running generation untouched.

use std::io::Write;
use std::net::TcpListener as StdListener;
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use isoproxy_schema::model::{Config, Socket};
use pingora_core::server::configuration::ServerConf;
use tokio::sync::{watch, Notify};

use crate::args::ServeArgs;
use crate::downstream::conn::{Slot, SocketServer};
use crate::server::generation::{self, Generation};

/// How often `--watch` looks at the files.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Counts open downstream connections so shutdown can wait for them.
#[derive(Default)]
pub struct Active {
    count: AtomicUsize,
    idle: Notify,
}

impl Active {
    /// Open connections now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Resolve once no connection is open.
    pub async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.count() == 0 {
                return;
            }
            idle.await;
        }
    }
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

/// The `--control-fd` writer: a thread of its own, so that a parent that
/// stops reading can never block a reload (or shutdown) on a full pipe.
/// Lines that do not fit in its queue are dropped.
struct Control {
    tx: std::sync::mpsc::SyncSender<String>,
}

impl Control {
    fn start(mut f: std::fs::File) -> Option<Control> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(1024);
        let spawned = std::thread::Builder::new().name("control-fd".into()).spawn(move || {
            while let Ok(line) = rx.recv() {
                if f.write_all(line.as_bytes()).and_then(|()| f.flush()).is_err() {
                    return;
                }
            }
        });
        match spawned {
            Ok(_) => Some(Control { tx }),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the control-fd writer");
                None
            }
        }
    }

    fn send(&self, line: &serde_json::Value) {
        let _ = self.tx.try_send(format!("{line}\n"));
    }
}

/// One listening socket.
struct Listener {
    name: String,
    /// The configured address (after `-s` overrides), when not an fd.
    address: Option<String>,
    /// The inherited descriptor (`-S`), when one.
    fd: Option<i32>,
    slot: Arc<Slot>,
    /// Set to stop accepting and drain this socket's connections.
    stop: watch::Sender<bool>,
    /// A copy of the listening socket, to hand to a successor process
    /// (`--upgrade-socket`); dropped when shutdown begins so that the socket
    /// really closes.
    handoff: Option<std::os::fd::OwnedFd>,
}

impl Listener {
    fn same_place(&self, s: &Socket) -> bool {
        self.address == s.address && self.fd == s.fd
    }
}

struct State {
    current: Arc<Generation>,
    listeners: Vec<Listener>,
    /// Shutdown has begun: no reload may open anything any more.
    closing: bool,
}

/// The running server: listeners, the current generation, and what a
/// reload needs to build the next one.
pub struct Server {
    args: ServeArgs,
    /// The config the process started with: settings a reload cannot
    /// change keep these values.
    initial: Arc<Config>,
    conf: Arc<ServerConf>,
    metrics: Arc<crate::observe::metrics::Metrics>,
    access: crate::observe::access_log::AccessLogHandle,
    control: Option<Control>,
    /// Copies of the admin and metrics listeners (name, address, socket),
    /// for a successor process.
    internal: Mutex<Vec<(String, String, std::os::fd::OwnedFd)>>,
    active: Arc<Active>,
    state: Mutex<State>,
}

/// A generation built by a reload, with the listeners it needs and has not
/// got yet, bound but not accepting.
struct Prepared {
    generation: Generation,
    /// For each socket of the new config: an existing listener to keep
    /// (its index) or a freshly bound one.
    plan: Vec<Place>,
    /// The access log, reconfigured when its settings changed.
    access: Option<crate::observe::access_log::Retarget>,
}

enum Place {
    Keep(usize),
    New(StdListener),
}

/// A [`Place`] with a new listener registered with the runtime.
enum Ready {
    Keep(usize),
    New(tokio::net::TcpListener),
}

/// Bind (or adopt) one socket's listener. `inherited` is the socket as a
/// previous process handed it over (`--upgrade`).
pub fn bind(s: &Socket, inherited: Option<std::os::fd::OwnedFd>) -> Result<StdListener, String> {
    let l = match (inherited, s.fd, &s.address) {
        (Some(fd), _, _) => StdListener::from(fd),
        (None, Some(fd), _) => {
            // SAFETY: the fd was handed to us with `--socket-fd` for this
            // socket; nothing else in the process owns it. A reload never
            // gets here (it only keeps listeners adopted at start-up).
            unsafe { StdListener::from_raw_fd(fd) }
        }
        (None, None, Some(addr)) => {
            let addr = match addr.strip_prefix("*:") {
                Some(port) => format!("0.0.0.0:{port}"),
                None => addr.clone(),
            };
            StdListener::bind(&addr).map_err(|e| format!("socket {}: cannot listen on {addr}: {e}", s.name))?
        }
        (None, None, None) => return Err(format!("socket {}: no address", s.name)),
    };
    l.set_nonblocking(true).map_err(|e| format!("socket {}: {e}", s.name))?;
    Ok(l)
}

fn to_tokio(s: &Socket, l: StdListener) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::from_std(l).map_err(|e| format!("socket {}: {e}", s.name))
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the state half-changed in
    // a way worse than stopping would; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Server {
    /// Start serving generation `first` on `listeners` (one per socket, in
    /// config order). Must run inside the tokio runtime.
    pub fn start(
        args: ServeArgs,
        conf: Arc<ServerConf>,
        metrics: Arc<crate::observe::metrics::Metrics>,
        access: crate::observe::access_log::AccessLogHandle,
        control: Option<std::fs::File>,
        first: Generation,
        listeners: Vec<StdListener>,
    ) -> Result<Arc<Server>, String> {
        let sockets = first.config.sockets.clone();
        let servers = first.servers.clone();
        metrics.config_generation.set(first.number as i64);
        let server = Arc::new(Server {
            args,
            initial: first.config.clone(),
            conf,
            metrics,
            access,
            control: control.and_then(Control::start),
            internal: Mutex::new(Vec::new()),
            active: Arc::new(Active::default()),
            state: Mutex::new(State {
                current: Arc::new(first),
                listeners: Vec::new(),
                closing: false,
            }),
        });
        let mut started = Vec::new();
        for ((sock, srv), std_listener) in sockets.iter().zip(servers).zip(listeners) {
            let l = to_tokio(sock, std_listener)?;
            started.push(server.listen(sock, l, srv));
        }
        lock(&server.state).listeners = started;
        Ok(server)
    }

    /// Open connections (all generations).
    pub fn active(&self) -> &Arc<Active> {
        &self.active
    }

    /// The current generation's drain deadline.
    pub fn drain_timeout_ms(&self) -> u32 {
        lock(&self.state).current.config.server.drain_timeout_ms
    }

    /// Write one JSON line on the control fd, if there is one.
    pub fn report(&self, line: &serde_json::Value) {
        if let Some(c) = &self.control {
            c.send(line);
        }
    }

    /// Start accepting on `std_listener` for socket `sock`, served by `srv`.
    fn listen(self: &Arc<Self>, sock: &Socket, listener: tokio::net::TcpListener, srv: Arc<SocketServer>) -> Listener {
        let port = listener.local_addr().map_or(0, |a| a.port());
        let handoff = std::os::fd::AsFd::as_fd(&listener).try_clone_to_owned().ok();
        tracing::info!(socket = %sock.name, port, "listening");
        self.report(&serde_json::json!({"event": "listen", "socket": sock.name, "port": port}));
        let slot = Arc::new(ArcSwap::new(srv));
        let (stop_tx, mut stop) = watch::channel(false);
        let active = self.active.clone();
        let open_connections = self.metrics.connections_active.with_label_values(&[sock.name.as_str()]);
        let conn_slot = slot.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = listener.accept() => match r {
                        Ok((tcp, _)) => {
                            let guard = ActiveGuard::new(&active);
                            let slot = conn_slot.clone();
                            let sd = stop.clone();
                            let open_connections = open_connections.clone();
                            open_connections.inc();
                            tokio::spawn(async move {
                                crate::downstream::conn::serve(slot, tcp, sd).await;
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
            // Dropping the listener closes the socket: no new connections.
        });
        Listener {
            name: sock.name.clone(),
            address: sock.address.clone(),
            fd: sock.fd,
            slot,
            stop: stop_tx,
            handoff,
        }
    }

    /// Keep a copy of the admin or metrics listener for a successor.
    pub fn keep_internal(&self, name: &str, address: &str, fd: std::os::fd::OwnedFd) {
        let mut v = self.internal.lock().unwrap_or_else(|p| p.into_inner());
        v.push((name.to_string(), address.to_string(), fd));
    }

    /// Copies of the listening sockets, for a successor process.
    pub fn offer(&self) -> Vec<crate::server::upgrade::Offered> {
        let st = lock(&self.state);
        if st.closing {
            return Vec::new();
        }
        let mut out: Vec<crate::server::upgrade::Offered> = st
            .listeners
            .iter()
            .filter_map(|l| {
                let fd = l.handoff.as_ref()?.try_clone().ok()?;
                Some(crate::server::upgrade::Offered {
                    name: l.name.clone(),
                    address: l.address.clone(),
                    internal: false,
                    fd,
                })
            })
            .collect();
        let internal = self.internal.lock().unwrap_or_else(|p| p.into_inner());
        for (name, address, fd) in internal.iter() {
            if let Ok(fd) = fd.try_clone() {
                out.push(crate::server::upgrade::Offered {
                    name: name.clone(),
                    address: Some(address.clone()),
                    internal: true,
                    fd,
                });
            }
        }
        out
    }

    /// Stop accepting everywhere and tell every connection to finish.
    /// Returns the servers whose Pingora apps should be told too.
    pub fn begin_shutdown(&self) -> Vec<Arc<SocketServer>> {
        let mut st = lock(&self.state);
        st.closing = true;
        let mut out = Vec::new();
        for l in &mut st.listeners {
            l.handoff = None;
            l.stop.send_replace(true);
            out.push(l.slot.load_full());
        }
        out
    }

    /// Run reloads as `trigger` asks for them, one at a time. Requests that
    /// arrive while one runs collapse into a single follow-up reload.
    pub fn spawn_reloader(self: &Arc<Self>, trigger: Arc<Notify>) {
        let server = self.clone();
        tokio::spawn(async move {
            loop {
                trigger.notified().await;
                server.reload().await;
            }
        });
    }

    /// Load, validate and build the next generation, then switch to it, or
    /// log why not and keep the current one.
    async fn reload(self: &Arc<Self>) {
        let (number, old) = {
            let st = lock(&self.state);
            if st.closing {
                return;
            }
            (st.current.number + 1, st.current.config.clone())
        };
        tracing::info!(generation = number, "reloading config");
        let me = self.clone();
        let prepared = match tokio::task::spawn_blocking(move || me.prepare(number, &old)).await {
            Ok(r) => r,
            Err(e) => Err(format!("reload task failed: {e}")),
        };
        match prepared.and_then(|p| self.commit(p)) {
            Ok(()) => {
                self.metrics.config_reloads.with_label_values(&["ok"]).inc();
                self.metrics.config_generation.set(number as i64);
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                self.metrics.config_last_reload.set(now);
                tracing::info!("config reloaded (generation {number})");
                self.report(&serde_json::json!({"event": "reload", "result": "ok", "generation": number}));
            }
            Err(e) => {
                let current = number - 1;
                self.metrics.config_reloads.with_label_values(&["error"]).inc();
                tracing::error!("config reload failed, still serving generation {current}:\n{e}");
                self.report(&serde_json::json!({"event": "reload", "result": "error", "generation": current}));
            }
        }
    }

    /// The blocking part of a reload: load, build, bind.
    fn prepare(&self, number: u64, old: &Config) -> Result<Prepared, String> {
        let loaded = self.args.config.load().map_err(|e| e.to_string())?;
        let config = Arc::new(loaded.config);
        warn_fixed_settings(&self.initial, &config, &self.args);
        let access = if config.access_log != old.access_log {
            Some(
                self.access
                    .prepare(&old.access_log, &config.access_log)
                    .map_err(|e| format!("access log: {e}"))?,
            )
        } else {
            None
        };
        let generation = generation::build(number, config.clone(), loaded.files, &self.conf, &self.metrics)
            .map_err(|e| e.message)?;
        let st = lock(&self.state);
        let mut taken = vec![false; st.listeners.len()];
        let mut plan = Vec::with_capacity(config.sockets.len());
        for s in &config.sockets {
            let same_name = st
                .listeners
                .iter()
                .position(|l| l.name == s.name && l.same_place(s))
                .filter(|i| !taken[*i]);
            // A renamed socket on a fixed address keeps its listener too
            // (binding the address again would fail while the old one is open).
            let same_place = || {
                let fixed = s.fd.is_some() || s.address.as_deref().is_some_and(|a| !a.ends_with(":0"));
                st.listeners
                    .iter()
                    .enumerate()
                    .position(|(i, l)| fixed && !taken[i] && l.same_place(s))
            };
            match same_name.or_else(same_place) {
                Some(i) => {
                    taken[i] = true;
                    plan.push(Place::Keep(i));
                }
                None if s.fd.is_some() => {
                    return Err(format!(
                        "socket {}: an inherited descriptor can only be adopted at start-up; restart to use it",
                        s.name
                    ))
                }
                None => plan.push(Place::New(bind(s, None)?)),
            }
        }
        Ok(Prepared {
            generation,
            plan,
            access,
        })
    }

    /// Switch to a prepared generation. Runs on the runtime; never blocks
    /// for long.
    fn commit(self: &Arc<Self>, p: Prepared) -> Result<(), String> {
        let mut st = lock(&self.state);
        if st.closing {
            return Err("shutting down".into());
        }
        let Prepared {
            generation,
            plan,
            access,
        } = p;
        let sockets = generation.config.sockets.clone();
        // Everything that can fail first, so a failure changes nothing.
        let mut places = Vec::with_capacity(plan.len());
        for (s, place) in sockets.iter().zip(plan) {
            places.push(match place {
                Place::Keep(i) if i < st.listeners.len() => Ready::Keep(i),
                Place::Keep(_) => return Err(format!("socket {}: listener vanished", s.name)),
                Place::New(l) => Ready::New(to_tokio(s, l)?),
            });
        }
        let mut old: Vec<Option<Listener>> = std::mem::take(&mut st.listeners).into_iter().map(Some).collect();
        let mut next = Vec::with_capacity(places.len());
        for ((s, place), srv) in sockets.iter().zip(places).zip(generation.servers.iter().cloned()) {
            match place {
                Ready::Keep(i) => {
                    let Some(mut l) = old.get_mut(i).and_then(Option::take) else {
                        // Two sockets planned onto one listener cannot happen
                        // (prepare marks each taken); skip rather than panic.
                        continue;
                    };
                    let previous = l.slot.swap(srv);
                    previous.retired.send_replace(true);
                    l.name = s.name.clone();
                    next.push(l);
                }
                Ready::New(listener) => next.push(self.listen(s, listener, srv)),
            }
        }
        for l in old.into_iter().flatten() {
            tracing::info!(socket = %l.name, "socket removed by reload: draining");
            l.stop.send_replace(true);
            l.slot.load().retired.send_replace(true);
        }
        st.listeners = next;
        if let Some(a) = access {
            self.access.apply(a);
        }
        // The previous generation is dropped here; its isolate threads stop
        // once the requests still holding it have finished.
        st.current = Arc::new(generation);
        Ok(())
    }

    /// With `--watch`: look at every file of the current generation every
    /// half second and ask for a reload once a change has held still for
    /// one look (so a file caught half-written is read again after the
    /// writer is done). A change that fails to load is not retried until
    /// the files change again.
    pub fn spawn_watcher(self: &Arc<Self>, trigger: Arc<Notify>) {
        let server = self.clone();
        tokio::spawn(async move {
            let files = || lock(&server.state).current.files.clone();
            let mut watched = files();
            let mut seen = signature(&watched);
            let mut pending: Option<Vec<FileStamp>> = None;
            loop {
                tokio::time::sleep(WATCH_INTERVAL).await;
                let now_files = files();
                if now_files != watched {
                    // A reload changed the set of files (new import or embed).
                    watched = now_files;
                    seen = signature(&watched);
                    pending = None;
                    continue;
                }
                let now = signature(&watched);
                if now == seen {
                    pending = None;
                    continue;
                }
                if pending.as_ref() == Some(&now) {
                    tracing::info!("--watch: config files changed");
                    seen = now;
                    pending = None;
                    trigger.notify_one();
                } else {
                    pending = Some(now);
                }
            }
        });
    }
}

/// What `--watch` compares: size, modification time and inode of a file
/// (`None` when it cannot be read).
type FileStamp = Option<(u64, Option<SystemTime>, u64)>;

fn signature(files: &[PathBuf]) -> Vec<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|p| std::fs::metadata(p).ok().map(|m| (m.len(), m.modified().ok(), m.ino())))
        .collect()
}

/// Settings a reload cannot apply: log each one that differs from the
/// value the process started with (`old`), which stays in force until a
/// restart.
fn warn_fixed_settings(old: &Config, new: &Config, args: &ServeArgs) {
    let mut fixed = Vec::new();
    if old.server.threads != new.server.threads {
        fixed.push("server.threads");
    }
    if old.v8_flags != new.v8_flags {
        fixed.push("v8Flags");
    }
    if old.structured_logging != new.structured_logging {
        fixed.push("structuredLogging");
    }
    let metrics = |c: &Config| {
        let m = c.metrics.as_ref();
        let address = args.metrics_addr.clone().or_else(|| m.map(|m| m.address.clone()));
        (address, m.map(|m| m.path.clone()))
    };
    if metrics(old) != metrics(new) {
        fixed.push("metrics");
    }
    if old.admin != new.admin {
        fixed.push("admin");
    }
    if old.access_log.buffer_records != new.access_log.buffer_records {
        fixed.push("accessLog.bufferRecords");
    }
    for f in fixed {
        tracing::warn!("config reload: {f} changed but needs a restart to take effect; keeping the running value");
    }
}
