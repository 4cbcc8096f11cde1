//! The Rust-side state of one isolate: the requests in flight, what they
//! own (see `resources`), and the completions of asynchronous operations.
//!
//! The state lives in an `Rc` in a context slot so that ops (called from JS
//! on the isolate's thread) and the isolate's event loop share it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::api::{Body, BodyError, BodySender, OutboundError, RequestInfo, Response};
use crate::ops::compression::{self, Format, StreamCodec};
use crate::ops::html_rewriter::Rewriter;
use crate::pool::ThreadEnv;
use crate::resources::{Released, Resource, Table};
use crate::spec::WorkerSpec;
use crate::WorkerFailure;

/// Reply channel of one Worker invocation.
pub(crate) type Reply = oneshot::Sender<Result<Response, WorkerFailure>>;

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
    /// request is dropped once none of its own ops is pending, or at the
    /// end of its grace period.
    pub(crate) abandoned: bool,
    /// A CONNECT tunnel the connect handler accepted: from then on each
    /// event (a chunk read or written) gets the whole CPU budget, as a
    /// WebSocket message does.
    pub(crate) tunnel: bool,
    /// Workers in the chain of calls that led here, this one included (1
    /// for a request from the proxy).
    pub(crate) depth: u32,
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
    /// The next event of an accepted WebSocket; the receiver goes back.
    WsEvent {
        rid: u32,
        events: mpsc::Receiver<crate::ops::websocket::WsEvent>,
        event: Option<crate::ops::websocket::WsEvent>,
    },
    /// The caller of the request stopped waiting (not an op: no JS promise
    /// waits for it, and it is not counted in `in_flight`). `report`: tell
    /// the observer (false when the caller already reported a wall-limit
    /// breach).
    Canceled { report: bool },
}

