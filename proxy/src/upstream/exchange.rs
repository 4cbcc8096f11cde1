//! A Worker's subrequest, sent through the same rules as the no-script
//! path: the peer from [`crate::upstream::peer`], the header policy of
//! [`crate::upstream::headers`], the checks of [`crate::upstream::check`]
//! (interim 1xx read past, bodyless statuses with no body), faults
//! classified by [`crate::upstream::fault`]. Pooled connections are shared
//! by the Workers on one isolate thread (see [`thread_pool`]); the response
//! body streams.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{header, HeaderMap, Method};
use isoproxy_runtime::{Body, BodyError, BodySender, Response, Upgraded};
use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_http::RequestHeader;
use tokio::io::AsyncWriteExt;

use crate::observe::metrics::Metrics;
use crate::upstream::check;
use crate::upstream::fault::{Fault, FaultKind};
use crate::upstream::headers::{incoming_response, outgoing_request};
use crate::upstream::peer::Destination;

/// Chunks buffered between an upstream response and the Worker.
const BODY_CHANNEL: usize = 8;

/// A request on its way upstream.
#[derive(Debug)]
pub struct Outgoing {
    /// Method.
    pub method: Method,
    /// The absolute URL.
    pub uri: http::Uri,
    /// Headers as the Worker set them.
    pub headers: HeaderMap,
    /// Body.
    pub body: Body,
    /// The downstream client, appended to `X-Forwarded-For`.
    pub client: Option<IpAddr>,
    /// The downstream request's id, sent as `x-request-id` unless set.
    pub request_id: String,
}

/// Send `req` to `dest` and return the response head; the body streams
/// behind it. `service` names the service for the metrics.
pub async fn send(
    connector: &Arc<Connector>,
    dest: Destination<'_>,
    req: Outgoing,
    service: &str,
    metrics: &Metrics,
) -> Result<Response, Fault> {
    let connector = &thread_pool(connector);
    let start = Instant::now();
    let https = match req.uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => true,
        Some(s) if s.eq_ignore_ascii_case("http") => false,
        _ => {
            return Err(Fault::new(
                FaultKind::BadRequest,
                format!("unsupported URL scheme in {}", req.uri),
            ))
        }
    };
    let Some(authority) = req.uri.authority().map(|a| a.as_str().to_string()) else {
        return Err(Fault::new(FaultKind::BadRequest, "URL without a host"));
    };
    // A WebSocket handshake (`Upgrade: websocket`) keeps its upgrade
    // headers and needs an HTTP/1.1 connection; any other Upgrade is
    // dropped by the header policy, as on the no-script path.
    let upgrade = is_websocket_upgrade(&req.headers);
    if upgrade && (req.method != Method::GET || !matches!(req.body, Body::Empty)) {
        return Err(Fault::new(
            FaultKind::BadRequest,
            "a WebSocket upgrade request must be a GET without a body",
        ));
    }
    let mut chosen = dest.choose(Some(&authority), https, start).await?;
    if upgrade {
        chosen.peer.options.set_http_version(1, 1);
    }
    let target = if dest.wants_absolute_form() {
        req.uri.to_string()
    } else {
        req.uri.path_and_query().map_or("/", |p| p.as_str()).to_string()
    };
    let mut head = request_head(
        &req,
        &target,
        chosen.host_header.as_deref().unwrap_or(&authority),
        dest,
        upgrade,
    )?;
    // A Worker's own `fetch(url, { headers: { Upgrade: "websocket" } })`
    // carries no key: the exchange makes the handshake's and checks the
    // answer (a client's key passes through, and the client checks it).
    let mut expected_accept = None;
    if upgrade && !head.headers.contains_key(header::SEC_WEBSOCKET_KEY) {
        let key = tungstenite::handshake::client::generate_key();
        expected_accept = Some(tungstenite::handshake::derive_accept_key(key.as_bytes()));
        let _ = head.insert_header(header::SEC_WEBSOCKET_KEY, key);
        let _ = head.insert_header(header::SEC_WEBSOCKET_VERSION, "13");
    }

    // A failed connect marks the pool address down; idempotent requests
    // try the next address once (the same rule as the no-script path).
    let mut retries = 0u8;
    let mut session = loop {
        let connect_start = Instant::now();
        match connector.get_http_session(&chosen.peer).await {
            Ok((s, reused)) => {
                if !reused {
                    metrics
                        .upstream_connect_duration
                        .with_label_values(&[service])
                        .observe(connect_start.elapsed().as_secs_f64());
                }
                break s;
            }
            Err(e) => {
                let retry = match (dest, chosen.origin) {
                    (Destination::External(ext), Some(idx)) => ext.connect_failed(idx, &req.method, retries),
                    _ => false,
                };
                if !retry {
                    return Err(Fault::from_pingora(&e));
                }
                retries += 1;
                chosen = dest.choose(Some(&authority), https, start).await?;
            }
        }
    };
    session.set_read_timeout(chosen.peer.options.read_timeout);
    session.set_write_timeout(chosen.peer.options.write_timeout);
    let sent = Instant::now();
    session
        .write_request_header(Box::new(head))
        .await
        .map_err(|e| Fault::from_pingora(&e))?;
    write_body(&mut session, req.body).await?;

    // Interim responses (100 Continue, 103 Early Hints) are read past: a
    // Worker sees only the final response.
    let (status, mut headers) = loop {
        session
            .read_response_header()
            .await
            .map_err(|e| Fault::from_pingora(&e))?;
        let Some(resp) = session.response_header() else {
            return Err(Fault::new(FaultKind::BadResponse, "no response header"));
        };
        if let Err(f) = check::response_head(resp.status, &resp.headers, upgrade) {
            tracing::warn!(service, reason = %f, "refused upstream response");
            return Err(f);
        }
        if !check::is_interim(resp.status) {
            break (resp.status, resp.headers.clone());
        }
    };
    metrics
        .upstream_response_duration
        .with_label_values(&[service])
        .observe(sent.elapsed().as_secs_f64());
    let switching = upgrade && status == http::StatusCode::SWITCHING_PROTOCOLS;
    incoming_response(&mut headers, switching, dest.http());
    if switching {
        if let Some(expected) = &expected_accept {
            let got = headers.get(header::SEC_WEBSOCKET_ACCEPT).map(|v| v.as_bytes());
            if got != Some(expected.as_bytes()) {
                return Err(Fault::new(
                    FaultKind::BadResponse,
                    "the origin's 101 has a wrong Sec-WebSocket-Accept",
                ));
            }
        }
        // The connection now carries WebSocket frames both ways; it is
        // never pooled again. The idle timeout is the caller's (a socket
        // may rightly be quiet for longer than a response may take).
        session.set_read_timeout(None);
        let mut resp = Response::new(status, headers, Body::Empty);
        resp.upgrade = Some(upgraded(session).await?);
        return Ok(resp);
    }

    let peer = chosen.peer;
    let connector = connector.clone();
    if !check::has_body(&req.method, status) {
        // HEAD, 204 and 304 have no body whatever Content-Length says: the
        // Worker sees `body === null`, and the connection goes back to the
        // pool at once.
        tokio::spawn(async move {
            let (tx, _body) = Body::channel(1, None);
            pump(session, tx, connector, peer).await;
        });
        return Ok(Response::new(status, headers, Body::Empty));
    }
    let len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (tx, body) = Body::channel(BODY_CHANNEL, len);
    tokio::spawn(pump(session, tx, connector, peer));
    Ok(Response::new(status, headers, body))
}

