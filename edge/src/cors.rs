//! CORS at the edge, from the origin's own bucket rules: fetched with the
//! edge key (`GET /bucket?cors`), kept for a short while, and dropped when
//! the change feed reports a bucket-level change. Preflights are answered
//! here; actual responses get the headers the matching rule allows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::response::Response;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::serve::error;
use crate::EdgeState;
use cairn_shared::cors::{self, CorsRule};

/// How long rules are trusted without a feed event (a safety net).
const TTL: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct BucketRules {
    rules: Mutex<HashMap<String, (Vec<CorsRule>, Instant)>>,
}

impl BucketRules {
    pub fn forget(&self, bucket: &str) {
        if let Ok(mut r) = self.rules.lock() {
            r.remove(bucket);
        }
    }

    async fn get(&self, state: &EdgeState, bucket: &str) -> Vec<CorsRule> {
        if let Ok(r) = self.rules.lock() {
            if let Some((rules, at)) = r.get(bucket) {
                if at.elapsed() < TTL {
                    return rules.clone();
                }
            }
        }
        // No rules (404) or an unreachable origin both mean "no CORS".
        let fetched = match state.feed.bucket_cors(bucket).await {
            Ok(Some(xml)) => cors::parse_config(&xml).unwrap_or_default(),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::debug!(bucket, error = %e, "cannot read CORS rules");
                return Vec::new();
            }
        };
        if let Ok(mut r) = self.rules.lock() {
            r.insert(bucket.to_owned(), (fetched.clone(), Instant::now()));
        }
        fetched
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
pub async fn preflight(state: &EdgeState, bucket: &str, headers: &http::HeaderMap) -> Response {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (h("origin"), h("access-control-request-method")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Insufficient information. Origin request header needed.",
        );
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
        None => error(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed.",
        ),
    }
}

/// Adds CORS headers to an actual response when the rules allow `origin`.
pub async fn decorate(
    state: &EdgeState,
    bucket: &str,
    origin: &str,
    method: &http::Method,
    resp: &mut Response,
) {
    let rules = state.cors.get(state, bucket).await;
    if let Some(rule) = cors::find(&rules, origin, method.as_str(), &[]) {
        apply(resp, rule.response_headers(origin));
    }
}
