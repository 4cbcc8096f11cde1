//! One isolate running one Worker: creation (glue, bindings, the Worker's
//! code) and entering JS for a request or an op completion under the CPU
//! and heap limits. The loop that drives it is in `isolate_loop.rs`.

use std::ffi::c_void;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use isoproxy_schema::model::BindingValue;
use tokio::sync::mpsc;

use crate::api::Body;
use crate::glue::GLUE;
use crate::modules;
use crate::ops;
use crate::pool::{thread_cpu, Job, ThreadEnv};
use crate::resources::Resource;
use crate::spec::WorkerSpec;
use crate::state::{Completion, OpResult, Original, Pending, State};
use crate::Outcome;

/// What stopped an entry into JS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breach {
    Cpu,
    Heap,
}

struct HeapGuard {
    handle: v8::IsolateHandle,
    hit: AtomicBool,
}

unsafe extern "C" fn near_heap_limit(data: *mut c_void, current: usize, _initial: usize) -> usize {
    // SAFETY: `data` points to the `HeapGuard` boxed next to the isolate,
    // which outlives it.
    let guard = unsafe { &*(data as *const HeapGuard) };
    guard.hit.store(true, Ordering::SeqCst);
    // Terminating from inside the GC callback does not stop the running
    // script; an interrupt does, at the next safe point.
    guard.handle.request_interrupt(terminate_interrupt, data);
    // Give V8 room to unwind; the isolate is discarded afterwards.
    current + current / 2
}

/// Whether compiling WebAssembly from bytes is allowed now: the same switch
/// as `eval` (the context's "code generation from strings" flag), which the
/// isolate turns on only while declared modules compile and, when the
/// compatibility date allows it, while the Worker's global scope runs.
unsafe extern "C" fn allow_wasm_code_generation(
    context: v8::Local<v8::Context>,
    _source: v8::Local<v8::String>,
) -> bool {
    context.is_code_generation_from_strings_allowed()
}

/// Most foreground tasks run in one go when the isolate pumps them; the
/// rest wait for the next time.
const MAX_TASKS_PER_PUMP: usize = 32;

/// How often, at most, an entry into the isolate also runs the foreground
/// tasks V8 posted for it: looking takes the platform's locks, too dear for
/// every entry, and the tasks (GC steps, FinalizationRegistry callbacks)
/// can wait that long. A WebAssembly compilation in the background is
/// pumped every `BACKGROUND_POLL` instead.
const PUMP_INTERVAL: Duration = Duration::from_millis(10);

/// How often an isolate with a WebAssembly compilation running in the
/// background looks for its next step.
pub(crate) const BACKGROUND_POLL: Duration = Duration::from_millis(1);

unsafe extern "C" fn terminate_interrupt(_isolate: v8::UnsafeRawIsolatePtr, data: *mut c_void) {
    // SAFETY: as in `near_heap_limit`.
    let guard = unsafe { &*(data as *const HeapGuard) };
    guard.handle.terminate_execution();
}

/// A Worker's isolate. Field order matters: V8 handles drop before the
/// isolate, the heap guard after it.
pub(crate) struct WorkerIsolate {
    context: v8::Global<v8::Context>,
    dispatch: v8::Global<v8::Function>,
    complete: v8::Global<v8::Function>,
    cancel: Rc<v8::Global<v8::Function>>,
    pub(crate) state: Rc<State>,
    handle: v8::IsolateHandle,
    isolate: v8::OwnedIsolate,
    heap: Box<HeapGuard>,
    /// Isolate + context + glue creation time.
    pub(crate) create_time: Duration,
    /// Time to evaluate the Worker's own code.
    pub(crate) load_time: Duration,
    /// Whether a WebAssembly compilation may still run in the background:
    /// only one started by the global scope can (requests may not compile),
    /// so this is cleared for good once none is left.
    background: bool,
    /// When an entry next runs the platform's foreground tasks.
    next_pump: Instant,
    /// CPU time used since this isolate last let the others on its thread
    /// have a turn (see [`CPU_QUANTUM`]).
    owed: Duration,
}

