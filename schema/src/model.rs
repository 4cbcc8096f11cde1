//! The loaded configuration as plain Rust values.
//!
//! The loader fills a Cap'n Proto message from the text config, validates it,
//! and converts it into these types. Everything downstream (`proxy`,
//! `runtime`) works with this model only; it never sees the text form or the
//! Cap'n Proto reader types. Defaults here equal the schema defaults.

use std::path::PathBuf;

mod traffic;
pub use traffic::*;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Named services, in config order. Includes the implicit `internet`
    /// network when the config does not define a service of that name.
    pub services: Vec<Service>,
    /// Listening sockets, in config order.
    pub sockets: Vec<Socket>,
    /// Extra V8 flags.
    pub v8_flags: Vec<String>,
    /// Application logs as JSON lines.
    pub structured_logging: bool,
    /// Prometheus endpoint, if configured.
    pub metrics: Option<MetricsOptions>,
    /// Access log settings.
    pub access_log: AccessLogOptions,
    /// Admin (health) listener, if configured.
    pub admin: Option<AdminOptions>,
    /// Process-wide settings.
    pub server: ServerOptions,
    /// The shared HTTP cache (isoproxy addition), if configured.
    pub cache: Option<CacheOptions>,
}

impl Config {
    /// The service with this name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// Where the Prometheus endpoint listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Listen address, `host:port`.
    pub address: String,
    /// HTTP path, default `/metrics`.
    pub path: String,
}

/// Access log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessLogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Apache/nginx combined format.
    Combined,
    /// No access log.
    Off,
}

/// Access log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogOptions {
    /// Record format.
    pub format: AccessLogFormat,
    /// File to append to; `None` means standard output.
    pub path: Option<PathBuf>,
    /// Records buffered before new ones are dropped.
    pub buffer_records: u32,
}

impl Default for AccessLogOptions {
    fn default() -> Self {
        Self {
            format: AccessLogFormat::Json,
            path: None,
            buffer_records: 8192,
        }
    }
}

/// The admin listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminOptions {
    /// Listen address, `host:port`.
    pub address: String,
}

/// Process-wide settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// Proxy threads; 0 = one per core.
    pub threads: u32,
    /// Isolate threads; 0 = one per core.
    pub isolate_threads: u32,
    /// Drain deadline on shutdown and reload, in milliseconds.
    pub drain_timeout_ms: u32,
    /// Requests of one Worker waiting to start, all threads together.
    pub max_queued_per_worker: u32,
    /// Requests waiting to start on one isolate thread, all Workers.
    pub max_queued_per_isolate_thread: u32,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            isolate_threads: 0,
            drain_timeout_ms: 30_000,
            max_queued_per_worker: 1024,
            max_queued_per_isolate_thread: 4096,
        }
    }
}

// ---- isoproxy addition: the HTTP cache (issue 16) ----

/// The shared HTTP cache (RFC 9111) of the no-script path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// Sockets whose no-script path answers from the cache.
    pub sockets: Vec<String>,
    /// Memory tier budget, bytes.
    pub memory_bytes: u64,
    /// Largest body stored, bytes.
    pub max_object_bytes: u64,
    /// Request headers (lower case) whose values are part of the key.
    pub key_headers: Vec<String>,
    /// Whether the query string is part of the key.
    pub key_query: bool,
    /// The name in `Cache-Status`; empty: no header.
    pub status_name: String,
    /// Bearer token of the purge endpoint (config value; the environment
    /// variable is read by the proxy).
    pub purge_token: Option<String>,
    /// Wait of collapsed misses for the first one, milliseconds.
    pub lock_timeout_ms: u32,
    /// Directory of the disk tier, if any.
    pub disk_path: Option<String>,
    /// Disk tier budget, bytes.
    pub disk_bytes: u64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            sockets: Vec::new(),
            memory_bytes: 64 << 20,
            max_object_bytes: 8 << 20,
            key_headers: Vec::new(),
            key_query: true,
            status_name: "isoproxy".into(),
            purge_token: None,
            lock_timeout_ms: 10_000,
            disk_path: None,
            disk_bytes: 1 << 30,
        }
    }
}

// ---- end of the HTTP cache addition ----

/// A listening socket.
#[derive(Debug, Clone, PartialEq)]
pub struct Socket {
    /// Unique socket name.
    pub name: String,
    /// Listen address (after `--socket-addr` overrides). `None` only when
    /// `fd` is set.
    pub address: Option<String>,
    /// An inherited listening file descriptor (`--socket-fd`).
    pub fd: Option<i32>,
    /// Plain HTTP or HTTPS.
    pub protocol: SocketProtocol,
    /// The service that handles this socket's requests.
    pub service: ServiceDesignator,
    /// Request limits and timeouts.
    pub limits: SocketLimits,
    /// Forward-proxy authentication, when required.
    pub proxy_auth: Option<ProxyAuth>,
    /// PROXY protocol receive, when enabled.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Requests per second per key on this socket, when limited.
    pub rate_limit: Option<RateLimit>,
}

