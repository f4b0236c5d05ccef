//! What every request handler shares: settings, the stores, the key cache
//! and the metrics.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::S3Result;
use crate::metrics::Metrics;
use crate::store::blob::BlobStore;
use crate::store::meta::{keys, keys::AccessKey, Meta};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub meta: Meta,
    pub blobs: BlobStore,
    pub keys: Arc<KeyCache>,
    /// Keys for SSE-S3 and SSE-KMS.
    pub sse_keys: Arc<crate::sse::KeyRing>,
    /// Bucket policies, parsed once per text.
    pub policies: Arc<crate::policy::PolicyCache>,
    pub metrics: Arc<Metrics>,
    /// How each webhook target's deliveries are going.
    pub notify: Arc<crate::notify::Status>,
    /// One permit per upload in progress (`max_uploads`): past it, a new
    /// upload is refused with SlowDown before a byte of it is read.
    pub uploads: Arc<tokio::sync::Semaphore>,
    /// The data dir's lock, held while this state lives (servers only:
    /// admin commands attach without it).
    pub _lock: Option<Arc<std::fs::File>>,
}

/// Access keys by id, cached briefly so signature checks do not query
/// SQLite on every request, yet a key deleted with the CLI stops working
/// within `TTL`.
#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<String, (Option<AccessKey>, Instant)>>,
}

impl KeyCache {
    /// A deleted key (by `cairn-origin key delete`, another process)
    /// stops working within this.
    const TTL: Duration = Duration::from_secs(2);

    /// Drops a key's cached copy: a change made in this process (the
    /// admin API) takes effect at once.
    pub fn forget(&self, access_key: &str) {
        if let Ok(mut map) = self.entries.write() {
            map.remove(access_key);
        }
    }

    pub async fn get(&self, meta: &Meta, access_key: &str) -> S3Result<Option<AccessKey>> {
        if let Ok(map) = self.entries.read() {
            if let Some((key, at)) = map.get(access_key) {
                if at.elapsed() < Self::TTL {
                    return Ok(key.clone());
                }
            }
        }
        let ak = access_key.to_owned();
        let found = meta.read(move |c| keys::get(c, &ak)).await?;
        if let Ok(mut map) = self.entries.write() {
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(access_key.to_owned(), (found.clone(), Instant::now()));
        }
        Ok(found)
    }
}
