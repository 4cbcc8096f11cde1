//! Where a request for a Worker runs, and whether it may wait at all.
//!
//! Each Worker is placed on as few isolate threads as its load needs: one
//! at its first request (the caller's thread for a Worker-to-Worker call,
//! so a chain of calls runs on one thread; else the thread with the fewest
//! Workers), one more each time every thread it is on already has requests
//! of it waiting, and one fewer when an isolate on an extra thread has been
//! idle for a while. Idle memory so does not grow with the thread count: a
//! Worker has one isolate, not one per thread. A call from a thread the
//! callee is not placed on crosses to one it is placed on.
//!
//! Waiting is bounded: a Worker may have at most `max_queued_per_worker`
//! requests waiting to start, and a thread at most `max_queued_per_thread`
//! across its Workers; a request past either bound is refused at once
//! (the proxy answers 503 with `Retry-After`) rather than waiting behind a
//! queue it cannot get through.
//!
//! Nothing here knows about V8: the pool asks [`Scheduler::admit`] for a
//! thread and a [`Ticket`]; the isolate drops the ticket when the request
//! starts, and asks [`Scheduler::release`] before an idle isolate exits.

use rustc_hash::FxHashMap as HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Bounds of the queues in front of the isolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Requests of one Worker waiting to start, on all threads together.
    pub max_queued_per_worker: usize,
    /// Requests waiting to start on one isolate thread, all Workers.
    pub max_queued_per_thread: usize,
}

impl Default for QueueLimits {
    fn default() -> QueueLimits {
        QueueLimits {
            max_queued_per_worker: 1024,
            max_queued_per_thread: 4096,
        }
    }
}

/// A Worker's threads get another once every one of them has at least this
/// many requests of it waiting.
const EXPAND_AT: usize = 2;

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// The Worker has `max_queued_per_worker` requests waiting.
    Worker,
    /// Every thread the Worker could use has `max_queued_per_thread`.
    Thread,
}

/// One Worker's placement and queue counts.
struct Placement {
    /// Threads the Worker's requests go to; empty until its first request.
    threads: Mutex<Vec<usize>>,
    /// Requests of this Worker waiting to start, per thread.
    queued: Vec<AtomicUsize>,
    /// All of them.
    total: AtomicUsize,
}

/// Thread choice for every Worker of one pool.
pub(crate) struct Scheduler {
    workers: HashMap<String, Placement>,
    /// Requests waiting to start per thread, all Workers.
    thread_queued: Vec<AtomicUsize>,
    /// Workers placed on each thread.
    thread_workers: Vec<AtomicUsize>,
    limits: QueueLimits,
}

/// A request admitted to a thread's queue; counts it as waiting until it is
/// dropped (when the isolate starts the request, or the request is lost).
pub(crate) struct Ticket {
    sched: Arc<Scheduler>,
    worker: String,
    thread: usize,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(p) = self.sched.workers.get(&self.worker) {
            p.queued[self.thread].fetch_sub(1, Ordering::SeqCst);
            p.total.fetch_sub(1, Ordering::SeqCst);
        }
        self.sched.thread_queued[self.thread].fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scheduler {
    /// A scheduler for `workers` on `threads` threads; each Worker is
    /// placed at its first request.
    pub(crate) fn new<'a>(
        workers: impl IntoIterator<Item = &'a String>,
        threads: usize,
        limits: QueueLimits,
    ) -> Scheduler {
        let threads = threads.max(1);
        let map = workers
            .into_iter()
            .map(|name| {
                let p = Placement {
                    threads: Mutex::new(Vec::new()),
                    queued: (0..threads).map(|_| AtomicUsize::new(0)).collect(),
                    total: AtomicUsize::new(0),
                };
                (name.clone(), p)
            })
            .collect();
        Scheduler {
            workers: map,
            thread_queued: (0..threads).map(|_| AtomicUsize::new(0)).collect(),
            thread_workers: (0..threads).map(|_| AtomicUsize::new(0)).collect(),
            limits,
        }
    }

    fn has_room(&self, t: usize) -> bool {
        self.thread_queued[t].load(Ordering::SeqCst) < self.limits.max_queued_per_thread
    }

