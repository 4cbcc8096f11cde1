//! isoproxy's Worker runtime: V8 isolates running JavaScript Workers.
//!
//! `proxy/` reaches the runtime only through [`WorkerPool`], a `Send + Sync`
//! handle, and gives it an [`Outbound`] through which Workers reach the
//! network. No V8 type leaves this crate.
#![deny(missing_docs)]

mod alloc;
mod api;
mod glue;
mod isolate;
mod isolate_loop;
mod modules;
mod ops;
mod pool;
mod resources;
mod sched;
mod script;
mod snapshot;
mod spec;
mod state;

pub use api::*;
pub use sched::QueueLimits;

use rustc_hash::FxHashMap as HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use isoproxy_schema::model::Config;
use tokio::sync::{mpsc, oneshot};

use crate::pool::{Job, Msg, Shared};
use crate::spec::WorkerSpec;

/// The most Workers one request may pass through in a chain of
/// Worker-to-Worker calls (service bindings, a Worker calling itself),
/// counting the first. The call that would go deeper fails at once: its
/// `fetch()` rejects with an `Error` naming this limit, and the observer's
/// [`Observer::depth_exceeded`] counts it. Cloudflare's hosted platform
/// cuts such chains at the same depth.
pub const MAX_WORKER_DEPTH: u32 = 32;

/// Settings of the isolate threads.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    /// Number of isolate threads; 0 = one per core.
    pub threads: usize,
    /// Bounds of the queues in front of the isolates.
    pub queue: QueueLimits,
    /// How long an isolate on one of a Worker's extra threads may sit idle
    /// before it exits (a Worker's first thread keeps its isolate); zero
    /// means [`DEFAULT_IDLE_ISOLATE`].
    pub idle_isolate: Duration,
    /// Where `caches.default` and `caches.open()` keep responses; without
    /// one, the Cache API's methods reject.
    pub cache: Option<CacheHandle>,
}

/// How long an extra isolate of a Worker stays after its last request.
pub const DEFAULT_IDLE_ISOLATE: Duration = Duration::from_secs(30);

/// A failure to start Workers (bad script, failed top-level evaluation).
#[derive(Debug, Clone, thiserror::Error)]
#[error("worker {worker}: {message}")]
pub struct RuntimeError {
    /// Service name of the Worker.
    pub worker: String,
    /// What went wrong, with the script location when known.
    pub message: String,
}

/// Why a Worker produced no response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct WorkerFailure {
    /// The class of failure; decides the status.
    pub outcome: Outcome,
    /// A short description for the log (never sent to the client).
    pub message: String,
}

/// The outcome of one Worker invocation and what it cost.
#[derive(Debug)]
pub struct Invocation {
    /// The Worker's response, or why there is none.
    pub result: Result<Response, WorkerFailure>,
    /// JavaScript CPU time the request used up to its response headers or
    /// its failure (for a CPU-limit breach: at least the limit; for a
    /// wall-limit breach or a canceled request: what it had used by then).
    /// JavaScript that runs later (`waitUntil`, a body produced in JS) is
    /// not included.
    pub cpu: Duration,
}

/// What loading a Worker cost, measured at start-up.
#[derive(Debug, Clone, Default)]
pub struct WorkerStats {
    /// Service name.
    pub worker: String,
    /// JS heap in use after loading the Worker, bytes.
    pub heap_bytes: usize,
    /// Creating the isolate and context with the Web API glue.
    pub create_time: Duration,
    /// Evaluating the Worker's own code.
    pub load_time: Duration,
}

/// The handle to the isolate threads. Cheap to clone.
#[derive(Clone)]
pub struct WorkerPool {
    inner: Arc<Inner>,
}

struct Inner {
    threads: Vec<mpsc::UnboundedSender<Msg>>,
    specs: HashMap<String, Arc<WorkerSpec>>,
    stats: Vec<WorkerStats>,
    observer: Arc<dyn Observer>,
    live_requests: Arc<AtomicUsize>,
    sched: Arc<sched::Scheduler>,
}

static V8_INIT: Once = Once::new();

/// The V8 platform, kept to pump each isolate's foreground tasks (the steps
/// of an asynchronous WebAssembly compilation among them).
static PLATFORM: std::sync::OnceLock<v8::SharedRef<v8::Platform>> = std::sync::OnceLock::new();

/// The V8 platform, once V8 is initialized.
pub(crate) fn platform() -> Option<&'static v8::SharedRef<v8::Platform>> {
    PLATFORM.get()
}

