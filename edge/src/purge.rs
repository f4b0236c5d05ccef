//! `POST /_cairn/purge?bucket=B[&key=K | &prefix=P]`: drop cached copies
//! now. Authenticated with `Authorization: Bearer <edge secret key>`.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

use crate::metrics::add;
use crate::serve::error;
use crate::EdgeState;

pub fn handle(state: &EdgeState, parts: &http::request::Parts) -> Response {
    let token = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let expected = state.config.secret_key.as_bytes();
    let ok = token.is_some_and(|t| {
        t.len() == expected.len() && t.bytes().zip(expected).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
    });
    if !ok {
        return error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Purging needs the edge key: Authorization: Bearer <secret>.",
        );
    }
    let pairs = crate::serve::query_pairs(parts.uri.query().unwrap_or_default());
    let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let Some(bucket) = get("bucket").filter(|b| !b.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "bucket is required",
        );
    };
    let keys = match (get("key"), get("prefix")) {
        (Some(k), _) => vec![format!("{bucket}/{k}")],
        (None, p) => state
            .cache
            .keys_with_prefix(&format!("{bucket}/{}", p.unwrap_or(""))),
    };
    let purged = keys.iter().filter(|k| state.cache.remove_object(k)).count();
    add(&state.metrics.purges, purged as u64);
    let mut resp = Response::new(Body::from(format!("{{\"purged\":{purged}}}")));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}
