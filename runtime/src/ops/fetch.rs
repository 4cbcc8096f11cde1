//! Ops behind `fetch()`, bodies and the Worker's response: subrequests
//! through `Outbound` or to other Workers, native bodies that JS may read,
//! tee or pass along untouched, and the reply to the proxy.

use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use tokio::sync::{oneshot, Semaphore};

use super::compression::{transform_body, Codec, Format};
use super::{bytes_of, headers_from_js, pair, state, string, throw_error, throw_type_error};
use crate::api::{Body, BodyError, Request, RequestInfo, Response};
use crate::pool::Job;
use crate::resources::Resource;
use crate::spec::Target;
use crate::state::{OpResult, State};
use crate::{Outcome, WorkerFailure};

/// A body argument from JS: `null`, bytes, or a native body's resource id.
pub(crate) fn body_arg(scope: &mut v8::PinScope, st: &State, v: v8::Local<v8::Value>) -> Result<Body, String> {
    if v.is_null_or_undefined() {
        return Ok(Body::Empty);
    }
    if v.is_number() {
        let rid = v.uint32_value(scope).unwrap_or(0);
        return st
            .take_body(rid)
            .map(|(_, b)| b)
            .ok_or_else(|| "body already used".to_string());
    }
    match bytes_of(v) {
        Some(b) if b.is_empty() => Ok(Body::Empty),
        Some(b) => Ok(Body::Bytes(Bytes::from(b))),
        None => Err("unsupported body".into()),
    }
}

/// The body of the Worker's response as it goes on the wire, per its
/// `Content-Encoding` (gzip, deflate or br; anything else is sent as is):
/// a subrequest body still in that coding passes through untouched; any
/// other body is compressed, unless `manual` (the Response was made with
/// `encodeBody: "manual"`: the Worker encoded it itself). A subrequest body
/// whose coding no longer matches the headers is decoded first.
fn response_body(
    scope: &mut v8::PinScope,
    st: &State,
    v: v8::Local<v8::Value>,
    headers: &http::HeaderMap,
    manual: bool,
) -> Result<Body, String> {
    let wanted = Format::from_content_encoding(headers);
    let (body, current) = if v.is_number() {
        let rid = v.uint32_value(scope).unwrap_or(0);
        let (_, body, current) = st.take_body_raw(rid).ok_or_else(|| "body already used".to_string())?;
        (body, current)
    } else {
        (body_arg(scope, st, v)?, None)
    };
    if current.is_some() && current == wanted {
        return Ok(body);
    }
    let body = match current {
        Some(f) => transform_body(body, Codec::decoder(f, true)),
        None => body,
    };
    match wanted {
        Some(f) if !manual => Ok(transform_body(body, Codec::encoder(f))),
        _ => Ok(body),
    }
}

/// Send a request to `target` (the Worker's own routing, no JS involved).
///
/// With `slots`, the request first waits for a permit: that is how
/// `maxConcurrentSubrequests` holds back a request's extra `fetch()` calls.
/// The permit is held until the response headers arrive (or the call
/// fails); bodies stream without one, so a Worker that leaves a response
/// body unread cannot block its own later subrequests.
///
/// `depth` is the depth of the calling request; a Worker called here runs
/// one deeper (the caller checks [`crate::MAX_WORKER_DEPTH`]).
pub(crate) fn send_to(
    st: &Rc<State>,
    target: &Target,
    request: Request,
    info: RequestInfo,
    slots: Option<Arc<Semaphore>>,
    depth: u32,
) -> Result<u32, String> {
    let permit = async move {
        match slots {
            // The semaphore is never closed, so `acquire` only fails if it
            // were; go ahead without a permit then.
            Some(s) => s.acquire_owned().await.ok(),
            None => None,
        }
    };
    match target {
        Target::Missing(name) => Err(format!(
            "fetch() cannot reach service {name:?}: no such service is defined in the config"
        )),
        Target::Service(name) => {
            let outbound = st.env.shared.outbound.clone();
            let name = name.clone();
            Ok(st.spawn_op(async move {
                let _permit = permit.await;
                OpResult::Fetch(outbound.fetch(&name, request, &info).await)
            }))
        }
        Target::Worker(name, entrypoint) => {
            let env = st.env.clone();
            let name = name.clone();
            let entrypoint = entrypoint.clone();
            Ok(st.spawn_op(async move {
                let _permit = permit.await;
                let (tx, rx) = oneshot::channel();
                // Dropped unsent when this op is aborted (the calling
                // request ended): the called Worker's request is canceled.
                let (done, gone) = oneshot::channel();
                env.call(Job {
                    worker: name,
                    entrypoint,
                    request,
                    info,
                    reply: tx,
                    gone: Some(gone),
                    cpu_ns: Default::default(),
                    depth: depth + 1,
                    ticket: None,
                });
                let result = rx.await.unwrap_or_else(|_| {
                    Err(WorkerFailure {
                        outcome: Outcome::Internal,
                        message: "the called Worker went away".into(),
                    })
                });
                let _ = done.send(crate::pool::Settled::Answered);
                OpResult::WorkerFetch(result)
            }))
        }
    }
}