/// V8 flags set before the config's own (which may override them).
///
/// TurboFan is on, but Turboshaft's loop unrolling is off: with it, this V8
/// (v8 crate 152.2) drops the per-iteration stack check (where interrupts,
/// and so `terminate_execution`, are serviced) from loops it believes run
/// only a few thousand times (`LoopStackCheckElisionReducer`), and a loop
/// such as `for (;;) new Array(100).fill(1)` loses its check although it
/// never ends; neither the CPU watchdog nor the heap limit could stop it.
/// Without loop unrolling every loop shape in `tests/turbofan.rs` (forced
/// optimization, natural tier-up and on-stack replacement) stops at the CPU
/// limit. `v8Flags = ["--no-turbofan"]` in the config turns TurboFan off.
///
/// `--preconfigured-old-space-size=8`: an isolate's first full collection
/// comes once 8 MB (not V8's default 32 MB) have been promoted to the old
/// generation; after it V8 sizes the limit from what is live. A Worker's
/// per-request garbage promoted by the young collections otherwise piles up
/// to 30 MB per isolate before it is collected: 20 MB of peak RSS with one
/// pass-through Worker under load, with the same requests/s.
const DEFAULT_V8_FLAGS: &str = "--turbofan --no-turboshaft-loop-unrolling --preconfigured-old-space-size=8";

fn init_v8(flags: &[String]) {
    V8_INIT.call_once(|| {
        v8::V8::set_flags_from_string(DEFAULT_V8_FLAGS);
        if !flags.is_empty() {
            v8::V8::set_flags_from_string(&flags.join(" "));
        }
        let platform = v8::new_default_platform(0, false).make_shared();
        let _ = PLATFORM.set(platform.clone());
        v8::V8::initialize_platform(platform);
        v8::V8::initialize();
    });
}

