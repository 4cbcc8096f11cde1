//! The shared HTTP cache (RFC 9111) of the no-script path, built on
//! Pingora's cache framework: `pingora_cache::HttpCache` drives lookups,
//! revalidation, stale serving and request collapsing (its cache lock);
//! this module supplies the storage tier, the key, the policy and the
//! reporting (`Cache-Status`, `Age`, metrics, the access-log `cache` field).
//!
//! One store serves the whole process. It is created with the first config
//! that has a `cache` block and outlives config generations, so a reload
//! keeps what is stored (the memory budget follows the new config).

pub mod disk;
pub mod policy;
pub mod store;
pub mod tiered;
pub mod workers;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::header;
use isoproxy_schema::model::CacheOptions;
use pingora_cache::eviction::lru::Manager;
use pingora_cache::eviction::EvictionManager;
use pingora_cache::lock::{CacheKeyLockImpl, CacheLock};
use pingora_cache::{CacheKey, CacheMeta, CacheOptionOverrides, CachePhase, HttpCache, NoCacheReason, VarianceBuilder};
use pingora_http::{RequestHeader, ResponseHeader};

use store::MemoryStore;

/// Shards of the LRU (each locked on its own).
const SHARDS: usize = 16;

/// The process-wide parts: storage, eviction, lock.
pub struct Shared {
    /// The memory tier.
    pub memory: &'static MemoryStore,
    /// The disk tier, when configured.
    pub disk: Option<&'static disk::DiskStore>,
    /// Both, as Pingora's cache sees them.
    pub storage: &'static tiered::Tiered,
    eviction: &'static Manager<SHARDS>,
    lock: &'static CacheKeyLockImpl,
    /// The purge endpoint's token (the environment's, else the config's).
    purge_token: std::sync::RwLock<Option<Arc<str>>>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The process's cache, if one was ever configured.
pub fn shared() -> Option<&'static Shared> {
    SHARED.get()
}

/// The process's cache, created on first use with `options`' budget; a
/// later config only changes the budget.
fn shared_for(options: &CacheOptions) -> &'static Shared {
    let budget = usize::try_from(options.memory_bytes).unwrap_or(usize::MAX);
    let created = SHARED.get_or_init(|| {
        let eviction: &'static Manager<SHARDS> = Box::leak(Box::new(Manager::with_capacity(budget, 1024)));
        let memory: &'static MemoryStore = Box::leak(Box::new(MemoryStore::new(eviction)));
        let disk = options.disk_path.as_ref().and_then(|path| {
            let budget = usize::try_from(options.disk_bytes).unwrap_or(usize::MAX);
            match disk::DiskStore::open(std::path::Path::new(path), budget) {
                Ok(d) => Some(&*Box::leak(Box::new(d))),
                Err(e) => {
                    tracing::error!(path = %path, error = %e, "cache disk tier unusable; caching in memory only");
                    None
                }
            }
        });
        let memory_object_bytes = if disk.is_some() { budget / 16 } else { usize::MAX };
        let storage: &'static tiered::Tiered = Box::leak(Box::new(tiered::Tiered {
            memory,
            disk,
            memory_object_bytes,
        }));
        // A writer holding a key longer than this is presumed gone; the
        // waiters then compete for the key again.
        let lock: &'static CacheKeyLockImpl = Box::leak(CacheLock::new_boxed(Duration::from_secs(60)));
        Shared {
            memory,
            disk,
            storage,
            eviction,
            lock,
            purge_token: std::sync::RwLock::new(None),
        }
    });
    let token = std::env::var(PURGE_TOKEN_ENV)
        .ok()
        .filter(|t| !t.is_empty())
        .or_else(|| options.purge_token.clone());
    if let Ok(mut t) = created.purge_token.write() {
        *t = token.map(Arc::from);
    }
    if created.eviction.weight_limit() != budget {
        created.eviction.set_weight_limit(budget);
    }
    created
}

/// The environment variable whose value, when set, is the purge token.
pub const PURGE_TOKEN_ENV: &str = "ISOPROXY_CACHE_PURGE_TOKEN";

/// The purge endpoint's token, if a cache and a token are configured.
pub fn purge_token() -> Option<Arc<str>> {
    shared()?.purge_token.read().ok()?.clone()
}

