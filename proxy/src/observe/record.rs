//! The one access record: everything known about a finished request or
//! tunnel, built by whichever phase saw it end, and emitted once, to the
//! metrics and to the access log (`tracing` target `isoproxy::access`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::Blame;
use crate::observe::metrics::{Exchange, Metrics};

/// A finished request or tunnel.
#[derive(Debug, Clone, Default)]
pub struct AccessRecord<'a> {
    /// The request id.
    pub request_id: &'a str,
    /// The client's address.
    pub client: Option<SocketAddr>,
    /// Socket name.
    pub socket: &'a str,
    /// The socket's service.
    pub service: &'a str,
    /// Request method.
    pub method: &'a str,
    /// `http` or `https`, when known.
    pub scheme: Option<&'a str>,
    /// The authority (absolute URL's, `:authority`, Host or CONNECT target).
    pub host: Option<&'a str>,
    /// Path and query.
    pub path: Option<&'a str>,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
    /// Status sent to the client (0 when none was).
    pub status: u16,
    /// Body or tunnel bytes from the client.
    pub bytes_in: u64,
    /// Body or tunnel bytes to the client.
    pub bytes_out: u64,
    /// The address connected to upstream.
    pub upstream_addr: Option<SocketAddr>,
    /// The upstream's status.
    pub upstream_status: Option<u16>,
    /// The upstream exchange's outcome label (ok, denied, refused,
    /// unreachable, timeout, error), when the request went upstream itself.
    pub upstream_outcome: Option<&'static str>,
    /// True when the socket's service is a Worker.
    pub worker: bool,
    /// How the Worker ended.
    pub worker_outcome: Option<&'static str>,
    /// The Worker's JavaScript CPU time.
    pub worker_cpu: Option<Duration>,
    /// Time from request head to the end.
    pub elapsed: Duration,
    /// Who is to blame for a failure.
    pub blame: Option<Blame>,
    /// `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// `Referer`.
    pub referer: Option<&'a str>,
    /// The forward-proxy user (`proxyAuth`), when one was authenticated.
    pub user: Option<&'a str>,
    /// The status code of a WebSocket's first close frame (`1005`: a close
    /// without one); absent when the socket ended without a close frame.
    pub ws_close: Option<u16>,
    /// For a Network destination: the rules that let it through (`allow
    /// name *.github.com; allow public`) or the one that refused it.
    pub rule: Option<&'a str>,
    /// How a tunnel or WebSocket ended: `client` or `upstream` (that side
    /// closed), `idle` (the idle timeout), `error` (a write failed),
    /// `worker` (the connect handler ended), `drain` (cut at shutdown).
    pub close: Option<&'static str>,
    /// How the request used the HTTP cache (HIT, STALE, REVALIDATED, MISS,
    /// BYPASS), on caching sockets.
    pub cache: Option<&'static str>,
}

impl AccessRecord<'_> {
    /// Count the record in `metrics` and write its access-log line.
    pub fn emit(&self, metrics: &Metrics) {
        metrics.record_exchange(&Exchange {
            socket: self.socket,
            service: self.service,
            method: self.method,
            status: self.status,
            elapsed: self.elapsed,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            upstream_outcome: self.upstream_outcome,
            denied: self.blame == Some(Blame::Policy),
            user: self.user,
            // The proxy's own 407 and 429 come only from proxy
            // authentication (a Worker's own 407 carries no blame).
            auth_refused: self.blame == Some(Blame::Downstream) && matches!(self.status, 407 | 429),
        });
        if let Some(c) = self.cache {
            metrics.cache_requests.with_label_values(&[self.socket, c]).inc();
        }
        if !crate::observe::access_log::active() {
            return;
        }
        tracing::info!(
            target: "isoproxy::access",
            request_id = %self.request_id,
            client = %self.client.map(|a| a.to_string()).unwrap_or_default(),
            socket = %self.socket,
            method = %self.method,
            scheme = self.scheme,
            host = self.host,
            path = self.path,
            protocol = self.protocol,
            status = self.status,
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            upstream_service = (!self.worker).then_some(self.service),
            upstream_addr = self.upstream_addr.map(|a| a.to_string()),
            upstream_status = self.upstream_status,
            worker = self.worker.then_some(self.service),
            worker_outcome = self.worker_outcome,
            worker_cpu_ms = self.worker_cpu.map(|d| d.as_secs_f64() * 1000.0),
            duration_ms = self.elapsed.as_secs_f64() * 1000.0,
            error_source = self.blame.map(Blame::as_str),
            user_agent = self.user_agent,
            referer = self.referer,
            user = self.user,
            ws_close = self.ws_close,
            rule = self.rule,
            close = self.close,
            cache = self.cache,
        );
    }
}