impl WorkerPool {
    /// Start the isolate threads for the Workers of `config`. Every Worker is
    /// compiled and evaluated once first, so a broken script fails here.
    pub fn start(
        config: Arc<Config>,
        options: PoolOptions,
        outbound: Arc<dyn Outbound>,
        observer: Arc<dyn Observer>,
    ) -> Result<WorkerPool, RuntimeError> {
        init_v8(&config.v8_flags);
        // Build the startup snapshot before any isolate thread needs it.
        let _ = snapshot::blob();
        let specs = spec::resolve(&config);
        let n = match options.threads {
            0 => match config.server.isolate_threads {
                0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                n => n as usize,
            },
            n => n,
        };
        let live_requests = Arc::new(AtomicUsize::new(0));
        let mut names: Vec<&String> = specs.keys().collect();
        names.sort();
        let sched = Arc::new(sched::Scheduler::new(names.iter().copied(), n, options.queue));
        let idle_isolate = if options.idle_isolate.is_zero() {
            DEFAULT_IDLE_ISOLATE
        } else {
            options.idle_isolate
        };
        let shared = Arc::new(Shared {
            specs: specs.clone(),
            outbound,
            observer: observer.clone(),
            live_requests: live_requests.clone(),
            sched: sched.clone(),
            idle_isolate,
            inboxes: std::sync::OnceLock::new(),
            cache: options.cache.clone(),
        });
        let threads = pool::start_threads(n, shared.clone()).map_err(|message| RuntimeError {
            worker: String::new(),
            message,
        })?;
        let _ = shared.inboxes.set(threads.iter().map(|t| t.downgrade()).collect());
        let mut stats = Vec::new();
        // Every Worker is loaded once, the loads spread over the isolate
        // threads; results are read in name order, so the first failure
        // (by name) is the one reported.
        let pending: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let (tx, rx) = std::sync::mpsc::channel();
                let sent = threads
                    .get(i % threads.len().max(1))
                    .is_some_and(|t| t.send(Msg::Check((*name).clone(), tx)).is_ok());
                (*name, sent, rx)
            })
            .collect();
        for (name, sent, rx) in pending {
            let result = if sent {
                rx.recv().unwrap_or_else(|_| Err("isolate thread died".into()))
            } else {
                Err("no isolate thread".into())
            };
            match result {
                Ok(s) => {
                    tracing::info!(
                        worker = %name,
                        heap_bytes = s.heap_bytes,
                        create_us = s.create_time.as_micros() as u64,
                        load_us = s.load_time.as_micros() as u64,
                        "worker loaded"
                    );
                    stats.push(s);
                }
                Err(message) => {
                    return Err(RuntimeError {
                        worker: name.clone(),
                        message,
                    })
                }
            }
        }
        Ok(WorkerPool {
            inner: Arc::new(Inner {
                threads,
                specs,
                stats,
                observer,
                live_requests,
                sched,
            }),
        })
    }

    /// What each Worker cost to load (measured at start).
    pub fn stats(&self) -> &[WorkerStats] {
        &self.inner.stats
    }

    /// Requests the isolates still hold: answered or not, until their
    /// JavaScript is done with them (`waitUntil` included), at most the
    /// Worker's `waitUntilMs` after the response is complete. A request
    /// whose caller stopped waiting (client gone, wall-time limit) is
    /// dropped as soon as none of its own operations is pending, and at
    /// most `waitUntilMs` later. What a request started and left pending
    /// (timers, subrequests, body reads) is cancelled when it goes.
    pub fn live_requests(&self) -> usize {
        self.inner.live_requests.load(Ordering::SeqCst)
    }

    /// Run the `fetch` handler of Worker service `worker` for `request`.
    /// Fails with [`Outcome::WallLimit`] when no response headers arrive
    /// within the Worker's wall-time limit. Dropping the future before it
    /// resolves (the client went away) aborts the request's `signal` in the
    /// Worker and reports the invocation as [`Outcome::Canceled`].
    ///
    /// This is the `default` export with an empty `ctx.props`; see
    /// [`WorkerPool::fetch_entrypoint`] for a socket whose service designator
    /// names an entrypoint or props.
    pub async fn fetch(&self, worker: &str, request: Request, info: RequestInfo) -> Result<Response, WorkerFailure> {
        self.fetch_entrypoint(worker, None, None, request, info).await
    }

    /// As [`WorkerPool::fetch`], served by the named export `entrypoint` of a
    /// modules Worker (`None` or `"default"`: the default export), with
    /// `ctx.props` parsed from `props_json` (`None`: an empty object). An
    /// export serves requests if it is an object with a `fetch(request, env,
    /// ctx)` method or a class whose instances, constructed with `(ctx,
    /// env)`, have `fetch(request)`; any other name fails the request with
    /// [`Outcome::Exception`].
    pub async fn fetch_entrypoint(
        &self,
        worker: &str,
        entrypoint: Option<&str>,
        props_json: Option<&str>,
        request: Request,
        info: RequestInfo,
    ) -> Result<Response, WorkerFailure> {
        self.invoke(worker, entrypoint, props_json, request, info).await.result
    }

    /// As [`WorkerPool::fetch_entrypoint`], also returning the JavaScript
    /// CPU time the request used (see [`Invocation::cpu`]).
    pub async fn invoke(
        &self,
        worker: &str,
        entrypoint: Option<&str>,
        props_json: Option<&str>,
        request: Request,
        info: RequestInfo,
    ) -> Invocation {
        let cpu_ns = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let result = self
            .run(worker, entrypoint, props_json, request, info, cpu_ns.clone())
            .await;
        Invocation {
            result,
            cpu: Duration::from_nanos(cpu_ns.load(Ordering::SeqCst)),
        }
    }

    async fn run(
        &self,
        worker: &str,
        entrypoint: Option<&str>,
        props_json: Option<&str>,
        request: Request,
        info: RequestInfo,
        cpu_ns: Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<Response, WorkerFailure> {
        let Some(spec) = self.inner.specs.get(worker) else {
            return Err(WorkerFailure {
                outcome: Outcome::Internal,
                message: format!("no Worker service named {worker:?}"),
            });
        };
        let (i, ticket) = match self.inner.sched.admit(worker, None) {
            Some(Ok(admitted)) => admitted,
            Some(Err(full)) => {
                let message = match full {
                    sched::Full::Worker => "too many requests waiting for this Worker",
                    sched::Full::Thread => "too many requests waiting for the isolate threads",
                };
                tracing::warn!(target: "isoproxy::worker", worker, message, "request refused");
                return Err(WorkerFailure {
                    outcome: Outcome::Overloaded,
                    message: message.into(),
                });
            }
            None => {
                return Err(WorkerFailure {
                    outcome: Outcome::Internal,
                    message: format!("no Worker service named {worker:?}"),
                })
            }
        };
        let (tx, rx) = oneshot::channel();
        // Dropping `done` unsent (this future dropped before the end) tells
        // the isolate that the client went away.
        let (done, gone) = oneshot::channel::<pool::Settled>();
        let job = Job {
            worker: worker.to_string(),
            entrypoint: pool::Entrypoint {
                name: entrypoint.map(str::to_string),
                props_json: props_json.map(str::to_string),
            },
            request,
            info,
            reply: tx,
            gone: Some(gone),
            cpu_ns: cpu_ns.clone(),
            depth: 1,
            ticket: Some(ticket),
        };
        if self.inner.threads.get(i).map(|t| t.send(Msg::Job(job)).is_ok()) != Some(true) {
            return Err(WorkerFailure {
                outcome: Outcome::Overloaded,
                message: "isolate thread unavailable".into(),
            });
        }
        let wall = Duration::from_millis(spec.limits().wall_ms.max(1) as u64);
        let mut settled = pool::Settled::Answered;
        let result = match tokio::time::timeout(wall, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(WorkerFailure {
                outcome: Outcome::Internal,
                message: "the isolate dropped the request".into(),
            }),
            Err(_) => {
                // The isolate gives up on the request too (see `Settled`).
                settled = pool::Settled::WallLimit;
                tracing::warn!(target: "isoproxy::worker", worker, limit_ms = spec.limits().wall_ms, "wall-time limit exceeded");
                // The isolate's own report is dropped with the reply channel;
                // the CPU time is what the request had used by now.
                let cpu = Duration::from_nanos(cpu_ns.load(Ordering::SeqCst));
                self.inner.observer.invocation(worker, Outcome::WallLimit, cpu);
                Err(WorkerFailure {
                    outcome: Outcome::WallLimit,
                    message: format!("no response within the wall-time limit of {} ms", spec.limits().wall_ms),
                })
            }
        };
        let _ = done.send(settled);
        result
    }
}