/// Remove the entries of `url` (or, with `prefix`, of every URL starting
/// with it). Returns how many were removed.
pub fn purge(url: &str, prefix: bool) -> usize {
    let Some(s) = shared() else { return 0 };
    let disk = s.disk.map_or(0, |d| d.purge_url(url, prefix));
    // An entry on both tiers counts once.
    s.memory.purge_url(url, prefix).max(disk)
}

/// How a request used the cache, as reported in `Cache-Status`, the
/// access log and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served fresh from the cache.
    Hit,
    /// Served stale while another request revalidates (or the origin failed).
    Stale,
    /// A stored response was revalidated with the origin (304) and served.
    Revalidated,
    /// Not in the cache (or stale and refetched); fetched from the origin.
    Miss,
    /// The request does not use the cache (method, `no-store`, ...).
    Bypass,
}

impl Outcome {
    /// The label in the access log and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "HIT",
            Outcome::Stale => "STALE",
            Outcome::Revalidated => "REVALIDATED",
            Outcome::Miss => "MISS",
            Outcome::Bypass => "BYPASS",
        }
    }
}

/// One socket's cache settings.
pub struct SocketCache {
    shared: &'static Shared,
    key_headers: Vec<http::HeaderName>,
    key_query: bool,
    status_name: String,
    max_object_bytes: usize,
    lock_wait: Duration,
}

impl SocketCache {
    /// The settings for socket `name`, if `options` lists it.
    pub fn for_socket(options: Option<&CacheOptions>, name: &str) -> Option<Arc<SocketCache>> {
        let options = options?;
        if !options.sockets.iter().any(|s| s == name) {
            return None;
        }
        Some(Arc::new(SocketCache {
            shared: shared_for(options),
            key_headers: options
                .key_headers
                .iter()
                .filter_map(|h| http::HeaderName::from_bytes(h.as_bytes()).ok())
                .collect(),
            key_query: options.key_query,
            status_name: options.status_name.clone(),
            max_object_bytes: usize::try_from(options.max_object_bytes).unwrap_or(usize::MAX),
            lock_wait: Duration::from_millis(u64::from(options.lock_timeout_ms)),
        }))
    }