/// For each quantum of CPU time an isolate uses, the other isolates on its
/// thread get one turn before it runs again: a Worker flooded with
/// CPU-heavy requests yields the thread in proportion to what it uses
/// (deficit round robin by CPU), and a cheap request of another Worker
/// waits for at most one running handler, never for a whole queue.
const CPU_QUANTUM: Duration = Duration::from_millis(1);

/// The most turns an isolate gives up at once.
const MAX_TURNS: u32 = 64;

/// Build the `bindings` argument of the glue's `setup`.
fn bindings_js<'s>(scope: &mut v8::PinScope<'s, '_>, spec: &WorkerSpec) -> Option<v8::Local<'s, v8::Array>> {
    let bindings = &spec.worker.bindings;
    let arr = v8::Array::new(scope, bindings.len() as i32);
    for (i, b) in bindings.iter().enumerate() {
        let (kind, value): (&str, v8::Local<v8::Value>) = match &b.value {
            BindingValue::Text(t) => ("text", v8::String::new(scope, t)?.into()),
            BindingValue::Json(j) => ("json", v8::String::new(scope, j)?.into()),
            BindingValue::Data(d) => ("data", ops::uint8_array(scope, d.clone())?.into()),
            BindingValue::WasmModule(w) => ("wasm", ops::uint8_array(scope, w.clone())?.into()),
            BindingValue::Service(_) => {
                let idx = spec.fetcher_index(i)? as i32;
                ("fetcher", v8::Integer::new(scope, idx).into())
            }
            BindingValue::FromEnvironment { value, .. } => match value {
                Some(v) => ("text", v8::String::new(scope, v)?.into()),
                None => ("text", v8::null(scope).into()),
            },
        };
        let entry = v8::Array::new(scope, 3);
        let name = v8::String::new(scope, &b.name)?;
        let kind = v8::String::new(scope, kind)?;
        entry.set_index(scope, 0, name.into())?;
        entry.set_index(scope, 1, kind.into())?;
        entry.set_index(scope, 2, value)?;
        arr.set_index(scope, i as u32, entry.into())?;
    }
    Some(arr)
}

fn get_fn<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    obj: v8::Local<v8::Object>,
    name: &str,
) -> Result<v8::Local<'s, v8::Function>, String> {
    let key = v8::String::new(scope, name).ok_or("string")?;
    let v = obj
        .get(scope, key.into())
        .ok_or_else(|| format!("glue: {name} missing"))?;
    v8::Local::<v8::Function>::try_from(v).map_err(|_| format!("glue: {name} is not a function"))
}

