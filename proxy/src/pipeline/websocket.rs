//! WebSocket handshakes on HTTP/1.1. With no script, the handshake goes
//! through the one upstream exchange (as a Worker's `fetch()` would send
//! it); with a Worker, the Worker answers. Either way a `101` goes to the
//! client, then the client's connection is joined to the socket behind it
//! (the origin's connection, or the end of a `WebSocketPair` a Worker
//! serves). Bytes move natively both ways until either side closes or
//! nothing moves for `tunnelIdleTimeoutMs`; the request's access-log
//! record is written when the socket closes.

use std::time::Duration;

use bytes::Bytes;
use http::header;
use isoproxy_runtime::{Body, Response, Upgraded};
use pingora_http::ResponseHeader;
use pingora_proxy::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::Reject;
use crate::pipeline::frames::FrameScan;
use crate::pipeline::handler::{write_reject, Handler, RequestCtx};
use crate::pipeline::idle::IdleTimer;
use crate::upstream::headers::{incoming_response, inject};

/// Counts an open WebSocket in the gauge while it lives.
struct Active(prometheus::IntGauge);

impl Active {
    /// Count one more open WebSocket on `route`'s socket.
    fn new(route: &crate::pipeline::route::SocketRoute) -> Active {
        let gauge = route.metrics.websockets_active.with_label_values(&[&route.name]);
        gauge.inc();
        Active(gauge)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Why a Worker's `101` cannot go to this client, if it cannot.
pub fn refusal(session: &Session) -> Option<Reject> {
    if session.is_http2() {
        return Some(Reject::new(
            501,
            "WebSocket over HTTP/2 (extended CONNECT) is not supported; use HTTP/1.1",
        ));
    }
    if !session.is_upgrade_req() {
        let mut r = Reject::internal("the Worker answered with a WebSocket a request that did not ask for one");
        r.blame = crate::error::Blame::Script;
        return Some(r);
    }
    None
}

/// Whether the no-script path hands this request to [`no_script`]: a
/// WebSocket handshake on HTTP/1.1.
pub fn wants(session: &Session) -> bool {
    !session.is_http2()
        && session.is_upgrade_req()
        && crate::upstream::exchange::is_websocket_upgrade(&session.req_header().headers)
}

/// A WebSocket handshake on a socket with no script: sent through the
/// upstream exchange (peer choice, Network rules, header policy, response
/// checks); a `101` joins client and origin, any other answer is relayed
/// as an ordinary response and the connection stays HTTP.
pub async fn no_script(h: &Handler, session: &mut Session, ctx: &mut RequestCtx) {
    if session.req_header().method != http::Method::GET || !session.is_body_empty() {
        // Bytes behind the head would be read as frames once upgraded.
        fail(
            session,
            ctx,
            Reject::bad_request("a WebSocket handshake must be a GET without a body"),
        )
        .await;
        return;
    }
    // The routed service on a router socket, else the socket's.
    let svc = ctx.service.clone().unwrap_or_else(|| h.route.service.clone());
    let Some(dest) = svc.target.destination() else {
        fail(session, ctx, Reject::internal("no upstream for this service")).await;
        return;
    };
    let req = session.req_header();
    let authority = Handler::authority(session).unwrap_or_default();
    let pq = match crate::pipeline::handler::absolute_target(req) {
        Some((_, _, pq)) => pq.to_string(),
        None => req.uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
    };
    let Ok(uri) = format!("{}://{authority}{pq}", h.scheme(session)).parse::<http::Uri>() else {
        fail(session, ctx, Reject::bad_request("invalid request target")).await;
        return;
    };
    let out = crate::upstream::exchange::Outgoing {
        method: req.method.clone(),
        uri,
        headers: req.headers.clone(),
        body: Body::Empty,
        client: session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip()),
        request_id: ctx.request_id.clone(),
    };
    let service = &svc.name;
    let metrics = &h.route.metrics;
    let result = crate::upstream::exchange::send(&h.connector, dest, out, service, metrics).await;
    let outcome = result.as_ref().map_or_else(|f| f.outcome(), |_| "ok");
    metrics.upstream_requests.with_label_values(&[service, outcome]).inc();
    let mut resp = match result {
        Ok(r) => r,
        Err(f) => {
            ctx.upstream_outcome = Some(f.outcome());
            fail(session, ctx, f.reject()).await;
            return;
        }
    };
    ctx.upstream_status = resp.status.as_u16();
    if let Some(socket) = resp.upgrade.take() {
        serve(h, session, ctx, resp, socket).await;
        return;
    }
    relay(h, session, resp).await;
}

/// Write an origin's refusal of the upgrade (`403`, `426`, ...) as it is.
async fn relay(h: &Handler, session: &mut Session, resp: Response) {
    let Ok(mut head) = ResponseHeader::build(resp.status, Some(resp.headers.len() + 2)) else {
        return;
    };
    for (k, v) in resp.headers.iter() {
        if k != header::TRANSFER_ENCODING {
            let _ = head.append_header(k.clone(), v.clone());
        }
    }
    inject(&mut head, &h.route.http.response);
    let (len, body) = match resp.body {
        Body::Empty => (Some(0), None),
        Body::Bytes(b) => (Some(b.len() as u64), Some(Ok(b))),
        Body::Stream { rx, len } => (len, Some(Err(rx))),
    };
    match len {
        Some(n) if crate::upstream::check::has_body(&http::Method::GET, resp.status) => {
            let _ = head.insert_header(header::CONTENT_LENGTH, n.to_string());
        }
        Some(_) => {}
        None => {
            let _ = head.remove_header(&header::CONTENT_LENGTH);
            let _ = head.insert_header(header::TRANSFER_ENCODING, "chunked");
        }
    }
    // The client's connection is not reused: it asked to leave HTTP.
    session.set_keepalive(None);
    if session
        .write_response_header(Box::new(head), body.is_none())
        .await
        .is_err()
    {
        return;
    }
    let complete = match body {
        None => true,
        Some(Ok(b)) => session.write_response_body(Some(b), true).await.is_ok(),
        Some(Err(mut rx)) => {
            let mut ok = true;
            while let Some(chunk) = rx.recv().await {
                let written = match chunk {
                    Ok(b) => session.write_response_body(Some(b), false).await.is_ok(),
                    Err(_) => false,
                };
                if !written {
                    ok = false;
                    break;
                }
            }
            ok && session.write_response_body(Some(Bytes::new()), true).await.is_ok()
        }
    };
    if !complete {
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

/// Send the Worker's `101` and carry the socket until it closes.
pub async fn serve(h: &Handler, session: &mut Session, ctx: &mut RequestCtx, resp: Response, socket: Upgraded) {
    if let Some(r) = refusal(session) {
        ctx.blame = Some(r.blame);
        write_reject(session, &r).await;
        ctx.reject = Some(r);
        return;
    }
    let Ok(mut head) = ResponseHeader::build(http::StatusCode::SWITCHING_PROTOCOLS, Some(resp.headers.len() + 2))
    else {
        return;
    };
    for (k, v) in resp.headers.iter() {
        if k != header::CONTENT_LENGTH && k != header::TRANSFER_ENCODING {
            let _ = head.append_header(k.clone(), v.clone());
        }
    }
    incoming_response(&mut head, true, None);
    let _ = head.insert_header(header::UPGRADE, "websocket");
    // A socket the Worker serves itself (a `WebSocketPair`) comes with no
    // handshake answer: it is made here from the client's key (RFC 6455
    // §4.2.2). An origin's answer, passed through, is kept.
    if !head.headers.contains_key(header::SEC_WEBSOCKET_ACCEPT) {
        if let Some(key) = session.req_header().headers.get(header::SEC_WEBSOCKET_KEY) {
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            let _ = head.insert_header(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
    }
    inject(&mut head, &h.route.http.response);
    if session.write_response_header(Box::new(head), false).await.is_err() {
        return;
    }
    splice(h, session, ctx, socket).await;
}

/// Move bytes between the client and `socket` until one side closes or
/// the connection is idle for the socket's `tunnelIdleTimeoutMs`. The
/// bytes pass unchanged; [`FrameScan`] counts the messages each way and
/// notes the first close code for the access record.
async fn splice(h: &Handler, session: &mut Session, ctx: &mut RequestCtx, socket: Upgraded) {
    let _active = Active::new(&h.route);
    // A WebSocket may rightly be quiet for longer than a request body may
    // pause; the idle timeout below is its limit.
    session.set_read_timeout(None);
    let idle = Duration::from_millis(u64::from(h.route.limits.tunnel_idle_timeout_ms.max(1)));
    let (mut rd, mut wr) = tokio::io::split(socket.0);
    let mut buf = vec![0u8; 16 * 1024];
    let mut from_client = Counted::new(h, "in");
    let mut to_client = Counted::new(h, "out");
    let mut timer = IdleTimer::new(idle);
    // Whether the client's bytes still go somewhere. Once either direction
    // ends, the other runs until it ends too (what the socket said last,
    // a close frame, still reaches the client) or goes idle.
    let mut inbound = true;
    loop {
        tokio::select! {
            chunk = session.read_request_body(), if inbound => match chunk {
                Ok(Some(b)) => {
                    timer.touch();
                    ctx.bytes_in += b.len() as u64;
                    from_client.feed(&b, &mut ctx.ws_close);
                    if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                        inbound = false;
                        ctx.close.get_or_insert("upstream");
                    }
                }
                // The client closed (or broke) its side.
                _ => {
                    inbound = false;
                    ctx.close.get_or_insert("client");
                    let _ = wr.shutdown().await;
                }
            },
            n = rd.read(&mut buf) => match n {
                Ok(n) if n > 0 => {
                    timer.touch();
                    to_client.feed(&buf[..n], &mut ctx.ws_close);
                    let chunk = Bytes::copy_from_slice(&buf[..n]);
                    if session.write_response_body(Some(chunk), false).await.is_err() {
                        ctx.close.get_or_insert("client");
                        break;
                    }
                }
                _ => {
                    ctx.close.get_or_insert("upstream");
                    break;
                }
            },
            () = timer.expired() => {
                ctx.close = Some("idle");
                tracing::debug!(socket = %h.route.name, "WebSocket idle timeout");
                break;
            }
        }
    }
    let _ = wr.shutdown().await;
    session.set_keepalive(None);
    let _ = session.write_response_body(None, true).await;
}

/// One direction of a joined WebSocket: its frames followed, its counters
/// (looked up once) moved as messages complete.
struct Counted {
    scan: FrameScan,
    messages: prometheus::IntCounter,
    bytes: prometheus::IntCounter,
}

impl Counted {
    fn new(h: &Handler, direction: &str) -> Counted {
        let m = &h.route.metrics;
        let labels = [&*h.route.name, direction];
        Counted {
            scan: FrameScan::default(),
            messages: m.websocket_relayed_messages.with_label_values(&labels),
            bytes: m.websocket_relayed_bytes.with_label_values(&labels),
        }
    }

    /// Follow `data`; the first close code either way lands in `close`.
    fn feed(&mut self, data: &[u8], close: &mut Option<u16>) {
        let (messages, payload) = (self.scan.messages, self.scan.payload);
        self.scan.feed(data);
        self.messages.inc_by(self.scan.messages - messages);
        self.bytes.inc_by(self.scan.payload - payload);
        if close.is_none() {
            *close = self.scan.close;
        }
    }
}