/// `(target, method, url, headers, body)` → op id. `target` is the index of
/// a service binding, or -1 for the global outbound.
pub(crate) fn op_fetch_send(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let idx = args.get(0).int32_value(scope).unwrap_or(-1);
    let target = if idx < 0 {
        st.spec.global_outbound.clone()
    } else {
        match st.spec.fetchers.get(idx as usize) {
            Some(t) => t.clone(),
            None => {
                throw_type_error(scope, "fetch(): unknown binding");
                return;
            }
        }
    };
    let (info, slots, depth) = match st.current.get() {
        Some(id) => {
            let mut reqs = st.requests.borrow_mut();
            match reqs.get_mut(&id) {
                Some(p) => {
                    if matches!(target, Target::Worker(..)) && p.depth >= crate::MAX_WORKER_DEPTH {
                        let depth = p.depth;
                        drop(reqs);
                        tracing::warn!(target: "isoproxy::worker", worker = %st.spec.name, depth, "Worker-to-Worker call refused: depth limit reached");
                        st.env.shared.observer.depth_exceeded(&st.spec.name);
                        throw_error(
                            scope,
                            &format!(
                                "Worker call depth limit of {} exceeded: this request already passed through {depth} Workers (service bindings calling Workers, or a Worker calling itself)",
                                crate::MAX_WORKER_DEPTH
                            ),
                        );
                        return;
                    }
                    p.subrequests += 1;
                    if p.subrequests > st.spec.limits().subrequests {
                        drop(reqs);
                        throw_error(
                            scope,
                            &format!(
                                "Too many subrequests: the limit is {} per request",
                                st.spec.limits().subrequests
                            ),
                        );
                        return;
                    }
                    (p.info.clone(), Some(p.subrequest_slots.clone()), p.depth)
                }
                None => (RequestInfo::default(), None, 1),
            }
        }
        None => (RequestInfo::default(), None, 1),
    };
    let method = string(scope, args.get(1));
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        throw_type_error(scope, &format!("invalid method {method:?}"));
        return;
    };
    let url = string(scope, args.get(2));
    let mut headers = match headers_from_js(scope, args.get(3)) {
        Ok(h) => h,
        Err(e) => {
            throw_type_error(scope, &e);
            return;
        }
    };
    if matches!(target, Target::Service(_)) && !headers.contains_key(http::header::ACCEPT_ENCODING) {
        // The codings isoproxy decodes when JS reads the body.
        headers.insert(
            http::header::ACCEPT_ENCODING,
            http::HeaderValue::from_static("gzip, br"),
        );
    }
    let body = match body_arg(scope, &st, args.get(4)) {
        Ok(b) => b,
        Err(e) => {
            throw_type_error(scope, &e);
            return;
        }
    };
    let request = Request {
        method,
        url,
        headers,
        body,
    };
    match send_to(&st, &target, request, info, slots, depth) {
        Ok(op) => rv.set_uint32(op),
        Err(e) => throw_type_error(scope, &e),
    }
}

