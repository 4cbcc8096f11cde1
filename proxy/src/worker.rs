//! The Worker path: a request on a socket whose service is a Worker goes to
//! the runtime with its body streamed from the client while the Worker runs;
//! the Worker's response streams back.

use bytes::Bytes;
use http::header;
use isoproxy_runtime::{Body, BodyError, Outcome, Request, RequestInfo};
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

use crate::error::{worker_failure, Reject};
use crate::handler::{strip_hop_by_hop, write_reject, write_reject_keepalive, Handler, RequestCtx};
use crate::route::inject;

/// Chunks buffered between the client and the Worker.
const BODY_CHANNEL: usize = 8;

/// Run the Worker for this request and write its response (or the error).
pub async fn handle(h: &Handler, session: &mut Session, ctx: &mut RequestCtx) {
    let Some(pool) = &h.workers else {
        fail(session, ctx, Reject::internal("no worker runtime")).await;
        return;
    };
    let scheme = h.scheme(session);
    let req = session.req_header();
    let url = match crate::handler::absolute_target(req) {
        Some((https, authority, pq)) => format!("{}://{authority}{pq}", if https { "https" } else { "http" }),
        None => {
            let host = req
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
            format!("{scheme}://{host}{pq}")
        }
    };
    let mut headers = req.headers.clone();
    strip_hop_by_hop(&mut headers, false);
    let declared = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let method = req.method.clone();
    let has_body = !session.is_body_empty();
    let (mut tx, body) = if has_body {
        let (tx, body) = Body::channel(BODY_CHANNEL, declared);
        (Some(tx), body)
    } else {
        (None, Body::Empty)
    };
    let request = Request {
        method,
        url,
        headers,
        body,
    };
    let info = RequestInfo {
        client_addr: session.client_addr().and_then(|a| a.as_inet()).copied(),
        request_id: ctx.request_id.clone(),
    };
    let max_body = h.route.limits.max_body_bytes;
    let fetch = pool.invoke(
        &h.route.service.name,
        h.route.entrypoint.as_deref(),
        h.route.props_json.as_deref(),
        request,
        info,
    );
    tokio::pin!(fetch);
    let result = loop {
        tokio::select! {
            r = &mut fetch => break r,
            chunk = session.read_request_body(), if tx.is_some() => {
                let Some(sender) = tx.as_ref() else { continue };
                match chunk {
                    Ok(Some(b)) => {
                        ctx.bytes_in += b.len() as u64;
                        if max_body > 0 && ctx.bytes_in > max_body {
                            let _ = sender.send(Err(BodyError("request body too large".into()))).await;
                            fail(session, ctx, Reject::new(413, "request body too large")).await;
                            return;
                        }
                        if sender.send(Ok(b)).await.is_err() {
                            tx = None;
                        }
                    }
                    Ok(None) => tx = None,
                    Err(e) => {
                        let _ = sender.send(Err(BodyError(e.to_string().into()))).await;
                        // The client broke the request (too slow, bad chunked
                        // framing, gone): answer as the no-script path does,
                        // not with the Worker's failure.
                        fail(session, ctx, crate::handler::reject_for(&e.into_down())).await;
                        return;
                    }
                }
            }
        }
    };
    drop(tx);
    ctx.worker_cpu = Some(result.cpu);
    let resp = match result.result {
        Ok(r) => r,
        Err(f) => {
            ctx.worker_outcome = Some(f.outcome);
            tracing::warn!(socket = %h.route.name, worker = %h.route.service.name, error = %f.message, "worker failed");
            let r = worker_failure(f.outcome);
            ctx.blame = Some(r.blame);
            if session.response_written().is_none() {
                if session.is_body_done() {
                    // The request is fully read: the connection can carry the next one.
                    write_reject_keepalive(session, &r).await;
                } else {
                    write_reject(session, &r).await;
                }
            }
            ctx.reject = Some(r);
            return;
        }
    };
    ctx.worker_outcome = Some(Outcome::Ok);
    ctx.upstream_status = resp.status.as_u16();
    let Ok(mut head) = ResponseHeader::build(resp.status, Some(resp.headers.len() + 2)) else {
        fail(session, ctx, Reject::internal("invalid worker response")).await;
        return;
    };
    for (k, v) in resp.headers.iter() {
        let _ = head.append_header(k.clone(), v.clone());
    }
    strip_hop_by_hop(&mut head, false);
    let (len, empty) = match &resp.body {
        Body::Empty => (Some(0), true),
        Body::Bytes(b) => (Some(b.len() as u64), b.is_empty()),
        Body::Stream { len, .. } => (*len, false),
    };
    let _ = head.remove_header(&header::TRANSFER_ENCODING);
    match len {
        Some(n) => {
            let _ = head.insert_header(header::CONTENT_LENGTH, n.to_string());
        }
        None => {
            let _ = head.remove_header(&header::CONTENT_LENGTH);
            if !session.is_http2() {
                let _ = head.insert_header(header::TRANSFER_ENCODING, "chunked");
            }
        }
    }
    inject(&mut head, &h.route.http.response);
    if session.write_response_header(Box::new(head), empty).await.is_err() {
        return;
    }
    match resp.body {
        Body::Empty => {}
        Body::Bytes(b) => {
            let _ = session.write_response_body(Some(b), true).await;
        }
        Body::Stream { mut rx, .. } => {
            while let Some(chunk) = rx.recv().await {
                match chunk {
                    Ok(b) => {
                        if session.write_response_body(Some(b), false).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // No fake complete body: abort the connection.
                        tracing::warn!(socket = %h.route.name, error = %e, "worker response body failed");
                        session.set_keepalive(None);
                        session.shutdown().await;
                        return;
                    }
                }
            }
            let _ = session.write_response_body(Some(Bytes::new()), true).await;
        }
    }
}

async fn fail(session: &mut Session, ctx: &mut RequestCtx, r: Reject) {
    ctx.blame = Some(r.blame);
    if session.response_written().is_none() {
        write_reject(session, &r).await;
    }
    ctx.reject = Some(r);
}
