//! The isolate threads: each runs a current-thread tokio runtime and owns one
//! isolate per Worker it has served; requests reach it through one channel.
//! A watchdog thread enforces the per-request CPU limit.

use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::api::{Observer, Outbound, Request, RequestInfo, Response};
use crate::spec::WorkerSpec;
use crate::WorkerFailure;
use crate::{isolate, isolate_loop};

/// Which export of a Worker serves a call, and the `ctx.props` it sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Entrypoint {
    /// A named export of a modules Worker; `None` is `default`.
    pub(crate) name: Option<String>,
    /// `ctx.props` as JSON; `None` is `{}`.
    pub(crate) props_json: Option<String>,
}

/// A request for a Worker, as sent to an isolate thread.
pub(crate) struct Job {
    pub(crate) worker: String,
    pub(crate) entrypoint: Entrypoint,
    pub(crate) request: Request,
    pub(crate) info: RequestInfo,
    pub(crate) reply: oneshot::Sender<Result<Response, WorkerFailure>>,
    /// Settles with an error if the caller stops waiting for `reply` (the
    /// downstream client went away); otherwise says how the wait ended.
    pub(crate) gone: Option<oneshot::Receiver<Settled>>,
    /// JavaScript CPU time (ns) spent on the request so far; kept up to date
    /// by the isolate, and final before `reply` is sent.
    pub(crate) cpu_ns: Arc<AtomicU64>,
    /// Workers in the chain of calls this request makes, itself included:
    /// 1 from the proxy, one more per Worker-to-Worker call (at most
    /// [`crate::MAX_WORKER_DEPTH`]).
    pub(crate) depth: u32,
    /// Counts the request as waiting in the scheduler's queues until the
    /// isolate starts it; `None` for Worker-to-Worker calls, which run on
    /// the caller's thread without queueing.
    pub(crate) ticket: Option<crate::sched::Ticket>,
}

/// How the caller's wait for a reply ended (when it did not just go away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    /// The caller has its answer.
    Answered,
    /// The caller gave up at the wall-time limit (and reported it).
    WallLimit,
}

/// Counts requests held by isolates: each `Pending` holds one, so every
/// way a request leaves an isolate's table counts it down.
pub(crate) struct LiveRequest(Arc<std::sync::atomic::AtomicUsize>);

impl LiveRequest {
    pub(crate) fn new(count: &Arc<std::sync::atomic::AtomicUsize>) -> LiveRequest {
        count.fetch_add(1, Ordering::SeqCst);
        LiveRequest(count.clone())
    }
}

