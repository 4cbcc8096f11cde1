//! The storage Pingora's cache sees: the memory tier in front of the
//! optional disk tier. Lookups try memory, then disk; a fill streams to
//! both (to memory only while the body is small enough for it); an
//! invalidation removes from both; an eviction from memory leaves the disk
//! copy, which has its own budget.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pingora_cache::storage::{
    HandleMiss, HitHandler, MissFinishType, MissHandler, PurgeOutcome, PurgeTarget, PurgeType, Storage,
};
use pingora_cache::trace::SpanHandle;
use pingora_cache::{CacheKey, CacheMeta};
use pingora_error::Result;

use super::disk::{DiskMiss, DiskStore};
use super::store::MemoryStore;

/// Memory, then disk.
pub struct Tiered {
    /// The memory tier.
    pub memory: &'static MemoryStore,
    /// The disk tier, when configured.
    pub disk: Option<&'static DiskStore>,
    /// With a disk tier: the largest body also kept in memory.
    pub memory_object_bytes: usize,
}

#[async_trait]
impl Storage for Tiered {
    async fn lookup(&'static self, key: &CacheKey, trace: &SpanHandle) -> Result<Option<(CacheMeta, HitHandler)>> {
        if let Some(hit) = self.memory.lookup(key, trace).await? {
            return Ok(Some(hit));
        }
        match self.disk {
            Some(disk) => disk.lookup(key).await,
            None => Ok(None),
        }
    }

    async fn get_miss_handler(
        &'static self,
        key: &CacheKey,
        meta: &CacheMeta,
        trace: &SpanHandle,
    ) -> Result<MissHandler> {
        let memory = self.memory.get_miss_handler(key, meta, trace).await?;
        let Some(disk) = self.disk else { return Ok(memory) };
        let url: Arc<str> = super::store::url_of(key).into();
        let disk = match disk.miss(key, meta, url).await {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(error = %e, "cache disk tier: cannot store an entry");
                None
            }
        };
        Ok(Box::new(TieredMiss {
            memory_store: self.memory,
            hash: pingora_cache::key::CacheHashKey::combined_bin(key),
            memory: Some(memory),
            disk,
            written: 0,
            memory_limit: self.memory_object_bytes,
        }))
    }

    async fn purge(
        &'static self,
        target: PurgeTarget<'_>,
        kind: PurgeType,
        trace: &SpanHandle,
    ) -> Result<PurgeOutcome> {
        let outcome = self.memory.purge(target, kind, trace).await?;
        if let (Some(disk), PurgeType::Invalidation) = (self.disk, kind) {
            if disk.purge_key(target.key()) && outcome == PurgeOutcome::NotFound {
                return Ok(PurgeOutcome::Purged(None));
            }
        }
        Ok(outcome)
    }

    async fn update_meta(&'static self, key: &CacheKey, meta: &CacheMeta, trace: &SpanHandle) -> Result<bool> {
        let in_memory = self.memory.update_meta(key, meta, trace).await?;
        let on_disk = match self.disk {
            Some(disk) => disk.update_meta(key, meta).await?,
            None => false,
        };
        Ok(in_memory || on_disk)
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync + 'static) {
        self
    }
}

/// A fill going to both tiers.
struct TieredMiss {
    memory_store: &'static MemoryStore,
    hash: pingora_cache::key::HashBinary,
    memory: Option<MissHandler>,
    disk: Option<DiskMiss>,
    written: usize,
    memory_limit: usize,
}

#[async_trait]
impl HandleMiss for TieredMiss {
    async fn write_body(&mut self, data: Bytes, eof: bool) -> Result<()> {
        self.written += data.len();
        if self.written > self.memory_limit {
            // Too big for memory: the disk copy alone is kept.
            self.memory = None;
        }
        if let Some(d) = self.disk.as_mut() {
            if let Err(e) = d.write(&data).await {
                tracing::warn!(error = %e, "cache disk tier: write failed, entry not stored on disk");
                self.disk = None;
            }
        }
        if let Some(m) = self.memory.as_mut() {
            m.write_body(data, eof).await?;
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<MissFinishType> {
        let TieredMiss {
            memory_store,
            hash,
            memory,
            disk,
            ..
        } = *self;
        if let Some(d) = disk {
            if let Err(e) = d.finish().await {
                tracing::warn!(error = %e, "cache disk tier: entry not stored");
            }
        }
        match memory {
            Some(m) => m.finish().await,
            // Too big for memory: an older copy there must not outlive it;
            // the memory tier's eviction counts nothing for this key.
            None => {
                memory_store.remove(&hash);
                Ok(MissFinishType::Created(0))
            }
        }
    }
}