/// The pool a request on this thread uses, in place of `shared`.
///
/// Pingora 0.9 loses a pooled connection when the task that takes it from
/// the pool runs on another thread than the task that watched it idle:
/// `TransportConnector::reused_stream` waits for the idle task's lock,
/// and its `Arc::try_unwrap` can run between that task's unlock and its
/// drop of the last other reference ("failed to acquire reusable stream",
/// counted as `isoproxy_upstream_pool_races_total`); a new connect
/// replaces the connection. The isolate threads each run their Workers'
/// subrequests on a current-thread runtime, and there a pool of the
/// thread's own keeps every release, idle watch and reuse of a connection
/// on one thread, where that cannot happen. On the proxy's multi-thread
/// runtime (tasks move between threads anyway) the shared pool is used.
///
/// The thread's pools are made as `shared` was (`Connector::new(None)`)
/// and are dropped with the thread, or on the next request after `shared`
/// itself was dropped (a reload made a new one).
fn thread_pool(shared: &Arc<Connector>) -> Arc<Connector> {
    use std::cell::RefCell;
    use std::sync::Weak;
    use tokio::runtime::{Handle, RuntimeFlavor};

    thread_local! {
        static POOLS: RefCell<Vec<(Weak<Connector>, Arc<Connector>)>> = const { RefCell::new(Vec::new()) };
    }
    let current_thread = Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread);
    if !current_thread {
        return shared.clone();
    }
    POOLS.with(|pools| {
        let mut pools = pools.borrow_mut();
        pools.retain(|(of, _)| of.strong_count() > 0);
        if let Some((_, own)) = pools
            .iter()
            .find(|(of, _)| std::ptr::eq(of.as_ptr(), Arc::as_ptr(shared)))
        {
            return own.clone();
        }
        let own = Arc::new(Connector::new(None));
        pools.push((Arc::downgrade(shared), own.clone()));
        own
    })
}

/// Whether `headers` ask for a WebSocket (`Upgrade: websocket`, RFC 6455
/// §4.1), the one upgrade isoproxy carries.
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
}

