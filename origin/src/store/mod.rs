//! Durable state: content-addressed blobs on disk (`blob`) and metadata in
//! SQLite (`meta`). This layer knows nothing of HTTP.
//!
//! **Invariant:** a blob is durable (fsync'd and renamed into place) before
//! any row references it, and reference counts change in the same
//! transaction as the object rows that hold them.

pub mod blob;
pub mod check;
pub mod gc;
pub mod meta;