impl WorkerIsolate {
    /// Create the isolate, load the glue and the Worker's code.
    pub(crate) fn new(
        spec: Arc<WorkerSpec>,
        env: Rc<ThreadEnv>,
        completions: mpsc::UnboundedSender<Completion>,
    ) -> Result<WorkerIsolate, String> {
        let t0 = Instant::now();
        let heap_max = (spec.limits().heap_mb.max(8) as usize) << 20;
        let (params, from_snapshot) = crate::snapshot::params(
            v8::CreateParams::default()
                .heap_limits(0, heap_max)
                .array_buffer_allocator(crate::alloc::allocator(heap_max)),
        );
        let mut isolate = v8::Isolate::new(params);
        isolate.set_microtasks_policy(v8::MicrotasksPolicy::Explicit);
        isolate.set_allow_wasm_code_generation_callback(allow_wasm_code_generation);
        isolate.set_host_import_module_dynamically_callback(modules::dynamic_import);
        let handle = isolate.thread_safe_handle();
        let heap = Box::new(HeapGuard {
            handle: handle.clone(),
            hit: AtomicBool::new(false),
        });
        isolate.add_near_heap_limit_callback(near_heap_limit, &*heap as *const HeapGuard as *mut c_void);
        let state = Rc::new(State::new(spec.clone(), env.clone(), completions));
        let cpu = env.cpu.clone();

        let result = {
            v8::scope!(let hs, &mut isolate);
            let context = v8::Context::new(hs, Default::default());
            let scope = &mut v8::ContextScope::new(hs, context);
            context.set_slot(state.clone());
            // What the glue and the Worker's top level start belongs to no
            // request.
            let tag = ops::request_tag(scope, None);
            scope.set_continuation_preserved_embedder_data(tag);
            // On while the bindings and declared modules compile; the Worker's
            // own code gets what its compatibility date allows; requests never.
            context.set_allow_generation_from_strings(true);
            (|| -> Result<_, String> {
                if !from_snapshot {
                    ops::install(scope).ok_or("installing ops failed")?;
                    for file in GLUE {
                        crate::script::run_glue(scope, file)?;
                    }
                }
                let create_time = t0.elapsed();
                let t1 = Instant::now();
                let global = context.global(scope);
                let key = v8::String::new(scope, "__internal").ok_or("string")?;
                let internal = global
                    .get(scope, key.into())
                    .and_then(|v| v.to_object(scope))
                    .ok_or("glue: __internal missing")?;
                let setup = get_fn(scope, internal, "setup")?;
                let set_handler = get_fn(scope, internal, "setHandler")?;
                let dispatch = get_fn(scope, internal, "dispatch")?;
                let complete = get_fn(scope, internal, "complete")?;
                let cancel = get_fn(scope, internal, "cancel")?;
                let loader = get_fn(scope, internal, "builtinModule")?;
                let define_common_js = get_fn(scope, internal, "defineCommonJs")?;
                let require_common_js = get_fn(scope, internal, "requireCommonJs")?;
                for name in ["__internal", "__ops"] {
                    let key = v8::String::new(scope, name).ok_or("string")?;
                    global.delete(scope, key.into());
                }
                let bindings = bindings_js(scope, &spec).ok_or("building bindings failed")?;
                let is_modules = v8::Boolean::new(scope, spec.is_modules());
                let node = spec.node_compat();
                let node_js = v8::Array::new(scope, 8);
                for (i, on) in [
                    node.modules,
                    node.globals,
                    node.process_env,
                    node.als,
                    node.process_v2,
                    node.fs,
                    node.http,
                    node.web_fs,
                ]
                .into_iter()
                .enumerate()
                {
                    let on = v8::Boolean::new(scope, on);
                    node_js.set_index(scope, i as u32, on.into());
                }
                let undefined = v8::undefined(scope).into();
                {
                    v8::tc_scope!(let tc, scope);
                    if setup
                        .call(tc, undefined, &[bindings.into(), is_modules.into(), node_js.into()])
                        .is_none()
                    {
                        // A binding the glue could not build: the glue
                        // throws a string naming it.
                        let reason = tc
                            .exception()
                            .map(|e| e.to_rust_string_lossy(tc))
                            .unwrap_or_else(|| "the bindings could not be set up".into());
                        return Err(reason);
                    }
                }
                cpu.arm(&handle, Duration::from_millis(spec.limits().startup_ms.max(1) as u64));
                let builtins = modules::Builtins {
                    loader,
                    node,
                    define_common_js,
                    require_common_js,
                };
                let loaded = modules::load_worker(
                    scope,
                    &spec.worker.source,
                    spec.code_generation_at_start_up(),
                    &builtins,
                );
                context.set_allow_generation_from_strings(false);
                let fired = cpu.disarm();
                if fired {
                    return Err(format!(
                        "start-up exceeded the CPU limit of {} ms",
                        spec.limits().startup_ms
                    ));
                }
                let exports = loaded?;
                let exports = v8::Local::new(scope, &exports);
                set_handler
                    .call(scope, undefined, &[exports])
                    .ok_or("the Worker has no fetch handler (export default { fetch } or addEventListener('fetch'))")?;
                let load_time = t1.elapsed();
                Ok((
                    v8::Global::new(scope, context),
                    v8::Global::new(scope, dispatch),
                    v8::Global::new(scope, complete),
                    v8::Global::new(scope, cancel),
                    create_time,
                    load_time,
                ))
            })()
        };
        let handler_error = |isolate: &mut v8::OwnedIsolate, e: String| {
            isolate.cancel_terminate_execution();
            e
        };
        let (context, dispatch, complete, cancel, create_time, load_time) = match result {
            Ok(r) => r,
            Err(e) => {
                let e = if heap.hit.load(Ordering::SeqCst) {
                    format!("start-up exceeded the heap limit: {e}")
                } else {
                    e
                };
                return Err(handler_error(&mut isolate, e));
            }
        };
        // The isolate is entered on creation; leave it so that several
        // isolates can share this thread (each `enter` below re-enters it).
        // SAFETY: entered exactly once, by `Isolate::new`, on this thread.
        unsafe { isolate.exit() };
        Ok(WorkerIsolate {
            context,
            dispatch,
            complete,
            cancel: Rc::new(cancel),
            state,
            handle,
            isolate,
            heap,
            create_time,
            load_time,
            background: spec.code_generation_at_start_up(),
            next_pump: Instant::now(),
            owed: Duration::ZERO,
        })
    }

