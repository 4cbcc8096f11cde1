//! ExternalServer pools: the origins of one service, chosen by a balancing
//! policy (`pingora-load-balancing`'s round-robin, random and Ketama
//! selections over weighted backends, or least requests in flight), with
//! passive health (a failed connect, or `maxFailures` consecutive 5xx,
//! ejects an origin for `unhealthyMs`) and active health checks
//! ([`crate::upstream::health`]). When no origin is usable, all are used
//! (panic mode): a request still has a chance rather than none.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use isoproxy_schema::model::{
    BalancingPolicy, ExternalProtocol, ExternalServer, HashKey, UpstreamHttp2, UpstreamTimeouts,
};
use pingora_core::protocols::ALPN;
use pingora_core::upstreams::peer::{HttpPeer, PeerOptions};
use pingora_load_balancing::discovery::ServiceDiscovery;
use pingora_load_balancing::selection::{Consistent, Random, RoundRobin};
use pingora_load_balancing::{Backend, Backends, Extensions, LoadBalancer};

use crate::tls;
use crate::upstream::headers::HttpSettings;

/// Milliseconds since the first call: a cheap monotonic clock for health marks.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

pub(crate) fn ms(v: u32) -> Option<Duration> {
    (v > 0).then(|| Duration::from_millis(u64::from(v)))
}

/// Apply configured timeouts to a peer.
pub fn apply_timeouts(o: &mut PeerOptions, t: &UpstreamTimeouts) {
    o.connection_timeout = ms(t.connect_ms);
    o.total_connection_timeout = ms(t.connect_ms);
    o.read_timeout = ms(t.read_ms);
    o.write_timeout = ms(t.read_ms);
    o.idle_timeout = ms(t.idle_ms);
}

/// One configured origin (`address` or an entry of `addresses`).
#[derive(Debug, Clone)]
struct OriginSpec {
    /// `host:port` as written.
    name: String,
    /// The host part (SNI, health-check Host).
    host: String,
    weight: u32,
}

/// One address an origin resolved to: what requests connect to, and its
/// health. Its index in [`Registry`] never changes, so a request can name
/// it across DNS updates.
#[derive(Debug)]
pub struct BackendState {
    /// Position in the registry.
    pub idx: usize,
    /// The address.
    pub addr: SocketAddr,
    /// `host:port` of the origin it came from.
    pub origin: String,
    peer: HttpPeer,
    /// Passive health: skipped until this time (ms, [`now_ms`]).
    down_until_ms: AtomicU64,
    /// Consecutive 5xx responses.
    failures: AtomicU32,
    /// Requests in flight (no-script path).
    in_flight: AtomicU32,
    /// The last active health-check verdict (true before any check).
    pub checked_healthy: AtomicBool,
}

impl BackendState {
    fn passive_ok(&self, now: u64) -> bool {
        self.down_until_ms.load(Ordering::Relaxed) <= now
    }

    /// Whether it is ejected by passive health now.
    pub fn ejected(&self) -> bool {
        !self.passive_ok(now_ms())
    }
}

/// Every address ever resolved for one service, by index.
#[derive(Debug, Default)]
struct Registry {
    states: Mutex<Known>,
}

/// The states in index order, and their index by (address, origin).
type Known = (Vec<Arc<BackendState>>, HashMap<(SocketAddr, usize), usize>);

impl Registry {
    fn get(&self, idx: usize) -> Option<Arc<BackendState>> {
        let g = self.states.lock().unwrap_or_else(|p| p.into_inner());
        g.0.get(idx).cloned()
    }

    fn all(&self) -> Vec<Arc<BackendState>> {
        self.states.lock().unwrap_or_else(|p| p.into_inner()).0.clone()
    }

    fn get_or_insert(
        &self,
        addr: SocketAddr,
        spec: usize,
        make: impl FnOnce(usize) -> BackendState,
    ) -> Arc<BackendState> {
        let mut g = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&i) = g.1.get(&(addr, spec)) {
            return g.0[i].clone();
        }
        let i = g.0.len();
        let s = Arc::new(make(i));
        g.0.push(s.clone());
        g.1.insert((addr, spec), i);
        s
    }
}

/// How origins' peers are built.
#[derive(Debug, Clone)]
pub(crate) struct PeerTemplate {
    pub(crate) tls: bool,
    pub(crate) sni_override: Option<String>,
    pub(crate) ca: Option<Arc<pingora_core::protocols::tls::CaType>>,
    pub(crate) client_cert: Option<Arc<pingora_core::utils::tls::CertKey>>,
    timeouts: UpstreamTimeouts,
    http2: UpstreamHttp2,
}

