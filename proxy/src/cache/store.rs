//! The memory tier of the HTTP cache: a `pingora_cache::Storage` keyed by
//! the cache key's combined hash (primary key plus variance), with a byte
//! budget kept by Pingora's sharded LRU eviction manager.
//!
//! Pingora's own `MemCache` is marked "for testing only"; this one keeps
//! the URL of every entry (for purge by prefix), counts what it holds and
//! what it evicted, and hands bodies out as shared `Bytes` (a hit copies
//! nothing).

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use pingora_cache::eviction::EvictionManager;
use pingora_cache::key::{CacheHashKey, HashBinary};
use pingora_cache::storage::{
    HandleHit, HandleMiss, HitHandler, MissFinishType, MissHandler, PurgeOutcome, PurgeTarget, PurgeType, Storage,
};
use pingora_cache::trace::SpanHandle;
use pingora_cache::{CacheEntryKey, CacheKey, CacheMeta};
use pingora_error::{Error, ErrorType, Result};

/// Bytes counted for an entry beyond its body and serialized head: the map
/// slot, the URL and the bookkeeping.
const ENTRY_OVERHEAD: usize = 256;

/// One stored response.
pub struct Entry {
    /// `CacheMeta::serialize()` output (internal meta, response head).
    meta: (Vec<u8>, Vec<u8>),
    body: Bytes,
    /// The URL part of the primary key (what purge matches on).
    url: Arc<str>,
    /// The eviction manager's view of this entry.
    eviction_key: CacheEntryKey,
    /// Bytes this entry is counted as.
    weight: usize,
}

/// What the tier holds and what it evicted, for the metrics.
#[derive(Debug, Default)]
pub struct Counts {
    /// Bytes held (bodies, heads and per-entry overhead).
    pub bytes: AtomicU64,
    /// Entries held.
    pub entries: AtomicU64,
    /// Entries evicted to keep the budget.
    pub evictions: AtomicU64,
}