/// Requests past their response (or given up by their caller) and the time
/// at which they end whatever is still pending, in time order: every
/// request of an isolate gets the same grace period.
#[derive(Default)]
pub(crate) struct Deadlines(VecDeque<(Instant, u32)>);

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
    /// Resources and ops, with the requests that own them.
    table: RefCell<Table>,
    /// When answered requests stop waiting for their `waitUntil` work.
    deadlines: RefCell<Deadlines>,
    pub(crate) requests: RefCell<HashMap<u32, Pending>>,
    /// The request on whose behalf JS runs right now: the request entered,
    /// or, inside an op, the request the running JS continues (see
    /// `ops::state`).
    pub(crate) current: Cell<Option<u32>>,
    /// Async ops started and not completed yet.
    pub(crate) in_flight: Cell<u32>,
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
            table: RefCell::new(Table::default()),
            deadlines: RefCell::new(Deadlines::default()),
            requests: RefCell::new(HashMap::default()),
            current: Cell::new(None),
            in_flight: Cell::new(0),
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
        self.table.borrow_mut().insert(rid, self.current.get(), resource);
        rid
    }

    /// Store a resource under a given id (a body coming back from a read).
    pub(crate) fn put_back(&self, rid: u32, owner: Option<u32>, resource: Resource) {
        self.table.borrow_mut().put_back(rid, owner, resource);
    }

    /// Take a body out of the table, decoded if it came encoded: what JS
    /// reads and what a request body made from it carries.
    pub(crate) fn take_body(&self, rid: u32) -> Option<(Option<u32>, Body)> {
        self.take_body_raw(rid).map(|(owner, body, format)| match format {
            Some(f) => (
                owner,
                compression::transform_body(body, compression::Codec::decoder(f, true)),
            ),
            None => (owner, body),
        })
    }

    /// Take a body out of the table as it is, with the `Content-Encoding`
    /// it is still in.
    pub(crate) fn take_body_raw(&self, rid: u32) -> Option<(Option<u32>, Body, Option<Format>)> {
        let taken = self.table.borrow_mut().take_body(rid);
        // The downstream request's own body: remember that it was touched.
        if let Some((Some(owner), _, _)) = &taken {
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

    /// Take a raw WebSocket out of the table, with its owner.
    pub(crate) fn take_socket(&self, rid: u32) -> Option<(Option<u32>, crate::api::Upgraded)> {
        self.table.borrow_mut().take_socket(rid)
    }

    /// Run `f` on the accepted WebSocket `rid`, if it is there.
    pub(crate) fn with_websocket<T>(
        &self,
        rid: u32,
        f: impl FnOnce(&mut crate::ops::websocket::Accepted) -> T,
    ) -> Option<T> {
        self.table.borrow_mut().websocket(rid).map(f)
    }

    /// Run `f` on the stream codec `rid`; `None` if there is none.
    pub(crate) fn with_codec<R>(&self, rid: u32, f: impl FnOnce(&mut StreamCodec) -> R) -> Option<R> {
        self.table.borrow_mut().with_codec(rid, f)
    }

    /// Run `f` on the HTML rewriter `rid`; `None` if there is none. `f`
    /// runs lol_html, never JS, so the table stays borrowed only briefly.
    pub(crate) fn with_rewriter<R>(&self, rid: u32, f: impl FnOnce(&mut Rewriter) -> R) -> Option<R> {
        self.table.borrow_mut().with_rewriter(rid, f)
    }

    /// A clone of a writer's sender.
    pub(crate) fn writer(&self, rid: u32) -> Option<BodySender> {
        self.table.borrow().writer(rid)
    }

    /// Drop a resource (or remember to drop it when its read comes back).
    pub(crate) fn close(&self, rid: u32) {
        self.table.borrow_mut().close(rid, self.current.get());
    }

    /// A body whose read ended: forget any pending cancellation of it.
    pub(crate) fn discard(&self, rid: u32) {
        self.table.borrow_mut().discard(rid);
    }

    /// An op's completion arrived: it no longer keeps its request. False if
    /// the op was cancelled meanwhile (its result goes nowhere).
    pub(crate) fn op_done(&self, op: u32) -> bool {
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
        self.table.borrow_mut().op_done(op)
    }

    /// Cancel one op (`clearTimeout`).
    pub(crate) fn cancel_op(&self, op: u32) {
        if self.table.borrow_mut().cancel_op(op) {
            // No completion will come to count it down.
            self.in_flight.set(self.in_flight.get().saturating_sub(1));
        }
    }

    /// Drop abandoned requests that none of their own ops can resume, with
    /// their resources. Returns the ids dropped.
    pub(crate) fn reap_abandoned(&self) -> Vec<u32> {
        if !self.maybe_abandoned.get() {
            return Vec::new();
        }
        let dead: Vec<u32> = {
            let table = self.table.borrow();
            self.requests
                .borrow()
                .iter()
                .filter(|(id, p)| p.abandoned && !table.has_ops(**id))
                .map(|(id, _)| *id)
                .collect()
        };
        for id in &dead {
            self.end_request(*id);
        }
        self.maybe_abandoned
            .set(self.requests.borrow().values().any(|p| p.abandoned));
        dead
    }

    /// Request `id` is over: forget it and drop everything it owns (its
    /// resources, and its ops, which are aborted). Returns the ops aborted,
    /// whose callbacks JS is to drop.
    pub(crate) fn end_request(&self, id: u32) -> Vec<u32> {
        let pending = self.requests.borrow_mut().remove(&id);
        let Released { ops, in_flight } = self.table.borrow_mut().release(id);
        self.in_flight.set(self.in_flight.get().saturating_sub(in_flight));
        drop(pending);
        ops
    }

    /// Request `id` has sent its whole response (or lost its caller): from
    /// now on it may go on for `waitUntil` work for at most the Worker's
    /// grace period.
    pub(crate) fn start_grace(&self, id: u32) {
        let grace = Duration::from_millis(self.spec.limits().wait_until_ms as u64);
        self.next_grace_end();
        self.deadlines.borrow_mut().0.push_back((Instant::now() + grace, id));
    }

    /// When the grace period of a request still here ends next. Most
    /// requests end by themselves right after their response; their
    /// entries at the front go here, so that the queue stays short and an
    /// idle isolate sets no timer.
    pub(crate) fn next_grace_end(&self) -> Option<Instant> {
        let mut deadlines = self.deadlines.borrow_mut();
        if let Ok(reqs) = self.requests.try_borrow() {
            while deadlines.0.front().is_some_and(|(_, r)| !reqs.contains_key(r)) {
                deadlines.0.pop_front();
            }
        }
        deadlines.0.front().map(|(at, _)| *at)
    }

    /// Requests whose grace period is over at `now` (and still here). A
    /// request that holds an open WebSocket lives on with it: its grace
    /// period starts again.
    pub(crate) fn past_grace(&self, now: Instant) -> Vec<u32> {
        let mut due = Vec::new();
        let mut again = Vec::new();
        let mut deadlines = self.deadlines.borrow_mut();
        let reqs = self.requests.borrow();
        let table = self.table.borrow();
        while let Some((at, id)) = deadlines.0.front().copied() {
            if at > now {
                break;
            }
            deadlines.0.pop_front();
            match reqs.get(&id) {
                Some(p) if !p.abandoned && table.holds_socket(id) => again.push(id),
                Some(_) => due.push(id),
                None => {}
            }
        }
        let grace = Duration::from_millis(self.spec.limits().wait_until_ms as u64);
        for id in again {
            deadlines.0.push_back((now + grace, id));
        }
        due
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
        self.start_grace(id);
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

    /// Start an async op on behalf of the current request: returns its
    /// id; `fut` runs on the thread's local task set and its result is
    /// delivered to the event loop. The op ends with its request.
    pub(crate) fn spawn_op<F>(&self, fut: F) -> u32
    where
        F: std::future::Future<Output = OpResult> + 'static,
    {
        let op = self.next_id();
        let request = self.current.get();
        let tx = self.completions.clone();
        self.in_flight.set(self.in_flight.get() + 1);
        let task = tokio::task::spawn_local(async move {
            let result = fut.await;
            let _ = tx.send(Completion { op, request, result });
        });
        self.table.borrow_mut().add_op(op, request, task.abort_handle());
        op
    }
}
