//! Following the origin's change feed: every change drops the cached copy
//! of that key (or of the whole bucket), so an overwrite reaches this edge
//! within one long-poll round trip, whatever the TTL. A copy of exactly
//! the version the change wrote (`cairn_shared::feed`) is kept: fetched
//! between the change and its event, it is already the new version. The last sequence
//! seen is kept in the cache dir; after a restart the edge resumes there,
//! and if the feed no longer reaches back that far, every entry is marked
//! stale and revalidated before it is served as fresh again. A dropped copy
//! of a small object (at most `miss::REFRESH_MAX`) is fetched again at
//! once, so the next request for it is a hit; a public one usually comes
//! with its change (the origin puts objects of up to 1 MiB in the page),
//! and is stored without a fetch. The edge sends the tag of the URL keys
//! it holds (`crate::signed`) with each poll; a poll ends at once when the
//! origin's set differs and then carries the keys, so a rotation or
//! retirement reaches every edge within a second or two.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use std::sync::atomic::Ordering;

use crate::metrics::add;
use crate::upstream::KeyRefused;
use crate::EdgeState;

const WAIT_SECS: u64 = 20;

fn seq_file(state: &EdgeState) -> std::path::PathBuf {
    state.config.cache_dir.join("feed.seq")
}

/// Fixes where a new cache starts following, before the edge serves
/// anything: otherwise a change between start and the first poll could be
/// missed. Without an answer the position stays unknown, and the first
/// successful poll then revalidates everything instead.
pub async fn init(state: &EdgeState) {
    match tokio::time::timeout(
        Duration::from_secs(3),
        state.feed.feed("now", 0, &state.config.edge_region, ""),
    )
    .await
    {
        Ok(Ok(page)) => {
            // The URL keys, so signed URLs work from the first request.
            state.url_keys.update(&page);
            if seq_file(state).exists() {
                return;
            }
            if let Some(last) = page.get("last").and_then(Value::as_i64) {
                let _ = std::fs::write(seq_file(state), last.to_string());
            }
        }
        _ => tracing::warn!("origin change feed unreachable at start; will revalidate on connect"),
    }
}

pub async fn run(state: Arc<EdgeState>) {
    let seq_file = seq_file(&state);
    // Resume where the last run stopped (`init` sets it for a new cache).
    let mut after: Option<i64> = std::fs::read_to_string(&seq_file)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let mut backoff = Duration::from_millis(200);
    loop {
        let from = after.map(|a| a.to_string()).unwrap_or_else(|| "now".into());
        match state
            .feed
            .feed(
                &from,
                WAIT_SECS,
                &state.config.edge_region,
                &state.url_keys.tag(),
            )
            .await
        {
            Ok(page) => {
                backoff = Duration::from_millis(200);
                if state.key_refused.swap(false, Ordering::AcqRel) {
                    tracing::info!("the origin accepts this edge's key again");
                }
                if after.is_none() {
                    // Started without a position: what changed meanwhile
                    // is unknown, so nothing cached is fresh any more.
                    state.cache.expire_all();
                }
                apply(&state, &page);
                state.url_keys.update(&page);
                let last = page.get("last").and_then(Value::as_i64);
                if last.is_some() && last != after {
                    after = last;
                    let _ = std::fs::write(&seq_file, after.unwrap_or(0).to_string());
                }
                state
                    .feed_connected
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                state
                    .feed_connected
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                if e.downcast_ref::<KeyRefused>().is_some()
                    && !state.key_refused.swap(true, Ordering::AcqRel)
                {
                    tracing::warn!(error = %e, "edge key revoked: refusing signed URLs");
                }
                tracing::debug!(error = %e, "change feed unavailable; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn apply(state: &Arc<EdgeState>, page: &Value) {
    if page.get("reset").and_then(Value::as_bool) == Some(true) {
        tracing::info!("change feed no longer reaches our last sequence: revalidating everything");
        state.cache.expire_all();
    }
    for change in page
        .get("changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(bucket) = change.get("bucket").and_then(Value::as_str) else {
            continue;
        };
        add(&state.metrics.feed_changes, 1);
        match change.get("key").and_then(Value::as_str) {
            Some(key) => {
                let ck = format!("{bucket}/{key}");
                let version = change.get("version").and_then(Value::as_str);
                let held = state.cache.get(&ck).filter(|e| e.status == 200);
                let dropped = state.cache.remove_object_unless(&ck, version);
                state.changed.insert(ck, ());
                // A small object this edge served is fetched again now,
                // not by the next request that misses it.
                let small = change
                    .get("size")
                    .and_then(Value::as_u64)
                    .is_some_and(|s| s <= crate::miss::REFRESH_MAX);
                if let Some(e) = held.filter(|_| dropped && small) {
                    let preloaded = change
                        .get("object")
                        .and_then(crate::upstream::Preloaded::from_change);
                    crate::miss::refresh(state, bucket, key, e.private, preloaded);
                }
            }
            None => {
                state.changed.insert(format!("{bucket}/"), ());
                state.cors.forget(bucket);
                state.sites.forget(bucket);
                state.cache.remove_prefix(&format!("{bucket}/"));
            }
        }
    }
}