/// Take the native body named by an op's first argument out of the
/// resource table: `(rid, owner, body)`. Throws a `TypeError` and returns
/// `None` when it is gone (used up, or being read by another op).
fn take_body_arg(
    scope: &mut v8::PinScope,
    args: &v8::FunctionCallbackArguments,
    st: &State,
) -> Option<(u32, Option<u32>, Body)> {
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    match st.take_body(rid) {
        Some((owner, body)) => Some((rid, owner, body)),
        None => {
            throw_type_error(scope, "body is not readable (already used or being read)");
            None
        }
    }
}

/// Read the next chunk of a native body: `(rid)` → op id; the op yields a
/// `Uint8Array`, or `null` at the end.
pub(crate) fn op_body_read(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let Some((rid, owner, body)) = take_body_arg(scope, &args, &st) else {
        return;
    };
    let op = st.spawn_op(async move {
        let (body, chunk) = match body {
            Body::Empty => (Body::Empty, None),
            Body::Bytes(b) => (Body::Empty, Some(Ok(b))),
            Body::Stream { mut rx, len } => {
                let c = rx.recv().await;
                (Body::Stream { rx, len }, c)
            }
        };
        OpResult::Read {
            rid,
            owner,
            body,
            chunk,
        }
    });
    rv.set_uint32(op);
}

/// Read a whole native body: `(rid, limit)` → op id yielding an ArrayBuffer.
pub(crate) fn op_body_read_all(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let limit = st.spec.limits().max_buffered_body_bytes;
    let Some((_, _, body)) = take_body_arg(scope, &args, &st) else {
        return;
    };
    let op = st.spawn_op(async move {
        let result = match body {
            Body::Empty => Ok(Vec::new()),
            Body::Bytes(b) => Ok(b.to_vec()),
            Body::Stream { mut rx, len } => {
                let mut buf = Vec::with_capacity(len.unwrap_or(0).min(limit) as usize);
                loop {
                    match rx.recv().await {
                        None => break Ok(buf),
                        Some(Err(e)) => break Err(e.to_string()),
                        Some(Ok(c)) => {
                            if (buf.len() + c.len()) as u64 > limit && limit > 0 {
                                break Err(format!("body larger than the {limit}-byte limit"));
                            }
                            buf.extend_from_slice(&c);
                        }
                    }
                }
            }
        };
        OpResult::ReadAll(result)
    });
    rv.set_uint32(op);
}

/// Split a native body in two: `(rid)` → `[rid1, rid2]`.
pub(crate) fn op_body_tee(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    // Both halves stay in the coding the body came in.
    let Some((_, body, format)) = st.take_body_raw(rid) else {
        throw_type_error(scope, "body is not readable (already used or being read)");
        return;
    };
    let (a, b) = match body {
        Body::Empty => (Body::Empty, Body::Empty),
        Body::Bytes(b) => (Body::Bytes(b.clone()), Body::Bytes(b)),
        Body::Stream { mut rx, len } => {
            let (tx1, b1) = Body::channel(8, len);
            let (tx2, b2) = Body::channel(8, len);
            tokio::task::spawn_local(async move {
                let (mut alive1, mut alive2) = (true, true);
                while let Some(chunk) = rx.recv().await {
                    if alive1 {
                        alive1 = tx1.send(chunk.clone()).await.is_ok();
                    }
                    if alive2 {
                        alive2 = tx2.send(chunk).await.is_ok();
                    }
                    if !alive1 && !alive2 {
                        break;
                    }
                }
            });
            (b1, b2)
        }
    };
    let wrap = |b| match format {
        Some(f) => Resource::Encoded(b, f),
        None => Resource::Body(b),
    };
    let r1 = st.add(wrap(a));
    let r2 = st.add(wrap(b));
    let v1 = v8::Integer::new_from_unsigned(scope, r1);
    let v2 = v8::Integer::new_from_unsigned(scope, r2);
    rv.set(pair(scope, v1.into(), v2.into()).into());
}

/// Drop a body or a writer (ends the body for a writer).
pub(crate) fn op_body_close(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    st.close(rid);
}