    /// Whether V8 has work in the background (an asynchronous WebAssembly
    /// compilation) that will post its next step to this isolate.
    pub(crate) fn background_work(&mut self) -> bool {
        if self.background && !self.isolate.has_pending_background_tasks() {
            self.background = false;
        }
        self.background
    }

    /// Run the foreground tasks V8 posted for this isolate (see `enter`).
    pub(crate) fn pump(&mut self) -> Option<Breach> {
        self.next_pump = Instant::now();
        self.enter(None, |_, _, _| {})
    }

    /// Heap in use, bytes.
    pub(crate) fn heap_used(&mut self) -> usize {
        // SAFETY: balanced with `exit` below, on the isolate's thread.
        unsafe { self.isolate.enter() };
        let used = self.isolate.get_heap_statistics().used_heap_size();
        // SAFETY: entered just above.
        unsafe { self.isolate.exit() };
        used
    }

    /// Run `f` inside the context for request `request`, under its CPU
    /// budget; then run microtasks.
    fn enter(
        &mut self,
        request: Option<u32>,
        f: impl FnOnce(&mut v8::PinScope<'_, '_>, &v8::Global<v8::Function>, &v8::Global<v8::Function>),
    ) -> Option<Breach> {
        let st = self.state.clone();
        let limit = Duration::from_millis(st.spec.limits().cpu_ms.max(1) as u64);
        let used = request
            .and_then(|id| st.requests.borrow().get(&id).map(|p| p.cpu))
            .unwrap_or_default();
        let budget = limit.saturating_sub(used).max(Duration::from_micros(100));
        st.current.set(request);
        let start = thread_cpu();
        st.entry_cpu_start.set(start);
        let cpu = st.env.cpu.clone();
        cpu.arm(&self.handle, budget);
        let pump_now = Instant::now() >= self.next_pump;
        // SAFETY: balanced with `exit` below, on the isolate's thread.
        unsafe { self.isolate.enter() };
        {
            let isolate = &mut self.isolate;
            v8::scope!(let hs, isolate);
            let context = v8::Local::new(hs, &self.context);
            let scope = &mut v8::ContextScope::new(hs, context);
            // Promise continuations created from here on carry `request`.
            let tag = ops::request_tag(scope, request);
            scope.set_continuation_preserved_embedder_data(tag);
            f(scope, &self.dispatch, &self.complete);
            scope.perform_microtask_checkpoint();
            // Tasks V8 posted for this isolate (steps of an asynchronous
            // WebAssembly compilation, FinalizationRegistry callbacks) run
            // here, under the same CPU budget; nothing else would run them.
            if let Some(platform) = crate::platform().filter(|_| pump_now) {
                let mut ran = false;
                for _ in 0..MAX_TASKS_PER_PUMP {
                    if !v8::Platform::pump_message_loop(platform, scope, false) {
                        break;
                    }
                    ran = true;
                }
                if ran {
                    scope.perform_microtask_checkpoint();
                }
            }
        }
        // SAFETY: entered above.
        unsafe { self.isolate.exit() };
        if pump_now {
            self.next_pump = Instant::now() + PUMP_INTERVAL;
        }
        let fired = cpu.disarm();
        let spent = thread_cpu().saturating_sub(start);
        self.owed += spent;
        if let Some(id) = request {
            if let Some(p) = st.requests.borrow_mut().get_mut(&id) {
                p.cpu += spent;
                p.cpu_ns.store(p.cpu.as_nanos() as u64, Ordering::SeqCst);
            }
        }
        st.current.set(None);
        if self.heap.hit.load(Ordering::SeqCst) {
            return Some(Breach::Heap);
        }
        if fired || self.isolate.is_execution_terminating() {
            self.isolate.cancel_terminate_execution();
            return Some(Breach::Cpu);
        }
        None
    }

