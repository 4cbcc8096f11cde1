//! The disk tier of the HTTP cache: one pair of files per entry under the
//! configured directory, with its own byte budget (Pingora's LRU again),
//! kept across restarts.
//!
//! `<hash>.body` holds the body as received; `<hash>.meta` holds the
//! serialized `CacheMeta`, the entry's URL, the body's length and SHA-256,
//! and a SHA-256 of the meta file itself. Both are written beside their
//! final names and renamed into place (body first), so a crash or SIGTERM
//! leaves either the old entry, the new one, or an orphan body that the
//! next start removes. At start-up every meta file is checked (its own
//! checksum, the body's length); a bad entry is deleted. A body is
//! streamed to the client in chunks and its checksum verified as it goes:
//! a mismatch fails the response (the client sees it cut short, never
//! wrong bytes reported as complete) and deletes the entry.

use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use pingora_cache::eviction::lru::Manager;
use pingora_cache::eviction::EvictionManager;
use pingora_cache::key::CompactCacheKey;
use pingora_cache::key::{CacheHashKey, HashBinary};
use pingora_cache::storage::{HandleHit, HitHandler, Storage};
use pingora_cache::trace::SpanHandle;
use pingora_cache::{CacheEntryKey, CacheKey, CacheMeta};
use pingora_error::{Error, ErrorType, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::store::Counts;

const MAGIC: &[u8; 8] = b"ISOPXC01";
/// Body bytes read per chunk when serving from disk.
const CHUNK: usize = 64 * 1024;

/// One entry known to be on disk.
struct Entry {
    url: Arc<str>,
    /// Meta file + body bytes.
    weight: usize,
    compact: CompactCacheKey,
}

/// The disk tier.
pub struct DiskStore {
    dir: PathBuf,
    index: RwLock<HashMap<HashBinary, Entry>>,
    eviction: Manager<16>,
    next_tmp: AtomicU64,
    /// Counters read by the metrics.
    pub counts: Counts,
}

fn hex(h: &HashBinary) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn io_err(context: &'static str, e: std::io::Error) -> Box<Error> {
    Error::because(ErrorType::InternalError, context, e)
}

/// The meta file's bytes: magic, lengths, meta, URL, body length and hash,
/// then a SHA-256 of everything before it.
fn encode_meta(
    meta: &(Vec<u8>, Vec<u8>),
    url: &str,
    compact: &CompactCacheKey,
    body_len: u64,
    body_sha: &[u8],
) -> Vec<u8> {
    let key = compact_bytes(compact);
    let mut out = Vec::with_capacity(64 + meta.0.len() + meta.1.len() + url.len() + key.len());
    out.extend_from_slice(MAGIC);
    for part in [&meta.0[..], &meta.1[..], url.as_bytes(), &key[..]] {
        out.extend_from_slice(&(part.len() as u32).to_le_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(body_sha);
    let sum = ring::digest::digest(&ring::digest::SHA256, &out);
    out.extend_from_slice(sum.as_ref());
    out
}

/// A compact key as bytes: primary hash, variance flag and hash.
fn compact_bytes(k: &CompactCacheKey) -> Vec<u8> {
    let mut v = k.primary.to_vec();
    match &k.variance {
        Some(var) => {
            v.push(1);
            v.extend_from_slice(&var[..]);
        }
        None => v.push(0),
    }
    v
}

fn compact_from(b: &[u8]) -> Option<CompactCacheKey> {
    let primary: HashBinary = b.get(..16)?.try_into().ok()?;
    let variance = match b.get(16)? {
        0 => None,
        _ => Some(Box::new(b.get(17..33)?.try_into().ok()?)),
    };
    Some(CompactCacheKey {
        primary,
        variance,
        user_tag: "".into(),
    })
}

/// What a meta file holds, once its checksum is verified.
struct Decoded {
    meta: (Vec<u8>, Vec<u8>),
    url: String,
    compact: CompactCacheKey,
    body_len: u64,
    body_sha: [u8; 32],
}

fn decode_meta(b: &[u8]) -> Option<Decoded> {
    let (content, sum) = b.split_at(b.len().checked_sub(32)?);
    if ring::digest::digest(&ring::digest::SHA256, content).as_ref() != sum || content.get(..8)? != MAGIC {
        return None;
    }
    let mut pos = 8;
    let mut parts = Vec::new();
    for _ in 0..4 {
        let len = u32::from_le_bytes(content.get(pos..pos + 4)?.try_into().ok()?) as usize;
        pos += 4;
        parts.push(content.get(pos..pos + len)?.to_vec());
        pos += len;
    }
    let body_len = u64::from_le_bytes(content.get(pos..pos + 8)?.try_into().ok()?);
    let body_sha: [u8; 32] = content.get(pos + 8..pos + 40)?.try_into().ok()?;
    let key = parts.pop()?;
    let url = String::from_utf8(parts.pop()?).ok()?;
    let header = parts.pop()?;
    let internal = parts.pop()?;
    Some(Decoded {
        meta: (internal, header),
        url,
        compact: compact_from(&key)?,
        body_len,
        body_sha,
    })
}

impl DiskStore {
    /// Open (creating it if needed) the directory `dir` with a budget of
    /// `budget` bytes, indexing the entries a previous run left and
    /// deleting what is damaged or unfinished.
    pub fn open(dir: &Path, budget: usize) -> std::io::Result<DiskStore> {
        std::fs::create_dir_all(dir)?;
        let store = DiskStore {
            dir: dir.to_path_buf(),
            index: RwLock::new(HashMap::new()),
            eviction: Manager::with_capacity(budget, 1024),
            next_tmp: AtomicU64::new(0),
            counts: Counts::default(),
        };
        let mut bodies = Vec::new();
        let mut removed = 0usize;
        for e in std::fs::read_dir(dir)?.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if name.ends_with(".body") {
                bodies.push(path);
                continue;
            }
            let Some(stem) = name.strip_suffix(".meta") else {
                continue;
            };
            let body_path = path.with_extension("body");
            let ok = std::fs::read(&path).ok().and_then(|b| decode_meta(&b)).and_then(|d| {
                let body_len = std::fs::metadata(&body_path).ok()?.len();
                (body_len == d.body_len && hex(&d.compact.combined_bin()) == stem).then_some(d)
            });
            match ok {
                Some(d) => {
                    let meta_len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    let weight = (meta_len + d.body_len) as usize;
                    let hash = d.compact.combined_bin();
                    let fresh_until = CacheMeta::deserialize(&d.meta.0, &d.meta.1)
                        .map(|m| m.fresh_until())
                        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
                    let evicted = store
                        .eviction
                        .admit(CacheEntryKey::key_only(d.compact.clone()), weight, fresh_until);
                    store.add(
                        hash,
                        Entry {
                            url: d.url.into(),
                            weight,
                            compact: d.compact,
                        },
                    );
                    for item in evicted {
                        store.remove(&item.key().combined_bin());
                    }
                }
                None => {
                    removed += 1;
                    let _ = std::fs::remove_file(&path);
                    let _ = std::fs::remove_file(&body_path);
                }
            }
        }
        for body in bodies {
            if !body.with_extension("meta").exists() {
                let _ = std::fs::remove_file(body);
            }
        }
        if removed > 0 {
            tracing::warn!(dir = %dir.display(), removed, "cache disk tier: removed damaged entries at start-up");
        }
        Ok(store)
    }

    fn paths(&self, hash: &HashBinary) -> (PathBuf, PathBuf) {
        let h = hex(hash);
        (self.dir.join(format!("{h}.meta")), self.dir.join(format!("{h}.body")))
    }

    fn add(&self, hash: HashBinary, entry: Entry) {
        let weight = entry.weight;
        let old = match self.index.write() {
            Ok(mut idx) => idx.insert(hash, entry),
            Err(_) => return,
        };
        self.counts.stored(weight, old.map(|o| o.weight));
    }

    /// Forget and delete an entry; whether there was one.
    fn remove(&self, hash: &HashBinary) -> bool {
        let old = match self.index.write() {
            Ok(mut idx) => idx.remove(hash),
            Err(_) => None,
        };
        let Some(old) = old else { return false };
        self.counts.removed(old.weight);
        self.eviction.remove((&CacheEntryKey::key_only(old.compact)).into());
        let (meta, body) = self.paths(hash);
        // The meta file first: without it the body is an orphan, removed
        // at the next start if this process dies in between.
        let _ = std::fs::remove_file(meta);
        let _ = std::fs::remove_file(body);
        true
    }

    /// Remove every entry of `url` (or under the prefix); how many.
    pub fn purge_url(&self, url: &str, prefix: bool) -> usize {
        let hashes: Vec<HashBinary> = match self.index.read() {
            Ok(idx) => idx
                .iter()
                .filter(|(_, e)| if prefix { e.url.starts_with(url) } else { &*e.url == url })
                .map(|(h, _)| *h)
                .collect(),
            Err(_) => return 0,
        };
        hashes.iter().filter(|h| self.remove(h)).count()
    }

    /// Purge by key (an invalidation, not an eviction).
    pub fn purge_key(&self, key: &CompactCacheKey) -> bool {
        self.remove(&key.combined_bin())
    }

    fn contains(&self, hash: &HashBinary) -> bool {
        self.index.read().is_ok_and(|i| i.contains_key(hash))
    }

    /// The entry for `key`, with a reader that streams its body.
    pub async fn lookup(&'static self, key: &CacheKey) -> Result<Option<(CacheMeta, HitHandler)>> {
        let hash = key.combined_bin();
        if !self.contains(&hash) {
            return Ok(None);
        }
        let (meta_path, body_path) = self.paths(&hash);
        let bytes = match tokio::fs::read(&meta_path).await {
            Ok(b) => b,
            Err(_) => {
                self.remove(&hash);
                return Ok(None);
            }
        };
        let Some(d) = decode_meta(&bytes) else {
            tracing::warn!(path = %meta_path.display(), "cache disk tier: damaged entry removed");
            self.remove(&hash);
            return Ok(None);
        };
        let meta = CacheMeta::deserialize(&d.meta.0, &d.meta.1)?;
        let file = match tokio::fs::File::open(&body_path).await {
            Ok(f) => f,
            Err(_) => {
                self.remove(&hash);
                return Ok(None);
            }
        };
        if let Some(e) = self
            .index
            .read()
            .ok()
            .and_then(|i| i.get(&hash).map(|e| CacheEntryKey::key_only(e.compact.clone())))
        {
            self.eviction.access(&e, 0, meta.fresh_until());
        }
        let hit = DiskHit {
            store: self,
            hash,
            file,
            left: d.body_len,
            sha: ring::digest::Context::new(&ring::digest::SHA256),
            want: d.body_sha,
        };
        Ok(Some((meta, Box::new(hit))))
    }

    /// A writer for `key`'s entry, if the object may go to disk.
    pub async fn miss(&'static self, key: &CacheKey, meta: &CacheMeta, url: Arc<str>) -> Result<DiskMiss> {
        let id = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(".tmp-{}-{id}.body", std::process::id()));
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io_err("cache disk tier: create", e))?;
        Ok(DiskMiss {
            store: self,
            hash: key.combined_bin(),
            compact: key.to_compact(),
            meta: meta.serialize()?,
            url,
            tmp,
            file: Some(file),
            len: 0,
            sha: ring::digest::Context::new(&ring::digest::SHA256),
        })
    }

    /// Replace the meta of an entry on disk (after a revalidation).
    pub async fn update_meta(&self, key: &CacheKey, meta: &CacheMeta) -> Result<bool> {
        let hash = key.combined_bin();
        if !self.contains(&hash) {
            return Ok(false);
        }
        let (meta_path, _) = self.paths(&hash);
        let Some(old) = tokio::fs::read(&meta_path).await.ok().and_then(|b| decode_meta(&b)) else {
            self.remove(&hash);
            return Ok(false);
        };
        let bytes = encode_meta(&meta.serialize()?, &old.url, &old.compact, old.body_len, &old.body_sha);
        let id = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(".tmp-{}-{id}.meta", std::process::id()));
        tokio::fs::write(&tmp, &bytes)
            .await
            .map_err(|e| io_err("cache disk tier: write meta", e))?;
        tokio::fs::rename(&tmp, &meta_path)
            .await
            .map_err(|e| io_err("cache disk tier: rename meta", e))?;
        Ok(true)
    }
}

