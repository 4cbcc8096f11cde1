//! Traffic management (isoproxy additions): PROXY protocol, routing, rate
//! limits, balancing and health checks.

use super::{AddressRule, HeaderInjection};

/// PROXY protocol on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyProtocol {
    /// Peers whose header is believed.
    pub trusted_sources: Vec<AddressRule>,
    /// Whether a trusted peer may also connect without a header.
    pub optional: bool,
}

/// A router service: routes by host and path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    /// The routes, in config order.
    pub routes: Vec<Route>,
    /// The service for requests no route matches; `None`: 404.
    pub default: Option<String>,
}

/// One route of a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Exact host, `*.suffix`, or `None` for any host.
    pub host: Option<String>,
    /// The path prefix, matched at a `/` boundary.
    pub path_prefix: String,
    /// The service requests go to.
    pub service: String,
    /// What replaces the matched prefix, if anything does.
    pub rewrite_prefix: Option<String>,
    /// Headers set or removed on requests.
    pub inject_request_headers: Vec<HeaderInjection>,
    /// Headers set or removed on responses.
    pub inject_response_headers: Vec<HeaderInjection>,
    /// Requests per second per key, when limited.
    pub rate_limit: Option<RateLimit>,
    /// Name in metrics and logs.
    pub name: String,
}

/// Requests per second per key, with a burst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained rate.
    pub requests_per_second: u32,
    /// Requests one key may send at once (at least the rate).
    pub burst: u32,
    /// What is counted separately.
    pub key: RateLimitKey,
}

/// What a rate limit counts separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitKey {
    /// The client's IP address.
    ClientAddress,
    /// A request header's value.
    Header(String),
    /// Everything together.
    All,
}

/// How a pool's origin is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Balancing {
    /// The policy.
    pub policy: BalancingPolicy,
    /// What consistent hashing hashes.
    pub hash_key: HashKey,
    /// Weights of the origins in order; missing ones are 1.
    pub weights: Vec<u32>,
    /// Re-resolve host names this often (ms); 0 = once.
    pub dns_ttl_ms: u32,
    /// Consecutive 5xx or connect failures that eject an origin; 0 = a
    /// failed connect only.
    pub max_failures: u32,
}

/// A balancing policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BalancingPolicy {
    /// In turn, by weight.
    #[default]
    RoundRobin,
    /// At random, by weight.
    Random,
    /// Ketama consistent hashing.
    ConsistentHash,
    /// Fewest requests in flight.
    LeastConnections,
}

/// What consistent hashing hashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HashKey {
    /// The client's IP address.
    #[default]
    ClientAddress,
    /// A request header's value.
    Header(String),
    /// A cookie's value.
    Cookie(String),
    /// The request path.
    Path,
}

/// Active health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// TCP connect, or an HTTP request.
    pub kind: HealthCheckKind,
    /// Time between checks (ms).
    pub interval_ms: u32,
    /// Longest a check may take (ms).
    pub timeout_ms: u32,
    /// Good checks that mark an origin up.
    pub rise: u32,
    /// Failed checks that mark an origin down.
    pub fall: u32,
}

/// What a health check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheckKind {
    /// Open a connection.
    Tcp,
    /// GET `path` and expect `expected_status`.
    Http {
        /// Path requested.
        path: String,
        /// Host header; `None`: the origin's host name.
        host: Option<String>,
        /// Status of a healthy origin.
        expected_status: u16,
    },
    /// The gRPC health protocol over HTTP/2.
    Grpc {
        /// The service asked about ("" = the server).
        service: String,
    },
}

/// HTTP/2 towards an ExternalServer's origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamHttp2 {
    /// HTTP/1.1 only.
    #[default]
    Off,
    /// ALPN h2 or http/1.1 over TLS; HTTP/1.1 over plain text.
    Negotiate,
    /// HTTP/2 only (h2c with prior knowledge over plain text).
    Only,
}
