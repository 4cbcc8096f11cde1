//! What the requests on one isolate own: the resources JS refers to by
//! number (bodies, body writers) and the asynchronous ops in flight (timers,
//! subrequests, body reads and writes), each with the request it belongs to.
//!
//! When a request ends, everything it owns goes with it: its resources are
//! dropped and its ops aborted, so a timer or a subrequest of a finished
//! request neither runs nor holds memory. Things started with no request
//! (at the Worker's global scope) belong to the isolate and stay.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

use tokio::task::AbortHandle;

use crate::api::{Body, BodyError, BodySender};
use crate::ops::compression::{Format, StreamCodec};
use crate::ops::html_rewriter::Rewriter;

/// A resource JS refers to by number.
pub(crate) enum Resource {
    /// A body that can be read, forwarded or teed.
    Body(Body),
    /// A body still in the `Content-Encoding` it came with: JS reads it
    /// decoded, a response forwards it as it is.
    Encoded(Body, Format),
    /// The codec of a `CompressionStream` or `DecompressionStream`.
    Codec(Box<StreamCodec>),
    /// An `HTMLRewriter` transform in progress.
    Rewriter(Box<Rewriter>),
    /// The writing end of a body that JS produces.
    Writer(BodySender),
    /// A WebSocket not accepted (yet): raw bytes after a `101`.
    Socket(crate::api::Upgraded),
    /// An accepted WebSocket.
    WebSocket(crate::ops::websocket::Accepted),
}

/// A resource table entry with the request that owns it.
pub(crate) struct Entry {
    pub(crate) owner: Option<u32>,
    pub(crate) resource: Resource,
}

/// What a request had when it ended, for the caller to finish off.
#[derive(Default)]
pub(crate) struct Released {
    /// Ops aborted before they completed: JS drops their callbacks.
    pub(crate) ops: Vec<u32>,
    /// How many of them were still counted as in flight.
    pub(crate) in_flight: u32,
}

/// Resources and ops of one isolate, by id, with their owners.
#[derive(Default)]
pub(crate) struct Table {
    resources: HashMap<u32, Entry>,
    /// Bodies whose read was in flight when JS closed them, with the
    /// request that closed them (an aborted read never comes back).
    closed_while_read: HashMap<u32, Option<u32>>,
    /// Ops in flight: op id → the task to abort and its owner.
    ops: HashMap<u32, (Option<u32>, AbortHandle)>,
    /// Ops in flight by owning request.
    ops_of: HashMap<u32, HashSet<u32>>,
}

impl Table {
    /// Store a resource under `rid`.
    pub(crate) fn insert(&mut self, rid: u32, owner: Option<u32>, resource: Resource) {
        self.resources.insert(rid, Entry { owner, resource });
    }

    /// Put back a body whose read completed, unless JS closed it meanwhile.
    pub(crate) fn put_back(&mut self, rid: u32, owner: Option<u32>, resource: Resource) {
        if self.closed_while_read.remove(&rid).is_some() {
            return;
        }
        self.insert(rid, owner, resource);
    }

    /// Take a body out of the table, with the coding it is still in.
    pub(crate) fn take_body(&mut self, rid: u32) -> Option<(Option<u32>, Body, Option<Format>)> {
        if !matches!(
            self.resources.get(&rid),
            Some(Entry {
                resource: Resource::Body(_) | Resource::Encoded(..),
                ..
            })
        ) {
            return None;
        }
        match self.resources.remove(&rid) {
            Some(Entry {
                owner,
                resource: Resource::Body(b),
            }) => Some((owner, b, None)),
            Some(Entry {
                owner,
                resource: Resource::Encoded(b, f),
            }) => Some((owner, b, Some(f))),
            _ => None,
        }
    }

    /// Run `f` on a stream codec; `None` if `rid` is not one.
    pub(crate) fn with_codec<R>(&mut self, rid: u32, f: impl FnOnce(&mut StreamCodec) -> R) -> Option<R> {
        match self.resources.get_mut(&rid) {
            Some(Entry {
                resource: Resource::Codec(c),
                ..
            }) => Some(f(c)),
            _ => None,
        }
    }

    /// Run `f` on an HTML rewriter; `None` if `rid` is not one.
    pub(crate) fn with_rewriter<R>(&mut self, rid: u32, f: impl FnOnce(&mut Rewriter) -> R) -> Option<R> {
        match self.resources.get_mut(&rid) {
            Some(Entry {
                resource: Resource::Rewriter(r),
                ..
            }) => Some(f(r)),
            _ => None,
        }
    }

