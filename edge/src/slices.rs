//! Ranges of objects that are not cached whole, fetched in fixed slices.
//!
//! A video seek into a 1 GiB file should cost one slice from the origin,
//! not the file. A closed range `bytes=a-b` of an uncached object is served
//! from the slices that cover it (`slice_size` bytes each, aligned); each
//! slice is fetched once (collapsed like any miss), cached under its own key
//! beside the object's, and dropped with the object when it changes. The
//! answer streams slice by slice, so at most one slice is in memory.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::cache::keys::slice_key;
use crate::flight;
use crate::miss::start_or_join;
use crate::upstream::Fetch;
use crate::EdgeState;
use cairn_shared::range;

/// What fetching one slice came to.
enum Slice {
    /// Its entry, its bytes and whether it was already cached.
    Got(Arc<crate::object::Entry>, Bytes, bool),
    /// The slice starts past the object's end (the upstream said 416).
    Unsatisfiable,
    /// The upstream will not serve it as a slice: fetch the whole object.
    Unavailable,
}

/// Makes sure slice `index` is cached, fetching it if needed.
async fn slice(
    state: &Arc<EdgeState>,
    ck: &str,
    bucket: &str,
    key: &str,
    index: u64,
    signed: bool,
) -> Slice {
    let sk = slice_key(ck, index);
    for round in 0..2 {
        if let Some(e) = state.cache.get(&sk) {
            if e.freshness() == crate::object::Freshness::Fresh && e.status == 200 {
                let (st, sk2, e2) = (state.clone(), sk.clone(), e.clone());
                if let Ok(Ok(Some(bytes))) =
                    tokio::task::spawn_blocking(move || st.cache.read_small(&sk2, &e2)).await
                {
                    return Slice::Got(e, bytes, round == 0);
                }
                continue;
            }
        }
        let size = state.config.slice_size;
        // Client numbers: a start no object can reach is unsatisfiable.
        let Some(range) = index
            .checked_mul(size)
            .and_then(|start| Some((start, start.checked_add(size - 1)?)))
        else {
            return Slice::Unsatisfiable;
        };
        // A slice is read once complete: it takes no turn.
        let (mut rx, _) = start_or_join(
            state,
            &sk,
            bucket,
            key,
            Fetch {
                if_none_match: None,
                signed,
                range: Some(range),
                ..Fetch::default()
            },
        );
        let Ok(head) = flight::head(&mut rx).await else {
            return Slice::Unavailable;
        };
        match head.status() {
            200 => {}
            416 => return Slice::Unsatisfiable,
            _ => return Slice::Unavailable,
        }
        // Wait for the whole slice: it is small and cached as one piece.
        loop {
            let done = rx.borrow_and_update().done.clone();
            match done {
                Some(Ok(())) => break,
                Some(Err(_)) => return Slice::Unavailable,
                None => {
                    if rx.changed().await.is_err() {
                        return Slice::Unavailable;
                    }
                }
            }
        }
    }
    Slice::Unavailable
}

/// 416, with the object's size when it is known.
fn unsatisfiable(total: Option<u64>) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
    if let Some(v) = total.and_then(|t| HeaderValue::from_str(&format!("bytes */{t}")).ok()) {
        resp.headers_mut().insert(http::header::CONTENT_RANGE, v);
    }
    resp
}

/// Serves a closed range from slices; `None` to fall back to a whole fetch.
pub async fn serve(
    state: &Arc<EdgeState>,
    parts: &http::request::Parts,
    ck: &str,
    bucket: &str,
    key: &str,
    signed: bool,
) -> Option<Response> {
    let header = parts.headers.get("range")?.to_str().ok()?;
    let range::ByteRange::FromTo(a, b) = range::parse(header)? else {
        return None;
    };
    let size = state.config.slice_size;
    let (first_entry, first, was_cached) =
        match slice(state, ck, bucket, key, a / size, signed).await {
            Slice::Got(e, b, cached) => (e, b, cached),
            // Answered here: a whole fetch would only find the same.
            Slice::Unsatisfiable => return Some(unsatisfiable(None)),
            Slice::Unavailable => return None,
        };
    if first_entry.private && !signed {
        return Some(
            crate::answer::EdgeError::new(
                crate::answer::Code::AccessDenied,
                "This object needs a signed URL.",
            )
            .into_response(),
        );
    }
    let total = first_entry.total?;
    let Some(span) = range::ByteRange::FromTo(a, b).resolve(total) else {
        return Some(unsatisfiable(Some(total)));
    };
    let (first_index, last_index) = (span.start / size, span.end / size);
    let (state2, ck2, bucket2, key2) = (
        state.clone(),
        ck.to_owned(),
        bucket.to_owned(),
        key.to_owned(),
    );
    let body = futures_util::stream::unfold((first_index, Some(first)), move |(index, cached)| {
        let (state, ck, bucket, key) = (state2.clone(), ck2.clone(), bucket2.clone(), key2.clone());
        async move {
            if index > last_index {
                return None;
            }
            let bytes = match cached {
                Some(b) => b,
                None => match slice(&state, &ck, &bucket, &key, index, signed).await {
                    Slice::Got(_, b, _) => b,
                    Slice::Unsatisfiable | Slice::Unavailable => {
                        return Some((
                            Err(std::io::Error::other("slice unavailable")),
                            (last_index + 1, None),
                        ))
                    }
                },
            };
            let base = index * size;
            let from = span.start.saturating_sub(base) as usize;
            let to = ((span.end + 1).min(base + bytes.len() as u64) - base) as usize;
            Some((
                Ok::<_, std::io::Error>(bytes.slice(from.min(to)..to)),
                (index + 1, None),
            ))
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    *resp.headers_mut() = first_entry.replay().headers.clone();
    let h = resp.headers_mut();
    h.remove(http::header::CONTENT_RANGE);
    h.insert(
        http::header::CONTENT_RANGE,
        HeaderValue::from_str(&span.content_range(total)).ok()?,
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(span.len()));
    h.insert(
        http::header::ACCEPT_RANGES,
        HeaderValue::from_static("bytes"),
    );
    h.insert(
        "x-cache",
        HeaderValue::from_static(if was_cached { "HIT" } else { "MISS" }),
    );
    Some(resp)
}