/// A body that JS writes: `(length?)` → `[writerRid, bodyRid]`; `length`
/// (a FixedLengthStream's) becomes the body's Content-Length.
pub(crate) fn op_body_writer(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let len = if args.get(0).is_number() {
        args.get(0).number_value(scope).map(|n| n as u64)
    } else {
        None
    };
    let (tx, body) = Body::channel(4, len);
    let w = st.add(Resource::Writer(tx));
    let b = st.add(Resource::Body(body));
    let v1 = v8::Integer::new_from_unsigned(scope, w);
    let v2 = v8::Integer::new_from_unsigned(scope, b);
    rv.set(pair(scope, v1.into(), v2.into()).into());
}

/// Write a chunk: `(writerRid, bytes)` → op id yielding whether the reader
/// is still there.
pub(crate) fn op_body_write(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let Some(tx) = st.writer(rid) else {
        throw_type_error(scope, "body writer is closed");
        return;
    };
    let chunk = Bytes::from(bytes_of(args.get(1)).unwrap_or_default());
    let op = st.spawn_op(async move { OpResult::Write(tx.send(Ok(chunk)).await.is_ok()) });
    rv.set_uint32(op);
}

/// Abort a body that JS writes: `(writerRid, reason)`.
pub(crate) fn op_body_abort(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let rid = args.get(0).uint32_value(scope).unwrap_or(0);
    let reason = string(scope, args.get(1));
    if let Some(tx) = st.writer(rid) {
        let _ = tx.try_send(Err(BodyError(Arc::from(reason.as_str()))));
    }
    st.close(rid);
}

/// The Worker's response: `(requestId, status, headers, body, socket,
/// manual)`; `socket` the WebSocket resource of a `101` (else null),
/// `manual` true for `encodeBody: "manual"`.
pub(crate) fn op_response_send(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let id = args.get(0).uint32_value(scope).unwrap_or(0);
    let status = args.get(1).uint32_value(scope).unwrap_or(200);
    let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
    let headers = match headers_from_js(scope, args.get(2)) {
        Ok(h) => h,
        Err(e) => {
            st.fail(id, Outcome::Exception, e);
            return;
        }
    };
    let manual = args.get(5).is_true();
    let body = match response_body(scope, &st, args.get(3), &headers, manual) {
        Ok(b) => b,
        Err(e) => {
            st.fail(id, Outcome::Exception, e);
            return;
        }
    };
    // A `101` carries the socket the client is to be joined with.
    let upgrade = if args.get(4).is_number() {
        let rid = args.get(4).uint32_value(scope).unwrap_or(0);
        match st.take_socket(rid) {
            Some((_, s)) => Some(s),
            None => {
                st.fail(id, Outcome::Exception, "the response's WebSocket was already used");
                return;
            }
        }
    } else {
        None
    };
    st.reply(
        id,
        Ok(Response {
            status,
            headers,
            body,
            upgrade,
        }),
    );
}

/// The Worker's handler threw: `(requestId, message, stack)`.
pub(crate) fn op_response_error(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let id = args.get(0).uint32_value(scope).unwrap_or(0);
    let message = string(scope, args.get(1));
    let stack = string(scope, args.get(2));
    tracing::error!(target: "isoproxy::worker", worker = %st.spec.name, error = %message, stack = %stack, "uncaught exception in fetch handler");
    let original = {
        let mut reqs = st.requests.borrow_mut();
        match reqs.get_mut(&id) {
            Some(p) if p.pass_through && p.reply.is_some() => p.original.take().map(|o| (o, p.info.clone(), p.depth)),
            _ => None,
        }
    };
    if let Some((o, info, depth)) = original {
        // A body that JS has read (even in part), forwarded or teed cannot be
        // re-sent whole: answer 500 rather than pass on a truncated request.
        let body = match o.body_rid {
            None => Some(Body::Empty),
            Some(_) if o.body_disturbed => None,
            Some(rid) => st.take_body(rid).map(|(_, b)| b),
        };
        let Some(body) = body else {
            tracing::warn!(target: "isoproxy::worker", worker = %st.spec.name, "passThroughOnException: the request body was already used, answering 500");
            st.fail(
                id,
                Outcome::Exception,
                format!("uncaught exception: {message} (passThroughOnException: the request body was already used)"),
            );
            return;
        };
        let request = Request {
            method: o.method,
            url: o.url,
            headers: o.headers,
            body,
        };
        let reply = st.requests.borrow_mut().get_mut(&id).and_then(|p| p.reply.take());
        if let Some(reply) = reply {
            pass_through(&st, request, info, reply, depth);
            return;
        }
    }
    st.fail(id, Outcome::Exception, format!("uncaught exception: {message}"));
}

