//! The two cache tiers and the index that ties keys to them.
//!
//! - The index maps `bucket/key` to an [`Entry`] (headers, freshness, the
//!   body's BLAKE3). It lives in memory and, per key, on disk.
//! - The memory tier (moka, weighed in bytes) holds small bodies by hash.
//! - The disk tier holds every body by hash; bodies are shared, so two keys
//!   with the same bytes are stored once. It is bounded, evicting the
//!   least recently used keys first.
//!
//! Bodies are verified against their hash before they are first served
//! from disk (small ones on every read into memory). This module knows
//! nothing of requests or the upstream; `serve` combines them.
//!
//! The index holds entries behind `Arc`: a hit takes a reference, not a
//! copy of every header string.

pub mod disk;
pub mod entry;

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

pub use entry::{Entry, Freshness};

/// Bodies up to this size are kept in (and served from) memory.
pub const MEMORY_OBJECT_MAX: u64 = 8 << 20;

pub struct Cache {
    index: RwLock<HashMap<String, Arc<Entry>>>,
    /// Last use of each key (ms), for eviction.
    used: Mutex<HashMap<String, i64>>,
    memory: moka::sync::Cache<String, Bytes>,
    disk: disk::Layout,
    disk_max: u64,
    disk_used: AtomicU64,
    /// Bodies whose bytes were checked against their hash since start.
    verified: Mutex<HashSet<String>>,
}

impl Cache {
    pub fn open(dir: &std::path::Path, memory_max: u64, disk_max: u64) -> io::Result<Self> {
        let disk = disk::Layout::open(dir)?;
        let mut loaded = disk.load()?;
        // Slices cached by earlier versions were keyed `key\0sliceN`, which
        // an object key can spell: forget them (and, to be sure, any object
        // key with NUL), costing at worst a refetch.
        loaded.retain(|(k, _)| {
            let keep = k.starts_with(entry::SLICES) || !k.contains('\0');
            if !keep {
                disk.remove_entry(k);
            }
            keep
        });
        let mut seen = HashSet::new();
        let mut used = 0;
        for (_, e) in &loaded {
            if let Some(h) = &e.blake3 {
                if seen.insert(h.clone()) {
                    used += e.size;
                }
            }
        }
        let memory = moka::sync::Cache::builder()
            .weigher(|_k: &String, v: &Bytes| v.len().try_into().unwrap_or(u32::MAX))
            .max_capacity(memory_max)
            .build();
        let now = entry::now_ms();
        Ok(Self {
            used: Mutex::new(loaded.iter().map(|(k, _)| (k.clone(), now)).collect()),
            index: RwLock::new(loaded.into_iter().map(|(k, e)| (k, Arc::new(e))).collect()),
            memory,
            disk,
            disk_max,
            disk_used: AtomicU64::new(used),
            verified: Mutex::new(HashSet::new()),
        })
    }