impl Drop for LiveRequest {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A message to an isolate thread.
#[allow(clippy::large_enum_variant)] // `Check` is rare; jobs are the common case
pub(crate) enum Msg {
    /// Serve a request.
    Job(Job),
    /// Load a Worker once and report what it cost (start-up check).
    Check(String, std::sync::mpsc::Sender<Result<crate::WorkerStats, String>>),
}

/// What every isolate thread shares.
pub(crate) struct Shared {
    pub(crate) specs: HashMap<String, Arc<WorkerSpec>>,
    pub(crate) outbound: Arc<dyn Outbound>,
    pub(crate) observer: Arc<dyn Observer>,
    /// Requests in the isolates' tables, on every thread.
    pub(crate) live_requests: Arc<std::sync::atomic::AtomicUsize>,
    /// Which threads each Worker is placed on.
    pub(crate) sched: Arc<crate::sched::Scheduler>,
    /// How long an isolate on one of a Worker's extra threads may sit idle
    /// before it exits.
    pub(crate) idle_isolate: Duration,
    /// Every isolate thread's inbox, for calls to a Worker placed on
    /// another thread; weak, so that dropping the pool still ends the
    /// threads. Set once the threads have started.
    pub(crate) inboxes: std::sync::OnceLock<Vec<mpsc::WeakUnboundedSender<Msg>>>,
    /// The Cache API's store, if the embedder gave one.
    pub(crate) cache: Option<crate::api::CacheHandle>,
}

/// The CPU-time watchdog's view of one isolate thread.
pub(crate) struct CpuSlot {
    clock: libc::clockid_t,
    /// Thread CPU time (ns) after which execution is terminated; 0 = idle.
    deadline_ns: AtomicU64,
    handle: Mutex<Option<v8::IsolateHandle>>,
    fired: AtomicBool,
}

/// CPU time used so far by the calling thread.
pub(crate) fn thread_cpu() -> Duration {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

impl CpuSlot {
    fn for_current_thread() -> CpuSlot {
        let mut clock: libc::clockid_t = libc::CLOCK_THREAD_CPUTIME_ID;
        // SAFETY: pthread_self is always valid; `clock` is writable.
        let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
        if rc != 0 {
            clock = libc::CLOCK_THREAD_CPUTIME_ID;
        }
        CpuSlot {
            clock,
            deadline_ns: AtomicU64::new(0),
            handle: Mutex::new(None),
            fired: AtomicBool::new(false),
        }
    }

    /// Arm the watchdog: terminate `handle`'s execution once this thread has
    /// used `budget` more CPU time.
    pub(crate) fn arm(&self, handle: &v8::IsolateHandle, budget: Duration) {
        if let Ok(mut h) = self.handle.lock() {
            *h = Some(handle.clone());
        }
        self.fired.store(false, Ordering::SeqCst);
        let now = thread_cpu().as_nanos() as u64;
        self.deadline_ns.store(now + budget.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Disarm; returns whether the watchdog fired since `arm`.
    pub(crate) fn disarm(&self) -> bool {
        self.deadline_ns.store(0, Ordering::SeqCst);
        if let Ok(mut h) = self.handle.lock() {
            *h = None;
        }
        self.fired.swap(false, Ordering::SeqCst)
    }

    fn check(&self) {
        let deadline = self.deadline_ns.load(Ordering::SeqCst);
        if deadline == 0 {
            return;
        }
        // A thread's CPU clock id is usable from any thread (Linux).
        let Some(now) = clock_ns(self.clock) else { return };
        if now >= deadline {
            if let Ok(h) = self.handle.lock() {
                if let Some(h) = h.as_ref() {
                    if self.deadline_ns.load(Ordering::SeqCst) != 0 {
                        self.fired.store(true, Ordering::SeqCst);
                        h.terminate_execution();
                    }
                }
            }
        }
    }
}

/// Per-thread state shared by the isolates on that thread.
pub(crate) struct ThreadEnv {
    pub(crate) shared: Arc<Shared>,
    /// This thread's index among the isolate threads.
    pub(crate) index: usize,
    pub(crate) cpu: Arc<CpuSlot>,
    /// Inbox of the live isolate of each Worker on this thread.
    isolates: RefCell<HashMap<String, (u64, mpsc::UnboundedSender<Job>)>>,
    generation: std::cell::Cell<u64>,
}

impl ThreadEnv {
    /// Hand `job` to the Worker's isolate on this thread, creating it first
    /// if needed.
    pub(crate) fn dispatch(self: &Rc<Self>, job: Job) {
        let Some(spec) = self.shared.specs.get(&job.worker).cloned() else {
            let _ = job.reply.send(Err(WorkerFailure {
                outcome: crate::Outcome::Internal,
                message: format!("no Worker service named {:?}", job.worker),
            }));
            return;
        };
        let mut job = job;
        for _ in 0..2 {
            let (generation, tx) = {
                let mut map = self.isolates.borrow_mut();
                map.entry(spec.name.clone())
                    .or_insert_with(|| {
                        let g = self.generation.get() + 1;
                        self.generation.set(g);
                        (g, isolate_loop::spawn(spec.clone(), self.clone(), g))
                    })
                    .clone()
            };
            match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(j)) => {
                    // That isolate is gone: forget it and make a new one.
                    self.retire(&spec.name, generation);
                    job = j;
                }
            }
        }
        let _ = job.reply.send(Err(WorkerFailure {
            outcome: crate::Outcome::Overloaded,
            message: "no isolate could take the request".into(),
        }));
    }

    /// Hand a Worker-to-Worker call to the callee: here when the callee is
    /// placed on this thread (or placed nowhere yet, and so placed here),
    /// else on a thread it is placed on; refused at once when its queue is
    /// full (see [`crate::sched`]).
    pub(crate) fn call(self: &Rc<Self>, mut job: Job) {
        let (thread, ticket) = match self.shared.sched.admit(&job.worker, Some(self.index)) {
            // A Worker the scheduler does not know: `dispatch` says so.
            None => return self.dispatch(job),
            Some(Ok(admitted)) => admitted,
            Some(Err(_)) => {
                let _ = job.reply.send(Err(WorkerFailure {
                    outcome: crate::Outcome::Overloaded,
                    message: format!("too many requests waiting for Worker {:?}", job.worker),
                }));
                return;
            }
        };
        job.ticket = Some(ticket);
        if thread == self.index {
            return self.dispatch(job);
        }
        let inbox = self
            .shared
            .inboxes
            .get()
            .and_then(|v| v.get(thread))
            .and_then(mpsc::WeakUnboundedSender::upgrade);
        match inbox {
            Some(tx) => {
                if let Err(mpsc::error::SendError(Msg::Job(job))) = tx.send(Msg::Job(job)) {
                    // That thread is gone (the pool is shutting down).
                    self.dispatch(job);
                }
            }
            None => self.dispatch(job),
        }
    }

    /// Load Worker `name` in a throw-away isolate and measure it.
    fn check(self: &Rc<Self>, name: &str) -> Result<crate::WorkerStats, String> {
        let spec = self.shared.specs.get(name).cloned().ok_or("no such Worker")?;
        let (tx, _rx) = mpsc::unbounded_channel();
        let mut w = isolate::WorkerIsolate::new(spec, self.clone(), tx)?;
        Ok(crate::WorkerStats {
            worker: name.to_string(),
            heap_bytes: w.heap_used(),
            create_time: w.create_time,
            load_time: w.load_time,
        })
    }

    /// Stop sending new requests to the isolate behind `tx`.
    pub(crate) fn retire(&self, worker: &str, generation: u64) {
        let mut map = self.isolates.borrow_mut();
        if map.get(worker).is_some_and(|(g, _)| *g == generation) {
            map.remove(worker);
        }
    }
}

/// Start `n` isolate threads and the watchdog; returns their inboxes.
pub(crate) fn start_threads(n: usize, shared: Arc<Shared>) -> Result<Vec<mpsc::UnboundedSender<Msg>>, String> {
    let mut inboxes = Vec::with_capacity(n);
    let mut slots = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = mpsc::unbounded_channel::<Msg>();
        let (slot_tx, slot_rx) = std::sync::mpsc::channel();
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("isoproxy-isolate-{i}"))
            .stack_size(8 << 20)
            .spawn(move || thread_main(i, rx, shared, slot_tx))
            .map_err(|e| format!("spawning isolate thread: {e}"))?;
        let slot = slot_rx
            .recv()
            .map_err(|_| "isolate thread failed to start".to_string())?;
        slots.push(Arc::downgrade(&slot));
        inboxes.push(tx);
    }
    std::thread::Builder::new()
        .name("isoproxy-watchdog".into())
        .spawn(move || watchdog(slots))
        .map_err(|e| format!("spawning watchdog: {e}"))?;
    Ok(inboxes)
}

fn watchdog(slots: Vec<Weak<CpuSlot>>) {
    loop {
        std::thread::sleep(Duration::from_millis(2));
        let mut alive = false;
        for s in &slots {
            if let Some(s) = s.upgrade() {
                alive = true;
                s.check();
            }
        }
        if !alive {
            return;
        }
    }
}

fn thread_main(
    index: usize,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    shared: Arc<Shared>,
    slot_tx: std::sync::mpsc::Sender<Arc<CpuSlot>>,
) {
    let cpu = Arc::new(CpuSlot::for_current_thread());
    let _ = slot_tx.send(cpu.clone());
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "isolate thread: cannot build tokio runtime");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    let env = Rc::new(ThreadEnv {
        shared,
        index,
        cpu,
        isolates: RefCell::new(HashMap::default()),
        generation: std::cell::Cell::new(0),
    });
    local.block_on(&rt, async move {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Job(job) => env.dispatch(job),
                Msg::Check(name, reply) => {
                    let _ = reply.send(env.check(&name));
                }
            }
        }
        // Dropping the inboxes lets every isolate finish and exit.
        env.isolates.borrow_mut().clear();
    });
    // Let isolates finish what they are doing.
    rt.block_on(local);
}
