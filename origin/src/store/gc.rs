//! Reclaiming blob files no row references: after a crash between a blob's
//! rename and its row's commit, at start and on `cairn-origin gc`.
//!
//! Safe while a server runs on the same data dir: a server renames a blob
//! into place only inside a write transaction, and every deletion here
//! happens inside one too, after re-reading the row. SQLite's write lock
//! keeps the two apart, so a blob being committed is never taken.

use crate::store::blob::{BlobHash, BlobStore};
use crate::store::meta::{objects, Meta};

/// Blobs handled per write transaction, so a server waiting for the lock
/// waits for one batch, not the whole run.
const BATCH: usize = 256;

/// What a collection freed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Freed {
    /// Blob files looked at.
    pub scanned: u64,
    /// Unreferenced files removed and the bytes they held.
    pub blobs: u64,
    pub bytes: u64,
}

/// Removes every blob file without a row. `progress(done, total)` is
/// called after each batch.
pub async fn collect(
    meta: &Meta,
    blobs: &BlobStore,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<Freed> {
    let store = blobs.clone();
    let files = tokio::task::spawn_blocking(move || store.all()).await??;
    let total = files.len() as u64;
    let mut freed = Freed::default();
    for chunk in files.chunks(BATCH) {
        let len = chunk.len() as u64;
        let chunk: Vec<BlobHash> = chunk.to_vec();
        let store = blobs.clone();
        let (n, bytes) = meta
            .write(move |c, _| -> crate::store::error::Result<_> {
                let (mut n, mut bytes) = (0, 0);
                for hash in &chunk {
                    if objects::blob_exists(c, hash)? {
                        continue;
                    }
                    match store.delete(hash) {
                        Ok(len) => {
                            n += 1;
                            bytes += len;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            tracing::warn!(blob = %hash.to_hex(), error = %e, "cannot remove blob")
                        }
                    }
                }
                Ok((n, bytes))
            })
            .await?;
        freed.scanned += len;
        freed.blobs += n;
        freed.bytes += bytes;
        progress(freed.scanned, total);
    }
    Ok(freed)
}
