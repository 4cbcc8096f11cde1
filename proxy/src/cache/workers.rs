//! The Workers Cache API's store (`caches.default`, `caches.open(name)`),
//! implemented over the same memory tier as the HTTP cache: one budget,
//! one eviction order, and the admin purge reaches both.
//!
//! An entry's key is the request URL and the cache's name; its lifetime
//! comes from the stored response's `Cache-Control`/`Expires`, else from
//! the hosted platform's default edge TTLs by status. An expired entry is a
//! miss (the API never revalidates).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use isoproxy_runtime::{Body, BoxFuture, CacheStore, Response};
use pingora_cache::eviction::EvictionManager;
use pingora_cache::storage::{MissFinishType, PurgeTarget, PurgeType, Storage};
use pingora_cache::trace::Span;
use pingora_cache::{CacheEntryKey, CacheKey, CacheMetaDefaults, RespCacheable};
use pingora_http::ResponseHeader;

use super::{policy, Shared};

/// The hosted platform's edge TTLs for responses without Cache-Control
/// (https://developers.cloudflare.com/cache/how-to/configure-cache-status-code/#edge-ttl).
const EDGE_TTL: CacheMetaDefaults = CacheMetaDefaults::new(
    |status| match status.as_u16() {
        200 | 206 | 301 => Some(Duration::from_secs(120 * 60)),
        302 | 303 => Some(Duration::from_secs(20 * 60)),
        404 | 410 => Some(Duration::from_secs(3 * 60)),
        _ => None,
    },
    0,
    0,
);

/// The Cache API's view of the shared store.
pub struct WorkerCache {
    shared: &'static Shared,
    max_object_bytes: usize,
}

impl WorkerCache {
    /// Over the process's store (created with default budgets when the
    /// config has no `cache` block).
    pub fn new(options: Option<&isoproxy_schema::model::CacheOptions>) -> WorkerCache {
        let defaults = isoproxy_schema::model::CacheOptions::default();
        let options = options.unwrap_or(&defaults);
        WorkerCache {
            shared: super::shared_for(options),
            max_object_bytes: usize::try_from(options.max_object_bytes).unwrap_or(usize::MAX),
        }
    }
}

fn key(cache: &str, url: &str) -> CacheKey {
    // The URL comes first, as in the HTTP cache's keys, so that the admin
    // purge by URL or prefix reaches Cache API entries too.
    CacheKey::new(format!("{url}\nworker-cache:{cache}"), "")
}

async fn read_all(body: Body, limit: usize) -> Result<Option<Bytes>, String> {
    match body {
        Body::Empty => Ok(Some(Bytes::new())),
        Body::Bytes(b) => Ok((b.len() <= limit).then_some(b)),
        Body::Stream { mut rx, .. } => {
            let mut buf = BytesMut::new();
            while let Some(chunk) = rx.recv().await {
                let chunk = chunk.map_err(|e| format!("Cache.put: reading the body failed: {e}"))?;
                if buf.len() + chunk.len() > limit {
                    return Ok(None);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(Some(buf.freeze()))
        }
    }
}

impl CacheStore for WorkerCache {
    fn lookup(&self, cache: &str, url: &str) -> BoxFuture<Result<Option<Response>, String>> {
        let store = self.shared.storage;
        let key = key(cache, url);
        Box::pin(async move {
            let span = Span::inactive();
            let found = store.lookup(&key, &span.handle()).await.map_err(|e| e.to_string())?;
            let Some((meta, mut hit)) = found else { return Ok(None) };
            if !meta.is_fresh(SystemTime::now()) {
                return Ok(None);
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = hit.read_body().await.map_err(|e| e.to_string())? {
                body.extend_from_slice(&chunk);
            }
            let head = meta.response_header();
            let mut headers = head.headers.clone();
            headers.insert("cf-cache-status", HeaderValue::from_static("HIT"));
            let body = if body.is_empty() {
                Body::Empty
            } else {
                Body::Bytes(body.freeze())
            };
            Ok(Some(Response::new(head.status, headers, body)))
        })
    }

    fn store(&self, cache: &str, url: &str, response: Response) -> BoxFuture<Result<bool, String>> {
        let shared = self.shared;
        let limit = self.max_object_bytes;
        let key = key(cache, url);
        Box::pin(async move {
            let Ok(mut head) = ResponseHeader::build(response.status, Some(response.headers.len())) else {
                return Ok(false);
            };
            for (name, value) in &response.headers {
                let _ = head.append_header(name.clone(), value.clone());
            }
            let meta = match policy::response_with(&head, false, &EDGE_TTL, SystemTime::now()) {
                RespCacheable::Cacheable(meta) if meta.is_fresh(SystemTime::now()) => meta,
                _ => return Ok(false),
            };
            let Some(body) = read_all(response.body, limit).await? else {
                return Ok(false);
            };
            let span = Span::inactive();
            let mut miss = shared
                .storage
                .get_miss_handler(&key, &meta, &span.handle())
                .await
                .map_err(|e| e.to_string())?;
            miss.write_body(body, true).await.map_err(|e| e.to_string())?;
            let MissFinishType::Created(size) = miss.finish().await.map_err(|e| e.to_string())? else {
                return Ok(true);
            };
            let evicted = shared
                .eviction
                .admit(CacheEntryKey::key_only(key.to_compact()), size, meta.fresh_until());
            for item in evicted {
                let _ = shared
                    .storage
                    .purge(PurgeTarget::Exact(&item), PurgeType::Eviction, &span.handle())
                    .await;
            }
            Ok(true)
        })
    }

    fn remove(&self, cache: &str, url: &str) -> BoxFuture<Result<bool, String>> {
        let shared = self.shared;
        let key = key(cache, url);
        Box::pin(async move {
            let compact = key.to_compact();
            let span = Span::inactive();
            let outcome = shared
                .storage
                .purge(PurgeTarget::Active(&compact), PurgeType::Invalidation, &span.handle())
                .await
                .map_err(|e| e.to_string())?;
            let entry = CacheEntryKey::key_only(compact);
            shared.eviction.remove((&entry).into());
            Ok(matches!(outcome, pingora_cache::storage::PurgeOutcome::Purged(_)))
        })
    }
}

/// The Cache API's store for the isolate threads.
pub fn handle(options: Option<&isoproxy_schema::model::CacheOptions>) -> isoproxy_runtime::CacheHandle {
    isoproxy_runtime::CacheHandle(Arc::new(WorkerCache::new(options)))
}
