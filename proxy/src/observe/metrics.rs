//! Every Prometheus metric isoproxy exports, registered in one place on an
//! explicit [`Registry`] (never the crate's global default registry).
//!
//! Label values are low-cardinality by construction: socket and service
//! names come from the config, methods outside the standard set become
//! `OTHER`, statuses are reduced to their class. URL paths and client
//! addresses never become labels.

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Buckets for request and upstream durations, in seconds (100 µs .. 60 s).
const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets for Worker CPU time per invocation, in seconds (10 µs .. 1 s).
const CPU_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Reads each cache tier's (tier, bytes, entries, evictions).
pub type CacheCounts = fn() -> Vec<(&'static str, u64, u64, u64)>;

/// The metrics registry and every metric in it.
pub struct Metrics {
    /// Tells this registry's metrics apart in the per-thread [`Memo`]s.
    id: u64,
    registry: Registry,
    /// Downstream requests by socket, service, method and status class.
    pub requests: IntCounterVec,
    /// Downstream request duration, from request head to last response byte.
    pub request_duration: HistogramVec,
    /// Upstream exchanges by service and outcome (ok, refused, timeout, error, denied).
    pub upstream_requests: IntCounterVec,
    /// Time to establish an upstream connection (new connections only).
    pub upstream_connect_duration: HistogramVec,
    /// Time from sending the request upstream to its response header.
    pub upstream_response_duration: HistogramVec,
    /// Bytes read from downstream clients (bodies and tunnel payload).
    pub bytes_received: IntCounterVec,
    /// Bytes written to downstream clients (bodies and tunnel payload).
    pub bytes_sent: IntCounterVec,
    /// Open downstream connections.
    pub connections_active: IntGaugeVec,
    /// Open CONNECT tunnels.
    pub tunnels_active: IntGauge,
    /// Open WebSockets by socket, on every path (no script, through a
    /// Worker, served by a Worker).
    pub websockets_active: IntGaugeVec,
    /// Messages on WebSockets a Worker accepted, by worker and direction
    /// (`in`: from the peer, `out`: from the Worker).
    pub websocket_messages: IntCounterVec,
    /// Payload bytes of those messages, by worker and direction.
    pub websocket_message_bytes: IntCounterVec,
    /// Messages through joined WebSockets (no script, or passed through a
    /// Worker), by socket and direction (`in`: from the client).
    pub websocket_relayed_messages: IntCounterVec,
    /// Payload bytes of those messages, by socket and direction.
    pub websocket_relayed_bytes: IntCounterVec,
    /// Worker invocations by worker and outcome.
    pub worker_invocations: IntCounterVec,
    /// Worker CPU time per invocation.
    pub worker_cpu: HistogramVec,
    /// Live isolates by worker.
    pub worker_isolates: IntGaugeVec,
    /// Worker-to-Worker calls refused at the depth limit, by calling worker.
    pub worker_depth_exceeded: IntCounterVec,
    /// Requests refused by a Network's allow/deny rules.
    pub policy_denied: IntCounterVec,
    /// Forward-proxy requests and tunnels by authenticated user.
    pub proxy_user_requests: IntCounterVec,
    /// Requests and tunnels refused by proxy authentication (407, 429).
    pub proxy_auth_refused: IntCounterVec,
    /// Config reloads by result (ok, error).
    pub config_reloads: IntCounterVec,
    /// The config generation serving new requests (1 at start-up).
    pub config_generation: IntGauge,
    /// Unix time of the last successful reload (0 before the first).
    pub config_last_reload: Gauge,
    /// Access-log records dropped because the writer was behind.
    pub access_log_dropped: IntCounter,
    /// Pooled upstream connections lost to the race in Pingora's connector
    /// (see `logging::PoolRace`).
    pub upstream_pool_races: IntCounter,
    /// Rate limits, circuit breaking and health (traffic management).
    pub traffic: TrafficMetrics,
    /// Requests on caching sockets by socket and cache outcome (HIT, STALE,
    /// REVALIDATED, MISS, BYPASS).
    pub cache_requests: IntCounterVec,
    /// Bytes held by each cache tier.
    pub cache_bytes: IntGaugeVec,
    /// Entries held by each cache tier.
    pub cache_entries: IntGaugeVec,
    /// Entries evicted from each tier to keep its budget.
    pub cache_evictions: IntCounterVec,
    /// Reads each cache tier's counts (tier, bytes, entries, evictions) at
    /// scrape time, once a cache exists.
    pub cache_counts: std::sync::OnceLock<CacheCounts>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Create and register every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let histogram =
            |name: &str, help: &str, labels: &[&str], buckets: &[f64]| -> Result<HistogramVec, prometheus::Error> {
                let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets.to_vec()), labels)?;
                registry.register(Box::new(h.clone()))?;
                Ok(h)
            };
        let gauge = |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, prometheus::Error> {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };

        let requests = counter(
            "isoproxy_requests_total",
            "Downstream requests answered, by socket, service, method and status class.",
            &["socket", "service", "method", "status_class"],
        )?;
        let request_duration = histogram(
            "isoproxy_request_duration_seconds",
            "Time from a downstream request's head to its last response byte.",
            &["socket", "service"],
            DURATION_BUCKETS,
        )?;
        let upstream_requests = counter(
            "isoproxy_upstream_requests_total",
            "Requests sent upstream, by service and outcome (ok, refused, timeout, error, denied).",
            &["service", "outcome"],
        )?;
        let upstream_connect_duration = histogram(
            "isoproxy_upstream_connect_duration_seconds",
            "Time to open a new upstream connection (TCP and TLS).",
            &["service"],
            DURATION_BUCKETS,
        )?;
        let upstream_response_duration = histogram(
            "isoproxy_upstream_response_duration_seconds",
            "Time from sending a request upstream to receiving its response header.",
            &["service"],
            DURATION_BUCKETS,
        )?;
        let bytes_received = counter(
            "isoproxy_bytes_received_total",
            "Body and tunnel bytes received from downstream clients.",
            &["socket"],
        )?;
        let bytes_sent = counter(
            "isoproxy_bytes_sent_total",
            "Body and tunnel bytes sent to downstream clients.",
            &["socket"],
        )?;
        let connections_active = gauge(
            "isoproxy_connections_active",
            "Open downstream connections.",
            &["socket"],
        )?;
        let tunnels_active = IntGauge::new("isoproxy_tunnels_active", "Open CONNECT tunnels.")?;
        registry.register(Box::new(tunnels_active.clone()))?;
        let websockets_active = gauge(
            "isoproxy_websockets_active",
            "Open WebSocket connections, by socket.",
            &["socket"],
        )?;
        let websocket_messages = counter(
            "isoproxy_websocket_messages_total",
            "Messages on WebSockets a Worker accepted, by worker and direction (in, out).",
            &["worker", "direction"],
        )?;
        let websocket_message_bytes = counter(
            "isoproxy_websocket_message_bytes_total",
            "Payload bytes of messages on WebSockets a Worker accepted, by worker and direction (in, out).",
            &["worker", "direction"],
        )?;
        let websocket_relayed_messages = counter(
            "isoproxy_websocket_relayed_messages_total",
            "Messages on WebSockets by socket and direction (in: from the client, out: to it), on every path: no script, passed through a Worker, served by a Worker.",
            &["socket", "direction"],
        )?;
        let websocket_relayed_bytes = counter(
            "isoproxy_websocket_relayed_message_bytes_total",
            "Payload bytes of messages on WebSockets by socket and direction.",
            &["socket", "direction"],
        )?;
        let worker_invocations = counter(
            "isoproxy_worker_invocations_total",
            "Worker fetch invocations, by worker and outcome (ok, exception, cpu_limit, heap_limit, wall_limit, overloaded, canceled, internal).",
            &["worker", "outcome"],
        )?;
        let worker_cpu = histogram(
            "isoproxy_worker_cpu_seconds",
            "CPU time a Worker spent on one invocation.",
            &["worker"],
            CPU_BUCKETS,
        )?;
        let worker_isolates = gauge("isoproxy_worker_isolates", "Live V8 isolates, by worker.", &["worker"])?;
        let worker_depth_exceeded = counter(
            "isoproxy_worker_depth_exceeded_total",
            "Worker-to-Worker calls refused because the request was already as deep as the call depth limit, by calling worker.",
            &["worker"],
        )?;
        let policy_denied = counter(
            "isoproxy_policy_denied_total",
            "Requests and tunnels refused by a Network's allow/deny rules, by service.",
            &["service"],
        )?;
        let proxy_user_requests = counter(
            "isoproxy_proxy_user_requests_total",
            "Forward-proxy requests and tunnels of authenticated users (proxyAuth), by socket, user and status class.",
            &["socket", "user", "status_class"],
        )?;
        let proxy_auth_refused = counter(
            "isoproxy_proxy_auth_refused_total",
            "Requests and tunnels refused by proxy authentication, by socket and status (407 credentials missing or wrong, 429 too many failures).",
            &["socket", "status"],
        )?;
        let config_reloads = counter(
            "isoproxy_config_reloads_total",
            "Config reloads, by result (ok, error).",
            &["result"],
        )?;
        let config_generation = IntGauge::new(
            "isoproxy_config_generation",
            "The config generation serving new requests: 1 at start-up, +1 per successful reload.",
        )?;
        registry.register(Box::new(config_generation.clone()))?;
        let config_last_reload = Gauge::new(
            "isoproxy_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config reload (0 before the first).",
        )?;
        registry.register(Box::new(config_last_reload.clone()))?;
        let access_log_dropped = IntCounter::new(
            "isoproxy_access_log_dropped_total",
            "Access-log records dropped because the log writer was behind.",
        )?;
        registry.register(Box::new(access_log_dropped.clone()))?;
        let upstream_pool_races = IntCounter::new(
            "isoproxy_upstream_pool_races_total",
            "Idle pooled upstream connections Pingora's connector failed to take back (a race in Pingora); each costs a new connection.",
        )?;
        registry.register(Box::new(upstream_pool_races.clone()))?;
        let cache_requests = counter(
            "isoproxy_cache_requests_total",
            "Requests on caching sockets, by socket and cache outcome (HIT, STALE, REVALIDATED, MISS, BYPASS).",
            &["socket", "cache"],
        )?;
        let cache_bytes = gauge(
            "isoproxy_cache_bytes",
            "Bytes held by the HTTP cache, by tier (memory, disk): bodies, heads, bookkeeping.",
            &["tier"],
        )?;
        let cache_entries = gauge(
            "isoproxy_cache_entries",
            "Responses held by the HTTP cache, by tier (memory, disk).",
            &["tier"],
        )?;
        let cache_evictions = counter(
            "isoproxy_cache_evictions_total",
            "Responses evicted from a cache tier to keep its byte budget, by tier (memory, disk).",
            &["tier"],
        )?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;

        let traffic = TrafficMetrics::new(&registry)?;
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(Metrics {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            traffic,
            registry,
            requests,
            request_duration,
            upstream_requests,
            upstream_connect_duration,
            upstream_response_duration,
            bytes_received,
            bytes_sent,
            connections_active,
            tunnels_active,
            websockets_active,
            websocket_messages,
            websocket_message_bytes,
            websocket_relayed_messages,
            websocket_relayed_bytes,
            worker_invocations,
            worker_cpu,
            worker_isolates,
            worker_depth_exceeded,
            policy_denied,
            proxy_user_requests,
            proxy_auth_refused,
            config_reloads,
            config_generation,
            config_last_reload,
            access_log_dropped,
            upstream_pool_races,
            cache_requests,
            cache_bytes,
            cache_entries,
            cache_evictions,
            cache_counts: std::sync::OnceLock::new(),
        })
    }

    /// Every metric family, as collected now.
    pub fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.registry.gather()
    }

    /// Everything in the Prometheus text exposition format.
    pub fn encode(&self) -> Vec<u8> {
        for (tier, bytes, entries, evicted) in self.cache_counts.get().map(|f| f()).unwrap_or_default() {
            self.set_cache_store(tier, bytes, entries, evicted);
        }
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec cannot fail for I/O reasons; a metric-family
        // error would be a programming error in this module, so it is logged
        // rather than propagated into the scrape.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// Set the cache store's gauges and evictions counter from its own
    /// counts (bytes held, entries held, entries evicted so far).
    fn set_cache_store(&self, tier: &str, bytes: u64, entries: u64, evicted: u64) {
        self.cache_bytes
            .with_label_values(&[tier])
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.cache_entries
            .with_label_values(&[tier])
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
        let counter = self.cache_evictions.with_label_values(&[tier]);
        let seen = counter.get();
        if evicted > seen {
            counter.inc_by(evicted - seen);
        }
    }

    /// Count one finished downstream request or tunnel with everything known
    /// about it.
    pub fn record_exchange(&self, x: &Exchange<'_>) {
        self.record_request(x.socket, x.service, x.method, x.status, x.elapsed);
        if x.bytes_in > 0 {
            memo(&BYTES_RECEIVED, self.id, &self.bytes_received, &[x.socket], |c| {
                c.inc_by(x.bytes_in)
            });
        }
        if x.bytes_out > 0 {
            memo(&BYTES_SENT, self.id, &self.bytes_sent, &[x.socket], |c| {
                c.inc_by(x.bytes_out)
            });
        }
        if let Some(outcome) = x.upstream_outcome {
            memo(
                &UPSTREAM_REQUESTS,
                self.id,
                &self.upstream_requests,
                &[x.service, outcome],
                |c| c.inc(),
            );
        }
        if x.denied {
            self.policy_denied.with_label_values(&[x.service]).inc();
        }
        if let Some(user) = x.user {
            self.proxy_user_requests
                .with_label_values(&[x.socket, user, status_class(x.status)])
                .inc();
        } else if x.auth_refused {
            self.proxy_auth_refused
                .with_label_values(&[x.socket, if x.status == 429 { "429" } else { "407" }])
                .inc();
        }
    }

    /// Count one finished downstream request.
    pub fn record_request(&self, socket: &str, service: &str, method: &str, status: u16, elapsed: Duration) {
        let labels = [socket, service, method_label(method), status_class(status)];
        memo(&REQUESTS, self.id, &self.requests, &labels, |c| c.inc());
        memo(
            &REQUEST_DURATION,
            self.id,
            &self.request_duration,
            &[socket, service],
            |h| h.observe(elapsed.as_secs_f64()),
        );
    }

    /// Time from handing a request to the upstream connection to its
    /// response head.
    pub fn observe_upstream_response(&self, service: &str, elapsed: Duration) {
        memo(
            &UPSTREAM_RESPONSE,
            self.id,
            &self.upstream_response_duration,
            &[service],
            |h| h.observe(elapsed.as_secs_f64()),
        );
    }
}