    /// Turn the cache on for a request, unless the request bypasses it.
    pub fn enable(&self, cache: &mut HttpCache, req: &RequestHeader) -> Option<Outcome> {
        if policy::request_bypass(req).is_some() {
            return Some(Outcome::Bypass);
        }
        let mut overrides = CacheOptionOverrides::default();
        overrides.wait_timeout = Some(self.lock_wait);
        cache.enable(
            self.shared.storage,
            Some(self.shared.eviction as &'static (dyn EvictionManager + Sync)),
            None,
            Some(self.shared.lock),
            Some(overrides),
        );
        cache.set_max_file_size_bytes(self.max_object_bytes);
        None
    }

    /// The cache key: the URL (scheme, host, path, query if configured),
    /// the service, and the configured request headers. The method is not
    /// in it: HEAD is answered from the GET entry.
    pub fn key(&self, scheme: &str, authority: &str, req: &RequestHeader, service: &str) -> CacheKey {
        let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
        let pq = if self.key_query {
            pq
        } else {
            pq.split('?').next().unwrap_or("/")
        };
        let host = authority.to_ascii_lowercase();
        let mut primary = format!("{scheme}://{host}{pq}\n{service}");
        for h in &self.key_headers {
            primary.push('\n');
            primary.push_str(h.as_str());
            primary.push(':');
            for v in req.headers.get_all(h) {
                primary.push_str(&String::from_utf8_lossy(v.as_bytes()));
                primary.push(',');
            }
        }
        CacheKey::new(primary, "")
    }

    /// The `Cache-Status` value (RFC 9211) for `outcome`, if the header is on.
    fn status_value(&self, outcome: Outcome, cache: &HttpCache, upstream_status: u16) -> Option<String> {
        if self.status_name.is_empty() {
            return None;
        }
        let n = &self.status_name;
        Some(match outcome {
            Outcome::Hit => format!("{n}; hit"),
            Outcome::Stale => format!("{n}; hit; detail=stale"),
            Outcome::Revalidated => format!("{n}; fwd=stale; fwd-status={upstream_status}"),
            Outcome::Miss => {
                let fwd = if matches!(cache.phase(), CachePhase::Expired) {
                    "stale"
                } else {
                    "uri-miss"
                };
                let stored = if matches!(cache.phase(), CachePhase::Miss | CachePhase::Expired) {
                    "; stored"
                } else {
                    ""
                };
                format!("{n}; fwd={fwd}; fwd-status={upstream_status}{stored}")
            }
            Outcome::Bypass => format!("{n}; fwd=bypass"),
        })
    }

    /// Annotate a response about to be sent: `Age` on what came from the
    /// cache, `Cache-Status`. Returns the outcome for the log.
    pub fn respond(
        &self,
        cache: &HttpCache,
        bypass: Option<Outcome>,
        resp: &mut ResponseHeader,
        upstream_status: u16,
    ) -> Option<Outcome> {
        let outcome = bypass.or_else(|| outcome_of(cache))?;
        if matches!(outcome, Outcome::Hit | Outcome::Stale | Outcome::Revalidated) {
            if let Some(meta) = cache.maybe_cache_meta() {
                let age = policy::age_of(meta.response_header()) + meta.age();
                let _ = resp.insert_header(header::AGE, age.as_secs().to_string());
            }
        }
        if let Some(v) = self.status_value(outcome, cache, upstream_status) {
            let _ = resp.insert_header("cache-status", v);
        }
        Some(outcome)
    }
}

/// How the request used the cache, from Pingora's cache phase.
fn outcome_of(cache: &HttpCache) -> Option<Outcome> {
    Some(match cache.phase() {
        CachePhase::Hit => Outcome::Hit,
        CachePhase::Stale | CachePhase::StaleUpdating => Outcome::Stale,
        CachePhase::Revalidated | CachePhase::RevalidatedNoCache(_) => Outcome::Revalidated,
        CachePhase::Miss | CachePhase::Expired => Outcome::Miss,
        CachePhase::Bypass => Outcome::Bypass,
        CachePhase::Disabled(NoCacheReason::NeverEnabled) => return None,
        // Enabled, then found uncacheable (origin said so, too large, lock
        // timeout): the request went to the origin.
        CachePhase::Disabled(_) => Outcome::Miss,
        CachePhase::Uninit | CachePhase::CacheKey => return None,
    })
}

/// Whether the response being sent comes from the cache.
pub fn served_from_cache(cache: &HttpCache) -> bool {
    matches!(
        cache.phase(),
        CachePhase::Hit
            | CachePhase::Stale
            | CachePhase::StaleUpdating
            | CachePhase::Revalidated
            | CachePhase::RevalidatedNoCache(_)
    )
}

/// The variance of a stored response for a request: the values of the
/// request headers its `Vary` names.
pub fn variance(meta: &CacheMeta, req: &RequestHeader) -> Option<pingora_cache::key::HashBinary> {
    let mut names: Vec<String> = Vec::new();
    for v in meta.headers().get_all(header::VARY) {
        for name in v.as_bytes().split(|b| *b == b',') {
            let name = String::from_utf8_lossy(name.trim_ascii()).to_ascii_lowercase();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let mut b = VarianceBuilder::new();
    for name in names {
        let mut value = Vec::new();
        for v in req.headers.get_all(name.as_str()) {
            if !value.is_empty() {
                value.push(b',');
            }
            value.extend_from_slice(v.as_bytes());
        }
        b.add_owned_name_value(name, value);
    }
    b.finalize()
}

/// Each tier's counters (`memory`, `disk`): bytes held, entries held,
/// entries evicted.
pub fn counts() -> Vec<(&'static str, u64, u64, u64)> {
    let Some(s) = shared() else { return Vec::new() };
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let mut out = Vec::new();
    let tiers = [("memory", Some(&s.memory.counts)), ("disk", s.disk.map(|d| &d.counts))];
    for (tier, c) in tiers {
        if let Some(c) = c {
            out.push((tier, load(&c.bytes), load(&c.entries), load(&c.evictions)));
        }
    }
    out
}
