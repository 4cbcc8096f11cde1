//! The Rust-side state of one isolate: its resources (bodies, body writers),
//! the requests in flight, and the completions of asynchronous operations.
//!
//! The state lives in an `Rc` in a context slot so that ops (called from JS
//! on the isolate's thread) and the isolate's event loop share it.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use tokio::sync::{mpsc, oneshot};

use crate::api::{Body, BodyError, BodySender, OutboundError, RequestInfo, Response};
use crate::pool::ThreadEnv;
use crate::spec::WorkerSpec;
use crate::WorkerFailure;

/// Reply channel of one Worker invocation.
pub(crate) type Reply = oneshot::Sender<Result<Response, WorkerFailure>>;

/// A resource JS refers to by number.
pub(crate) enum Resource {
    /// A body that can be read, forwarded or teed.
    Body(Body),
    /// The writing end of a body that JS produces.
    Writer(BodySender),
}

/// A resource table entry with the request that owns it.
pub(crate) struct Entry {
    pub(crate) owner: Option<u32>,
    pub(crate) resource: Resource,
}

/// The downstream request as it arrived, kept for `passThroughOnException`.
pub(crate) struct Original {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    /// The body's resource id (the body itself stays in the table until JS
    /// consumes it).
    pub(crate) body_rid: Option<u32>,
    /// JS took the body out of the table at least once (read, forwarded,
    /// teed): it can no longer be re-sent whole.
    pub(crate) body_disturbed: bool,
}

/// One request in flight on this isolate.
pub(crate) struct Pending {
    pub(crate) reply: Option<Reply>,
    pub(crate) info: RequestInfo,
    pub(crate) cpu: Duration,
    /// `cpu`, shared with the caller (see `Job::cpu_ns`).
    pub(crate) cpu_ns: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) subrequests: u32,
    /// Permits for concurrent subrequests (`maxConcurrentSubrequests`).
    pub(crate) subrequest_slots: Arc<tokio::sync::Semaphore>,
    pub(crate) pass_through: bool,
    pub(crate) original: Option<Original>,
    /// The caller stopped waiting (client gone, wall-time limit): the
    /// request is dropped once none of its own ops is pending.
    pub(crate) abandoned: bool,
    /// Counts this request in `WorkerPool::live_requests` while it exists.
    pub(crate) _live: crate::pool::LiveRequest,
}

/// The result of an asynchronous op, delivered to the event loop.
pub(crate) enum OpResult {
    /// A timer fired.
    Timer,
    /// A subrequest got its response headers (or failed).
    Fetch(Result<Response, OutboundError>),
    /// A Worker-to-Worker call finished.
    WorkerFetch(Result<Response, WorkerFailure>),
    /// A chunk (or the end, or an error) of a body read; the body comes back
    /// so that it can be read again.
    Read {
        rid: u32,
        owner: Option<u32>,
        body: Body,
        chunk: Option<Result<Bytes, BodyError>>,
    },
    /// A whole body was read.
    ReadAll(Result<Vec<u8>, String>),
    /// A chunk was written into a body channel (or the reader went away).
    Write(bool),
    /// The caller of the request stopped waiting (not an op: no JS promise
    /// waits for it, and it is not counted in `in_flight`). `report`: tell
    /// the observer (false when the caller already reported a wall-limit
    /// breach).
    Canceled { report: bool },
}

/// A finished async op: which JS promise, on behalf of which request.
pub(crate) struct Completion {
    pub(crate) op: u32,
    pub(crate) request: Option<u32>,
    pub(crate) result: OpResult,
}

/// Per-isolate state shared by the event loop and the ops.
pub(crate) struct State {
    pub(crate) spec: Arc<WorkerSpec>,
    pub(crate) env: Rc<ThreadEnv>,
    pub(crate) completions: mpsc::UnboundedSender<Completion>,
    next_id: Cell<u32>,
    resources: RefCell<HashMap<u32, Entry>>,
    /// Bodies whose read was in flight when JS cancelled them.
    cancelled: RefCell<HashSet<u32>>,
    pub(crate) requests: RefCell<HashMap<u32, Pending>>,
    /// The request on whose behalf JS runs right now.
    pub(crate) current: Cell<Option<u32>>,
    /// Async ops started and not completed yet.
    pub(crate) in_flight: Cell<u32>,
    /// Timer tasks, to abort them on `clearTimeout`.
    pub(crate) timers: RefCell<HashMap<u32, tokio::task::JoinHandle<()>>>,
    /// Pending ops started on behalf of a request: op id → request id.
    pub(crate) op_owners: RefCell<HashMap<u32, u32>>,
    /// Some request may be abandoned (see `reap_abandoned`).
    pub(crate) maybe_abandoned: Cell<bool>,
    /// Thread CPU time when the current entry into JS began.
    pub(crate) entry_cpu_start: Cell<Duration>,
}