/// The metric for the label values a thread asked for last, per metric:
/// the request path asks for the same few label values again and again,
/// and `with_label_values` hashes them and takes the metric's lock every
/// time (about 170 instructions a call, five calls a request). The series
/// is made on first use, as before.
struct Memo<M> {
    /// Which [`Metrics`] the entry belongs to (tests make several).
    owner: u64,
    labels: Vec<Box<str>>,
    metric: M,
}

type MemoSlot<M> = std::thread::LocalKey<std::cell::RefCell<Option<Memo<M>>>>;

thread_local! {
    static REQUESTS: std::cell::RefCell<Option<Memo<IntCounter>>> = const { std::cell::RefCell::new(None) };
    static REQUEST_DURATION: std::cell::RefCell<Option<Memo<prometheus::Histogram>>> =
        const { std::cell::RefCell::new(None) };
    static BYTES_RECEIVED: std::cell::RefCell<Option<Memo<IntCounter>>> = const { std::cell::RefCell::new(None) };
    static BYTES_SENT: std::cell::RefCell<Option<Memo<IntCounter>>> = const { std::cell::RefCell::new(None) };
    static UPSTREAM_REQUESTS: std::cell::RefCell<Option<Memo<IntCounter>>> = const { std::cell::RefCell::new(None) };
    static UPSTREAM_RESPONSE: std::cell::RefCell<Option<Memo<prometheus::Histogram>>> =
        const { std::cell::RefCell::new(None) };
}