/// Forward-proxy users of a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAuth {
    /// Realm of `Proxy-Authenticate`.
    pub realm: String,
    /// Users, from `users` and the lines of `usersList`.
    pub users: Vec<ProxyUser>,
    /// Wrong credentials per client address and minute; 0 = no limit.
    pub max_failures_per_minute: u32,
}

/// One forward-proxy user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUser {
    /// User name.
    pub name: String,
    /// Password hash (argon2 PHC or bcrypt).
    pub password_hash: String,
    /// The Network service of this user's requests; `None`: the socket's.
    pub service: Option<String>,
}

impl Socket {
    /// The socket's HTTP options, whichever the protocol (a tcp socket,
    /// which speaks no HTTP, has the defaults).
    pub fn http_options(&self) -> &HttpOptions {
        static TCP: std::sync::OnceLock<HttpOptions> = std::sync::OnceLock::new();
        match &self.protocol {
            SocketProtocol::Http(o) => o,
            SocketProtocol::Https { options, .. } => options,
            SocketProtocol::Tcp => TCP.get_or_init(HttpOptions::default),
        }
    }
}

/// How a socket speaks.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketProtocol {
    /// Plain HTTP.
    Http(HttpOptions),
    /// HTTP over TLS.
    Https {
        /// HTTP behaviour.
        options: HttpOptions,
        /// Certificates and TLS settings.
        tls: TlsOptions,
    },
    /// Raw TCP: each connection goes to the Worker's `connect` handler.
    Tcp,
}

/// Downstream request limits of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// Longest request line.
    pub max_request_line_bytes: u32,
    /// Largest header section.
    pub max_header_bytes: u32,
    /// Most headers.
    pub max_header_count: u32,
    /// Largest body; 0 = unlimited.
    pub max_body_bytes: u64,
    /// Deadline for a complete header section.
    pub header_timeout_ms: u32,
    /// Longest pause between body reads.
    pub body_timeout_ms: u32,
    /// Idle keep-alive timeout.
    pub keepalive_timeout_ms: u32,
    /// Requests per connection before it is closed.
    pub max_requests_per_connection: u32,
    /// Idle timeout of CONNECT tunnels.
    pub tunnel_idle_timeout_ms: u32,
    /// Longest single request header field line.
    pub max_header_line_bytes: u32,
    /// Most open client connections; 0 = unlimited.
    pub max_connections: u32,
    /// Longest wait for one write to the client.
    pub send_timeout_ms: u32,
    /// Slowest average request body rate; 0 = no rate limit.
    pub min_body_bytes_per_sec: u32,
}

impl Default for SocketLimits {
    fn default() -> Self {
        Self {
            max_request_line_bytes: 8192,
            max_header_bytes: 65536,
            max_header_count: 100,
            max_body_bytes: 0,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            keepalive_timeout_ms: 60_000,
            max_requests_per_connection: 1000,
            tunnel_idle_timeout_ms: 300_000,
            max_header_line_bytes: 16_384,
            max_connections: 10_000,
            send_timeout_ms: 60_000,
            min_body_bytes_per_sec: 1024,
        }
    }
}

/// A named service.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Unique service name.
    pub name: String,
    /// What the service is.
    pub kind: ServiceKind,
}

/// The kinds of service.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceKind {
    /// A JavaScript Worker.
    Worker(Worker),
    /// A network with allow/deny rules.
    Network(Network),
    /// One origin server or a pool of them.
    External(ExternalServer),
    /// A directory served read-only.
    Disk(DiskDirectory),
    /// Routes by host and path to other services (traffic management).
    Router(Router),
}

/// A reference to a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDesignator {
    /// Service name.
    pub name: String,
    /// Named export of a modules Worker; `None` = `default`.
    pub entrypoint: Option<String>,
    /// `ctx.props` as JSON text; `None` = empty object.
    pub props_json: Option<String>,
}

impl ServiceDesignator {
    /// A designator naming only a service.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            entrypoint: None,
            props_json: None,
        }
    }
}

/// A Worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    /// The code.
    pub source: WorkerSource,
    /// `YYYY-MM-DD`.
    pub compatibility_date: String,
    /// Compatibility flags as written.
    pub compatibility_flags: Vec<String>,
    /// Bindings, in config order.
    pub bindings: Vec<Binding>,
    /// Service behind the global `fetch()`.
    pub global_outbound: ServiceDesignator,
    /// Per-request limits.
    pub limits: WorkerLimits,
}

