//! Durable state: content-addressed blobs on disk (`blob`) and metadata in
//! SQLite (`meta`). This layer knows nothing of HTTP.
//!
//! **Invariant:** a blob is durable (fsync'd and renamed into place) before
//! any row references it, and reference counts change in the same
//! transaction as the object rows that hold them.

pub mod blob;
pub mod check;
pub mod error;
pub mod gc;
pub mod meta;

/// Now, in ms since the Unix epoch: what rows are stamped with.
pub fn now_ms() -> i64 {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}