impl PeerTemplate {
    fn peer(&self, addr: SocketAddr, host: &str) -> HttpPeer {
        let sni = self.sni_override.clone().unwrap_or_else(|| host.to_string());
        let mut peer = HttpPeer::new(addr, self.tls, sni);
        apply_timeouts(&mut peer.options, &self.timeouts);
        peer.options.ca = self.ca.clone();
        peer.client_cert_key = self.client_cert.clone();
        peer.options.alpn = match (self.http2, self.tls) {
            (UpstreamHttp2::Off, _) | (UpstreamHttp2::Negotiate, false) => ALPN::H1,
            (UpstreamHttp2::Negotiate, true) => ALPN::H2H1,
            // Over plain text, prior knowledge (h2c).
            (UpstreamHttp2::Only, _) => ALPN::H2,
        };
        peer
    }
}

/// The origins as backends for `pingora-load-balancing`: each configured
/// origin's name resolved (every address when `dnsTtlMs` is set, else the
/// first), weighted, each carrying its [`BackendState`].
struct Discovery {
    specs: Vec<OriginSpec>,
    all_addresses: bool,
    registry: Arc<Registry>,
    template: PeerTemplate,
}

impl Discovery {
    /// Resolve every origin. Blocking (system resolver): called at start-up
    /// and from the pool's own background thread.
    fn resolve(&self) -> Result<BTreeSet<Backend>, String> {
        let mut set = BTreeSet::new();
        for (i, spec) in self.specs.iter().enumerate() {
            if spec.weight == 0 {
                continue;
            }
            let addrs: Vec<SocketAddr> = spec
                .name
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {}: {e}", spec.name))?
                .collect();
            if addrs.is_empty() {
                return Err(format!("cannot resolve {}", spec.name));
            }
            let take = if self.all_addresses { addrs.len() } else { 1 };
            for addr in addrs.into_iter().take(take) {
                let state = self.registry.get_or_insert(addr, i, |idx| BackendState {
                    idx,
                    addr,
                    origin: spec.name.clone(),
                    peer: self.template.peer(addr, &spec.host),
                    down_until_ms: AtomicU64::new(0),
                    failures: AtomicU32::new(0),
                    in_flight: AtomicU32::new(0),
                    checked_healthy: AtomicBool::new(true),
                });
                let mut ext = Extensions::new();
                ext.insert(state);
                set.insert(Backend {
                    addr: pingora_core::protocols::l4::socket::SocketAddr::Inet(addr),
                    weight: spec.weight as usize,
                    ext,
                });
            }
        }
        Ok(set)
    }
}

#[async_trait]
impl ServiceDiscovery for Discovery {
    async fn discover(&self) -> pingora_error::Result<(BTreeSet<Backend>, HashMap<u64, bool>)> {
        match self.resolve() {
            Ok(set) => Ok((set, HashMap::new())),
            Err(e) => {
                // Keep the last good set: the load balancer only replaces
                // its backends on success.
                tracing::warn!(error = %e, "re-resolving a pool's origins failed");
                pingora_error::Error::e_explain(pingora_error::ErrorType::ConnectError, e)
            }
        }
    }
}

/// The selection, by policy.
pub(crate) enum Balancer {
    RoundRobin(LoadBalancer<RoundRobin>),
    Random(LoadBalancer<Random>),
    Consistent(LoadBalancer<Consistent>),
}

impl std::fmt::Debug for Balancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Balancer::RoundRobin(_) => "RoundRobin",
            Balancer::Random(_) => "Random",
            Balancer::Consistent(_) => "Consistent",
        })
    }
}

/// Candidates a selection walks through before giving up on health.
const MAX_ITERATIONS: usize = 256;

fn state_of(b: &Backend) -> Option<&Arc<BackendState>> {
    b.ext.get::<Arc<BackendState>>()
}

impl Balancer {
    fn select(&self, key: &[u8], accept: impl Fn(&Backend, bool) -> bool) -> Option<Backend> {
        match self {
            Balancer::RoundRobin(lb) => lb.select_with(key, MAX_ITERATIONS, accept),
            Balancer::Random(lb) => lb.select_with(key, MAX_ITERATIONS, accept),
            Balancer::Consistent(lb) => lb.select_with(key, MAX_ITERATIONS, accept),
        }
    }

    pub(crate) fn backends(&self) -> &Backends {
        match self {
            Balancer::RoundRobin(lb) => lb.backends(),
            Balancer::Random(lb) => lb.backends(),
            Balancer::Consistent(lb) => lb.backends(),
        }
    }

