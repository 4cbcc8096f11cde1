//! The Worker path: a request on a socket whose service is a Worker goes to
//! the runtime with its body streamed from the client while the Worker runs;
//! the Worker's response streams back.

use bytes::Bytes;
use http::header;
use isoproxy_runtime::{Body, BodyError, Outcome, Request, RequestInfo, TlsInfo};
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

use crate::error::{worker_failure, Reject};
use crate::pipeline::handler::{write_reject, write_reject_keepalive, Handler, RequestCtx};
use crate::upstream::check;
use crate::upstream::headers::{inject, strip_hop_by_hop};

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
    // The URL's authority: the absolute target's, else HTTP/2's
    // `:authority` (kept in the URI), else Host.
    let url = match crate::pipeline::handler::absolute_target(req) {
        Some((https, authority, pq)) => format!("{}://{authority}{pq}", if https { "https" } else { "http" }),
        None => {
            let host = req
                .uri
                .authority()
                .map(|a| a.as_str())
                .or_else(|| req.headers.get(header::HOST).and_then(|v| v.to_str().ok()))
                .unwrap_or("");
            let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
            format!("{scheme}://{host}{pq}")
        }
    };
    let mut headers = req.headers.clone();
    strip_hop_by_hop(&mut headers, false);
    // On a forward-proxy socket the Worker is the proxy: it sees the
    // client's Proxy-Authorization (its own fetch() never sends it on).
    if h.route.http.style == isoproxy_schema::model::HttpStyle::Proxy {
        if let Some(v) = req.headers.get(header::PROXY_AUTHORIZATION) {
            headers.insert(header::PROXY_AUTHORIZATION, v.clone());
        }
    }
    if crate::pipeline::websocket::wants(session) {
        // A WebSocket handshake: the Worker sees `Upgrade: websocket` (and
        // may pass the request on with fetch(), or answer with a pair).
        headers.insert(header::UPGRADE, http::HeaderValue::from_static("websocket"));
    }
    let declared = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let method = req.method.clone();
    let http_version = req.version;
    let expects_continue = req
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let has_body = !session.is_body_empty();
    let (mut tx, body) = if has_body {
        let (tx, body) = Body::channel(BODY_CHANNEL, declared);
        (Some(tx), body)
    } else {
        (None, Body::Empty)
    };
    let request = Request {
        method: method.clone(),
        url,
        headers,
        body,
    };
    let info = RequestInfo {
        client_addr: session.client_addr().and_then(|a| a.as_inet()).copied(),
        request_id: ctx.request_id.clone(),
        http_version: Some(http_version),
        tls: session.digest().and_then(|d| d.ssl_digest.as_ref()).map(|t| TlsInfo {
            version: t.version.to_string(),
            cipher: t.cipher.to_string(),
        }),
    };
    let max_body = h.route.limits.max_body_bytes;
    // A router's route names a Worker service, without entrypoint or props.
    let routed = ctx.traffic.route.is_some();
    let worker = h.service(ctx).name.clone();
    let fetch = pool.invoke(
        &worker,
        h.route.entrypoint.as_deref().filter(|_| !routed),
        h.route.props_json.as_deref().filter(|_| !routed),
        request,
        info,
    );
    tokio::pin!(fetch);
    if has_body && expects_continue && !session.is_http2() {
        // The client waits for this before it sends the body; the Worker
        // reads the body as it arrives, so there is nothing to wait for.
        if session.as_downstream_mut().write_continue_response().await.is_err() {
            session.set_keepalive(None);
        }
    }
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
                        fail(session, ctx, crate::pipeline::handler::reject_for(&e.into_down())).await;
                        return;
                    }
                }
            }
        }
    };
    ctx.worker_cpu = Some(result.cpu);
    let resp = match result.result {
        Ok(r) => {
            drop(tx);
            r
        }
        Err(f) => {
            ctx.worker_outcome = Some(f.outcome);
            tracing::warn!(socket = %h.route.name, worker = %worker, error = %f.message, "worker failed");
            // Out of time while the client was still sending the body: the
            // client kept the Worker waiting (the no-script path's rule).
            let r = if f.outcome == Outcome::WallLimit && tx.is_some() {
                Reject::new(408, "request body timeout")
            } else {
                worker_failure(f.outcome)
            };
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
    let mut resp = resp;
    if let Some(socket) = resp.upgrade.take() {
        crate::pipeline::websocket::serve(h, session, ctx, resp, socket).await;
        return;
    }
    if resp.status == http::StatusCode::SWITCHING_PROTOCOLS {
        fail(
            session,
            ctx,
            Reject::internal("the Worker answered 101 without a WebSocket"),
        )
        .await;
        return;
    }
    let Ok(mut head) = ResponseHeader::build(resp.status, Some(resp.headers.len() + 2)) else {
        fail(session, ctx, Reject::internal("invalid worker response")).await;
        return;
    };
    for (k, v) in resp.headers.iter() {
        let _ = head.append_header(k.clone(), v.clone());
    }
    strip_hop_by_hop(&mut head, false);
    let _ = head.remove_header(&header::TRANSFER_ENCODING);
    inject(&mut head, &h.route.http.response);
    if let Some(r) = &ctx.traffic.route {
        inject(&mut head, &r.response);
    }
    if !check::has_body(&method, resp.status) {
        // HEAD, 204 and 304: no body is sent whatever the Worker gave; a
        // HEAD or 304 keeps the Content-Length it describes.
        if resp.status == http::StatusCode::NO_CONTENT {
            let _ = head.remove_header(&header::CONTENT_LENGTH);
        }
        let _ = session.write_response_header(Box::new(head), true).await;
        return;
    }
    let (len, empty) = match &resp.body {
        Body::Empty => (Some(0), true),
        Body::Bytes(b) => (Some(b.len() as u64), b.is_empty()),
        Body::Stream { len, .. } => (*len, false),
    };
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
    if session.write_response_header(Box::new(head), empty).await.is_err() {
        return;
    }
    let complete = match resp.body {
        Body::Empty => true,
        Body::Bytes(b) => session.write_response_body(Some(b), true).await.is_ok(),
        Body::Stream { mut rx, len } => {
            let mut sent = 0u64;
            let mut ok = true;
            while let Some(chunk) = rx.recv().await {
                match chunk {
                    Ok(b) => {
                        sent += b.len() as u64;
                        if session.write_response_body(Some(b), false).await.is_err() {
                            ok = false;
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(socket = %h.route.name, error = %e, "worker response body failed");
                        ok = false;
                        break;
                    }
                }
            }
            // A body shorter than its Content-Length is cut, not complete.
            ok && len.is_none_or(|n| n == sent) && session.write_response_body(Some(Bytes::new()), true).await.is_ok()
        }
    };
    if !complete {
        // No fake complete body: abort the connection.
        session.set_keepalive(None);
        session.shutdown().await;
    }
}

async fn fail(session: &mut Session, ctx: &mut RequestCtx, r: Reject) {
    ctx.blame = Some(r.blame);
    if session.response_written().is_none() {
        write_reject(session, &r).await;
    }
    ctx.reject = Some(r);
}