/// Streams one body from disk, checking its SHA-256 at the end.
struct DiskHit {
    store: &'static DiskStore,
    hash: HashBinary,
    file: tokio::fs::File,
    left: u64,
    sha: ring::digest::Context,
    want: [u8; 32],
}

#[async_trait]
impl HandleHit for DiskHit {
    async fn read_body(&mut self) -> Result<Option<Bytes>> {
        if self.left == 0 {
            return Ok(None);
        }
        let n = (self.left as usize).min(CHUNK);
        let mut buf = vec![0u8; n];
        if let Err(e) = self.file.read_exact(&mut buf).await {
            self.store.remove(&self.hash);
            return Err(io_err("cache disk tier: body shorter than recorded", e));
        }
        self.sha.update(&buf);
        self.left -= n as u64;
        if self.left == 0 {
            let sum = self.sha.clone().finish();
            if sum.as_ref() != self.want {
                tracing::warn!("cache disk tier: body checksum mismatch, entry removed");
                self.store.remove(&self.hash);
                return Err(Error::explain(
                    ErrorType::InternalError,
                    "cache disk tier: body checksum mismatch",
                ));
            }
        }
        Ok(Some(Bytes::from(buf)))
    }

    async fn finish(
        self: Box<Self>,
        _storage: &'static (dyn Storage + Sync),
        _key: &CacheKey,
        _trace: &SpanHandle,
    ) -> Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }

    fn as_any_mut(&mut self) -> &mut (dyn Any + Send + Sync) {
        self
    }
}

