//! Settings of a running edge, filled by `main.rs` from flags and
//! `CAIRN_*` variables, and built directly by tests.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Where misses are fetched: a Cairn origin, a parent edge, or any S3
    /// endpoint (no trailing slash).
    pub upstream: String,
    /// The origin itself, for the change feed (the upstream may be a parent).
    pub origin: String,
    /// Edge access key: signs feed requests and private fetches.
    pub access_key: String,
    /// Its secret; also the HMAC key of signed edge URLs.
    pub secret_key: String,
    pub region: String,
    pub cache_dir: PathBuf,
    pub memory_cache: u64,
    pub disk_cache: u64,
    /// Base domain for `bucket.BASE` requests.
    pub domain: Option<String>,
    /// Freshness for responses that carry no Cache-Control or Expires.
    pub default_ttl: Duration,
    /// How long stale copies may stand in for a failing origin by default.
    pub stale_if_error: Duration,
    /// How long a 404 is remembered.
    pub negative_ttl: Duration,
    /// Follow the origin's change feed.
    pub follow_feed: bool,
    /// Name for `Via` and metrics.
    pub name: String,
    /// A closed range of an uncached object is fetched in slices of this
    /// size (0 disables slicing).
    pub slice_size: u64,
}

impl EdgeConfig {
    pub fn new(
        upstream: impl Into<String>,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
        cache_dir: impl Into<PathBuf>,
    ) -> Self {
        let upstream = upstream.into().trim_end_matches('/').to_owned();
        Self {
            origin: upstream.clone(),
            upstream,
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: "us-east-1".into(),
            cache_dir: cache_dir.into(),
            memory_cache: 256 << 20,
            disk_cache: 10 << 30,
            domain: None,
            default_ttl: Duration::from_secs(60),
            stale_if_error: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(5),
            follow_feed: true,
            name: "cairn-edge".into(),
            slice_size: 4 << 20,
        }
    }
}
