//! Cairn's origin: an S3-compatible object store whose bytes are
//! content-addressed by BLAKE3 on local disk and whose metadata lives in
//! SQLite.
//!
//! `main.rs` parses the command line and calls [`open`] then [`run`];
//! tests call the same functions on `127.0.0.1:0`.

pub mod acl;
pub mod admin;
pub mod auth;
pub mod checksum;
pub mod config;
pub mod error;
pub mod http;
pub mod lifecycle;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod policy;
pub mod sse;
pub mod state;
pub mod store;
pub mod xml;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use cairn_shared::listen;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::{AppState, KeyCache};
use crate::store::blob::BlobStore;
use crate::store::meta::{keys, keys::AccessKey, Meta};

/// Opens the data directory for serving: creates it if needed, takes its
/// lock (one server per data dir), migrates the schema and removes blob
/// files a crash left without a row.
pub async fn open(config: Config) -> anyhow::Result<AppState> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let lock = lock_data_dir(dir)?;
    let blobs = BlobStore::open(dir)
        .with_context(|| format!("data dir {} is not writable", dir.display()))?;
    let meta = open_meta(dir)?;
    let sse_keys = open_key_ring(&config)?;
    let metrics = Arc::new(Metrics::with_bucket_cap(config.metrics_buckets));
    let state = AppState {
        sse_keys,
        policies: Default::default(),
        uploads: Arc::new(tokio::sync::Semaphore::new(config.max_uploads)),
        config: Arc::new(config),
        meta,
        blobs,
        keys: Arc::new(KeyCache::default()),
        metrics,
        notify: Default::default(),
        _lock: Some(Arc::new(lock)),
    };
    let freed = store::gc::collect(&state.meta, &state.blobs, |_, _| {}).await?;
    if freed.blobs > 0 {
        tracing::info!(
            removed = freed.blobs,
            bytes = freed.bytes,
            "removed orphaned blobs left by an interrupted write"
        );
    }
    Ok(state)
}

/// Opens an existing data directory for an admin command, beside a server
/// that may be running: no lock, nothing created or cleaned.
pub fn attach(config: Config) -> anyhow::Result<AppState> {
    let dir = &config.data_dir;
    if !dir.join(META_FILE).exists() {
        anyhow::bail!(
            "{} holds no Cairn data (no {META_FILE}); start `cairn-origin serve --data-dir {}` first",
            dir.display(),
            dir.display()
        );
    }
    let blobs = BlobStore::attach(dir);
    let meta = open_meta(dir)?;
    let sse_keys = open_key_ring(&config)?;
    let metrics = Arc::new(Metrics::with_bucket_cap(config.metrics_buckets));
    Ok(AppState {
        sse_keys,
        policies: Default::default(),
        uploads: Arc::new(tokio::sync::Semaphore::new(config.max_uploads)),
        config: Arc::new(config),
        meta,
        blobs,
        keys: Arc::new(KeyCache::default()),
        metrics,
        notify: Default::default(),
        _lock: None,
    })
}

const META_FILE: &str = "meta.sqlite";

fn open_key_ring(config: &Config) -> anyhow::Result<Arc<sse::KeyRing>> {
    let path = config.sse_key_path();
    let ring = sse::KeyRing::open(&path)
        .with_context(|| format!("SSE key ring {} is unreadable", path.display()))?;
    Ok(Arc::new(ring))
}