/// Apply `f` to `vec`'s metric for `labels`, through this thread's memo.
fn memo<T: prometheus::core::MetricVecBuilder>(
    slot: &'static MemoSlot<T::M>,
    owner: u64,
    vec: &prometheus::core::MetricVec<T>,
    labels: &[&str],
    f: impl FnOnce(&T::M),
) {
    slot.with(|cell| {
        let mut cell = cell.borrow_mut();
        let hit = cell.as_ref().is_some_and(|m| {
            m.owner == owner && m.labels.len() == labels.len() && m.labels.iter().zip(labels).all(|(a, b)| **a == **b)
        });
        if !hit {
            *cell = Some(Memo {
                owner,
                labels: labels.iter().map(|l| Box::from(*l)).collect(),
                metric: vec.with_label_values(labels),
            });
        }
        if let Some(m) = cell.as_ref() {
            f(&m.metric);
        }
    });
}

impl isoproxy_runtime::Observer for Metrics {
    fn invocation(&self, worker: &str, outcome: isoproxy_runtime::Outcome, cpu: Duration) {
        self.worker_invocations
            .with_label_values(&[worker, outcome.as_str()])
            .inc();
        self.worker_cpu.with_label_values(&[worker]).observe(cpu.as_secs_f64());
    }

    fn isolates_changed(&self, worker: &str, delta: i64) {
        self.worker_isolates.with_label_values(&[worker]).add(delta);
    }

