//! CORS at the edge, from the origin's own bucket rules: fetched with the
//! edge key (`GET /bucket?cors`), kept for a short while, and dropped when
//! the change feed reports a bucket-level change. Preflights are answered
//! here; actual responses get the headers the matching rule allows, and
//! every response of a bucket with rules `Vary: Origin`.
//!
//! Bucket names come from clients, so the rules are kept in a bounded
//! cache. A request never waits for the origin when rules are known: stale
//! rules are served while one background task refreshes them, and kept
//! while the origin is down. Only a request with an `Origin` to a bucket
//! seen for the first time waits, at most [`FIRST_FETCH`] (one without is
//! answered with `Vary: Origin` while the rules are fetched beside it); a
//! failure is remembered for [`RETRY`], so an outage costs each bucket one
//! wait, not one per request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue};

use crate::answer::{Code, EdgeError};
use crate::EdgeState;
use cairn_shared::cors::{self, CorsRule};

/// How long rules are trusted without a feed event (a safety net).
const TTL: Duration = Duration::from_secs(30);
/// How long a failed fetch is remembered before the next try.
const RETRY: Duration = Duration::from_secs(5);
/// The longest a request waits for a bucket's rules the first time.
const FIRST_FETCH: Duration = Duration::from_secs(2);
/// Buckets whose rules are kept.
const BUCKETS: u64 = 10_000;

/// One bucket's rules as last fetched.
#[derive(Debug)]
struct Known {
    rules: Rules,
    /// When they should be fetched again.
    refresh_at: Instant,
}

/// A bucket's rules, shared by every request that reads them.
pub type Rules = Arc<[CorsRule]>;

pub struct BucketRules {
    known: moka::sync::Cache<String, Arc<Known>>,
    /// Buckets being refreshed in the background (one task each).
    refreshing: moka::sync::Cache<String, ()>,
}

impl Default for BucketRules {
    fn default() -> Self {
        Self {
            known: moka::sync::Cache::new(BUCKETS),
            refreshing: moka::sync::Cache::builder()
                .max_capacity(BUCKETS)
                .time_to_live(FIRST_FETCH * 2)
                .build(),
        }
    }
}

impl BucketRules {
    pub fn forget(&self, bucket: &str) {
        self.known.invalidate(bucket);
    }

    /// The bucket's rules if known (refreshed in the background when
    /// due); for a bucket seen for the first time `None`, and its rules
    /// are fetched in the background: a request without `Origin` does not
    /// wait for them.
    pub fn known(&self, state: &Arc<EdgeState>, bucket: &str) -> Option<Rules> {
        let known = self.known.get(bucket);
        if known
            .as_ref()
            .is_none_or(|k| k.refresh_at <= Instant::now())
        {
            self.fetch_in_background(state, bucket);
        }
        known.map(|k| k.rules.clone())
    }

    /// The bucket's rules, waiting (at most [`FIRST_FETCH`]) for a bucket
    /// seen for the first time.
    pub async fn get(&self, state: &Arc<EdgeState>, bucket: &str) -> Rules {
        if let Some(known) = self.known.get(bucket) {
            if known.refresh_at <= Instant::now() {
                self.fetch_in_background(state, bucket);
            }
            return known.rules.clone();
        }
        match tokio::time::timeout(FIRST_FETCH, self.fetch(state, bucket)).await {
            Ok(rules) => rules,
            Err(_) => {
                let none: Rules = Arc::new([]);
                self.remember(bucket, none.clone(), RETRY);
                none
            }
        }
    }

    /// Starts one task (per bucket at a time) that reads the rules.
    fn fetch_in_background(&self, state: &Arc<EdgeState>, bucket: &str) {
        if self.refreshing.contains_key(bucket) {
            return;
        }
        self.refreshing.insert(bucket.to_owned(), ());
        let (state, bucket) = (state.clone(), bucket.to_owned());
        tokio::spawn(async move {
            let _ = tokio::time::timeout(FIRST_FETCH, state.cors.fetch(&state, &bucket)).await;
            state.cors.refreshing.invalidate(&bucket);
        });
    }

    /// Reads the rules from the origin and keeps them. On failure the last
    /// known rules stay (none for a new bucket) and are retried later.
    async fn fetch(&self, state: &EdgeState, bucket: &str) -> Rules {
        match state.feed.bucket_cors(bucket).await {
            Ok(xml) => {
                let rules: Rules = xml
                    .map(|x| cors::parse_config(&x).unwrap_or_default())
                    .unwrap_or_default()
                    .into();
                self.remember(bucket, rules.clone(), TTL);
                rules
            }
            Err(e) => {
                tracing::debug!(bucket, error = %e, "cannot read CORS rules");
                let last = self
                    .known
                    .get(bucket)
                    .map(|k| k.rules.clone())
                    .unwrap_or_else(|| Arc::new([]));
                self.remember(bucket, last.clone(), RETRY);
                last
            }
        }
    }

    fn remember(&self, bucket: &str, rules: Rules, for_: Duration) {
        let known = Known {
            rules,
            refresh_at: Instant::now() + for_,
        };
        self.known.insert(bucket.to_owned(), Arc::new(known));
    }
}

fn apply(resp: &mut Response, values: Vec<(&'static str, String)>) {
    for (name, value) in values {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
}

/// Answers an OPTIONS preflight.
pub async fn preflight(
    state: &Arc<EdgeState>,
    bucket: &str,
    headers: &http::HeaderMap,
) -> Response {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (h("origin"), h("access-control-request-method")) else {
        return EdgeError::new(
            Code::InvalidRequest,
            "Insufficient information. Origin request header needed.",
        )
        .into_response();
    };
    let requested = cors::request_headers(h("access-control-request-headers"));
    let rules = state.cors.get(state, bucket).await;
    match cors::find(&rules, origin, method, &requested) {
        Some(rule) => {
            let mut resp = Response::new(axum::body::Body::empty());
            apply(
                &mut resp,
                rule.preflight_headers(origin, method, &requested),
            );
            resp
        }
        None => EdgeError::new(
            Code::AccessForbidden,
            "CORSResponse: This CORS request is not allowed.",
        )
        .into_response(),
    }
}

/// Adds CORS headers to an actual response when the bucket's rules allow
/// its `Origin`. A bucket with rules answers differently by `Origin`, so
/// its responses say `Vary: Origin` even to requests without one: no cache
/// between us and the browser (nor the browser's own) may then reuse a
/// response made for one origin for another.
pub fn decorate(
    rules: Option<&[CorsRule]>,
    origin: Option<&str>,
    method: &http::Method,
    resp: &mut Response,
) {
    let Some(rules) = rules else {
        // Not known yet (a bucket's first request, without `Origin`):
        // whether responses vary by origin is not known either.
        resp.headers_mut()
            .append(http::header::VARY, HeaderValue::from_static("Origin"));
        return;
    };
    if rules.is_empty() {
        return;
    }
    match origin.and_then(|o| Some((o, cors::find(rules, o, method.as_str(), &[])?))) {
        Some((origin, rule)) => apply(resp, rule.response_headers(origin)),
        None => {
            resp.headers_mut()
                .append(http::header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}