    /// Start a request: hand it to the glue's `dispatch`.
    pub(crate) fn start(&mut self, job: Job) -> Option<Breach> {
        let st = self.state.clone();
        let id = st.next_id();
        let Job {
            request,
            info,
            reply,
            entrypoint,
            gone,
            cpu_ns,
            depth,
            ticket,
            ..
        } = job;
        // Started: no longer waiting in the scheduler's queue.
        drop(ticket);
        let has_body = !matches!(request.body, Body::Empty);
        st.current.set(Some(id));
        let body_rid = has_body.then(|| st.add(Resource::Body(request.body)));
        st.current.set(None);
        st.requests.borrow_mut().insert(
            id,
            Pending {
                reply: Some(reply),
                info,
                cpu: Duration::ZERO,
                cpu_ns,
                subrequests: 0,
                subrequest_slots: Arc::new(tokio::sync::Semaphore::new(
                    (st.spec.limits().max_concurrent_subrequests.max(1) as usize)
                        .min(tokio::sync::Semaphore::MAX_PERMITS),
                )),
                pass_through: false,
                abandoned: false,
                tunnel: false,
                depth,
                _live: crate::pool::LiveRequest::new(&st.env.shared.live_requests),
                original: Some(Original {
                    method: request.method.clone(),
                    url: request.url.clone(),
                    headers: request.headers.clone(),
                    body_rid,
                    body_disturbed: false,
                }),
            },
        );
        if let Some(gone) = gone {
            let completions = st.completions.clone();
            tokio::task::spawn_local(async move {
                let report = match gone.await {
                    Ok(crate::pool::Settled::Answered) => return,
                    Ok(crate::pool::Settled::WallLimit) => false,
                    Err(_) => true,
                };
                let _ = completions.send(Completion {
                    op: 0,
                    request: Some(id),
                    result: OpResult::Canceled { report },
                });
            });
        }
        let method = request.method;
        let url = request.url;
        let headers = request.headers;
        self.enter(Some(id), |scope, dispatch, _| {
            v8::tc_scope!(let tc, scope);
            let f = v8::Local::new(tc, dispatch);
            let args = (|| -> Option<[v8::Local<v8::Value>; 7]> {
                Some([
                    v8::Integer::new_from_unsigned(tc, id).into(),
                    v8::String::new(tc, method.as_str())?.into(),
                    v8::String::new(tc, &url)?.into(),
                    ops::headers_to_js(tc, &headers)?.into(),
                    match body_rid {
                        Some(r) => v8::Integer::new_from_unsigned(tc, r).into(),
                        None => v8::null(tc).into(),
                    },
                    match &entrypoint.name {
                        Some(s) => v8::String::new(tc, s)?.into(),
                        None => v8::null(tc).into(),
                    },
                    match &entrypoint.props_json {
                        Some(s) => v8::String::new(tc, s)?.into(),
                        None => v8::null(tc).into(),
                    },
                ])
            })();
            if let Some(args) = args {
                let undefined = v8::undefined(tc).into();
                f.call(tc, undefined, &args);
            }
            if tc.has_caught() && !tc.has_terminated() {
                let (msg, stack) = { let e = tc.exception(); let m = tc.message(); crate::script::describe_exception(tc, e, m) };
                tracing::error!(target: "isoproxy::worker", worker = %st.spec.name, error = %msg, stack = %stack, "uncaught exception");
                st.fail(id, Outcome::Exception, format!("uncaught exception: {msg}"));
            }
        })
    }

    /// The caller of request `id` went away (or gave up at the wall-time
    /// limit): report it if `report`, abort the request's `signal` in JS,
    /// and drop the request unless its own ops can still resume it.
    fn cancel(&mut self, id: u32, report: bool) -> Option<Breach> {
        if !self.state.cancel(id, report) {
            return None;
        }
        self.forget(id, true, Vec::new())
    }

    /// End the requests whose grace period after their response (or after
    /// their caller left) is over, whatever they still wait for.
    pub(crate) fn end_past_grace(&mut self) -> Option<Breach> {
        let due = self.state.past_grace(tokio::time::Instant::now());
        for id in due {
            tracing::debug!(target: "isoproxy::worker", worker = %self.state.spec.name, limit_ms = self.state.spec.limits().wait_until_ms, "the request's waitUntil work is past its grace period; ending it");
            let dropped = self.state.end_request(id);
            if let Some(breach) = self.forget(id, false, dropped) {
                return Some(breach);
            }
        }
        None
    }