/// Streams one body to a temporary file; the entry appears on `finish`.
pub struct DiskMiss {
    store: &'static DiskStore,
    hash: HashBinary,
    compact: CompactCacheKey,
    meta: (Vec<u8>, Vec<u8>),
    url: Arc<str>,
    tmp: PathBuf,
    file: Option<tokio::fs::File>,
    len: u64,
    sha: ring::digest::Context,
}

impl DiskMiss {
    /// Append a chunk of the body.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let Some(f) = self.file.as_mut() else { return Ok(()) };
        f.write_all(data)
            .await
            .map_err(|e| io_err("cache disk tier: write", e))?;
        self.sha.update(data);
        self.len += data.len() as u64;
        Ok(())
    }

    /// Put the entry in place and account for it.
    pub async fn finish(mut self) -> Result<()> {
        let Some(mut f) = self.file.take() else { return Ok(()) };
        f.flush().await.map_err(|e| io_err("cache disk tier: flush", e))?;
        drop(f);
        let sha = self.sha.clone().finish();
        let bytes = encode_meta(&self.meta, &self.url, &self.compact, self.len, sha.as_ref());
        let (meta_path, body_path) = self.store.paths(&self.hash);
        let meta_tmp = self.tmp.with_extension("meta");
        let write = async {
            tokio::fs::rename(&self.tmp, &body_path).await?;
            tokio::fs::write(&meta_tmp, &bytes).await?;
            tokio::fs::rename(&meta_tmp, &meta_path).await
        };
        write.await.map_err(|e| io_err("cache disk tier: store", e))?;
        let weight = bytes.len() + self.len as usize;
        let fresh_until = CacheMeta::deserialize(&self.meta.0, &self.meta.1)
            .map(|m| m.fresh_until())
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
        let store = self.store;
        let evicted = store
            .eviction
            .admit(CacheEntryKey::key_only(self.compact.clone()), weight, fresh_until);
        store.add(
            self.hash,
            Entry {
                url: self.url.clone(),
                weight,
                compact: self.compact.clone(),
            },
        );
        for item in evicted {
            if store.remove(&item.key().combined_bin()) {
                store.counts.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

impl Drop for DiskMiss {
    fn drop(&mut self) {
        if self.file.is_some() {
            // Never finished (the response failed or was too large).
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
