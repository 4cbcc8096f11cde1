//! The event loop of one isolate: takes its requests and op completions in
//! turn, ends requests past their grace period, pumps V8's background
//! work, gives the other isolates on its thread their turns, retires the
//! isolate after a CPU or heap breach or when it has been idle, and hands
//! the requests still queued to its successor.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::isolate::{Breach, WorkerIsolate, BACKGROUND_POLL};
use crate::pool::{Job, ThreadEnv};
use crate::spec::WorkerSpec;
use crate::Outcome;

/// Create the inbox of a new isolate for `spec` on this thread and start its
/// event loop; the isolate itself is built by the loop.
pub(crate) fn spawn(spec: Arc<WorkerSpec>, env: Rc<ThreadEnv>, generation: u64) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::task::spawn_local(run(spec, env, rx, generation));
    tx
}

async fn run(spec: Arc<WorkerSpec>, env: Rc<ThreadEnv>, mut inbox: mpsc::UnboundedReceiver<Job>, generation: u64) {
    let (ctx, mut crx) = mpsc::unbounded_channel();
    let mut w = match WorkerIsolate::new(spec.clone(), env.clone(), ctx) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(target: "isoproxy::worker", worker = %spec.name, error = %e, "isolate start-up failed");
            env.retire(&spec.name, generation);
            inbox.close();
            while let Ok(job) = inbox.try_recv() {
                let _ = job.reply.send(Err(crate::WorkerFailure {
                    outcome: Outcome::Internal,
                    message: format!("worker start-up failed: {e}"),
                }));
            }
            return;
        }
    };
    let heap = w.heap_used();
    tracing::debug!(target: "isoproxy::worker", worker = %spec.name, create_us = w.create_time.as_micros() as u64, load_us = w.load_time.as_micros() as u64, heap_bytes = heap, "isolate created");
    env.shared.observer.isolates_changed(&spec.name, 1);
    let mut retiring = false;
    loop {
        let grace_over = w.state.next_grace_end();
        let breach = tokio::select! {
            biased;
            Some(c) = crx.recv() => w.complete(c),
            job = inbox.recv(), if !retiring => match job {
                Some(job) => w.start(job),
                None => { retiring = true; None }
            },
            () = sleep_until(grace_over), if grace_over.is_some() => w.end_past_grace(),
            _ = tokio::time::sleep(BACKGROUND_POLL), if w.background_work() => w.pump(),
            // Idle: an isolate on one of the Worker's extra threads exits.
            _ = tokio::time::sleep(env.shared.idle_isolate), if !retiring && !w.busy() => {
                if env.shared.sched.release(&spec.name, env.index) {
                    tracing::debug!(target: "isoproxy::worker", worker = %spec.name, thread = env.index, "idle isolate exits");
                    retiring = true;
                    env.retire(&spec.name, generation);
                    redispatch(&env, &mut inbox);
                }
                None
            }
        };
        match breach {
            Some(Breach::Heap) => {
                let current = w.state.current.get();
                tracing::error!(target: "isoproxy::worker", worker = %spec.name, limit_mb = spec.limits().heap_mb, "heap limit exceeded; discarding the isolate");
                if let Some(id) = current {
                    w.state.fail(
                        id,
                        Outcome::HeapLimit,
                        format!("heap limit of {} MiB exceeded", spec.limits().heap_mb),
                    );
                }
                w.fail_all(
                    Outcome::HeapLimit,
                    "the isolate was discarded after exceeding its heap limit",
                );
                env.retire(&spec.name, generation);
                redispatch(&env, &mut inbox);
                break;
            }
            Some(Breach::Cpu) => {
                tracing::error!(target: "isoproxy::worker", worker = %spec.name, limit_ms = spec.limits().cpu_ms, "CPU limit exceeded; replacing the isolate");
                // Which request ran out: the one that was running.
                let ids: Vec<u32> = w.state.requests.borrow().keys().copied().collect();
                let mut failed = false;
                for id in ids {
                    let over = w
                        .state
                        .requests
                        .borrow()
                        .get(&id)
                        .is_some_and(|p| p.cpu >= Duration::from_millis(spec.limits().cpu_ms as u64));
                    if over {
                        failed |= w.state.fail(
                            id,
                            Outcome::CpuLimit,
                            format!("CPU limit of {} ms exceeded", spec.limits().cpu_ms),
                        );
                        // Its JavaScript was terminated and will never report
                        // the request done: forget it here, or the retiring
                        // isolate stays busy (and allocated) forever.
                        w.state.end_request(id);
                    }
                }
                if !failed {
                    w.fail_all(Outcome::CpuLimit, "CPU limit exceeded");
                }
                if !retiring {
                    retiring = true;
                    env.retire(&spec.name, generation);
                    redispatch(&env, &mut inbox);
                }
            }
            None => {}
        }
        if crx.is_empty() {
            w.fail_stalled();
        }
        w.state.reap_abandoned();
        if retiring && !w.busy() {
            break;
        }
        for _ in 0..w.turns_owed() {
            tokio::task::yield_now().await;
        }
    }
    drop(w);
    env.shared.observer.isolates_changed(&spec.name, -1);
}

/// Sleep until `at` (forever if `None`).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Hand the jobs queued for a retiring isolate to its successor.
fn redispatch(env: &Rc<ThreadEnv>, inbox: &mut mpsc::UnboundedReceiver<Job>) {
    inbox.close();
    while let Ok(job) = inbox.try_recv() {
        env.dispatch(job);
    }
}