    /// Tell the glue to forget request `id` (aborting its signal first if
    /// `abort`) and the callbacks of its ops in `dropped`, which were
    /// aborted.
    fn forget(&mut self, id: u32, abort: bool, dropped: Vec<u32>) -> Option<Breach> {
        let cancel = self.cancel.clone();
        let worker = self.state.spec.name.clone();
        self.enter(Some(id), |scope, _, _| {
            v8::tc_scope!(let tc, scope);
            let f = v8::Local::new(tc, &*cancel);
            let undefined: v8::Local<v8::Value> = v8::undefined(tc).into();
            let idv = v8::Integer::new_from_unsigned(tc, id).into();
            let abortv = v8::Boolean::new(tc, abort).into();
            let dropped = ops::u32_array(tc, &dropped).into();
            f.call(tc, undefined, &[idv, abortv, dropped]);
            if tc.has_caught() && !tc.has_terminated() {
                let (msg, stack) = {
                    let e = tc.exception();
                    let m = tc.message();
                    crate::script::describe_exception(tc, e, m)
                };
                tracing::error!(target: "isoproxy::worker", worker = %worker, error = %msg, stack = %stack, "uncaught exception in an abort listener");
            }
        })
    }

    /// Deliver an op completion to JS.
    pub(crate) fn complete(&mut self, c: Completion) -> Option<Breach> {
        if let (OpResult::Canceled { report }, Some(id)) = (&c.result, c.request) {
            return self.cancel(id, *report);
        }
        let st = self.state.clone();
        let Completion { op, request, result } = c;
        if !st.op_done(op) {
            // Cancelled after its task had finished (a cleared timer, or
            // the op of a request that ended): nobody waits for it.
            return None;
        }
        let request = request.filter(|id| st.requests.borrow().contains_key(id));
        if let Some(id) = request {
            // Each message on an accepted WebSocket is an event of its own,
            // with the whole per-request CPU budget (as workerd's); so is
            // each chunk through an accepted CONNECT tunnel.
            if let Some(p) = st.requests.borrow_mut().get_mut(&id) {
                if p.tunnel || matches!(result, OpResult::WsEvent { .. }) {
                    p.cpu = Duration::ZERO;
                }
            }
        }
        self.enter(request, |scope, _, complete| {
            v8::tc_scope!(let tc, scope);
            let (ok, value): (bool, Option<v8::Local<v8::Value>>) = match result {
                OpResult::Timer => (true, Some(v8::undefined(tc).into())),
                OpResult::Write(alive) => (true, Some(v8::Boolean::new(tc, alive).into())),
                OpResult::Fetch(Ok(resp)) | OpResult::WorkerFetch(Ok(resp)) => {
                    let socket = resp.upgrade.map(|up| {
                        st.current.set(request);
                        let rid = st.add(Resource::Socket(up));
                        v8::Integer::new_from_unsigned(tc, rid)
                    });
                    let status = v8::Integer::new_from_unsigned(tc, resp.status.as_u16() as u32);
                    let headers = ops::headers_to_js(tc, &resp.headers);
                    let body: v8::Local<v8::Value> = match resp.body {
                        Body::Empty => v8::null(tc).into(),
                        body => {
                            st.current.set(request);
                            // An encoded body stays encoded until JS reads it,
                            // so that passing it on costs no recompression.
                            let resource = match ops::compression::Format::from_content_encoding(&resp.headers) {
                                Some(f) => Resource::Encoded(body, f),
                                None => Resource::Body(body),
                            };
                            let rid = st.add(resource);
                            v8::Integer::new_from_unsigned(tc, rid).into()
                        }
                    };
                    // [status, headers, body rid or null, socket rid]
                    let headers = headers.map_or_else(|| v8::undefined(tc).into(), Into::into);
                    let arr = match socket {
                        Some(rid) => v8::Array::new_with_elements(tc, &[status.into(), headers, body, rid.into()]),
                        None => v8::Array::new_with_elements(tc, &[status.into(), headers, body]),
                    };
                    (true, Some(arr.into()))
                }
                OpResult::Fetch(Err(e)) => (false, v8::String::new(tc, &e.to_string()).map(Into::into)),
                OpResult::WorkerFetch(Err(f)) => (false, v8::String::new(tc, &f.message).map(Into::into)),
                OpResult::Read { rid, owner, body, chunk } => match chunk {
                    Some(Ok(bytes)) => {
                        let owner_alive = owner.is_none_or(|o| st.requests.borrow().contains_key(&o));
                        if owner_alive {
                            st.put_back(rid, owner, Resource::Body(body));
                        } else {
                            st.discard(rid);
                        }
                        (true, ops::uint8_array(tc, bytes.to_vec()).map(Into::into))
                    }
                    None => {
                        st.discard(rid);
                        (true, Some(v8::null(tc).into()))
                    }
                    Some(Err(e)) => {
                        st.discard(rid);
                        (false, v8::String::new(tc, &e.to_string()).map(Into::into))
                    }
                },
                OpResult::WsEvent { rid, events, event } => {
                    st.with_websocket(rid, |ws| ws.events = Some(events));
                    (true, ops::websocket::event_to_js(tc, event))
                }
                OpResult::ReadAll(Ok(bytes)) => (true, ops::uint8_array(tc, bytes).map(Into::into)),
                OpResult::ReadAll(Err(e)) => (false, v8::String::new(tc, &e).map(Into::into)),
                OpResult::Canceled { .. } => (true, Some(v8::undefined(tc).into())),
            };
            let f = v8::Local::new(tc, complete);
            let undefined: v8::Local<v8::Value> = v8::undefined(tc).into();
            let opv = v8::Integer::new_from_unsigned(tc, op).into();
            let okv = v8::Boolean::new(tc, ok).into();
            f.call(tc, undefined, &[opv, okv, value.unwrap_or(undefined)]);
            if tc.has_caught() && !tc.has_terminated() {
                let (msg, stack) = { let e = tc.exception(); let m = tc.message(); crate::script::describe_exception(tc, e, m) };
                tracing::error!(target: "isoproxy::worker", worker = %st.spec.name, error = %msg, stack = %stack, "uncaught exception");
            }
        })
    }