    fn depth_exceeded(&self, worker: &str) {
        self.worker_depth_exceeded.with_label_values(&[worker]).inc();
    }

    fn websocket_message(&self, worker: &str, inbound: bool, bytes: usize) {
        let direction = if inbound { "in" } else { "out" };
        self.websocket_messages.with_label_values(&[worker, direction]).inc();
        self.websocket_message_bytes
            .with_label_values(&[worker, direction])
            .inc_by(bytes as u64);
    }
}

/// One finished request or tunnel, as [`Metrics::record_exchange`] counts it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// Socket name.
    pub socket: &'a str,
    /// Service name.
    pub service: &'a str,
    /// Request method.
    pub method: &'a str,
    /// Status sent to the client (0 when none was).
    pub status: u16,
    /// Time from request head to the end.
    pub elapsed: Duration,
    /// Body or tunnel bytes received from the client.
    pub bytes_in: u64,
    /// Body or tunnel bytes sent to the client.
    pub bytes_out: u64,
    /// Upstream outcome label (ok, refused, timeout, error, denied), when an
    /// upstream was involved.
    pub upstream_outcome: Option<&'static str>,
    /// A Network rule refused the destination.
    pub denied: bool,
    /// The forward-proxy user, when one authenticated.
    pub user: Option<&'a str>,
    /// Proxy authentication refused the request (407 or 429).
    pub auth_refused: bool,
}