impl State {
    pub(crate) fn new(
        spec: Arc<WorkerSpec>,
        env: Rc<ThreadEnv>,
        completions: mpsc::UnboundedSender<Completion>,
    ) -> Self {
        State {
            spec,
            env,
            completions,
            next_id: Cell::new(1),
            resources: RefCell::new(HashMap::new()),
            cancelled: RefCell::new(HashSet::new()),
            requests: RefCell::new(HashMap::new()),
            current: Cell::new(None),
            in_flight: Cell::new(0),
            timers: RefCell::new(HashMap::new()),
            op_owners: RefCell::new(HashMap::new()),
            maybe_abandoned: Cell::new(false),
            entry_cpu_start: Cell::new(Duration::ZERO),
        }
    }

    /// A fresh id for a resource, request or op.
    pub(crate) fn next_id(&self) -> u32 {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1).max(1));
        id
    }

    /// Store a resource owned by the current request.
    pub(crate) fn add(&self, resource: Resource) -> u32 {
        let rid = self.next_id();
        self.resources.borrow_mut().insert(
            rid,
            Entry {
                owner: self.current.get(),
                resource,
            },
        );
        rid
    }

    /// Store a resource under a given id (a body coming back from a read).
    pub(crate) fn put_back(&self, rid: u32, owner: Option<u32>, resource: Resource) {
        if self.cancelled.borrow_mut().remove(&rid) {
            return;
        }
        self.resources.borrow_mut().insert(rid, Entry { owner, resource });
    }

    /// Take a body out of the table.
    pub(crate) fn take_body(&self, rid: u32) -> Option<(Option<u32>, Body)> {
        let taken = {
            let mut table = self.resources.borrow_mut();
            match table.get(&rid) {
                Some(Entry {
                    resource: Resource::Body(_),
                    ..
                }) => match table.remove(&rid) {
                    Some(Entry {
                        owner,
                        resource: Resource::Body(b),
                    }) => Some((owner, b)),
                    _ => None,
                },
                _ => None,
            }
        };
        // The downstream request's own body: remember that it was touched.
        if let Some((Some(owner), _)) = &taken {
            if let Ok(mut reqs) = self.requests.try_borrow_mut() {
                if let Some(o) = reqs.get_mut(owner).and_then(|p| p.original.as_mut()) {
                    if o.body_rid == Some(rid) {
                        o.body_disturbed = true;
                    }
                }
            }
        }
        taken
    }

    /// A clone of a writer's sender.
    pub(crate) fn writer(&self, rid: u32) -> Option<BodySender> {
        match self.resources.borrow().get(&rid) {
            Some(Entry {
                resource: Resource::Writer(tx),
                ..
            }) => Some(tx.clone()),
            _ => None,
        }
    }

    /// Drop a resource (or remember to drop it when its read comes back).
    pub(crate) fn close(&self, rid: u32) {
        if self.resources.borrow_mut().remove(&rid).is_none() {
            self.cancelled.borrow_mut().insert(rid);
        }
    }

    /// A body whose read ended: forget any pending cancellation of it.
    pub(crate) fn discard(&self, rid: u32) {
        self.cancelled.borrow_mut().remove(&rid);
    }

    /// An op completed or was cancelled: it no longer keeps its request.
    pub(crate) fn op_done(&self, op: u32) {
        self.op_owners.borrow_mut().remove(&op);
    }

    /// Drop abandoned requests that none of their own ops can resume, with
    /// their resources. Returns the ids dropped.
    pub(crate) fn reap_abandoned(&self) -> Vec<u32> {
        if !self.maybe_abandoned.get() {
            return Vec::new();
        }
        let dead: Vec<u32> = {
            let owners = self.op_owners.borrow();
            self.requests
                .borrow()
                .iter()
                .filter(|(id, p)| p.abandoned && !owners.values().any(|o| o == *id))
                .map(|(id, _)| *id)
                .collect()
        };
        for id in &dead {
            self.requests.borrow_mut().remove(id);
            self.release_owned_by(*id);
        }
        self.maybe_abandoned
            .set(self.requests.borrow().values().any(|p| p.abandoned));
        dead
    }

    /// Drop every resource a finished request owned.
    pub(crate) fn release_owned_by(&self, request: u32) {
        self.resources.borrow_mut().retain(|_, e| e.owner != Some(request));
    }

    /// CPU time used by request `id` so far, the current entry included.
    fn cpu_of(&self, id: u32, pending: &Pending) -> Duration {
        let mut cpu = pending.cpu;
        if self.current.get() == Some(id) {
            cpu += crate::pool::thread_cpu().saturating_sub(self.entry_cpu_start.get());
        }
        cpu
    }

    /// Send the Worker's answer for request `id` (once) and report it.
    pub(crate) fn reply(&self, id: u32, result: Result<Response, WorkerFailure>) -> bool {
        let (reply, cpu) = {
            let mut reqs = self.requests.borrow_mut();
            let Some(p) = reqs.get_mut(&id) else { return false };
            let Some(reply) = p.reply.take() else { return false };
            let cpu = p.cpu;
            (reply, cpu)
        };
        let cpu = match self.requests.borrow().get(&id) {
            Some(p) => {
                let cpu = self.cpu_of(id, p);
                p.cpu_ns
                    .store(cpu.as_nanos() as u64, std::sync::atomic::Ordering::SeqCst);
                cpu
            }
            None => cpu,
        };
        let outcome = match &result {
            Ok(_) => crate::Outcome::Ok,
            Err(f) => f.outcome,
        };
        if let Err(f) = &result {
            if f.outcome != crate::Outcome::Exception {
                tracing::warn!(target: "isoproxy::worker", worker = %self.spec.name, outcome = outcome.as_str(), "{}", f.message);
            }
        }
        if reply.send(result).is_ok() {
            self.env.shared.observer.invocation(&self.spec.name, outcome, cpu);
        }
        true
    }

    /// The caller stopped waiting for request `id`: drop its reply, mark
    /// the request abandoned and (if `report`) report the invocation
    /// canceled. False if it was already answered.
    pub(crate) fn cancel(&self, id: u32, report: bool) -> bool {
        let cpu = {
            let mut reqs = self.requests.borrow_mut();
            let Some(p) = reqs.get_mut(&id) else { return false };
            if p.reply.take().is_none() {
                return false;
            }
            p.abandoned = true;
            self.maybe_abandoned.set(true);
            p.cpu
        };
        if !report {
            return true;
        }
        tracing::debug!(target: "isoproxy::worker", worker = %self.spec.name, "the client went away before the response");
        self.env
            .shared
            .observer
            .invocation(&self.spec.name, crate::Outcome::Canceled, cpu);
        true
    }

    /// Fail request `id` with `outcome`.
    pub(crate) fn fail(&self, id: u32, outcome: crate::Outcome, message: impl Into<String>) -> bool {
        self.reply(
            id,
            Err(WorkerFailure {
                outcome,
                message: message.into(),
            }),
        )
    }

    /// Start an async op: returns its id; `fut` runs on the thread's local
    /// task set and its result is delivered to the event loop.
    pub(crate) fn spawn_op<F>(&self, fut: F) -> u32
    where
        F: std::future::Future<Output = OpResult> + 'static,
    {
        self.spawn_op_with_handle(fut).0
    }

    /// As [`State::spawn_op`], also returning the task's handle.
    pub(crate) fn spawn_op_with_handle<F>(&self, fut: F) -> (u32, tokio::task::JoinHandle<()>)
    where
        F: std::future::Future<Output = OpResult> + 'static,
    {
        let op = self.next_id();
        let request = self.current.get();
        let tx = self.completions.clone();
        self.in_flight.set(self.in_flight.get() + 1);
        if let Some(id) = request {
            self.op_owners.borrow_mut().insert(op, id);
        }
        let handle = tokio::task::spawn_local(async move {
            let result = fut.await;
            let _ = tx.send(Completion { op, request, result });
        });
        (op, handle)
    }
}