fn pass_through(st: &Rc<State>, request: Request, info: RequestInfo, reply: crate::state::Reply, depth: u32) {
    let target = st.spec.global_outbound.clone();
    let outbound = st.env.shared.outbound.clone();
    let env = st.env.clone();
    let worker = st.spec.name.clone();
    st.env
        .shared
        .observer
        .invocation(&st.spec.name, Outcome::Exception, std::time::Duration::ZERO);
    tokio::task::spawn_local(async move {
        let result = match target {
            Target::Service(name) => outbound.fetch(&name, request, &info).await.map_err(|e| WorkerFailure {
                outcome: Outcome::Exception,
                message: format!("passThroughOnException: {e}"),
            }),
            Target::Worker(_, _) if depth >= crate::MAX_WORKER_DEPTH => {
                env.shared.observer.depth_exceeded(&worker);
                Err(WorkerFailure {
                    outcome: Outcome::Exception,
                    message: format!(
                        "passThroughOnException: Worker call depth limit of {} exceeded",
                        crate::MAX_WORKER_DEPTH
                    ),
                })
            }
            Target::Worker(name, entrypoint) => {
                let (tx, rx) = oneshot::channel();
                env.call(Job {
                    worker: name,
                    entrypoint,
                    request,
                    info,
                    reply: tx,
                    gone: None,
                    cpu_ns: Default::default(),
                    depth: depth + 1,
                    ticket: None,
                });
                rx.await.unwrap_or_else(|_| {
                    Err(WorkerFailure {
                        outcome: Outcome::Internal,
                        message: "passThroughOnException: the Worker went away".into(),
                    })
                })
            }
            Target::Missing(name) => Err(WorkerFailure {
                outcome: Outcome::Exception,
                message: format!("passThroughOnException: no service {name:?}"),
            }),
        };
        let _ = reply.send(result);
    });
}

/// `ctx.passThroughOnException()`: `(requestId)`.
pub(crate) fn op_request_pass_through(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let id = args.get(0).uint32_value(scope).unwrap_or(0);
    let mut reqs = st.requests.borrow_mut();
    if let Some(p) = reqs.get_mut(&id) {
        p.pass_through = true;
    }
}

/// The response is complete, its body included (or the handler failed):
/// `(requestId)`. From now on the request may go on for its `waitUntil`
/// work for at most the Worker's grace period.
pub(crate) fn op_request_responded(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let id = args.get(0).uint32_value(scope).unwrap_or(0);
    st.start_grace(id);
}

/// The connect handler of request `id` accepted its tunnel: `(requestId)`.
pub(crate) fn op_tunnel_open(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let id = args.get(0).uint32_value(scope).unwrap_or(0);
    if let Some(p) = st.requests.borrow_mut().get_mut(&id) {
        p.tunnel = true;
    };
}

/// The request is over (response sent, `waitUntil` settled): `(requestId)`
/// → the ids of its ops still pending, now aborted: JS drops their
/// callbacks (a timer of a finished request never fires).
pub(crate) fn op_request_done(
    scope: &mut v8::PinScope,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    let Some(st) = state(scope) else { return };
    let id = args.get(0).uint32_value(scope).unwrap_or(0);
    st.fail(id, Outcome::Exception, "the handler finished without a response");
    let dropped = st.end_request(id);
    rv.set(super::u32_array(scope, &dropped).into());
}