/// The method as a label: one of the standard methods, else `OTHER`.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => "OTHER",
    }
}

/// The status class as a label: `1xx` .. `5xx`, or `other`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------
// Traffic management (rate limits, circuit breaking, health).

/// The metrics of traffic management.
pub struct TrafficMetrics {
    /// Requests refused by a rate limit, by socket and route ("" for the
    /// socket's own limit).
    pub rate_limited: IntCounterVec,
    /// Requests refused at once because an upstream service had
    /// `maxConcurrentRequests` in flight, by service.
    pub upstream_overloaded: IntCounterVec,
    /// 1 when a pool origin's address passes its health checks and is not
    /// ejected, by service, origin and address (pools with `healthCheck` or
    /// `dnsTtlMs`).
    pub upstream_healthy: IntGaugeVec,
}

impl TrafficMetrics {
    fn new(registry: &Registry) -> Result<TrafficMetrics, prometheus::Error> {
        let counter = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(TrafficMetrics {
            rate_limited: counter(
                "isoproxy_rate_limited_total",
                "Requests refused with 429 by a rate limit, by socket and route (empty for the socket's own limit).",
                &["socket", "route"],
            )?,
            upstream_overloaded: counter(
                "isoproxy_upstream_overloaded_total",
                "Requests refused with 503 because the upstream service had maxConcurrentRequests in flight, by service.",
                &["service"],
            )?,
            upstream_healthy: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "isoproxy_upstream_healthy",
                        "1 when a pool origin's address passes its health checks and is not ejected, by service, origin and address.",
                    ),
                    &["service", "origin", "address"],
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isoproxy_runtime::Observer;

    #[test]
    fn memoised_series_follow_their_labels_and_registry() {
        let (a, b) = (Metrics::new().unwrap(), Metrics::new().unwrap());
        // (metrics, socket, status) per request, alternating so every call
        // meets the other's memo entry.
        let rows = [
            (&a, "s1", 200),
            (&a, "s2", 200),
            (&b, "s1", 200),
            (&a, "s1", 404),
            (&a, "s1", 200),
            (&b, "s1", 200),
        ];
        for (m, socket, status) in rows {
            m.record_request(socket, "svc", "GET", status, Duration::from_millis(1));
            m.observe_upstream_response(socket, Duration::from_millis(1));
        }
        let count =
            |m: &Metrics, socket: &str, class: &str| m.requests.with_label_values(&[socket, "svc", "GET", class]).get();
        assert_eq!(count(&a, "s1", "2xx"), 2);
        assert_eq!(count(&a, "s2", "2xx"), 1);
        assert_eq!(count(&a, "s1", "4xx"), 1);
        assert_eq!(count(&b, "s1", "2xx"), 2);
        assert_eq!(count(&b, "s2", "2xx"), 0);
        let observed = |m: &Metrics, service: &str| {
            m.upstream_response_duration
                .with_label_values(&[service])
                .get_sample_count()
        };
        assert_eq!((observed(&a, "s1"), observed(&a, "s2"), observed(&b, "s1")), (3, 1, 2));
    }

    #[test]
    fn labels_stay_low_cardinality() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PROPFIND"), "OTHER");
        assert_eq!(method_label("get"), "OTHER");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(599), "5xx");
        assert_eq!(status_class(600), "other");
        assert_eq!(status_class(0), "other");
    }