    /// Choose the thread for one request of `worker` and count it as
    /// waiting there; `None` for a Worker this scheduler does not know.
    /// `from` is the caller's thread for a Worker-to-Worker call: it is
    /// chosen whenever the callee is placed there (no thread hop), and
    /// preferred when the callee is first placed or spreads.
    pub(crate) fn admit(self: &Arc<Self>, worker: &str, from: Option<usize>) -> Option<Result<(usize, Ticket), Full>> {
        let p = self.workers.get(worker)?;
        if p.total.load(Ordering::SeqCst) >= self.limits.max_queued_per_worker {
            return Some(Err(Full::Worker));
        }
        let from = from.filter(|&t| t < self.thread_queued.len());
        let thread = {
            let mut placed = lock(&p.threads);
            if placed.is_empty() {
                // First request: the caller's thread, else the thread with
                // the fewest Workers.
                let t = from.unwrap_or_else(|| {
                    (0..self.thread_workers.len())
                        .min_by_key(|&t| {
                            (
                                self.thread_workers[t].load(Ordering::SeqCst),
                                self.thread_queued[t].load(Ordering::SeqCst),
                            )
                        })
                        .unwrap_or(0)
                });
                placed.push(t);
                self.thread_workers[t].fetch_add(1, Ordering::SeqCst);
            }
            let mut best = from.filter(|t| placed.contains(t) && self.has_room(*t)).map(|t| (t, 0));
            if best.is_none() {
                for &t in placed.iter().filter(|&&t| self.has_room(t)) {
                    let q = p.queued[t].load(Ordering::SeqCst);
                    if best.is_none_or(|(_, bq)| q < bq) {
                        best = Some((t, q));
                    }
                }
            }
            let busy = best.is_none_or(|(_, q)| q >= EXPAND_AT);
            if busy && placed.len() < self.thread_queued.len() {
                // Every thread of this Worker has requests of it waiting (or
                // is full): add the caller's thread, else the least loaded
                // thread it is not on.
                let extra = from.filter(|t| !placed.contains(t) && self.has_room(*t)).or_else(|| {
                    (0..self.thread_queued.len())
                        .filter(|t| !placed.contains(t) && self.has_room(*t))
                        .min_by_key(|&t| self.thread_queued[t].load(Ordering::SeqCst))
                });
                if let Some(t) = extra {
                    placed.push(t);
                    self.thread_workers[t].fetch_add(1, Ordering::SeqCst);
                    best = Some((t, 0));
                }
            }
            match best {
                Some((t, _)) => t,
                None => return Some(Err(Full::Thread)),
            }
        };
        p.queued[thread].fetch_add(1, Ordering::SeqCst);
        p.total.fetch_add(1, Ordering::SeqCst);
        self.thread_queued[thread].fetch_add(1, Ordering::SeqCst);
        Some(Ok((
            thread,
            Ticket {
                sched: self.clone(),
                worker: worker.to_string(),
                thread,
            },
        )))
    }

    /// An isolate of `worker` on `thread` has been idle: may it exit? Yes
    /// when the thread is not one of the Worker's (a Worker-to-Worker call
    /// made it there) or is one of several, which it then stops being; no
    /// for the Worker's last thread, or while requests wait there.
    pub(crate) fn release(&self, worker: &str, thread: usize) -> bool {
        let Some(p) = self.workers.get(worker) else {
            return true;
        };
        let mut placed = lock(&p.threads);
        let Some(i) = placed.iter().position(|&t| t == thread) else {
            return true;
        };
        if placed.len() == 1 || p.queued[thread].load(Ordering::SeqCst) > 0 {
            return false;
        }
        placed.swap_remove(i);
        self.thread_workers[thread].fetch_sub(1, Ordering::SeqCst);
        true
    }