impl Counts {
    /// An entry of `weight` bytes was stored, in place of one of `old`
    /// bytes if there was one.
    pub fn stored(&self, weight: usize, old: Option<usize>) {
        self.bytes.fetch_add(weight as u64, Ordering::Relaxed);
        match old {
            Some(old) => {
                self.bytes.fetch_sub(old as u64, Ordering::Relaxed);
            }
            None => {
                self.entries.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// An entry of `weight` bytes was removed.
    pub fn removed(&self, weight: usize) {
        self.bytes.fetch_sub(weight as u64, Ordering::Relaxed);
        self.entries.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The memory tier.
pub struct MemoryStore {
    entries: RwLock<HashMap<HashBinary, Arc<Entry>>>,
    /// The eviction manager, told about purges this store decides itself.
    eviction: &'static (dyn EvictionManager + Sync),
    /// Counters read by the metrics.
    pub counts: Counts,
}

impl MemoryStore {
    /// An empty tier whose entries `eviction` tracks.
    pub fn new(eviction: &'static (dyn EvictionManager + Sync)) -> MemoryStore {
        MemoryStore {
            entries: RwLock::new(HashMap::new()),
            eviction,
            counts: Counts::default(),
        }
    }

    fn insert(&self, hash: HashBinary, entry: Entry) {
        let weight = entry.weight;
        let old = match self.entries.write() {
            Ok(mut map) => map.insert(hash, Arc::new(entry)),
            Err(_) => return,
        };
        self.counts.stored(weight, old.map(|o| o.weight));
    }

    /// Remove the entry stored under `hash`.
    pub fn remove(&self, hash: &HashBinary) -> Option<Arc<Entry>> {
        let old = self.entries.write().ok()?.remove(hash)?;
        self.counts.removed(old.weight);
        Some(old)
    }

    /// Remove every entry whose URL is `url` (with `prefix`: starts with
    /// it), every variant and every service included. Returns how many.
    pub fn purge_url(&self, url: &str, prefix: bool) -> usize {
        let hashes: Vec<HashBinary> = match self.entries.read() {
            Ok(map) => map
                .iter()
                .filter(|(_, e)| if prefix { e.url.starts_with(url) } else { &*e.url == url })
                .map(|(h, _)| *h)
                .collect(),
            Err(_) => return 0,
        };
        let mut n = 0;
        for h in hashes {
            if let Some(e) = self.remove(&h) {
                self.eviction.remove((&e.eviction_key).into());
                n += 1;
            }
        }
        n
    }
}

fn internal(msg: &'static str) -> Box<Error> {
    Error::explain(ErrorType::InternalError, msg)
}

#[async_trait]
impl Storage for MemoryStore {
    async fn lookup(&'static self, key: &CacheKey, _trace: &SpanHandle) -> Result<Option<(CacheMeta, HitHandler)>> {
        let hash = key.combined_bin();
        let entry = match self.entries.read() {
            Ok(map) => map.get(&hash).cloned(),
            Err(_) => return Err(internal("cache map poisoned")),
        };
        let Some(entry) = entry else { return Ok(None) };
        let meta = CacheMeta::deserialize(&entry.meta.0, &entry.meta.1)?;
        let hit = Hit {
            body: entry.body.clone(),
            weight: entry.weight,
            range: None,
            done: false,
        };
        Ok(Some((meta, Box::new(hit))))
    }

    async fn get_miss_handler(
        &'static self,
        key: &CacheKey,
        meta: &CacheMeta,
        _trace: &SpanHandle,
    ) -> Result<MissHandler> {
        let url = url_of(key).into();
        Ok(Box::new(Miss {
            store: self,
            hash: key.combined_bin(),
            eviction_key: CacheEntryKey::key_only(key.to_compact()),
            meta: meta.serialize()?,
            url,
            body: BytesMut::new(),
        }))
    }

    async fn purge(
        &'static self,
        target: PurgeTarget<'_>,
        kind: PurgeType,
        _trace: &SpanHandle,
    ) -> Result<PurgeOutcome> {
        let hash = target.key().combined_bin();
        match self.remove(&hash) {
            Some(_) => {
                if matches!(kind, PurgeType::Eviction) {
                    self.counts.evictions.fetch_add(1, Ordering::Relaxed);
                }
                Ok(PurgeOutcome::Purged(None))
            }
            None => Ok(PurgeOutcome::NotFound),
        }
    }

    async fn update_meta(&'static self, key: &CacheKey, meta: &CacheMeta, _trace: &SpanHandle) -> Result<bool> {
        let hash = key.combined_bin();
        let serialized = meta.serialize()?;
        let Ok(mut map) = self.entries.write() else {
            return Err(internal("cache map poisoned"));
        };
        let Some(old) = map.get(&hash).cloned() else {
            return Ok(false);
        };
        let weight = weight_of(&serialized, old.body.len());
        let entry = Entry {
            meta: serialized,
            body: old.body.clone(),
            url: old.url.clone(),
            eviction_key: old.eviction_key.clone(),
            weight,
        };
        map.insert(hash, Arc::new(entry));
        drop(map);
        self.counts.stored(weight, Some(old.weight));
        Ok(true)
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync + 'static) {
        self
    }
}

/// The URL part of a key's primary (what purge matches on).
pub fn url_of(key: &CacheKey) -> &str {
    key.primary_key_str().map_or("", |p| p.split('\n').next().unwrap_or(""))
}

fn weight_of(meta: &(Vec<u8>, Vec<u8>), body: usize) -> usize {
    meta.0.len() + meta.1.len() + body + ENTRY_OVERHEAD
}

/// Reads one stored body (or a range of it) once.
struct Hit {
    body: Bytes,
    weight: usize,
    range: Option<(usize, usize)>,
    done: bool,
}

#[async_trait]
impl HandleHit for Hit {
    async fn read_body(&mut self) -> Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        Ok(Some(match self.range {
            Some((start, end)) => self.body.slice(start..end),
            None => self.body.clone(),
        }))
    }

    async fn finish(
        self: Box<Self>,
        _storage: &'static (dyn Storage + Sync),
        _key: &CacheKey,
        _trace: &SpanHandle,
    ) -> Result<()> {
        Ok(())
    }

    fn can_seek(&self) -> bool {
        true
    }

    fn seek(&mut self, start: usize, end: Option<usize>) -> Result<()> {
        let len = self.body.len();
        let end = end.unwrap_or(len).min(len);
        if start > end {
            return Err(Error::explain(
                ErrorType::InternalError,
                "range outside the stored body",
            ));
        }
        self.range = Some((start, end));
        self.done = false;
        Ok(())
    }

    fn get_eviction_weight(&self) -> usize {
        self.weight
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }

    fn as_any_mut(&mut self) -> &mut (dyn Any + Send + Sync) {
        self
    }
}

/// Collects one response body; stored only when the body is complete.
struct Miss {
    store: &'static MemoryStore,
    hash: HashBinary,
    eviction_key: CacheEntryKey,
    meta: (Vec<u8>, Vec<u8>),
    url: Arc<str>,
    body: BytesMut,
}

#[async_trait]
impl HandleMiss for Miss {
    async fn write_body(&mut self, data: Bytes, _eof: bool) -> Result<()> {
        self.body.extend_from_slice(&data);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<MissFinishType> {
        let Miss {
            store,
            hash,
            eviction_key,
            meta,
            url,
            body,
        } = *self;
        let weight = weight_of(&meta, body.len());
        // The buffer grew by doubling: keep only what the body needs.
        let body = if body.capacity() > body.len() + body.len() / 8 {
            Bytes::copy_from_slice(&body)
        } else {
            body.freeze()
        };
        store.insert(
            hash,
            Entry {
                meta,
                body,
                url,
                eviction_key,
                weight,
            },
        );
        Ok(MissFinishType::Created(weight))
    }
}
