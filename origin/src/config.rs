//! Settings of a running origin, filled from flags and `CAIRN_*` variables
//! by `main.rs` (clap reads both) and built directly by tests.

use std::path::PathBuf;
use std::time::Duration;

/// Largest object a single PUT may carry: S3's 5 GiB.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    /// Holds `meta.sqlite`, `blobs/` and `tmp/`.
    pub data_dir: PathBuf,
    /// Base domain for virtual-hosted-style requests (`bucket.BASE`).
    pub domain: Option<String>,
    /// The region requests must be signed for; buckets report it.
    pub region: String,
    /// Largest single PUT body.
    pub max_object_size: u64,
    /// Multipart uploads older than this are aborted and their parts freed.
    pub upload_max_age: Duration,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            domain: None,
            region: "us-east-1".to_owned(),
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
            upload_max_age: Duration::from_secs(7 * 86_400),
        }
    }
}
