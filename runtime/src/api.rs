//! The types that cross the boundary between `proxy/` and `runtime/`.
//!
//! Everything here is `Send` and free of V8 types: requests and responses
//! with streaming bodies, the `Outbound` capability through which Workers
//! reach the network, and the `Observer` through which the runtime reports
//! what it did.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// An error inside a streamed body (upstream reset, client gone, timeout).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub Arc<str>);

/// Sending half of a streamed body. Dropping it ends the body; sending an
/// `Err` aborts it.
pub type BodySender = tokio::sync::mpsc::Sender<Result<Bytes, BodyError>>;

/// Receiving half of a streamed body.
pub type BodyReceiver = tokio::sync::mpsc::Receiver<Result<Bytes, BodyError>>;

/// An HTTP message body.
#[derive(Debug, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A body already in memory.
    Bytes(Bytes),
    /// A body that arrives in chunks; `len` is the Content-Length when known.
    Stream {
        /// Chunks.
        rx: BodyReceiver,
        /// Declared length, if any.
        len: Option<u64>,
    },
}

impl Body {
    /// A streamed body and the sender that feeds it. `capacity` is the number
    /// of chunks buffered (backpressure beyond that).
    pub fn channel(capacity: usize, len: Option<u64>) -> (BodySender, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        (tx, Body::Stream { rx, len })
    }
}

/// A request handed to a Worker, or sent by a Worker to a binding.
#[derive(Debug)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL (`http://host/path?query`).
    pub url: String,
    /// Headers, hop-by-hop headers already removed.
    pub headers: HeaderMap,
    /// Body.
    pub body: Body,
}

/// Facts about the downstream request that a Worker may see but not change.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// Client address.
    pub client_addr: Option<SocketAddr>,
    /// The request id (also in the `x-request-id` header).
    pub request_id: String,
    /// HTTP version of the downstream request (`request.cf.httpProtocol`).
    pub http_version: Option<http::Version>,
    /// The downstream TLS session, when the client came over TLS.
    pub tls: Option<TlsInfo>,
}

/// The downstream TLS session as the TLS library names it (rustls:
/// `TLSv1_3`, `TLS13_AES_128_GCM_SHA256`); the runtime shows it under
/// Cloudflare's names in `request.cf.tlsVersion` and `tlsCipher`.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// Protocol version.
    pub version: String,
    /// Cipher suite.
    pub cipher: String,
}

/// A response from a Worker or from an outbound service.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Body,
    /// For a `101 Switching Protocols` answer to a WebSocket upgrade: the
    /// connection's bytes after the head. From an outbound service it is
    /// the origin's socket; from a Worker it is what the client's socket is
    /// to be joined with (the origin's socket passed through, or the end of
    /// a `WebSocketPair` the Worker serves).
    pub upgrade: Option<Upgraded>,
}

impl Response {
    /// A response without an upgraded connection.
    pub fn new(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
        Response {
            status,
            headers,
            body,
            upgrade: None,
        }
    }
}

/// A byte stream both ways, what an upgraded connection carries.
pub trait UpgradedIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> UpgradedIo for T {}

/// The bytes of a connection after a `101 Switching Protocols` head: the
/// WebSocket frames, unparsed.
pub struct Upgraded(pub Box<dyn UpgradedIo>);

impl Upgraded {
    /// Wrap a stream.
    pub fn new(io: impl UpgradedIo) -> Upgraded {
        Upgraded(Box::new(io))
    }
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Upgraded")
    }
}

/// Why an outbound request failed. The class decides the status a Worker
/// sees when it does not handle the error itself.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OutboundError {
    /// The binding's policy refused the destination (403).
    #[error("destination refused by policy: {0}")]
    Denied(String),
    /// The origin could not be reached or refused the connection (502).
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    /// The origin did not answer in time (504).
    #[error("upstream timed out: {0}")]
    Timeout(String),
    /// The request itself was unusable (bad URL, unsupported scheme).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A boxed, sendable future, as returned by [`Outbound::fetch`].
pub type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