/// A Worker's code.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerSource {
    /// ES modules; the first is the main module.
    Modules(Vec<Module>),
    /// One classic script using `addEventListener`.
    ServiceWorkerScript(String),
}

/// One module of a modules Worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// Import name.
    pub name: String,
    /// Content.
    pub kind: ModuleKind,
}

/// Module content by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ModuleKind {
    /// JavaScript ES module source.
    EsModule(String),
    /// A string.
    Text(String),
    /// An ArrayBuffer.
    Data(Vec<u8>),
    /// A compiled WebAssembly module.
    Wasm(Vec<u8>),
    /// JSON text, parsed on import.
    Json(String),
    /// CommonJS source: run once with `require`, `module` and `exports`;
    /// importing it gives `module.exports`.
    CommonJs(String),
}

/// A binding given to a Worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// Name on `env` or the global object.
    pub name: String,
    /// Value.
    pub value: BindingValue,
}

/// Binding values by type.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingValue {
    /// A string.
    Text(String),
    /// An ArrayBuffer.
    Data(Vec<u8>),
    /// JSON text, parsed when the Worker starts.
    Json(String),
    /// A WebAssembly.Module.
    WasmModule(Vec<u8>),
    /// A Fetcher for a service.
    Service(ServiceDesignator),
    /// The value of an environment variable, read at load time; `None` when
    /// unset (the binding is `null`).
    FromEnvironment {
        /// Variable name.
        variable: String,
        /// Its value at load time.
        value: Option<String>,
    },
}

/// Per-request limits of a Worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLimits {
    /// CPU milliseconds per request.
    pub cpu_ms: u32,
    /// Heap limit per isolate, MiB.
    pub heap_mb: u32,
    /// `fetch()` calls per request.
    pub subrequests: u32,
    /// Wall-clock milliseconds to response headers.
    pub wall_ms: u32,
    /// CPU milliseconds for top-level evaluation.
    pub startup_ms: u32,
    /// Concurrent `fetch()` calls per request.
    pub max_concurrent_subrequests: u32,
    /// Largest body read into memory by `text()` and friends.
    pub max_buffered_body_bytes: u64,
    /// Milliseconds a request may go on after its response for
    /// `waitUntil` work before what it left pending is cancelled.
    pub wait_until_ms: u32,
    /// Largest WebSocket message an accepted WebSocket takes; 0 = no limit.
    pub max_websocket_message_bytes: u64,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        Self {
            cpu_ms: 50,
            heap_mb: 128,
            subrequests: 50,
            wall_ms: 30_000,
            startup_ms: 1000,
            max_concurrent_subrequests: 6,
            max_buffered_body_bytes: 128 * 1024 * 1024,
            wait_until_ms: 30_000,
            max_websocket_message_bytes: 1 << 20,
        }
    }
}

/// An origin server or pool.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalServer {
    /// `host:port` addresses: `address` first, then `addresses`. Never empty
    /// after validation.
    pub addresses: Vec<String>,
    /// Plain HTTP or HTTPS.
    pub protocol: ExternalProtocol,
    /// Timeouts.
    pub timeouts: UpstreamTimeouts,
    /// How long a failed pool address is skipped, ms.
    pub unhealthy_ms: u32,
    /// Most requests in flight at once from sockets; 0 = no limit.
    pub max_concurrent_requests: u32,
    /// How a pool's origin is chosen.
    pub balancing: Balancing,
    /// Active health checks, when configured.
    pub health_check: Option<HealthCheck>,
    /// HTTP/2 towards the origins.
    pub http2: UpstreamHttp2,
}

impl ExternalServer {
    /// The HTTP options, whichever the protocol.
    pub fn http_options(&self) -> &HttpOptions {
        match &self.protocol {
            ExternalProtocol::Http(o) => o,
            ExternalProtocol::Https { options, .. } => options,
        }
    }
}

/// How isoproxy talks to an origin.
#[derive(Debug, Clone, PartialEq)]
pub enum ExternalProtocol {
    /// Plain HTTP.
    Http(HttpOptions),
    /// HTTPS.
    Https {
        /// HTTP behaviour.
        options: HttpOptions,
        /// Trust and client certificate.
        tls: TlsOptions,
        /// Name to verify and send as SNI; `None` = host part of the address.
        certificate_host: Option<String>,
    },
}

/// Upstream timeouts in milliseconds; 0 disables one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamTimeouts {
    /// Connection establishment (TCP and TLS).
    pub connect_ms: u32,
    /// Wait for response headers and between body reads.
    pub read_ms: u32,
    /// Whole exchange.
    pub total_ms: u32,
    /// Idle pooled connection lifetime.
    pub idle_ms: u32,
}

