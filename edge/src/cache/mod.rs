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
//! copy of every header string. Index files are written and removed by one
//! writer thread, in order, so no request waits for an fsync.

pub mod disk;
pub mod keys;
mod writer;

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use lru::LruCache;

use crate::object::Entry;

/// Bodies up to this size are kept in (and served from) memory.
pub const MEMORY_OBJECT_MAX: u64 = 8 << 20;

/// The index: every key in least-recently-used order, and how many keys
/// reference each body. Every operation on it is O(1) but prefix scans
/// (purges, bucket-wide changes), so a miss costs the same with a million
/// entries as with ten.
struct Index {
    entries: LruCache<String, Arc<Entry>>,
    /// Keys referencing each body (by BLAKE3): a body's file is removed
    /// when its count reaches zero.
    refs: HashMap<String, usize>,
}

pub struct Cache {
    index: Arc<Mutex<Index>>,
    memory: moka::sync::Cache<String, Bytes>,
    disk: disk::Layout,
    disk_max: u64,
    disk_used: AtomicU64,
    /// Bodies whose bytes were checked against their hash since start.
    verified: Mutex<HashSet<String>>,
    /// Entry files written and removed, in order, off the async threads.
    writer: writer::Writer,
}

impl Cache {
    pub fn open(dir: &Path, memory_max: u64, disk_max: u64) -> io::Result<Self> {
        let disk = disk::Layout::open(dir)?;
        let mut loaded = disk.load()?;
        // Slices cached by earlier versions were keyed `key\0sliceN`, which
        // an object key can spell: forget them (and, to be sure, any object
        // key with NUL), costing at worst a refetch.
        loaded.retain(|(k, _)| {
            let keep = k.starts_with(keys::SLICES) || !k.contains('\0');
            if !keep {
                disk.remove_entry(k);
            }
            keep
        });
        let mut index = Index {
            entries: LruCache::unbounded(),
            refs: HashMap::new(),
        };
        let mut used = 0;
        for (k, e) in loaded {
            if let Some(h) = &e.blake3 {
                let n = index.refs.entry(h.clone()).or_insert(0);
                if *n == 0 {
                    used += e.size;
                }
                *n += 1;
            }
            index.entries.put(k, Arc::new(e));
        }
        let memory = moka::sync::Cache::builder()
            .weigher(|_k: &String, v: &Bytes| v.len().try_into().unwrap_or(u32::MAX))
            .max_capacity(memory_max)
            .build();
        let index = Arc::new(Mutex::new(index));
        Ok(Self {
            writer: writer::Writer::start(disk.clone(), index.clone())?,
            index,
            memory,
            disk,
            disk_max,
            disk_used: AtomicU64::new(used),
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// The index, recovered if a panic poisoned its lock (its state is
    /// updated in steps that each leave it consistent).
    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn layout(&self) -> &disk::Layout {
        &self.disk
    }

    /// The entry for `key`, marked as just used.
    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.index().entries.get(key).cloned()
    }

    /// Stores an entry. Its body (if any) must be complete at `body`
    /// (a verified download): it is linked into `blobs/` under its hash
    /// unless that body is stored already. Waits for the disk: call it
    /// from a blocking thread.
    pub fn insert_with_body(&self, key: &str, entry: Entry, body: &Path) -> io::Result<()> {
        let entry = Arc::new(entry);
        let released = {
            let mut index = self.index();
            if let Some(h) = &entry.blake3 {
                // Linked under the lock: a concurrent removal of the same
                // body checks its count under it too.
                let target = self.disk.body(h);
                if !index.refs.contains_key(h) && !target.exists() {
                    std::fs::hard_link(body, &target)?;
                }
            }
            self.put(&mut index, key, entry.clone())
        };
        self.after_put(key, &entry, released);
        // The fetch holds back its last byte until this returns: what a
        // client received as cached survives a crash, and evictions it
        // caused are done.
        self.writer.flush();
        Ok(())
    }

    /// Stores an entry whose body (if any) is already stored under its
    /// hash for another key (a remembered 404 has none).
    pub fn insert(&self, key: &str, entry: Entry) {
        let entry = Arc::new(entry);
        let released = {
            let mut index = self.index();
            self.put(&mut index, key, entry.clone())
        };
        self.after_put(key, &entry, released);
    }

    /// Puts `entry` under `key` in the index, counting its body; returns
    /// the bodies the change leaves unreferenced.
    fn put(&self, index: &mut Index, key: &str, entry: Arc<Entry>) -> Vec<(String, u64)> {
        if let Some(h) = &entry.blake3 {
            let n = index.refs.entry(h.clone()).or_insert(0);
            if *n == 0 {
                self.disk_used.fetch_add(entry.size, Ordering::Relaxed);
            }
            *n += 1;
        }
        let old = index.entries.put(key.to_owned(), entry);
        let mut released = Vec::new();
        if let Some(old) = old {
            released.extend(self.unref(index, &old));
        }
        released
    }

    /// Writes the entry file, forgets released bodies, evicts to fit.
    fn after_put(&self, key: &str, entry: &Arc<Entry>, released: Vec<(String, u64)>) {
        if let Some(h) = &entry.blake3 {
            if let Ok(mut v) = self.verified.lock() {
                v.insert(h.clone());
            }
        }
        self.writer.write_entry(key, entry);
        self.drop_bodies(released);
        self.evict();
    }

    /// One reference less to `old`'s body; the body if none is left.
    fn unref(&self, index: &mut Index, old: &Entry) -> Option<(String, u64)> {
        let h = old.blake3.as_ref()?;
        let n = index.refs.get_mut(h)?;
        *n -= 1;
        if *n > 0 {
            return None;
        }
        index.refs.remove(h);
        Some((h.clone(), old.size))
    }

    /// Forgets bodies no entry references: memory now, files in the
    /// background (only if still unreferenced by then).
    fn drop_bodies(&self, bodies: Vec<(String, u64)>) {
        for (h, size) in bodies {
            self.memory.invalidate(&h);
            let used = self.disk_used.load(Ordering::Relaxed);
            self.disk_used.fetch_sub(size.min(used), Ordering::Relaxed);
            if let Ok(mut v) = self.verified.lock() {
                v.remove(&h);
            }
            self.writer.remove_body(&h);
        }
    }

    /// Updates freshness after a 304 without touching the body.
    pub fn update(&self, key: &str, f: impl FnOnce(&mut Entry)) -> Option<Arc<Entry>> {
        let updated = {
            let mut index = self.index();
            let e = index.entries.peek_mut(key)?;
            f(Arc::make_mut(e));
            e.clone()
        };
        self.writer.write_entry(key, &updated);
        Some(updated)
    }

    /// Drops a key and any slices cached for it.
    pub fn remove_object(&self, key: &str) -> bool {
        self.remove_object_unless(key, None)
    }

    /// Drops `key` and its slices, but keeps a copy of exactly the version
    /// tagged `written` (fetched after the change that wrote it, it is
    /// already what the change describes).
    pub fn remove_object_unless(&self, key: &str, written: Option<&str>) -> bool {
        let stale = |e: &Entry| !cairn_shared::feed::still_current(e.version.as_deref(), written);
        let mut any = self.remove_if(key, stale);
        for k in self.keys_with_prefix(&keys::slice_prefix(key)) {
            any |= self.remove_if(&k, stale);
        }
        any
    }

    pub fn remove(&self, key: &str) -> bool {
        self.remove_if(key, |_| true)
    }

    fn remove_if(&self, key: &str, stale: impl Fn(&Entry) -> bool) -> bool {
        let (found, released) = {
            let mut index = self.index();
            if !index.entries.peek(key).is_some_and(|e| stale(e)) {
                return false;
            }
            match index.entries.pop(key) {
                Some(old) => (true, self.unref(&mut index, &old)),
                None => (false, None),
            }
        };
        if found {
            self.writer.remove_entry(key);
            self.drop_bodies(released.into_iter().collect());
        }
        found
    }

    /// Drops every object under `prefix` (`bucket/` for a whole bucket,
    /// `bucket/dir/` for a folder) and every slice of one; returns how many
    /// objects (not slices) were dropped.
    pub fn remove_prefix(&self, prefix: &str) -> usize {
        let slices = format!("{}{prefix}", keys::SLICES);
        let mut objects = 0;
        for k in self.keys_with_prefix(prefix) {
            objects += usize::from(self.remove(&k));
        }
        for k in self.keys_with_prefix(&slices) {
            self.remove(&k);
        }
        objects
    }

    /// Keys under `prefix` (a scan: for purges and bucket-wide changes).
    fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.index()
            .entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Marks every entry stale: used when the change feed lost track.
    pub fn expire_all(&self) {
        for (_, e) in self.index().entries.iter_mut() {
            Arc::make_mut(e).expire();
        }
    }

    pub fn len(&self) -> usize {
        self.index().entries.len()
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
            // Evicted bodies are unlinked in the background: let the
            // writer catch up before measuring again.
            self.writer.flush();
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
        let (key, released) = {
            let mut index = self.index();
            let Some((key, old)) = index.entries.pop_lru() else {
                return false;
            };
            let released = self.unref(&mut index, &old);
            (key, released)
        };
        self.writer.remove_entry(&key);
        self.drop_bodies(released.into_iter().collect());
        true
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
        let Some(bytes) = self.read_verified(key, hash, entry.size) else {
            return Ok(None);
        };
        self.memory.insert(hash.clone(), bytes.clone());
        Ok(Some(bytes))
    }

    /// A body file read whole and checked against its hash; a missing or
    /// corrupt one drops `key` and gives `None`.
    fn read_verified(&self, key: &str, hash: &str, size: u64) -> Option<Bytes> {
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let read =
            std::fs::File::open(self.disk.body(hash)).and_then(|mut f| f.read_to_end(&mut buf));
        if read.is_err() || blake3::hash(&buf).to_hex().as_str() != hash {
            tracing::warn!(key, blob = %hash, "cached body missing or corrupt; dropping it");
            self.remove(key);
            return None;
        }
        Some(Bytes::from(buf))
    }

    /// A body of any size, read whole and checked against its hash (the
    /// memory tier keeps it only if small); `None` if it was corrupt and
    /// has been dropped.
    pub fn read_whole(&self, key: &str, entry: &Entry) -> io::Result<Option<Bytes>> {
        if self.fits_memory(entry.size) {
            return self.read_small(key, entry);
        }
        let Some(hash) = &entry.blake3 else {
            return Ok(Some(Bytes::new()));
        };
        Ok(self.read_verified(key, hash, entry.size))
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

    /// Whether a body of `size` bytes fits the memory tier (a fetch then
    /// holds it whole, to hand it to [`Self::remember`]).
    pub fn fits_memory(&self, size: u64) -> bool {
        size <= MEMORY_OBJECT_MAX
    }

    /// Offers a small body to the memory tier.
    pub fn remember(&self, hash: &str, body: Bytes) {
        if self.fits_memory(body.len() as u64) {
            self.memory.insert(hash.to_owned(), body);
        }
    }
}
