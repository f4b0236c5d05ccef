//! Cairn's edge: a caching node that browsers fetch public (or signed)
//! objects from. It keeps hot bodies in memory and everything it may on
//! disk, revalidates with ETags, collapses concurrent misses into one
//! upstream fetch, and follows the origin's change feed so overwrites show
//! within a second. It talks to its upstream only over HTTP and never links
//! origin code.
//!
//! Parts: `cache` (tiers, index) and `upstream`/`flight`/`fetch` (getting
//! bytes) do not know each other; `serve` combines them.

pub mod access_log;
pub mod acme;
pub mod answer;
pub mod cache;
pub mod compress;
pub mod config;
pub mod cors;
pub mod fetch;
pub mod flight;
pub mod follow;
pub mod metrics;
pub mod miss;
pub mod object;
pub mod purge;
pub mod serve;
pub mod signed;
pub mod sites;
pub mod slices;
pub mod upstream;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::Router;

use crate::cache::Cache;
use crate::config::EdgeConfig;
use crate::flight::Flights;
use crate::metrics::Metrics;
use crate::upstream::Upstream;
use cairn_shared::listen;

pub struct EdgeState {
    pub config: EdgeConfig,
    pub cache: Cache,
    pub flights: Flights,
    /// Where misses go (the origin or a parent edge).
    pub upstream: Upstream,
    /// The origin, for the change feed.
    pub feed: Upstream,
    pub metrics: Metrics,
    pub feed_connected: AtomicBool,
    /// The origin refused this edge's key on the change feed (it was
    /// deleted): signed URLs, which that key's secret vouches for, are
    /// refused until the origin accepts the key again.
    pub key_refused: AtomicBool,
    /// Buckets' CORS rules, read from the origin.
    pub cors: cors::BucketRules,
    /// Buckets' website configurations, for sites.
    pub sites: sites::Sites,
    /// Keys (and `bucket/` prefixes) the change feed reported changed in
    /// the last half minute. With a parent tier, their misses go to the
    /// origin: the parent may not have applied the same change yet, and
    /// its old copy would otherwise be cached here again.
    pub changed: moka::sync::Cache<String, ()>,
    /// Keys whose last fetch failed (no answer, or 5xx) in the last few
    /// seconds: a stale copy usable on error is served at once instead of
    /// each request waiting out the upstream timeout again.
    pub failing: moka::sync::Cache<String, ()>,
    /// `Via: 1.1 <name>`, added to every response (built once; `None` if
    /// the name cannot be a header value).
    pub via: Option<http::HeaderValue>,
    /// Variants being compressed now (one compression each at a time).
    pub compressing: moka::sync::Cache<String, ()>,
    /// The access log, when one is configured.
    pub access_log: Option<Arc<access_log::AccessLog>>,
    /// Places for background refreshes after change events.
    pub refreshes: Arc<tokio::sync::Semaphore>,
    /// The deployment's public URL keys, from the change feed.
    pub url_keys: signed::UrlKeys,
    /// HTTP-01 answers for ACME orders in flight.
    pub acme_challenges: acme::Challenges,
}

impl EdgeState {
    /// Where a miss for `bucket`/`object` is fetched.
    pub fn upstream_for(&self, bucket: &str, object: &str) -> &Upstream {
        if self.config.upstream == self.config.origin {
            return &self.upstream;
        }
        if self.changed.contains_key(&format!("{bucket}/{object}"))
            || self.changed.contains_key(&format!("{bucket}/"))
        {
            &self.feed
        } else {
            &self.upstream
        }
    }
}

/// Opens the cache directory (loading what a previous run cached).
pub fn open(config: EdgeConfig) -> anyhow::Result<Arc<EdgeState>> {
    std::fs::create_dir_all(&config.cache_dir)
        .map_err(|e| anyhow::anyhow!("cache dir {}: {e}", config.cache_dir.display()))?;
    let cache = Cache::open(&config.cache_dir, config.memory_cache, config.disk_cache)
        .map_err(|e| anyhow::anyhow!("cache dir {}: {e}", config.cache_dir.display()))?;
    let roots = match &config.upstream_ca {
        Some(path) => upstream::load_roots(path)?,
        None => Vec::new(),
    };
    let upstream = Upstream::new(
        &config.upstream,
        &config.access_key,
        &config.secret_key,
        &config.region,
        config.upstream_timeout,
        &roots,
    )?;
    let feed = Upstream::new(
        &config.origin,
        &config.access_key,
        &config.secret_key,
        &config.region,
        config.upstream_timeout,
        &roots,
    )?;
    let via = http::HeaderValue::from_str(&format!("1.1 {}", config.name)).ok();
    let access_log = match &config.access_log {
        Some(dest) => Some(
            access_log::AccessLog::start(
                dest.clone(),
                config.access_log_format,
                config.access_log_sample,
            )
            .map_err(|e| anyhow::anyhow!("access log {dest:?}: {e}"))?,
        ),
        None => None,
    };
    Ok(Arc::new(EdgeState {
        via,
        access_log,
        config,
        cache,
        flights: Flights::default(),
        upstream,
        feed,
        metrics: Metrics::default(),
        feed_connected: AtomicBool::new(false),
        key_refused: AtomicBool::new(false),
        cors: cors::BucketRules::default(),
        acme_challenges: acme::Challenges::default(),
        url_keys: signed::UrlKeys::default(),
        refreshes: Arc::new(tokio::sync::Semaphore::new(miss::REFRESHES)),
        sites: sites::Sites::default(),
        compressing: moka::sync::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(std::time::Duration::from_secs(60))
            .build(),
        failing: moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(std::time::Duration::from_secs(5))
            .build(),
        changed: moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(std::time::Duration::from_secs(30))
            .build(),
    }))
}

pub fn app(state: Arc<EdgeState>) -> Router {
    Router::new().fallback(serve::handle).with_state(state)
}

/// Serves until `shutdown` resolves; follows the change feed meanwhile.
pub async fn run(
    state: Arc<EdgeState>,
    listeners: Vec<listen::Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if state.config.follow_feed {
        // `follow::init` ran before the listeners were announced.
        tokio::spawn(follow::run(state.clone()));
    }
    // Misses find connections to their upstream open, and the reads of
    // bucket configurations (CORS rules, websites) theirs to the origin.
    let warm = state.clone();
    tokio::spawn(async move { tokio::join!(warm.upstream.keep_warm(), warm.feed.keep_warm()) });
    if let Some(log) = &state.access_log {
        access_log::reopen_on_hangup(log.clone());
    }
    let c = &state.config;
    let mut limits =
        listen::Limits::configured(c.max_connections, c.header_timeout, c.idle_timeout);
    limits.h2c = c.h2c;
    // HSTS goes on HTTPS responses only: requests say how they came.
    // The access log names the client; sites redirect to the scheme the
    // request came by.
    limits.peer_info =
        !c.hsts.is_empty() || state.access_log.is_some() || !c.sites.is_empty() || c.site_by_host;
    let shed = listen::shed_response("ServiceUnavailable", "Too many connections; retry.");
    listen::serve(listeners, app(state), limits, shed, shutdown).await
}