impl Default for UpstreamTimeouts {
    fn default() -> Self {
        Self {
            connect_ms: 5000,
            read_ms: 30_000,
            total_ms: 0,
            idle_ms: 60_000,
        }
    }
}

/// A network with allow/deny rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Allowed address classes and blocks.
    pub allow: Vec<AddressRule>,
    /// Denied address classes and blocks.
    pub deny: Vec<AddressRule>,
    /// TLS settings for https URLs.
    pub tls: TlsOptions,
    /// Ports CONNECT may reach (inclusive ranges).
    pub connect_ports: Vec<PortRange>,
    /// Timeouts.
    pub timeouts: UpstreamTimeouts,
    /// Host-name patterns that may be reached (`allowNames` and the lines of
    /// `allowNamesList`); empty: any name.
    pub allow_names: Vec<String>,
    /// Host-name patterns that may not be reached.
    pub deny_names: Vec<String>,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            allow: vec![AddressRule::Public],
            deny: Vec::new(),
            tls: TlsOptions {
                trust_browser_cas: true,
                ..TlsOptions::default()
            },
            connect_ports: vec![PortRange { first: 443, last: 443 }],
            timeouts: UpstreamTimeouts::default(),
            allow_names: Vec::new(),
            deny_names: Vec::new(),
        }
    }
}

/// One allow/deny rule, as written in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRule {
    /// Publicly routable addresses (not `private`).
    Public,
    /// Addresses reserved for private networks; a superset of `local`.
    Private,
    /// Addresses reachable only from this machine (loopback, unix sockets).
    Local,
    /// Everything that is not `local`.
    Network,
    /// Unix domain sockets.
    Unix,
    /// Linux abstract unix sockets.
    UnixAbstract,
    /// An IPv4 or IPv6 block.
    Cidr(ipnet::IpNet),
}

impl std::fmt::Display for AddressRule {
    /// The rule as written in the config (`public`, `10.0.0.0/8`, ...).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressRule::Public => f.write_str("public"),
            AddressRule::Private => f.write_str("private"),
            AddressRule::Local => f.write_str("local"),
            AddressRule::Network => f.write_str("network"),
            AddressRule::Unix => f.write_str("unix"),
            AddressRule::UnixAbstract => f.write_str("unix-abstract"),
            AddressRule::Cidr(n) => n.fmt(f),
        }
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

/// A directory served over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskDirectory {
    /// Directory path.
    pub path: PathBuf,
    /// Whether dotfiles may be served.
    pub allow_dotfiles: bool,
}

/// Request-target style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpStyle {
    /// Origin form with a Host header.
    #[default]
    Host,
    /// Absolute form and CONNECT (forward proxy).
    Proxy,
}

/// HTTP behaviour of a socket or an origin.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpOptions {
    /// Request-target style.
    pub style: HttpStyle,
    /// Header giving the original scheme.
    pub forwarded_proto_header: Option<String>,
    /// Headers set (or removed, when `value` is `None`) on requests.
    pub inject_request_headers: Vec<HeaderInjection>,
    /// Headers set (or removed) on responses.
    pub inject_response_headers: Vec<HeaderInjection>,
    /// Client-sent X-Forwarded-For, Forwarded and X-Real-IP are believed.
    pub trust_forwarded_headers: bool,
    /// Response compression on the no-script path (socket only).
    pub compression: ResponseCompression,
}

/// Response compression of a socket's no-script path (isoproxy addition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseCompression {
    /// Whether responses are compressed.
    pub enabled: bool,
    /// Responses with a smaller Content-Length are sent as they are.
    pub min_bytes: u32,
}

impl Default for ResponseCompression {
    fn default() -> Self {
        ResponseCompression {
            enabled: false,
            min_bytes: 256,
        }
    }
}

/// A header to set or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInjection {
    /// Header name as written.
    pub name: String,
    /// New value; `None` removes the header.
    pub value: Option<String>,
}

/// Minimum TLS version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// TLS 1.2 and newer.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// TLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    /// Default certificate and key.
    pub keypair: Option<Keypair>,
    /// Server side: require client certificates.
    pub require_client_certs: bool,
    /// Client side: trust public web CAs.
    pub trust_browser_cas: bool,
    /// Extra trusted CA certificates, PEM.
    pub trusted_certificates: Vec<String>,
    /// Oldest accepted version.
    pub min_version: TlsVersion,
    /// Certificates selected by SNI.
    pub sni_keypairs: Vec<SniKeypair>,
}

/// A PEM certificate chain and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keypair {
    /// PEM private key.
    pub private_key: String,
    /// PEM certificates, leaf first.
    pub certificate_chain: String,
}

/// A certificate for some host names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniKeypair {
    /// Host names, possibly `*.` wildcards.
    pub hostnames: Vec<String>,
    /// Certificate and key.
    pub keypair: Keypair,
}