    pub(crate) async fn update(&self) -> pingora_error::Result<()> {
        match self {
            Balancer::RoundRobin(lb) => lb.update().await,
            Balancer::Random(lb) => lb.update().await,
            Balancer::Consistent(lb) => lb.update().await,
        }
    }
}

/// Held while a request is in flight to a backend (least connections).
#[derive(Debug)]
pub struct Held(Arc<BackendState>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An ExternalServer: one origin or a balanced pool with health.
#[derive(Debug)]
pub struct External {
    pub(crate) balancer: Balancer,
    registry: Arc<Registry>,
    policy: BalancingPolicy,
    hash_key: HashKey,
    /// Turns for round-robin-like choices the selection does not make.
    next: AtomicUsize,
    unhealthy_ms: u64,
    max_failures: u32,
    /// Re-resolution period, when names are re-resolved.
    pub(crate) dns_ttl: Option<Duration>,
    /// Active health checks, when configured.
    pub(crate) health: Option<isoproxy_schema::model::HealthCheck>,
    /// HTTP behaviour towards the origin.
    pub http: HttpSettings,
    /// HTTP/2 may be spoken to the origins (`TE: trailers` is kept).
    pub http2: bool,
    /// Budget for the whole exchange (`totalMs`), when set.
    pub total_timeout: Option<Duration>,
}

impl External {
    /// Resolve the addresses and prepare the selection. Active health
    /// checks and DNS re-resolution start with
    /// [`crate::upstream::health::start`].
    pub fn new(e: &ExternalServer) -> Result<External, String> {
        let template = match &e.protocol {
            ExternalProtocol::Http(_) => PeerTemplate {
                tls: false,
                sni_override: None,
                ca: None,
                client_cert: None,
                timeouts: e.timeouts,
                http2: e.http2,
            },
            ExternalProtocol::Https {
                tls, certificate_host, ..
            } => PeerTemplate {
                tls: true,
                sni_override: certificate_host.clone(),
                ca: tls::peer_ca(tls)?,
                client_cert: tls::peer_client_cert(tls)?,
                timeouts: e.timeouts,
                http2: e.http2,
            },
        };
        let b = &e.balancing;
        let specs: Vec<OriginSpec> = e
            .addresses
            .iter()
            .enumerate()
            .map(|(i, a)| OriginSpec {
                name: a.clone(),
                host: crate::syntax::split_port(a)
                    .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']').to_string())
                    .unwrap_or_else(|| a.clone()),
                weight: b.weights.get(i).copied().unwrap_or(1),
            })
            .collect();
        if specs.is_empty() {
            return Err("no addresses".into());
        }
        if specs.iter().all(|s| s.weight == 0) {
            return Err("every origin has weight 0".into());
        }
        let first_host = specs[0].host.clone();
        let registry = Arc::new(Registry::default());
        let discovery = Discovery {
            specs,
            all_addresses: b.dns_ttl_ms > 0,
            registry: registry.clone(),
            template: template.clone(),
        };
        // Resolve once here so that a name that does not resolve is a
        // start-up (or reload) error, as it always was.
        discovery.resolve()?;
        let backends = Backends::new(Box::new(discovery));
        let balancer = match b.policy {
            BalancingPolicy::RoundRobin | BalancingPolicy::LeastConnections => {
                Balancer::RoundRobin(LoadBalancer::from_backends(backends))
            }
            BalancingPolicy::Random => Balancer::Random(LoadBalancer::from_backends(backends)),
            BalancingPolicy::ConsistentHash => Balancer::Consistent(LoadBalancer::from_backends(backends)),
        };
        let mut balancer = balancer;
        if let Some(h) = &e.health_check {
            let check = crate::upstream::health::check_for(h, &first_host, &template);
            match &mut balancer {
                Balancer::RoundRobin(lb) => lb.set_health_check(check),
                Balancer::Random(lb) => lb.set_health_check(check),
                Balancer::Consistent(lb) => lb.set_health_check(check),
            }
        }
        // The discovery never waits: this completes at once.
        match balancer.update().now_or_never() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("resolving the origins did not complete".into()),
        }
        Ok(External {
            balancer,
            registry,
            policy: b.policy,
            hash_key: b.hash_key.clone(),
            next: AtomicUsize::new(0),
            unhealthy_ms: u64::from(e.unhealthy_ms),
            max_failures: b.max_failures,
            dns_ttl: ms(b.dns_ttl_ms),
            health: e.health_check.clone(),
            http: HttpSettings::new(e.http_options())?,
            http2: e.http2 != UpstreamHttp2::Off,
            total_timeout: ms(e.timeouts.total_ms),
        })
    }

    /// The consistent-hashing key of a request, for that policy.
    pub fn request_key(&self, client: Option<std::net::IpAddr>, req: &pingora_http::RequestHeader) -> Option<Vec<u8>> {
        if self.policy != BalancingPolicy::ConsistentHash {
            return None;
        }
        Some(match &self.hash_key {
            HashKey::ClientAddress => client.map(|c| c.to_string()).unwrap_or_default().into_bytes(),
            HashKey::Header(h) => req
                .headers
                .get(h.as_str())
                .map(|v| v.as_bytes().to_vec())
                .unwrap_or_default(),
            HashKey::Path => req.uri.path().as_bytes().to_vec(),
            HashKey::Cookie(name) => cookie(req, name).unwrap_or_default().into_bytes(),
        })
    }

    /// Choose an origin for a request with consistent-hashing `key` (when
    /// the policy hashes; without a key, requests take turns). Returns its
    /// index and a peer to connect to.
    pub fn pick(&self, key: Option<&[u8]>) -> (usize, HttpPeer) {
        // One origin (the common case): every policy, healthy or in panic
        // mode, chooses it.
        {
            let set = self.balancer.backends().get_backend();
            if set.len() == 1 {
                if let Some(s) = set.iter().next().and_then(state_of) {
                    return (s.idx, s.peer.clone());
                }
            }
        }
        let now = now_ms();
        let usable = |b: &Backend, ready: bool| ready && state_of(b).is_some_and(|s| s.passive_ok(now));
        let turn;
        let key: &[u8] = match key {
            Some(k) => k,
            None => {
                turn = self.next.fetch_add(1, Ordering::Relaxed).to_le_bytes();
                &turn
            }
        };
        let chosen = match self.policy {
            BalancingPolicy::LeastConnections => self.least_loaded(&usable).or_else(|| self.least_loaded(&|_, _| true)),
            _ => {
                // Panic mode: nothing usable, so the policy's first choice.
                let first = std::cell::OnceCell::new();
                self.balancer
                    .select(key, |b, ready| {
                        let _ = first.set(b.clone());
                        usable(b, ready)
                    })
                    .or_else(|| first.into_inner())
            }
        };
        let state = chosen
            .as_ref()
            .and_then(state_of)
            .cloned()
            .or_else(|| self.registry.get(0));
        match state {
            Some(s) => (s.idx, s.peer.clone()),
            // Unreachable: construction resolved at least one address.
            None => (0, HttpPeer::new("0.0.0.0:1", false, String::new())),
        }
    }

    /// The usable backend with the fewest requests in flight; ties take
    /// turns.
    fn least_loaded(&self, usable: &dyn Fn(&Backend, bool) -> bool) -> Option<Backend> {
        let set = self.balancer.backends().get_backend();
        let n = set.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut best: Option<(u32, &Backend)> = None;
        for b in set.iter().cycle().skip(start).take(n) {
            if !usable(b, self.balancer.backends().ready(b)) {
                continue;
            }
            let load = state_of(b).map_or(u32::MAX, |s| s.in_flight.load(Ordering::Acquire));
            if best.is_none_or(|(l, _)| load < l) {
                best = Some((load, b));
            }
        }
        best.map(|(_, b)| b.clone())
    }

    /// Count a request in flight to backend `idx` until the result is dropped.
    pub fn hold(&self, idx: usize) -> Option<Held> {
        if self.policy != BalancingPolicy::LeastConnections {
            return None;
        }
        let s = self.registry.get(idx)?;
        s.in_flight.fetch_add(1, Ordering::AcqRel);
        Some(Held(s))
    }

    /// A connect to backend `idx` failed after `retries` retries: mark it
    /// down, and say whether to try another (once, and only for an
    /// idempotent method, which the origin cannot have acted on twice).
    pub fn connect_failed(&self, idx: usize, method: &http::Method, retries: u8) -> bool {
        self.mark_down(idx);
        retries == 0 && method.is_idempotent()
    }

    /// Skip backend `idx` for `unhealthyMs`.
    pub fn mark_down(&self, idx: usize) {
        if let Some(s) = self.registry.get(idx) {
            s.down_until_ms.store(now_ms() + self.unhealthy_ms, Ordering::Relaxed);
            s.failures.store(0, Ordering::Relaxed);
        }
    }

    /// Backend `idx` answered with `status`: with `maxFailures`, that many
    /// 5xx in a row eject it.
    pub fn observe_status(&self, idx: usize, status: u16) {
        if self.max_failures == 0 {
            return;
        }
        let Some(s) = self.registry.get(idx) else { return };
        if status < 500 {
            s.failures.store(0, Ordering::Relaxed);
            return;
        }
        if s.failures.fetch_add(1, Ordering::Relaxed) + 1 >= self.max_failures {
            self.mark_down(idx);
        }
    }

    /// Every backend resolved so far, for health reports.
    pub fn states(&self) -> Vec<Arc<BackendState>> {
        self.registry.all()
    }
}

