//! `isoproxy_runtime::Outbound`: how a Worker's `fetch()` on a binding
//! leaves the process. ExternalServers go through a pooled Pingora client
//! (the same peers as the no-script path), Networks through the same
//! allow/deny check. Bodies stream both ways.

use std::sync::Arc;

use http::header;
use isoproxy_runtime::{Body, BodyError, BoxFuture, Outbound, OutboundError, Request, RequestInfo, Response};
use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorType};
use pingora_http::RequestHeader;

use crate::handler::strip_hop_by_hop;
use crate::route::{inject, Target};
use crate::upstream::ServiceMap;

/// Chunks buffered between an upstream response and the Worker.
const BODY_CHANNEL: usize = 8;

/// The Worker's way out.
pub struct Egress {
    services: ServiceMap,
    connector: Arc<Connector>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Egress {
    /// An egress over the config's non-Worker services.
    pub fn new(services: ServiceMap, metrics: Arc<crate::metrics::Metrics>) -> Egress {
        Egress {
            services,
            connector: Arc::new(Connector::new(None)),
            metrics,
        }
    }
}

impl Outbound for Egress {
    fn fetch(&self, service: &str, request: Request, info: &RequestInfo) -> BoxFuture<Result<Response, OutboundError>> {
        let exchange = self.send(service, request, info);
        let metrics = self.metrics.clone();
        let service = service.to_string();
        Box::pin(async move {
            let start = std::time::Instant::now();
            let result = exchange.await;
            let outcome = match &result {
                Ok(_) => "ok",
                Err(OutboundError::Denied(_)) => "denied",
                Err(OutboundError::Timeout(_)) => "timeout",
                Err(OutboundError::Unreachable(_)) => "refused",
                Err(_) => "error",
            };
            metrics.upstream_requests.with_label_values(&[&service, outcome]).inc();
            match &result {
                Ok(_) => metrics
                    .upstream_response_duration
                    .with_label_values(&[&service])
                    .observe(start.elapsed().as_secs_f64()),
                Err(OutboundError::Denied(_)) => metrics.policy_denied.with_label_values(&[&service]).inc(),
                Err(_) => {}
            }
            result
        })
    }
}

fn map_error(e: &Error) -> OutboundError {
    use ErrorType::*;
    match e.etype() {
        ConnectTimedout | ReadTimedout | WriteTimedout | TLSHandshakeTimedout => OutboundError::Timeout(e.to_string()),
        ConnectRefused | ConnectNoRoute | ConnectError | TLSHandshakeFailure => {
            OutboundError::Unreachable(e.to_string())
        }
        // Pingora's message quotes the bytes it could not parse; the
        // Worker gets the class of fault only, the log gets the rest.
        InvalidHTTPHeader => {
            tracing::debug!(error = %e, "malformed upstream response");
            OutboundError::Other("malformed upstream response head".into())
        }
        _ => OutboundError::Other(e.to_string()),
    }
}

impl Egress {
    /// One exchange with `service`, without the bookkeeping.
    fn send(&self, service: &str, request: Request, info: &RequestInfo) -> BoxFuture<Result<Response, OutboundError>> {
        let svc = self.services.get(service).cloned();
        let connector = self.connector.clone();
        let metrics = self.metrics.clone();
        let request_id = info.request_id.clone();
        let service = service.to_string();
        Box::pin(async move {
            let Some(svc) = svc else {
                return Err(OutboundError::BadRequest(format!("no service named {service}")));
            };
            let uri: http::Uri = request
                .url
                .parse()
                .map_err(|_| OutboundError::BadRequest(format!("invalid URL {}", request.url)))?;
            let authority = uri
                .authority()
                .map(|a| a.as_str().to_string())
                .ok_or_else(|| OutboundError::BadRequest("URL without a host".into()))?;
            let https = match uri.scheme_str() {
                Some(s) if s.eq_ignore_ascii_case("https") => true,
                Some(s) if s.eq_ignore_ascii_case("http") => false,
                _ => {
                    return Err(OutboundError::BadRequest(format!(
                        "unsupported URL scheme in {}",
                        request.url
                    )))
                }
            };
            type Chosen = (HttpPeer, bool, Option<Arc<crate::upstream::External>>, Option<usize>);
            let (mut peer, absolute, ext, mut origin): Chosen = match &svc.target {
                Target::External(ext) => {
                    let (idx, peer) = ext.pick();
                    let absolute = ext.http.style == isoproxy_schema::model::HttpStyle::Proxy;
                    (peer, absolute, Some(ext.clone()), Some(idx))
                }
                Target::Network(net) => {
                    let (host, port) = match crate::precheck::split_port(&authority) {
                        Some((h, p)) => (h.to_string(), p),
                        None => (authority.clone(), if https { 443 } else { 80 }),
                    };
                    let addr = net.resolve(&host, port).await.map_err(|r| match r.status {
                        403 => OutboundError::Denied(r.reason.into_owned()),
                        504 => OutboundError::Timeout(r.reason.into_owned()),
                        _ => OutboundError::Unreachable(r.reason.into_owned()),
                    })?;
                    (net.peer(addr, https, &host), false, None, None)
                }
                Target::Worker => {
                    return Err(OutboundError::BadRequest(format!(
                        "service {service} cannot be fetched"
                    )))
                }
            };
            let target = if absolute {
                uri.to_string()
            } else {
                uri.path_and_query().map_or("/", |p| p.as_str()).to_string()
            };
            let mut head = RequestHeader::build(
                request.method.clone(),
                target.as_bytes(),
                Some(request.headers.len() + 4),
            )
            .map_err(|e| OutboundError::BadRequest(e.to_string()))?;
            let mut headers = request.headers;
            strip_hop_by_hop(&mut headers, false);
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::TRANSFER_ENCODING);
            for (k, v) in headers.iter() {
                let _ = head.append_header(k.clone(), v.clone());
            }
            let _ = head.insert_header(header::HOST, authority.as_str());
            if !head.headers.contains_key("x-request-id") {
                let _ = head.insert_header("x-request-id", request_id.as_str());
            }
            match &request.body {
                Body::Empty => {
                    if request.method != http::Method::GET && request.method != http::Method::HEAD {
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
            if let Some(ext) = &ext {
                inject(&mut head, &ext.http.request);
            }

            // A failed connect marks the pool address down; idempotent
            // requests try the next address once.
            let mut retried = false;
            let mut session = loop {
                let connect_start = std::time::Instant::now();
                match connector.get_http_session(&peer).await {
                    Ok((s, reused)) => {
                        if !reused {
                            metrics
                                .upstream_connect_duration
                                .with_label_values(&[&service])
                                .observe(connect_start.elapsed().as_secs_f64());
                        }
                        break s;
                    }
                    Err(e) => {
                        let (Some(ext), Some(idx)) = (&ext, origin) else {
                            return Err(map_error(&e));
                        };
                        ext.mark_down(idx);
                        if retried || !request.method.is_idempotent() {
                            return Err(map_error(&e));
                        }
                        retried = true;
                        let (next, p) = ext.pick();
                        peer = p;
                        origin = Some(next);
                    }
                }
            };
            session.set_read_timeout(peer.options.read_timeout);
            session
                .write_request_header(Box::new(head))
                .await
                .map_err(|e| map_error(&e))?;
            match request.body {
                Body::Empty => {}
                Body::Bytes(b) => session.write_request_body(b, true).await.map_err(|e| map_error(&e))?,
                Body::Stream { mut rx, .. } => {
                    while let Some(chunk) = rx.recv().await {
                        let chunk = chunk.map_err(|e| OutboundError::Other(format!("request body: {e}")))?;
                        session
                            .write_request_body(chunk, false)
                            .await
                            .map_err(|e| map_error(&e))?;
                    }
                }
            }
            session.finish_request_body().await.map_err(|e| map_error(&e))?;
            session.read_response_header().await.map_err(|e| map_error(&e))?;
            let Some(resp) = session.response_header() else {
                return Err(OutboundError::Other("no response header".into()));
            };
            // The same strict checks as the no-script path, plus those only
            // the raw bytes show (Pingora's client has already repaired them
            // in the parsed header).
            let raw_check = session.as_http1().map_or(Ok(()), |h1| {
                crate::precheck::check_response_raw(&h1.get_headers_raw_bytes())
            });
            if let Err(reason) = raw_check.and_then(|()| crate::precheck::check_response_headers(&resp.headers)) {
                tracing::warn!(service = %service, reason, "refused upstream response");
                return Err(OutboundError::Other(reason.to_string()));
            }
            let status = resp.status;
            let mut headers = resp.headers.clone();
            strip_hop_by_hop(&mut headers, false);
            if let Some(ext) = &ext {
                inject(&mut headers, &ext.http.response);
            }
            let len = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let (tx, body) = Body::channel(BODY_CHANNEL, len);
            tokio::spawn(pump(session, tx, connector, peer));
            Ok(Response { status, headers, body })
        })
    }
}

/// Stream the upstream response body to the Worker, then return the
/// connection to the pool when it is reusable.
async fn pump(mut session: HttpSession, tx: isoproxy_runtime::BodySender, connector: Arc<Connector>, peer: HttpPeer) {
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