    pub fn layout(&self) -> &disk::Layout {
        &self.disk
    }

    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        let e = self.index.read().ok()?.get(key).cloned();
        if e.is_some() {
            if let Ok(mut u) = self.used.lock() {
                let now = entry::now_ms();
                match u.get_mut(key) {
                    Some(at) => *at = now,
                    None => {
                        u.insert(key.to_owned(), now);
                    }
                }
            }
        }
        e
    }

    /// Stores an entry whose body (if any) is already in `blobs/`.
    pub fn insert(&self, key: &str, entry: Entry) {
        if let Err(e) = self.disk.write_entry(key, &entry) {
            tracing::warn!(key, error = %e, "cannot persist cache entry");
        }
        let entry = Arc::new(entry);
        let old = self
            .index
            .write()
            .ok()
            .and_then(|mut i| i.insert(key.to_owned(), entry.clone()));
        if let Some(h) = &entry.blake3 {
            if !self.body_referenced_except(h, Some(key)) {
                self.disk_used.fetch_add(entry.size, Ordering::Relaxed);
            }
            if let Ok(mut v) = self.verified.lock() {
                v.insert(h.clone());
            }
        }
        if let Ok(mut u) = self.used.lock() {
            u.insert(key.to_owned(), entry::now_ms());
        }
        if let Some(old) = old {
            self.release(&old);
        }
        self.evict();
    }

    /// Updates freshness after a 304 without touching the body.
    pub fn update(&self, key: &str, f: impl FnOnce(&mut Entry)) -> Option<Arc<Entry>> {
        let updated = {
            let mut index = self.index.write().ok()?;
            let e = index.get_mut(key)?;
            f(Arc::make_mut(e));
            e.clone()
        };
        let _ = self.disk.write_entry(key, &updated);
        Some(updated)
    }

    /// Drops a key and any slices cached for it.
    pub fn remove_object(&self, key: &str) -> bool {
        let mut any = self.remove(key);
        for k in self.keys_with_prefix(&entry::slice_prefix(key)) {
            any |= self.remove(&k);
        }
        any
    }

    pub fn remove(&self, key: &str) -> bool {
        let old = self.index.write().ok().and_then(|mut i| i.remove(key));
        self.disk.remove_entry(key);
        if let Ok(mut u) = self.used.lock() {
            u.remove(key);
        }
        match old {
            Some(old) => {
                self.release(&old);
                true
            }
            None => false,
        }
    }

    /// Drops every object under `prefix` (`bucket/` for a whole bucket,
    /// `bucket/dir/` for a folder) and every slice of one; returns how many
    /// objects (not slices) were dropped.
    pub fn remove_prefix(&self, prefix: &str) -> usize {
        let slices = format!("{}{prefix}", entry::SLICES);
        let mut objects = 0;
        for k in self.keys_with_prefix(prefix) {
            objects += usize::from(self.remove(&k));
        }
        for k in self.keys_with_prefix(&slices) {
            self.remove(&k);
        }
        objects
    }

    /// Keys under `prefix`.
    fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.index
            .read()
            .map(|i| {
                i.keys()
                    .filter(|k| k.starts_with(prefix))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Marks every entry stale: used when the change feed lost track.
    pub fn expire_all(&self) {
        if let Ok(mut i) = self.index.write() {
            for e in i.values_mut() {
                Arc::make_mut(e).expire();
            }
        }
    }

    pub fn len(&self) -> usize {
        self.index.read().map(|i| i.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn disk_bytes(&self) -> u64 {
        self.disk_used.load(Ordering::Relaxed)
    }

    pub fn memory_bytes(&self) -> u64 {
        self.memory.run_pending_tasks();
        self.memory.weighted_size()
    }

    fn body_referenced_except(&self, hash: &str, except: Option<&str>) -> bool {
        self.index
            .read()
            .map(|i| {
                i.iter()
                    .any(|(k, e)| Some(k.as_str()) != except && e.blake3.as_deref() == Some(hash))
            })
            .unwrap_or(true)
    }

    /// Drops a body no entry references any more.
    fn release(&self, old: &Entry) {
        if let Some(h) = &old.blake3 {
            if !self.body_referenced_except(h, None) {
                self.memory.invalidate(h);
                self.disk.remove_body(h);
                self.disk_used.fetch_sub(
                    old.size.min(self.disk_used.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
                if let Ok(mut v) = self.verified.lock() {
                    v.remove(h);
                }
            }
        }
    }

    /// Makes room on the cache's filesystem for a body of `len` bytes,
    /// evicting least recently used entries if the disk itself (not only
    /// the configured tier size) is short. False when it cannot: the
    /// caller refuses the fetch instead of failing halfway through a body.
    pub fn make_room(&self, len: u64) -> bool {
        // Room for the entry file and the filesystem's own bookkeeping.
        const SLACK: u64 = 1 << 20;
        let need = len.saturating_add(SLACK);
        loop {
            match fs4::available_space(self.disk.root()) {
                Ok(free) if free >= need => return true,
                // Evicting everything would not make room: keep what we
                // have and refuse this one.
                Ok(free) if free + self.disk_used.load(Ordering::Relaxed) < need => return false,
                Ok(_) => {}
                // Cannot tell: let the write decide.
                Err(_) => return true,
            }
            if !self.evict_oldest() {
                return false;
            }
        }
    }

    /// Evicts least recently used keys until the disk tier fits.
    fn evict(&self) {
        while self.disk_used.load(Ordering::Relaxed) > self.disk_max {
            if !self.evict_oldest() {
                break;
            }
        }
    }

    /// Removes the least recently used key; false when none is left.
    fn evict_oldest(&self) -> bool {
        let oldest = self
            .used
            .lock()
            .ok()
            .and_then(|u| u.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()));
        match oldest {
            Some(k) => {
                self.remove(&k);
                true
            }
            None => false,
        }
    }

    /// Reads a small body, from memory or from disk, verifying disk bytes
    /// against the hash. `Ok(None)` means the body is missing or corrupt:
    /// the entry has been dropped and the caller must refetch.
    /// A small body from the memory tier alone: no I/O, so callers on the
    /// async threads try this before paying for a blocking task.
    pub fn memory_body(&self, entry: &Entry) -> Option<Bytes> {
        match &entry.blake3 {
            Some(hash) => self.memory.get(hash),
            None => Some(Bytes::new()),
        }
    }

    pub fn read_small(&self, key: &str, entry: &Entry) -> io::Result<Option<Bytes>> {
        let Some(hash) = &entry.blake3 else {
            return Ok(Some(Bytes::new()));
        };
        if let Some(b) = self.memory.get(hash) {
            return Ok(Some(b));
        }
        let mut buf = Vec::with_capacity(entry.size as usize);
        let read =
            std::fs::File::open(self.disk.body(hash)).and_then(|mut f| f.read_to_end(&mut buf));
        if read.is_err() || blake3::hash(&buf).to_hex().as_str() != hash.as_str() {
            tracing::warn!(key, blob = %hash, "cached body missing or corrupt; dropping it");
            self.remove(key);
            return Ok(None);
        }
        let bytes = Bytes::from(buf);
        self.memory.insert(hash.clone(), bytes.clone());
        Ok(Some(bytes))
    }

    /// Checks a large body once after start; false (and the entry dropped)
    /// if it does not match its hash.
    pub fn verify_large(&self, key: &str, entry: &Entry) -> bool {
        let Some(hash) = &entry.blake3 else {
            return true;
        };
        if self.verified.lock().is_ok_and(|v| v.contains(hash)) {
            return true;
        }
        let mut hasher = blake3::Hasher::new();
        let ok = std::fs::File::open(self.disk.body(hash))
            .and_then(|mut f| hasher.update_reader(&mut f).map(|_| ()))
            .is_ok()
            && hasher.finalize().to_hex().as_str() == hash.as_str();
        if ok {
            if let Ok(mut v) = self.verified.lock() {
                v.insert(hash.clone());
            }
        } else {
            tracing::warn!(key, blob = %hash, "cached body corrupt; dropping it");
            self.remove(key);
        }
        ok
    }

    /// Offers a small body to the memory tier.
    pub fn remember(&self, hash: &str, body: Bytes) {
        if (body.len() as u64) <= MEMORY_OBJECT_MAX {
            self.memory.insert(hash.to_owned(), body);
        }
    }
}
