//! Cairn's origin: an S3-compatible object store whose bytes are
//! content-addressed by BLAKE3 on local disk and whose metadata lives in
//! SQLite.
//!
//! `main.rs` parses the command line and calls [`open`] then [`run`];
//! tests call the same functions on `127.0.0.1:0`.

pub mod auth;
pub mod checksum;
pub mod config;
pub mod error;
pub mod http;
pub mod ops;
pub mod policy;
pub mod state;
pub mod store;
pub mod xml;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::{AppState, KeyCache};
use crate::store::blob::BlobStore;
use crate::store::meta::{keys, keys::AccessKey, objects, Meta};

/// Opens the data directory: creates it if needed, migrates the schema and
/// removes blob files a crash left without a row.
pub fn open(config: Config) -> anyhow::Result<AppState> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let blobs = BlobStore::open(dir)
        .with_context(|| format!("data dir {} is not writable", dir.display()))?;
    let meta = Meta::open(&dir.join("meta.sqlite")).context("cannot open the metadata database")?;
    let state = AppState {
        config: Arc::new(config),
        meta,
        blobs,
        keys: Arc::new(KeyCache::default()),
    };
    sweep_orphans(&state)?;
    Ok(state)
}

/// A blob file is written before the row that references it; a crash in
/// between leaves a file no row names. Such files are removed at start.
fn sweep_orphans(state: &AppState) -> anyhow::Result<()> {
    let mut removed = 0;
    for hash in state.blobs.all()? {
        let known = state
            .meta
            .read_now(|c| objects::blob_exists(c, &hash))
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        if !known {
            state.blobs.remove(&hash);
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(
            removed,
            "removed orphaned blobs left by an interrupted write"
        );
    }
    Ok(())
}

/// Generates a fresh key pair: an id like AWS's and a 40-character secret.
pub fn generate_key(name: &str, role: &str) -> AccessKey {
    use rand::distributions::{Alphanumeric, DistString};
    let mut rng = rand::thread_rng();
    AccessKey {
        access_key: format!(
            "CK{}",
            Alphanumeric
                .sample_string(&mut rng, 18)
                .to_ascii_uppercase()
        ),
        secret_key: Alphanumeric.sample_string(&mut rng, 40),
        name: name.to_owned(),
        role: role.to_owned(),
    }
}

/// Stores a key pair (replacing the secret if the id exists).
pub async fn store_key(state: &AppState, key: AccessKey) -> anyhow::Result<()> {
    state
        .meta
        .write(move |c, _| keys::insert(c, &key, ops::now_ms()))
        .await
        .map_err(|e| anyhow::anyhow!("cannot store key: {}", e.message))
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
            tracing::warn!(error = %e.message, "change feed trim failed");
        }
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Without TCP_NODELAY a response written as headers then body waits
    // for the client's delayed ACK (~40 ms) on every small object.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    tokio::spawn(sweep_uploads(state.clone()));
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