/// The value of cookie `name` in the request's Cookie headers.
fn cookie(req: &pingora_http::RequestHeader, name: &str) -> Option<String> {
    for v in req.headers.get_all(http::header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                if k == name {
                    return Some(val.to_string());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use isoproxy_schema::model::{Balancing, HttpOptions};

    fn pool(addrs: &[&str], policy: BalancingPolicy, weights: Vec<u32>) -> External {
        External::new(&ExternalServer {
            addresses: addrs.iter().map(|a| a.to_string()).collect(),
            protocol: ExternalProtocol::Http(HttpOptions::default()),
            timeouts: UpstreamTimeouts::default(),
            unhealthy_ms: 60_000,
            max_concurrent_requests: 0,
            balancing: Balancing {
                policy,
                weights,
                max_failures: 2,
                ..Balancing::default()
            },
            health_check: None,
            http2: Default::default(),
        })
        .unwrap()
    }

    fn counts(p: &External, n: usize, key: impl Fn(usize) -> Option<Vec<u8>>) -> Vec<usize> {
        let mut c = vec![0; p.states().len()];
        for i in 0..n {
            let k = key(i);
            c[p.pick(k.as_deref()).0] += 1;
        }
        c
    }

    #[test]
    fn policies_distribute() {
        let addrs = ["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"];
        let rr = pool(&addrs, BalancingPolicy::RoundRobin, vec![]);
        assert_eq!(counts(&rr, 999, |_| None), vec![333, 333, 333]);
        let w = pool(&addrs, BalancingPolicy::RoundRobin, vec![1, 2, 3]);
        assert_eq!(counts(&w, 600, |_| None), vec![100, 200, 300]);
        let off = pool(&addrs, BalancingPolicy::RoundRobin, vec![1, 0, 1]);
        let c = counts(&off, 100, |_| None);
        assert_eq!(c.iter().sum::<usize>(), 100);
        assert_eq!(off.states().len(), 2, "a weight of 0 is no backend: {c:?}");
        let ch = pool(&addrs, BalancingPolicy::ConsistentHash, vec![]);
        let c = counts(&ch, 999, |i| Some(format!("key-{i}").into_bytes()));
        assert!(c.iter().all(|&n| n > 150), "{c:?}");
        for i in 0..20 {
            let k = format!("sticky-{i}").into_bytes();
            let first = ch.pick(Some(&k)).0;
            assert!((0..10).all(|_| ch.pick(Some(&k)).0 == first));
        }
    }

    #[test]
    fn passive_ejection_and_panic_mode() {
        let p = pool(
            &["127.0.0.1:1001", "127.0.0.1:1002"],
            BalancingPolicy::RoundRobin,
            vec![],
        );
        p.observe_status(0, 502);
        assert!(!p.states()[0].ejected(), "one 5xx of two allowed");
        p.observe_status(0, 200);
        p.observe_status(0, 503);
        assert!(!p.states()[0].ejected(), "a success resets the count");
        p.observe_status(0, 500);
        assert!(p.states()[0].ejected());
        assert_eq!(counts(&p, 10, |_| None), vec![0, 10]);
        p.mark_down(1);
        // Both down: panic mode uses both.
        assert_eq!(counts(&p, 10, |_| None), vec![5, 5]);
    }

    #[test]
    fn least_connections_avoids_busy() {
        let p = pool(
            &["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"],
            BalancingPolicy::LeastConnections,
            vec![],
        );
        assert_eq!(counts(&p, 9, |_| None), vec![3, 3, 3], "ties take turns");
        let _busy = p.hold(1);
        let c = counts(&p, 10, |_| None);
        assert_eq!(c[1], 0, "{c:?}");
    }

    #[test]
    fn cookie_values() {
        let mut r = pingora_http::RequestHeader::build("GET", b"/", None).unwrap();
        r.append_header("cookie", "a=1; session=xyz").unwrap();
        r.append_header("cookie", "b=2").unwrap();
        assert_eq!(cookie(&r, "session").as_deref(), Some("xyz"));
        assert_eq!(cookie(&r, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&r, "c"), None);
    }
}