    /// The threads `worker` is placed on now (for tests and metrics).
    #[cfg(test)]
    fn threads_of(&self, worker: &str) -> Vec<usize> {
        let mut v = self
            .workers
            .get(worker)
            .map(|p| lock(&p.threads).clone())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(workers: &[&str], threads: usize, limits: QueueLimits) -> Arc<Scheduler> {
        let names: Vec<String> = workers.iter().map(|s| s.to_string()).collect();
        Arc::new(Scheduler::new(&names, threads, limits))
    }

    #[test]
    fn workers_are_placed_at_first_use_spread_evenly() {
        let s = sched(&["a", "b", "c", "d"], 2, QueueLimits::default());
        assert!(s.threads_of("a").is_empty());
        for w in ["a", "b", "c", "d"] {
            drop(s.admit(w, None).unwrap().unwrap());
        }
        assert_eq!(s.threads_of("a"), vec![0]);
        assert_eq!(s.threads_of("b"), vec![1]);
        assert_eq!(s.threads_of("c"), vec![0]);
        assert_eq!(s.threads_of("d"), vec![1]);
        assert!(s.admit("nobody", None).is_none());
    }

    #[test]
    fn calls_stay_on_the_callers_thread_where_the_callee_is() {
        let s = sched(&["router", "w"], 4, QueueLimits::default());
        // First call from thread 2: the callee is placed there.
        let (t, _ticket) = s.admit("w", Some(2)).unwrap().unwrap();
        assert_eq!(t, 2);
        assert_eq!(s.threads_of("w"), vec![2]);
        // A call from thread 3 crosses to thread 2 while it is not busy...
        let (t, ticket) = s.admit("w", Some(3)).unwrap().unwrap();
        assert_eq!(t, 2);
        drop(ticket);
        // ...and once thread 2 has a queue of it, the callee spreads to
        // the caller's thread.
        let _more = s.admit("w", Some(2)).unwrap().unwrap();
        let (t, _) = s.admit("w", Some(3)).unwrap().unwrap();
        assert_eq!(t, 3);
        assert_eq!(s.threads_of("w"), vec![2, 3]);
    }

    #[test]
    fn a_sequential_load_stays_on_one_thread() {
        let s = sched(&["a"], 16, QueueLimits::default());
        for _ in 0..100 {
            let (t, ticket) = s.admit("a", None).unwrap().unwrap();
            assert_eq!(t, 0, "the first of 16 threads, then always the same");
            drop(ticket);
        }
        assert_eq!(s.threads_of("a"), vec![0]);
    }

    #[test]
    fn a_queue_that_builds_up_spreads_to_more_threads_and_shrinks_when_idle() {
        let s = sched(&["a", "b"], 4, QueueLimits::default());
        let mut held = Vec::new();
        for _ in 0..20 {
            held.push(s.admit("a", None).unwrap().unwrap());
        }
        assert_eq!(s.threads_of("a"), vec![0, 1, 2, 3]);
        // Spread evenly, not piled on the first thread.
        let on_first = held.iter().filter(|(t, _)| *t == 0).count();
        assert!(on_first <= 6, "{on_first} of 20 on thread 0");
        // Not while requests wait there.
        assert!(!s.release("a", 1));
        held.clear();
        assert!(s.release("a", 1));
        assert!(s.release("a", 2));
        assert!(s.release("a", 3));
        assert!(!s.release("a", 0), "the last thread stays");
        assert_eq!(s.threads_of("a"), vec![0]);
        // A thread the Worker is not placed on may always let its isolate go.
        assert!(s.release("b", 0));
    }

    #[test]
    fn waiting_is_bounded_per_worker_and_per_thread() {
        let limits = QueueLimits {
            max_queued_per_worker: 3,
            max_queued_per_thread: 5,
        };
        let s = sched(&["a", "b"], 1, limits);
        let a: Vec<_> = (0..3).map(|_| s.admit("a", None).unwrap().unwrap()).collect();
        assert_eq!(s.admit("a", None).unwrap().err(), Some(Full::Worker));
        let b: Vec<_> = (0..2).map(|_| s.admit("b", None).unwrap().unwrap()).collect();
        assert_eq!(s.admit("b", None).unwrap().err(), Some(Full::Thread));
        drop(a);
        assert!(s.admit("b", None).unwrap().is_ok());
        drop(b);
    }
}
