//! `POST /_cairn/purge?bucket=B[&key=K | &prefix=P]`: drop cached copies
//! now. Authenticated with `Authorization: Bearer <purge token>`, a
//! credential of its own (`purge_token`): the edge key's secret reads every
//! private object on the origin, and whoever may purge must not thereby
//! be able to read. Without a token configured, purging is off.

use axum::body::Body;
use axum::response::{IntoResponse, Response};

use crate::answer::{Code, EdgeError};
use crate::metrics::add;
use crate::EdgeState;

pub fn handle(state: &EdgeState, parts: &http::request::Parts) -> Response {
    let token = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(expected) = state.config.purge_token.as_deref() else {
        return EdgeError::new(
            Code::AccessDenied,
            "Purging is off on this edge (no purge_token is set).",
        )
        .into_response();
    };
    if !token.is_some_and(|t| same(t.as_bytes(), expected.as_bytes())) {
        return EdgeError::new(
            Code::AccessDenied,
            "Purging needs the purge token: Authorization: Bearer <token>.",
        )
        .into_response();
    }
    let pairs = crate::answer::query_pairs(parts.uri.query().unwrap_or_default());
    let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let Some(bucket) = get("bucket").filter(|b| !b.is_empty()) else {
        return EdgeError::new(Code::InvalidArgument, "bucket is required").into_response();
    };
    let purged = match (get("key"), get("prefix")) {
        (Some(k), _) => usize::from(state.cache.remove_object(&format!("{bucket}/{k}"))),
        (None, p) => state
            .cache
            .remove_prefix(&format!("{bucket}/{}", p.unwrap_or(""))),
    };
    add(&state.metrics.purges, purged as u64);
    let mut resp = Response::new(Body::from(format!("{{\"purged\":{purged}}}")));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Compares in time that depends only on the lengths, so the token cannot
/// be guessed byte by byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
