//! Pingora's phase callbacks (`impl ProxyHttp`) for one socket: header
//! rules, choosing the upstream peer (pool or checked network address),
//! limits on the body, the status of every failure, and one access-log
//! event per request. The per-request record and request ids are in
//! [`crate::pipeline::ctx`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{self, HeaderName};
use isoproxy_runtime::{Outcome, WorkerPool};
use isoproxy_schema::model::HttpStyle;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorSource, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};

use crate::error::{Blame, DownstreamFault, Reject};
use crate::observe::record::AccessRecord;
use crate::pipeline::compress::{self, Compressor};
pub use crate::pipeline::ctx::{cut_in_flight, is_cut, request_id, RequestCtx, Unlogged};
use crate::pipeline::ctx::{new_request_id, valid_request_id};
use crate::pipeline::route::{SocketRoute, Target};
use crate::upstream::check;
use crate::upstream::fault::Fault;
use crate::upstream::headers::{drop_untrusted_forwarding, incoming_response, inject, outgoing_request, set_str};

/// Pingora's callbacks for one socket.
pub struct Handler {
    /// The socket's route.
    pub route: Arc<SocketRoute>,
    /// The isolate threads, when the socket's service is a Worker.
    pub workers: Option<WorkerPool>,
    /// Upstream connections for what the no-script path sends through the
    /// upstream exchange itself (WebSocket handshakes).
    pub connector: Arc<pingora_core::connectors::http::Connector>,
    /// The shared HTTP cache, when the config lists this socket.
    pub cache: Option<Arc<crate::cache::SocketCache>>,
}

impl Handler {
    /// The service this request goes to: the user's own, else the socket's.
    pub(crate) fn service<'a>(&'a self, ctx: &'a RequestCtx) -> &'a crate::pipeline::route::ServiceRoute {
        ctx.service.as_deref().unwrap_or(&self.route.service)
    }

    fn fail(&self, ctx: &mut RequestCtx, r: Reject) -> Box<Error> {
        let status = r.status;
        ctx.blame = Some(r.blame);
        ctx.reject = Some(r);
        Error::new(ErrorType::HTTPStatus(status))
    }

    /// The destination authority of a request: the absolute URL's, else Host.
    pub fn authority(session: &Session) -> Option<String> {
        let req = session.req_header();
        if let Some((_, a, _)) = absolute_target(req) {
            return Some(a.to_string());
        }
        if let Some(a) = req.uri.authority() {
            return Some(a.as_str().to_string());
        }
        req.headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    }

    /// The scheme of the request URL.
    pub fn scheme(&self, session: &Session) -> &'static str {
        let req = session.req_header();
        if let Some((https, _, _)) = absolute_target(req) {
            return if https { "https" } else { "http" };
        }
        if let Some(s) = req.uri.scheme_str() {
            return if s.eq_ignore_ascii_case("https") {
                "https"
            } else {
                "http"
            };
        }
        if let Some(h) = &self.route.http.forwarded_proto {
            if let Some(v) = req.headers.get(h) {
                if v.as_bytes().eq_ignore_ascii_case(b"https") {
                    return "https";
                }
                if v.as_bytes().eq_ignore_ascii_case(b"http") {
                    return "http";
                }
            }
        }
        if self.route.tls {
            "https"
        } else {
            "http"
        }
    }
}

