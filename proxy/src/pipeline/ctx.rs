//! The per-request record every phase fills in (`RequestCtx`), the record
//! written when a request is dropped before its `logging` phase, the drain
//! flag, and request ids.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use isoproxy_runtime::Outcome;

use crate::error::{Blame, Reject};
use crate::observe::record::AccessRecord;
use crate::pipeline::compress::{Coding, Compressor};
use crate::pipeline::route::{SocketRoute, Target};

/// The per-request record: filled in by the phases, logged at the end.
#[derive(Debug)]
pub struct RequestCtx {
    /// When the request started.
    pub start: Instant,
    /// The request id (kept from the client when valid, else generated).
    pub request_id: String,
    /// Index of the pool origin chosen.
    pub origin: Option<usize>,
    /// The upstream address connected to.
    pub upstream_addr: Option<SocketAddr>,
    /// The upstream's status.
    pub upstream_status: u16,
    /// Request body bytes received from downstream.
    pub bytes_in: u64,
    /// How the Worker ended, when one ran.
    pub worker_outcome: Option<Outcome>,
    /// JavaScript CPU time the Worker used, when one ran.
    pub worker_cpu: Option<std::time::Duration>,
    /// The refusal to send, decided in an earlier phase.
    pub reject: Option<Reject>,
    /// Who is to blame for a failure.
    pub blame: Option<Blame>,
    /// For Network targets: the authority to send as Host.
    pub dest_host: Option<String>,
    /// Connect attempts that were retried.
    pub retries: u8,
    /// The upstream exchange's outcome label, when it failed.
    pub upstream_outcome: Option<&'static str>,
    /// When the upstream peer was chosen (connect timing starts here).
    pub peer_picked: Option<Instant>,
    /// When the request was handed to the upstream connection.
    pub upstream_sent: Option<Instant>,
    /// A GET or HEAD that carries a body: forwarded, but neither connection
    /// is reused afterwards (origins that ignore such bodies would read
    /// them as the next request).
    pub close_after: bool,
    /// The forward-proxy user, once `proxyAuth` let the request in.
    pub user: Option<Arc<str>>,
    /// A WebSocket's first close code (either side), once one was seen.
    pub ws_close: Option<u16>,
    /// For a Network: the rules that let the destination through, or the
    /// one that refused it.
    pub rule: Option<Arc<str>>,
    /// How a WebSocket ended (`client`, `upstream`, `idle`).
    pub close: Option<&'static str>,
    /// The user's own Network, replacing the socket's service.
    pub service: Option<Arc<crate::pipeline::route::ServiceRoute>>,
    /// Set once the request is known and until `logging` has run: if the
    /// request is dropped in between (cut at the drain deadline), its
    /// access-log record is written from here.
    pub unlogged: Option<Unlogged>,
    /// The socket compresses no-script responses and this request may get
    /// one compressed (see `compress`); with the coding the client takes.
    pub compress: Option<Option<Coding>>,
    /// The response body's compressor, once the response was chosen.
    pub compressor: Option<Compressor>,
    /// Route, rate limits and upstream concurrency (traffic management).
    pub traffic: crate::pipeline::router::Traffic,
    /// The request does not use the socket's cache (decided before lookup).
    pub cache_bypass: Option<crate::cache::Outcome>,
    /// How the request used the cache, once the response was chosen.
    pub cache: Option<crate::cache::Outcome>,
}

/// What the access log needs about a request whose `logging` phase never ran.
#[derive(Debug)]
pub struct Unlogged {
    /// The socket's route.
    pub(crate) route: Arc<SocketRoute>,
    /// Request method.
    pub(crate) method: http::Method,
    /// The request target (a cheap clone: no copy of the path).
    pub(crate) uri: http::Uri,
    /// The client's address.
    pub(crate) client: Option<SocketAddr>,
}

/// Set when the drain deadline cuts the requests still in flight.
static CUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The drain deadline has passed: requests dropped from now on were cut by
/// the proxy (`error_source` internal), not abandoned by their client.
pub fn cut_in_flight() {
    CUT.store(true, Ordering::Release);
}

/// Whether the drain deadline has cut the requests still in flight.
pub fn is_cut() -> bool {
    CUT.load(Ordering::Acquire)
}

impl Drop for RequestCtx {
    fn drop(&mut self) {
        let Some(u) = self.unlogged.take() else { return };
        let route = &u.route;
        AccessRecord {
            request_id: &self.request_id,
            client: u.client,
            socket: &route.name,
            service: &route.service.name,
            method: u.method.as_str(),
            path: Some(u.uri.path_and_query().map_or("/", |p| p.as_str())),
            protocol: "HTTP/1.1",
            status: self.upstream_status,
            bytes_in: self.bytes_in,
            upstream_addr: self.upstream_addr,
            upstream_status: (self.upstream_status > 0).then_some(self.upstream_status),
            worker: matches!(route.service.target, Target::Worker),
            elapsed: self.start.elapsed(),
            blame: Some(if is_cut() { Blame::Internal } else { Blame::Downstream }),
            ws_close: self.ws_close,
            rule: self.rule.as_deref(),
            close: Some(if is_cut() { "drain" } else { "client" }),
            ..AccessRecord::default()
        }
        .emit(&route.metrics);
    }
}

impl RequestCtx {
    /// The record of a request that has just begun.
    pub fn new() -> RequestCtx {
        RequestCtx {
            start: Instant::now(),
            request_id: String::new(),
            origin: None,
            upstream_addr: None,
            upstream_status: 0,
            bytes_in: 0,
            worker_outcome: None,
            worker_cpu: None,
            reject: None,
            blame: None,
            dest_host: None,
            retries: 0,
            upstream_outcome: None,
            peer_picked: None,
            upstream_sent: None,
            close_after: false,
            user: None,
            ws_close: None,
            rule: None,
            close: None,
            service: None,
            unlogged: None,
            compress: None,
            compressor: None,
            traffic: Default::default(),
            cache_bypass: None,
            cache: None,
        }
    }
}

/// Request ids: a random process prefix and a counter.
pub(crate) fn new_request_id() -> String {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // 32 lower-case hex digits, written directly: `format!` cost about
    // 1,500 instructions a request.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for v in [seed, n] {
        for shift in (0..16).rev() {
            id.push(char::from(HEX[((v >> (shift * 4)) & 0xf) as usize]));
        }
    }
    id
}

#[cfg(test)]
#[test]
fn request_ids_are_32_hex_digits_seed_then_counter() {
    let a = new_request_id();
    let b = new_request_id();
    assert_eq!(a.len(), 32);
    assert!(
        a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{a}"
    );
    assert_eq!(a[..16], b[..16], "one seed per process");
    let (x, y) = (
        u64::from_str_radix(&a[16..], 16).unwrap_or(0),
        u64::from_str_radix(&b[16..], 16).unwrap_or(0),
    );
    assert!(y > x, "{a} {b}");
}

pub(crate) fn valid_request_id(v: &[u8]) -> bool {
    (1..=128).contains(&v.len()) && v.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// A fresh request id (for CONNECT tunnels and refusals).
pub fn request_id() -> String {
    new_request_id()
}