    /// Fail every request in flight (the isolate is going away).
    pub(crate) fn fail_all(&mut self, outcome: Outcome, message: &str) {
        let ids: Vec<u32> = self.state.requests.borrow().keys().copied().collect();
        for id in ids {
            self.state.fail(id, outcome, message);
            self.state.end_request(id);
        }
    }

    /// Fail requests that can no longer get a response: nothing is pending
    /// in the isolate that could resume them.
    pub(crate) fn fail_stalled(&mut self) {
        if self.state.in_flight.get() > 0 || self.background_work() {
            return;
        }
        let ids: Vec<u32> = self
            .state
            .requests
            .borrow()
            .iter()
            .filter(|(_, p)| p.reply.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.state
                .fail(id, Outcome::Exception, "the script will never generate a response");
            // Nothing can resume it: drop it (no user code runs for this).
            if let Some(p) = self.state.requests.borrow_mut().get_mut(&id) {
                p.abandoned = true;
                self.state.maybe_abandoned.set(true);
            }
            self.forget(id, false, Vec::new());
        }
        self.state.reap_abandoned();
    }

    /// Requests still in flight.
    pub(crate) fn busy(&self) -> bool {
        !self.state.requests.borrow().is_empty()
    }

    /// How many turns to give the other isolates on this thread for the
    /// CPU time used since the last call (whole quanta; the rest carries).
    pub(crate) fn turns_owed(&mut self) -> u32 {
        let q = CPU_QUANTUM.as_nanos();
        let turns = self.owed.as_nanos() / q;
        if turns == 0 {
            return 0;
        }
        self.owed = Duration::from_nanos((self.owed.as_nanos() % q) as u64);
        turns.min(MAX_TURNS as u128) as u32
    }
}

impl Drop for WorkerIsolate {
    fn drop(&mut self) {
        // `OwnedIsolate` must be the current isolate when dropped; its drop
        // exits this entry.
        // SAFETY: on the isolate's thread; the matching exit is in
        // `OwnedIsolate::drop`.
        unsafe { self.isolate.enter() };
    }
}