/// The upstream connection after a `101`, as a plain byte stream: the
/// connection itself, with whatever the origin sent right behind the head
/// (already in Pingora's buffer) read first. No task and no copy sit
/// between the socket and its user, so frames cost the same whether the
/// `101` came to the no-script path or to a Worker's `fetch()`, and nothing
/// of the socket stays on the thread that made the handshake.
async fn upgraded(session: HttpSession) -> Result<Upgraded, Fault> {
    let HttpSession::H1(mut h1) = session else {
        return Err(Fault::new(
            FaultKind::BadResponse,
            "101 on a connection that is not HTTP/1.1",
        ));
    };
    // Bytes behind the head come back at once, without I/O; with none
    // buffered, one read is tried and, if nothing is ready, dropped (a
    // pending read has consumed nothing).
    let early = {
        let read = std::pin::pin!(h1.read_body_bytes());
        match read.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(Ok(Some(b))) => b,
            std::task::Poll::Ready(Err(e)) => return Err(Fault::from_pingora(&e)),
            std::task::Poll::Ready(Ok(None)) | std::task::Poll::Pending => bytes::Bytes::new(),
        }
    };
    let mut stream = h1.into_inner();
    stream
        .flush()
        .await
        .map_err(|e| Fault::new(FaultKind::Unreachable, format!("upgraded connection: {e}")))?;
    Ok(Upgraded::new(Rewound { early, stream }))
}

/// A connection whose first bytes were already read off it.
struct Rewound {
    early: bytes::Bytes,
    stream: pingora_core::protocols::Stream,
}

impl tokio::io::AsyncRead for Rewound {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.early.is_empty() {
            let n = self.early.len().min(buf.remaining());
            let head = self.early.split_to(n);
            buf.put_slice(&head);
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Rewound {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The request head as it goes upstream.
fn request_head(
    req: &Outgoing,
    target: &str,
    host: &str,
    dest: Destination<'_>,
    upgrade: bool,
) -> Result<RequestHeader, Fault> {
    let mut head = RequestHeader::build(req.method.clone(), target.as_bytes(), Some(req.headers.len() + 6))
        .map_err(|_| Fault::new(FaultKind::BadRequest, "invalid request target"))?;
    for (k, v) in req.headers.iter() {
        if k != header::CONTENT_LENGTH && k != header::TRANSFER_ENCODING && k != header::HOST {
            let _ = head.append_header(k.clone(), v.clone());
        }
    }
    outgoing_request(&mut head, req.client, upgrade, None);
    if upgrade {
        let _ = head.insert_header(header::UPGRADE, "websocket");
        let _ = head.insert_header(header::CONNECTION, "upgrade");
    }
    let _ = head.insert_header(header::HOST, host);
    if !head.headers.contains_key("x-request-id") {
        let _ = head.insert_header("x-request-id", req.request_id.as_str());
    }
    match &req.body {
        Body::Empty => {
            if req.method != Method::GET && req.method != Method::HEAD {
                let _ = head.insert_header(header::CONTENT_LENGTH, "0");
            }
        }
        Body::Bytes(b) => {
            let _ = head.insert_header(header::CONTENT_LENGTH, b.len().to_string());
        }
        Body::Stream { len: Some(n), .. } => {
            let _ = head.insert_header(header::CONTENT_LENGTH, n.to_string());
        }
        Body::Stream { len: None, .. } => {
            let _ = head.insert_header(header::TRANSFER_ENCODING, "chunked");
        }
    }
    if let Some(http) = dest.http() {
        crate::upstream::headers::inject(&mut head, &http.request);
    }
    Ok(head)
}

async fn write_body(session: &mut HttpSession, body: Body) -> Result<(), Fault> {
    match body {
        Body::Empty => {}
        Body::Bytes(b) => session
            .write_request_body(b, true)
            .await
            .map_err(|e| Fault::from_pingora(&e))?,
        Body::Stream { mut rx, .. } => {
            while let Some(chunk) = rx.recv().await {
                let chunk = chunk.map_err(|e| Fault::new(FaultKind::BadRequest, format!("request body: {e}")))?;
                session
                    .write_request_body(chunk, false)
                    .await
                    .map_err(|e| Fault::from_pingora(&e))?;
            }
        }
    }
    session
        .finish_request_body()
        .await
        .map_err(|e| Fault::from_pingora(&e))?;
    Ok(())
}

/// Stream the upstream response body to the Worker, then return the
/// connection to the pool when it is reusable. A body that ends early
/// (the origin closed before its Content-Length) reaches the Worker as an
/// error, never as a complete body.
async fn pump(mut session: HttpSession, tx: BodySender, connector: Arc<Connector>, peer: HttpPeer) {
    loop {
        match session.read_response_body().await {
            Ok(Some(b)) => {
                if b.is_empty() {
                    continue;
                }
                if tx.send(Ok(b)).await.is_err() {
                    // The Worker dropped the body: this connection is not reusable.
                    return;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Err(BodyError(Arc::from(e.to_string())))).await;
                return;
            }
        }
    }
    drop(tx);
    if session.response_done() {
        connector
            .release_http_session(session, &peer, peer.options.idle_timeout)
            .await;
    }
}