    /// Take a raw WebSocket out of the table.
    pub(crate) fn take_socket(&mut self, rid: u32) -> Option<(Option<u32>, crate::api::Upgraded)> {
        if !matches!(
            self.resources.get(&rid),
            Some(Entry {
                resource: Resource::Socket(_),
                ..
            })
        ) {
            return None;
        }
        match self.resources.remove(&rid) {
            Some(Entry {
                owner,
                resource: Resource::Socket(s),
            }) => Some((owner, s)),
            _ => None,
        }
    }

    /// An accepted WebSocket.
    pub(crate) fn websocket(&mut self, rid: u32) -> Option<&mut crate::ops::websocket::Accepted> {
        match self.resources.get_mut(&rid) {
            Some(Entry {
                resource: Resource::WebSocket(ws),
                ..
            }) => Some(ws),
            _ => None,
        }
    }

    /// Whether request `id` holds an accepted WebSocket (which keeps it
    /// alive past its grace period).
    pub(crate) fn holds_socket(&self, id: u32) -> bool {
        self.resources
            .values()
            .any(|e| matches!(&e.resource, Resource::WebSocket(ws) if ws.holder == Some(id)))
    }

    /// A clone of a writer's sender.
    pub(crate) fn writer(&self, rid: u32) -> Option<BodySender> {
        match self.resources.get(&rid) {
            Some(Entry {
                resource: Resource::Writer(tx),
                ..
            }) => Some(tx.clone()),
            _ => None,
        }
    }

    /// Drop a resource (or, if a read has it, drop it when the read ends).
    /// `by` is the request closing it.
    pub(crate) fn close(&mut self, rid: u32, by: Option<u32>) {
        if self.resources.remove(&rid).is_none() {
            self.closed_while_read.insert(rid, by);
        }
    }

    /// A body whose read ended for good: forget that JS closed it.
    pub(crate) fn discard(&mut self, rid: u32) {
        self.closed_while_read.remove(&rid);
    }

    /// Record an op in flight.
    pub(crate) fn add_op(&mut self, op: u32, owner: Option<u32>, task: AbortHandle) {
        if let Some(id) = owner {
            self.ops_of.entry(id).or_default().insert(op);
        }
        self.ops.insert(op, (owner, task));
    }

    /// An op's completion arrived: forget it. False if it had been
    /// cancelled (its result is then of no use to anyone).
    pub(crate) fn op_done(&mut self, op: u32) -> bool {
        let Some((owner, _)) = self.ops.remove(&op) else {
            return false;
        };
        self.unlink(op, owner);
        true
    }

    /// Cancel op `op` (`clearTimeout`). True if its task was still running,
    /// so that no completion will arrive for it.
    pub(crate) fn cancel_op(&mut self, op: u32) -> bool {
        let Some((owner, task)) = self.ops.remove(&op) else {
            return false;
        };
        self.unlink(op, owner);
        abort(&task)
    }

    fn unlink(&mut self, op: u32, owner: Option<u32>) {
        if let Some(id) = owner {
            if let Some(set) = self.ops_of.get_mut(&id) {
                set.remove(&op);
                if set.is_empty() {
                    self.ops_of.remove(&id);
                }
            }
        }
    }

    /// Whether request `id` has an op in flight.
    pub(crate) fn has_ops(&self, id: u32) -> bool {
        self.ops_of.contains_key(&id)
    }

    /// Drop everything request `id` owns: its resources, and its ops, whose
    /// tasks are aborted.
    pub(crate) fn release(&mut self, id: u32) -> Released {
        self.resources.retain(|_, e| {
            if e.owner != Some(id) {
                return true;
            }
            if let Resource::Writer(tx) = &e.resource {
                // A body JS was still writing ends in an error, not as if
                // it were complete.
                let _ = tx.try_send(Err(BodyError(Arc::from(
                    "the request ended before its body was complete",
                ))));
            }
            false
        });
        self.closed_while_read.retain(|_, by| *by != Some(id));
        let mut released = Released::default();
        for op in self.ops_of.remove(&id).unwrap_or_default() {
            if let Some((_, task)) = self.ops.remove(&op) {
                if abort(&task) {
                    released.in_flight += 1;
                }
                released.ops.push(op);
            }
        }
        released
    }
}

/// Abort a task; true if it had not finished (its completion was not sent).
fn abort(task: &AbortHandle) -> bool {
    // Tasks run on this thread only, and none runs while this code does: a
    // task that has not finished never sends its completion once aborted.
    if task.is_finished() {
        return false;
    }
    task.abort();
    true
}

impl Drop for Table {
    fn drop(&mut self) {
        // The isolate is gone: nothing may run on its behalf any more.
        for (_, task) in self.ops.values() {
            task.abort();
        }
    }
}