    #[test]
    fn encodes_recorded_values() {
        let m = Metrics::new().expect("metrics");
        m.record_request("http", "origin", "GET", 200, Duration::from_millis(3));
        m.record_request("http", "origin", "BREW", 418, Duration::from_millis(1));
        m.invocation("gw", isoproxy_runtime::Outcome::CpuLimit, Duration::from_millis(50));
        m.isolates_changed("gw", 2);
        m.isolates_changed("gw", -1);
        let text = String::from_utf8(m.encode()).expect("utf8");
        assert!(text.contains(
            "isoproxy_requests_total{method=\"GET\",service=\"origin\",socket=\"http\",status_class=\"2xx\"} 1"
        ));
        assert!(text.contains(
            "isoproxy_requests_total{method=\"OTHER\",service=\"origin\",socket=\"http\",status_class=\"4xx\"} 1"
        ));
        assert!(text.contains("isoproxy_request_duration_seconds_count{service=\"origin\",socket=\"http\"} 2"));
        assert!(text.contains("isoproxy_worker_invocations_total{outcome=\"cpu_limit\",worker=\"gw\"} 1"));
        assert!(text.contains("isoproxy_worker_isolates{worker=\"gw\"} 1"));
        assert!(text.contains("isoproxy_tunnels_active 0"));
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes"));
    }
}