/// How a Worker's requests leave the runtime: implemented by `proxy/`.
///
/// `service` is the name of a non-Worker service (ExternalServer, Network or
/// disk) in the config; the runtime handles Worker-to-Worker calls itself.
/// This is the capability boundary: a Worker reaches nothing that does not
/// come through here for a service its bindings name.
pub trait Outbound: Send + Sync + 'static {
    /// Send `request` to `service` and return its response headers; the body
    /// streams.
    fn fetch(&self, service: &str, request: Request, info: &RequestInfo) -> BoxFuture<Result<Response, OutboundError>>;
}

/// Where the Workers Cache API (`caches.default`, `caches.open(name)`)
/// keeps responses: implemented by `proxy/` over its HTTP cache's store.
///
/// `cache` is the cache's name (`""` for `caches.default`), `url` the
/// request URL (the key). The runtime has already applied the API's own
/// rules (GET only, no 206, no `Vary: *`); the store decides, from the
/// response's `Cache-Control`, `Expires` and status, whether and how long
/// to keep it.
pub trait CacheStore: Send + Sync + 'static {
    /// The fresh stored response for `url`, if any.
    fn lookup(&self, cache: &str, url: &str) -> BoxFuture<Result<Option<Response>, String>>;
    /// Store `response` (its body is read to the end here). `Ok(false)`:
    /// the response is not storable (no-store, private, Set-Cookie, no
    /// lifetime, too large) and was dropped.
    fn store(&self, cache: &str, url: &str, response: Response) -> BoxFuture<Result<bool, String>>;
    /// Remove the entry for `url`; whether there was one.
    fn remove(&self, cache: &str, url: &str) -> BoxFuture<Result<bool, String>>;
}

/// The Cache API's store, as handed to the isolate threads.
#[derive(Clone)]
pub struct CacheHandle(pub Arc<dyn CacheStore>);

impl std::fmt::Debug for CacheHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheHandle")
    }
}

/// How a Worker invocation ended, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response was produced.
    Ok,
    /// The script threw (500).
    Exception,
    /// CPU limit hit (503).
    CpuLimit,
    /// Heap limit hit (503).
    HeapLimit,
    /// Wall-clock limit hit (504).
    WallLimit,
    /// No isolate could take the request (503).
    Overloaded,
    /// The client went away before a response.
    Canceled,
    /// An internal failure (500).
    Internal,
}

impl Outcome {
    /// Label value used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Exception => "exception",
            Outcome::CpuLimit => "cpu_limit",
            Outcome::HeapLimit => "heap_limit",
            Outcome::WallLimit => "wall_limit",
            Outcome::Overloaded => "overloaded",
            Outcome::Canceled => "canceled",
            Outcome::Internal => "internal",
        }
    }
}

/// Receives runtime events; every method has a no-op default. Implemented by
/// `proxy/` to feed metrics and logs.
pub trait Observer: Send + Sync + 'static {
    /// A Worker invocation finished: its outcome and the CPU time it used.
    fn invocation(&self, _worker: &str, _outcome: Outcome, _cpu: std::time::Duration) {}
    /// An isolate was created (`+1`) or destroyed (`-1`).
    fn isolates_changed(&self, _worker: &str, _delta: i64) {}
    /// A Worker called `console.*` (`level` is `debug`, `log`, `warn` or
    /// `error`). The runtime also logs it through `tracing` (target
    /// `isoproxy::worker`); this hook exists for tests and tools.
    fn console(&self, _worker: &str, _level: &str, _message: &str) {}
    /// Worker `worker` tried to call a Worker (through a service binding)
    /// from a request already [`crate::MAX_WORKER_DEPTH`] Workers deep; the
    /// call was refused.
    fn depth_exceeded(&self, _worker: &str) {}
    /// A WebSocket that Worker `worker` accepted carried one message of
    /// `bytes` bytes, from the peer (`inbound`) or from the Worker.
    fn websocket_message(&self, _worker: &str, _inbound: bool, _bytes: usize) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl Observer for NoopObserver {}