fn open_meta(dir: &std::path::Path) -> anyhow::Result<Meta> {
    let path = dir.join(META_FILE);
    Meta::open(&path).map_err(|e| {
        let e = e.root_cause().to_string();
        let e = e
            .trim_start_matches(&format!("{}: ", path.display()))
            .to_owned();
        if e.contains("not a database") || e.contains("malformed") {
            anyhow::anyhow!(
                "{} is damaged or not an SQLite database ({e}); restore it from a backup",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot open {}: {e}", path.display())
        }
    })
}

/// Takes the data dir's exclusive lock, so a second server (which would
/// clean `tmp/` under the first one's uploads) refuses to start.
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("data dir {} is not writable", dir.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "data dir {} is in use by another cairn-origin",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Generates a fresh key pair: an id like AWS's and a 40-character secret.
pub fn generate_key(name: &str, role: keys::Role) -> AccessKey {
    use rand::distributions::{Alphanumeric, DistString};
    let mut rng = rand::thread_rng();
    AccessKey::new(
        format!(
            "CK{}",
            Alphanumeric
                .sample_string(&mut rng, 18)
                .to_ascii_uppercase()
        ),
        Alphanumeric.sample_string(&mut rng, 40),
        name,
        role,
    )
}

/// Stores a key pair (replacing the secret if the id exists).
pub async fn store_key(state: &AppState, key: AccessKey) -> anyhow::Result<()> {
    state
        .meta
        .write(move |c, _| keys::insert(c, &key, ops::now_ms()))
        .await
        .map_err(|e| anyhow::anyhow!("cannot store key: {}", e))
}

/// The router: every path goes to the S3 handler.
pub fn app(state: AppState) -> Router {
    Router::new().fallback(http::handle).with_state(state)
}

/// Housekeeping: aborts abandoned multipart uploads (checking ten times
/// per max age, at most hourly, at least every second) and trims the
/// change feed.
async fn sweep_uploads(state: AppState) {
    let max_age = state.config.upload_max_age;
    let every = (max_age / 10).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(3600),
    );
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match ops::multipart::sweep_abandoned(&state.meta, &state.blobs, max_age.as_millis() as i64)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(aborted = n, "swept abandoned multipart uploads"),
            Err(e) => tracing::warn!(error = %e.message, "upload sweep failed"),
        }
        if let Err(e) = state.meta.write(|c, _| store::meta::changes::trim(c)).await {
            tracing::warn!(error = %e, "change feed trim failed");
        }
    }
}

/// Applies lifecycle rules: four times a lifecycle day (a day of the
/// rules' own length, so a shortened test day is followed closely), at
/// least every second and at most hourly.
async fn apply_lifecycle(state: AppState) {
    let every = (state.config.lifecycle_day / 4).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(3600),
    );
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match ops::lifecycle::apply(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "lifecycle rules applied"),
            Err(e) => tracing::warn!(error = %e.message, "lifecycle pass failed"),
        }
    }
}

/// Writes the feed followers seen in memory to SQLite every few seconds,
/// for `cairn-origin edges` (another process), and forgets those not seen
/// for `forget_edges_after`.
async fn record_edges(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    let mut written = Vec::new();
    loop {
        tick.tick().await;
        let forget = state.config.forget_edges_after;
        if let Some(cutoff) = std::time::SystemTime::now().checked_sub(forget) {
            state.metrics.forget_edges(cutoff);
            let before_ms = cutoff
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let forgotten = state
                .meta
                .write(move |c, _| store::meta::edges::forget(c, before_ms))
                .await;
            match forgotten {
                Ok(0) => {}
                Ok(n) => tracing::info!(edges = n, "forgot edges not seen for {forget:?}"),
                Err(e) => tracing::warn!(error = %e, "cannot forget old edges"),
            }
        }
        let rows: Vec<_> = state
            .metrics
            .edges()
            .into_iter()
            .map(|(access_key, e)| store::meta::edges::EdgeRow {
                access_key,
                name: e.name,
                region: e.region,
                position: e.position,
                seen_ms: e
                    .seen
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0),
                revoked: false,
            })
            .collect();
        let key: Vec<_> = rows.iter().map(|r| (r.position, r.seen_ms)).collect();
        if key == written {
            continue;
        }
        let to_write = rows.clone();
        let result = state
            .meta
            .write(move |c, _| {
                to_write
                    .iter()
                    .try_for_each(|r| store::meta::edges::upsert(c, r))
            })
            .await;
        match result {
            Ok(()) => written = key,
            Err(e) => tracing::warn!(error = %e, "cannot record feed followers"),
        }
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn run(
    state: AppState,
    listeners: Vec<listen::Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::spawn(sweep_uploads(state.clone()));
    tokio::spawn(record_edges(state.clone()));
    tokio::spawn(apply_lifecycle(state.clone()));
    notify::spawn_workers(&state);
    let c = &state.config;
    let mut limits =
        listen::Limits::configured(c.max_connections, c.header_timeout, c.idle_timeout);
    // Policies (`aws:SourceIp`, `aws:SecureTransport`) and SSE-C ask.
    limits.peer_info = true;
    limits.h2c = c.h2c;
    let shed = listen::shed_response("SlowDown", "Please reduce your request rate.");
    listen::serve(listeners, app(state), limits, shed, shutdown).await
}
