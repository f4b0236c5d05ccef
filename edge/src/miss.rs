//! Starting upstream fetches: the one place that combines the flights
//! (`flight`) with the fetch task (`fetch`), so a request, a slice, a
//! background revalidation and a refresh after a change event all join
//! the same collapsed fetch for a key.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::flight::{self, Progress};
use crate::upstream::{Fetch, Preloaded};
use crate::EdgeState;

/// Bodies at most this large are fetched again as soon as a change event
/// drops a cached copy, so the next request is a hit.
pub const REFRESH_MAX: u64 = 1 << 20;

/// Refreshes running at once; more changes than this are only dropped (a
/// burst of writes must not become a burst of fetches).
pub const REFRESHES: usize = 64;

/// The longest a refresh holds its place among [`REFRESHES`].
const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);

/// Collapsed fetches are keyed apart for signed requests: a public
/// request must never join a fetch made with the edge's key.
pub fn flight_key(ck: &str, signed: bool) -> String {
    if signed {
        format!("{ck}#signed")
    } else {
        ck.to_owned()
    }
}

/// Joins the fetch for `ck` running now, or starts one.
pub fn start_or_join(
    state: &Arc<EdgeState>,
    ck: &str,
    bucket: &str,
    key: &str,
    fetch: Fetch,
) -> (watch::Receiver<Progress>, flight::Turn) {
    let flight = flight_key(ck, fetch.signed);
    let (rx, turn, lead) = state.flights.join(&flight);
    if let Some(lead) = lead {
        let (state, bucket, key) = (state.clone(), bucket.to_owned(), key.to_owned());
        let ck = ck.to_owned();
        tokio::spawn(crate::fetch::run(
            state, flight, ck, bucket, key, fetch, lead,
        ));
    }
    (rx, turn)
}

/// Fetches `bucket`/`key` again in the background after a change event
/// dropped a copy of it (the edge served it, so it is likely asked for
/// again): the next request finds the new version, or joins its fetch.
/// With `preloaded` (the change carried the object) nothing is fetched:
/// the object is stored as if it had been, checks included.
/// Does nothing when [`REFRESHES`] are running already.
pub fn refresh(
    state: &Arc<EdgeState>,
    bucket: &str,
    key: &str,
    signed: bool,
    preloaded: Option<Preloaded>,
) {
    let Ok(permit) = state.refreshes.clone().try_acquire_owned() else {
        return;
    };
    let ck = format!("{bucket}/{key}");
    let fetch = Fetch {
        signed,
        // Only public objects travel with their change.
        preloaded: preloaded.filter(|_| !signed).map(Arc::new),
        ..Fetch::default()
    };
    let (mut rx, turn) = start_or_join(state, &ck, bucket, key, fetch);
    drop(turn);
    let state = state.clone();
    tokio::spawn(async move {
        // The fetch runs on its own; the permit is held until it ends.
        let ended = tokio::time::timeout(REFRESH_TIMEOUT, async {
            while rx.borrow_and_update().done.is_none() {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        drop(permit);
        if ended.is_ok() {
            crate::metrics::add(&state.metrics.refreshes, 1);
        }
    });
}