#[async_trait]
impl ProxyHttp for Handler {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let client = session.client_addr().and_then(|a| a.as_inet()).copied();
        let req = session.req_header_mut();
        ctx.request_id = match req.headers.get("x-request-id") {
            Some(v) if valid_request_id(v.as_bytes()) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
            _ => {
                let id = new_request_id();
                set_str(req, HeaderName::from_static("x-request-id"), &id);
                id
            }
        };
        ctx.unlogged = Some(Unlogged {
            route: self.route.clone(),
            method: req.method.clone(),
            uri: req.uri.clone(),
            client,
        });
        if let Some(auth) = &self.route.auth {
            let header = req
                .headers
                .get(header::PROXY_AUTHORIZATION)
                .map(|v| v.as_bytes().to_vec());
            // Boxed, as are the other rare branches below: this phase's
            // future is moved into a box on every request, and inline they
            // made it several KiB (about 12,000 instructions of copying a
            // request on the no-script path).
            match Box::pin(auth.check(header.as_deref(), client.map(|a| a.ip()))).await {
                Ok(who) => {
                    ctx.user = Some(who.user);
                    ctx.service = who.service;
                }
                Err(r) => {
                    ctx.blame = Some(r.blame);
                    Box::pin(write_reject(session, &r)).await;
                    ctx.reject = Some(r);
                    return Ok(true);
                }
            }
        }
        // Traffic management: rate limits, the router's table, the
        // upstream's concurrency cap. Only a router looks at the authority.
        let authority = match self.route.service.target {
            Target::Router(_) => Self::authority(session),
            _ => None,
        };
        let req = session.req_header_mut();
        match crate::pipeline::router::admit(
            &self.route,
            req,
            authority.as_deref(),
            client.map(|a| a.ip()),
            &mut ctx.traffic,
        ) {
            Ok(Some(service)) => ctx.service = Some(service),
            Ok(None) => {}
            Err(r) => {
                ctx.blame = Some(r.blame);
                Box::pin(write_reject(session, &r)).await;
                ctx.reject = Some(r);
                return Ok(true);
            }
        }
        let req = session.req_header_mut();
        if !self.route.http.trust_forwarded {
            // The no-script path then sets X-Forwarded-For to the peer address.
            drop_untrusted_forwarding(req);
        }
        inject(req, &self.route.http.request);
        // h2c upgrade is gone from HTTP/2 (RFC 9113 §3.1): never tunnel it.
        let h2c = req
            .headers
            .get(header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"h2c"));
        if h2c {
            let _ = req.remove_header(&header::UPGRADE);
            let _ = req.remove_header("http2-settings");
        }
        if self.route.http.compress_from.is_some()
            && req.method != http::Method::HEAD
            && req.version != http::Version::HTTP_10
            && !matches!(self.service(ctx).target, Target::Worker)
        {
            ctx.compress = Some(compress::choose(req.headers.get(header::ACCEPT_ENCODING)));
        }
        let bodiless_method = req.method == http::Method::GET || req.method == http::Method::HEAD;
        let has_body = req.headers.contains_key(header::TRANSFER_ENCODING)
            || req
                .headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes().iter().any(|b| *b != b'0'));
        if bodiless_method && has_body {
            ctx.close_after = true;
            session.set_keepalive(None);
        }
        match &self.service(ctx).target {
            Target::Worker => {
                Box::pin(crate::pipeline::worker::handle(self, session, ctx)).await;
                Ok(true)
            }
            Target::External(_) | Target::Network(_) if crate::pipeline::websocket::wants(session) => {
                // Pingora's own upgrade path can lose the last frames when the
                // origin closes right after them; the exchange's does not.
                Box::pin(crate::pipeline::websocket::no_script(self, session, ctx)).await;
                Ok(true)
            }
            // A socket never has a disk service (refused at start-up).
            // Nor, after routing, a router.
            Target::External(_) | Target::Network(_) | Target::Disk(_) | Target::Router(_) => Ok(false),
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(b) = body {
            ctx.bytes_in += b.len() as u64;
            let max = self.route.limits.max_body_bytes;
            if max > 0 && ctx.bytes_in > max {
                return Err(self.fail(ctx, Reject::new(413, "request body too large")));
            }
        }
        Ok(())
    }

    fn request_cache_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<()> {
        let Some(cache) = &self.cache else { return Ok(()) };
        if ctx.reject.is_none() && self.service(ctx).target.destination().is_some() {
            ctx.cache_bypass = cache.enable(&mut session.cache, session.downstream_session.req_header());
        }
        Ok(())
    }

    fn cache_key_callback(&self, session: &Session, ctx: &mut RequestCtx) -> Result<pingora_cache::CacheKey> {
        let Some(cache) = &self.cache else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "cache key asked for on a socket without a cache",
            ));
        };
        let authority = Self::authority(session).unwrap_or_default();
        Ok(cache.key(
            self.scheme(session),
            &authority,
            session.req_header(),
            &self.service(ctx).name,
        ))
    }

    fn response_cache_filter(
        &self,
        session: &Session,
        resp: &ResponseHeader,
        _ctx: &mut RequestCtx,
    ) -> Result<pingora_cache::RespCacheable> {
        Ok(crate::cache::policy::response(session.req_header(), resp))
    }

    fn cache_vary_filter(
        &self,
        meta: &pingora_cache::CacheMeta,
        _ctx: &mut RequestCtx,
        req: &RequestHeader,
    ) -> Option<pingora_cache::key::HashBinary> {
        crate::cache::variance(meta, req)
    }

    fn should_serve_stale(&self, _session: &mut Session, _ctx: &mut RequestCtx, error: Option<&Error>) -> bool {
        // The stored response's own windows (stale-while-revalidate,
        // stale-if-error) were already checked by Pingora; here only which
        // failures count as errors (RFC 5861 §4: 500, 502, 503, 504).
        match error {
            None => true,
            Some(e) => match e.etype() {
                ErrorType::HTTPStatus(code) => matches!(code, 500 | 502 | 503 | 504),
                _ => e.esource() == &ErrorSource::Upstream,
            },
        }
    }

    async fn upstream_peer(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<Box<HttpPeer>> {
        ctx.peer_picked = Some(Instant::now());
        let Some(dest) = self.service(ctx).target.destination() else {
            return Err(self.fail(ctx, Reject::internal("no upstream for this service")));
        };
        // Only a Network destination is chosen by the request's authority
        // and scheme.
        let (key, authority, https) = match dest {
            crate::upstream::peer::Destination::External(ext) => {
                let client = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip());
                (ext.request_key(client, session.req_header()), None, false)
            }
            crate::upstream::peer::Destination::Network(_) => {
                (None, Self::authority(session), self.scheme(session) == "https")
            }
        };
        match dest
            .choose_keyed(key.as_deref(), authority.as_deref(), https, ctx.start)
            .await
        {
            Ok(chosen) => {
                if let (crate::upstream::peer::Destination::External(ext), Some(idx)) = (dest, chosen.origin) {
                    ctx.traffic.held = ext.hold(idx);
                }
                ctx.origin = chosen.origin;
                ctx.upstream_addr = chosen.addr();
                ctx.dest_host = chosen.host_header;
                ctx.rule = chosen.rule;
                Ok(Box::new(chosen.peer))
            }
            Err(f) => {
                ctx.upstream_outcome = Some(f.outcome());
                ctx.rule = f.rule.clone();
                Err(self.fail(ctx, f.reject()))
            }
        }
    }

    async fn connected_to_upstream(
        &self,
        _session: &mut Session,
        reused: bool,
        _peer: &HttpPeer,
        _fd: std::os::unix::io::RawFd,
        _digest: Option<&pingora_core::protocols::Digest>,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let now = Instant::now();
        if let (false, Some(picked)) = (reused, ctx.peer_picked) {
            self.route
                .metrics
                .upstream_connect_duration
                .with_label_values(&[&self.service(ctx).name])
                .observe(now.duration_since(picked).as_secs_f64());
        }
        ctx.upstream_sent = Some(now);
        Ok(())
    }

    fn fail_to_connect(
        &self,
        session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let (Target::External(ext), Some(idx)) = (&self.service(ctx).target, ctx.origin) {
            if ext.connect_failed(idx, &session.req_header().method, ctx.retries) {
                ctx.retries += 1;
                e.set_retry(true);
                return e;
            }
        }
        e.set_retry(false);
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        up: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let absolute_upstream = match &self.service(ctx).target {
            Target::External(ext) => ext.http.style == HttpStyle::Proxy,
            _ => false,
        };
        if absolute_upstream {
            // An origin that is itself a forward proxy gets the absolute URL.
            if absolute_target(up).is_none() {
                let host = Self::authority(session).unwrap_or_default();
                let pq = up.uri.path_and_query().map_or("/", |p| p.as_str());
                let url = format!("{}://{host}{pq}", self.scheme(session));
                up.set_raw_path(url.as_bytes())?;
            }
        } else if self.route.http.style == HttpStyle::Proxy {
            let pq = up.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
            if let Ok(uri) = pq.parse::<http::Uri>() {
                up.set_uri(uri);
            }
        }
        if let Some(h) = &ctx.dest_host {
            set_str(up, header::HOST, h);
        }
        let client = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip());
        let service = match &self.service(ctx).target {
            Target::External(ext) => Some(&ext.http),
            _ => None,
        };
        // gRPC: an origin reached over HTTP/2 is told the client takes
        // trailers (TE is otherwise hop-by-hop and dropped).
        let te_trailers = matches!(&self.service(ctx).target, Target::External(ext) if ext.http2)
            && up
                .headers
                .get(header::TE)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
        outgoing_request(up, client, session.is_upgrade_req(), service);
        if te_trailers {
            set_str(up, header::TE, "trailers");
        }
        if ctx.close_after {
            // The origin closes after answering, so this connection never
            // goes back to the pool.
            set_str(up, header::CONNECTION, "close");
        }
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.upstream_status = resp.status.as_u16();
        // Pingora's client parses responses leniently; refuse what another
        // parser could frame differently, before anything is forwarded.
        // (Pingora's phases give no access to the raw head here; the
        // parsed fields are checked.)
        if let Err(f) = check::response_head(resp.status, &resp.headers, true) {
            ctx.upstream_status = resp.status.as_u16();
            tracing::warn!(service = %self.service(ctx).name, reason = %f, "refused upstream response");
            ctx.upstream_outcome = Some(f.outcome());
            return Err(self.fail(ctx, f.reject()));
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(cache) = &self.cache {
            ctx.cache = cache.respond(&session.cache, ctx.cache_bypass, resp, ctx.upstream_status);
        }
        if !crate::cache::served_from_cache(&session.cache) {
            ctx.upstream_status = resp.status.as_u16();
            if let (Target::External(ext), Some(idx)) = (&self.service(ctx).target, ctx.origin) {
                ext.observe_status(idx, ctx.upstream_status);
            }
        }
        if let Err(f) = check::response_head(resp.status, &http::HeaderMap::new(), session.is_upgrade_req()) {
            return Err(self.fail(ctx, f.reject()));
        }
        if let Some(sent) = ctx.upstream_sent {
            self.route
                .metrics
                .observe_upstream_response(&self.service(ctx).name, sent.elapsed());
        }
        let service = match &self.service(ctx).target {
            Target::External(ext) => Some(&ext.http),
            _ => None,
        };
        incoming_response(resp, resp.status == http::StatusCode::SWITCHING_PROTOCOLS, service);
        inject(resp, &self.route.http.response);
        if let Some(r) = &ctx.traffic.route {
            inject(resp, &r.response);
        }
        if let (Some(coding), Some(min)) = (ctx.compress, self.route.http.compress_from) {
            if compress::eligible(resp, min) {
                compress::add_vary(resp);
                if let Some(coding) = coding {
                    compress::compressed_head(resp, coding, session.is_http2());
                    ctx.compressor = Some(Compressor::new(coding));
                }
            }
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(c) = ctx.compressor.as_mut() {
            let out = c
                .filter(body.as_deref(), end_of_stream)
                .map_err(|e| Error::explain(ErrorType::InternalError, format!("response compression failed: {e}")))?;
            // An empty chunk is no chunk (it must not read as the end).
            *body = (!out.is_empty()).then_some(out);
            if end_of_stream {
                ctx.compressor = None;
            }
        }
        Ok(None)
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _error: &Error) -> bool {
        // Refusals we decided are expected; the access log records them.
        ctx.reject.is_some()
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut RequestCtx) -> FailToProxy {
        let r = ctx.reject.take().unwrap_or_else(|| {
            // The upstream read timer runs while the request body is still
            // being forwarded. If it fires before the client has sent the
            // whole body, the origin was waiting for the client, not the
            // other way round (a stuck origin blocks our writes instead,
            // and that is a write timeout): the client is to blame.
            let waiting_for_client = *e.etype() == ErrorType::ReadTimedout
                && e.esource() == &ErrorSource::Upstream
                && !session.is_body_done();
            if waiting_for_client {
                Reject::new(408, "request body timeout")
            } else {
                reject_for(e)
            }
        });
        if ctx.upstream_outcome.is_none() && r.blame == Blame::Upstream && Fault::is_upstream(e) {
            ctx.upstream_outcome = Some(Fault::from_pingora(e).outcome());
        }
        ctx.blame = Some(r.blame);
        let code = if session.response_written().is_some() || r.status == 0 {
            0
        } else {
            write_reject(session, &r).await;
            r.status
        };
        ctx.reject = Some(r);
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        ctx.unlogged = None;
        let req = session.req_header();
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let is_worker = matches!(self.service(ctx).target, Target::Worker);
        let upstream_outcome = if is_worker {
            None
        } else if ctx.upstream_status > 0 && ctx.upstream_outcome.is_none() {
            Some("ok")
        } else {
            ctx.upstream_outcome
        };
        // The fields only the access log reads are looked up only when
        // it is on (metrics use none of them).
        let logged = crate::observe::access_log::active();
        let host = if logged {
            absolute_target(req)
                .map(|(_, a, _)| a)
                .or_else(|| req.uri.authority().map(|a| a.as_str()))
                .or_else(|| req.headers.get(header::HOST).and_then(|h| h.to_str().ok()))
        } else {
            None
        };
        let header_text = |name| {
            if logged {
                req.headers.get(name).and_then(|v| v.to_str().ok())
            } else {
                None
            }
        };
        AccessRecord {
            request_id: &ctx.request_id,
            client: session.client_addr().and_then(|a| a.as_inet()).copied(),
            socket: &self.route.name,
            service: &self.service(ctx).name,
            method: req.method.as_str(),
            scheme: logged.then(|| self.scheme(session)),
            host,
            path: Some(req.uri.path_and_query().map_or("/", |p| p.as_str())),
            protocol: match req.version {
                http::Version::HTTP_2 => "HTTP/2",
                http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            status,
            bytes_in: ctx.bytes_in,
            bytes_out: session.body_bytes_sent() as u64,
            upstream_addr: ctx.upstream_addr,
            upstream_status: (ctx.upstream_status > 0).then_some(ctx.upstream_status),
            upstream_outcome,
            worker: is_worker,
            worker_outcome: ctx.worker_outcome.map(Outcome::as_str),
            worker_cpu: ctx.worker_cpu,
            elapsed: ctx.start.elapsed(),
            blame: ctx.blame,
            user: ctx.user.as_deref(),
            ws_close: ctx.ws_close,
            rule: ctx.rule.as_deref(),
            close: ctx.close,
            user_agent: header_text(header::USER_AGENT),
            referer: header_text(header::REFERER),
            cache: ctx.cache.map(crate::cache::Outcome::as_str),
        }
        .emit(&self.route.metrics);
    }
}

/// The parts of an absolute-form request target, as the client sent it:
/// (https, authority, path-and-query).
pub fn absolute_target(req: &RequestHeader) -> Option<(bool, &str, &str)> {
    let raw = std::str::from_utf8(req.raw_path()).ok()?;
    let (https, rest) = if raw.len() > 7 && raw[..7].eq_ignore_ascii_case("http://") {
        (false, &raw[7..])
    } else if raw.len() > 8 && raw[..8].eq_ignore_ascii_case("https://") {
        (true, &raw[8..])
    } else {
        return None;
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let pq = if end == rest.len() { "/" } else { &rest[end..] };
    Some((https, &rest[..end], pq))
}

/// The head and body of a refusal's response.
fn reject_response(r: &Reject) -> Option<(ResponseHeader, Bytes)> {
    let mut resp = ResponseHeader::build(r.status, Some(3)).ok()?;
    for (name, value) in r.fields() {
        let _ = resp.insert_header(name, value);
    }
    Some((resp, Bytes::from(r.body())))
}

/// Write a short plain-text error response and close the connection after it.
pub async fn write_reject(session: &mut Session, r: &Reject) {
    let Some((resp, body)) = reject_response(r) else {
        return;
    };
    session.set_keepalive(None);
    let _ = session.as_downstream_mut().write_error_response(resp, body).await;
}

/// Write a refusal as an ordinary response that leaves the connection
/// reusable: for failures after the whole request was read (a Worker that
/// threw), where closing would only cost the client a new connection.
pub async fn write_reject_keepalive(session: &mut Session, r: &Reject) {
    let Some((resp, body)) = reject_response(r) else {
        return;
    };
    if session.write_response_header(Box::new(resp), false).await.is_err() {
        session.set_keepalive(None);
        return;
    }
    if session.write_response_body(Some(body), true).await.is_err() {
        session.set_keepalive(None);
    }
}

/// The refusal for an error Pingora reports: the one map from a Pingora
/// error to a status, by type (our own faults ride inside the error as a
/// [`DownstreamFault`]; upstream ones are classified by [`Fault`]).
pub fn reject_for(e: &Error) -> Reject {
    if let ErrorType::HTTPStatus(code) = e.etype() {
        return Reject::new(*code, crate::error::reason_phrase(*code));
    }
    if let Some(f) = DownstreamFault::of(e) {
        return f.reject();
    }
    if Fault::is_upstream(e) {
        return Fault::from_pingora(e).reject();
    }
    match (e.esource(), e.etype()) {
        (ErrorSource::Downstream, ErrorType::ReadError | ErrorType::WriteError | ErrorType::ConnectionClosed) => {
            Reject {
                status: 0,
                reason: "client went away".into(),
                blame: Blame::Downstream,
                challenge: None,
                retry_after: None,
                rule: None,
            }
        }
        (ErrorSource::Downstream, ErrorType::ReadTimedout) => Reject::new(408, "request timeout"),
        (ErrorSource::Downstream, _) => Reject::new(400, "bad request"),
        _ => Reject::internal("internal error"),
    }
}

/// Log a request refused before Pingora saw it.
pub fn log_refusal(route: &SocketRoute, client: Option<SocketAddr>, head: &[u8], r: &Reject) {
    let line_end = head
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(head.len().min(256));
    let line = String::from_utf8_lossy(&head[..line_end.min(256)]);
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let method = method.escape_debug().to_string();
    let path = path.escape_debug().to_string();
    AccessRecord {
        request_id: &new_request_id(),
        client,
        socket: &route.name,
        service: &route.service.name,
        method: &method,
        path: Some(&path),
        protocol: "HTTP/1.1",
        status: r.status,
        blame: Some(r.blame),
        ..AccessRecord::default()
    }
    .emit(&route.metrics);
}
