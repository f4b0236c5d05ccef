//! `GET /_cairn/feed?after=SEQ&wait=SECONDS`: the change feed edges follow.
//!
//! A long poll: answers at once when changes after `after` exist, else
//! waits (woken by the metadata writer's commits) up to `wait` seconds.
//! `after=now` answers at once with the current end, where a new edge starts.
//! When `after` is older than what the feed still holds, the answer says
//! `reset`, and the edge revalidates everything it caches.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use serde_json::json;

use super::Ctx;
use crate::auth::Principal;
use crate::error::{Code, S3Error, S3Result};
use crate::metrics::EdgeSeen;
use crate::store::meta::changes;

const MAX_WAIT: u64 = 30;
const PAGE: usize = 1000;
/// Objects at most this large travel with their change event to edges
/// that ask (`inline=1`), so an overwrite reaches them with the event
/// instead of one round trip later.
const INLINE_MAX: u64 = 1 << 20;
/// The most object bytes one feed page carries.
const INLINE_BUDGET: u64 = 4 << 20;
/// The most objects one feed page carries (each costs the origin a GET).
const INLINE_OBJECTS: usize = 64;
/// How often a waiting poll checks that its key still exists.
const RECHECK: Duration = Duration::from_secs(1);

pub async fn follow(ctx: &Ctx) -> S3Result<Response> {
    if !ctx.verified.principal.is_edge() {
        return Err(S3Error::msg(
            Code::AccessDenied,
            "The change feed needs an edge key (cairn-origin key create NAME --edge).",
        ));
    }
    // `after=now`: a new follower starts at the feed's current end.
    if ctx.query("after") == Some("now") {
        let (_, newest) = ctx.state.meta.read(changes::bounds).await?;
        seen(ctx, newest);
        let keys = ctx.state.meta.read(|c| keys_json(c, None)).await?;
        let mut resp = Response::new(Body::from(
            json!({"reset": false, "last": newest, "changes": [], "url_keys": keys}).to_string(),
        ));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        return Ok(resp);
    }
    let after: i64 = ctx.query("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    seen(ctx, after);
    let wait = Duration::from_secs(
        ctx.query("wait")
            .and_then(|w| w.parse().ok())
            .unwrap_or(20)
            .min(MAX_WAIT),
    );
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Register for the wake-up before reading, so a commit between the
        // read and the wait is not missed.
        let woken = ctx.state.meta.committed.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let ak = ctx
            .verified
            .principal
            .access_key()
            .unwrap_or_default()
            .to_owned();
        let (page, (oldest, newest), key, tag) = ctx
            .state
            .meta
            .read(move |c| -> S3Result<_> {
                Ok((
                    changes::after(c, after, PAGE)?,
                    changes::bounds(c)?,
                    crate::store::meta::keys::get(c, &ak)?,
                    super::url_keys::tag(c)?,
                ))
            })
            .await?;
        // A key deleted while its edge waits here (`cairn-origin key
        // delete` runs in another process, which wakes no one) ends the
        // poll: the edge learns of its revocation within `RECHECK`.
        if key.is_none() {
            return Err(S3Error::new(Code::InvalidAccessKeyId));
        }
        // `after` fell off the retained window: changes were lost to it.
        let reset = after > 0 && oldest > after + 1;
        // URL keys the edge does not hold yet (a rotation, a retirement)
        // reach it within `RECHECK`, with or without changes.
        let held = ctx.query("url-keys");
        let keys_changed = held != Some(tag.as_str());
        if !page.is_empty() || reset || keys_changed || tokio::time::Instant::now() >= deadline {
            let last =
                page.last()
                    .map(|c| c.seq)
                    .unwrap_or(if reset { newest } else { after.max(0) });
            let mut changes = Vec::with_capacity(page.len());
            let (mut budget, mut objects) = if ctx.query("inline") == Some("1") {
                (INLINE_BUDGET, INLINE_OBJECTS)
            } else {
                (0, 0)
            };
            for c in &page {
                let mut change = json!({"seq": c.seq, "bucket": c.bucket, "key": c.key, "etag": c.etag, "version": c.version, "size": c.size});
                let small = c
                    .size
                    .and_then(|s| u64::try_from(s).ok())
                    .filter(|s| *s <= INLINE_MAX && *s <= budget && objects > 0);
                if let (Some(size), Some(key), Some(_)) = (small, &c.key, &c.etag) {
                    if let Some(object) = inline_object(ctx, &c.bucket, key).await {
                        budget -= size;
                        objects -= 1;
                        change["object"] = object;
                    }
                }
                changes.push(change);
            }
            // The keys themselves only when the edge holds another set.
            let url_keys = if keys_changed {
                ctx.state
                    .meta
                    .read(move |c| keys_json(c, Some(tag)))
                    .await?
            } else {
                json!({ "tag": tag })
            };
            let body = json!({
                "reset": reset,
                "last": last,
                "changes": changes,
                "url_keys": url_keys,
            });
            let mut resp = Response::new(Body::from(body.to_string()));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            return Ok(resp);
        }
        let wake = deadline.min(tokio::time::Instant::now() + RECHECK);
        let _ = tokio::time::timeout_at(wake, woken).await;
    }
}

/// `GET /_cairn/sign?bucket=B&key=K[&expires-in=3600][&edge-key=AK]`: the
/// bucket's owner asks for a signed edge URL (path and query; the caller
/// puts any edge's address in front). Signed with the deployment's URL
/// key, which every edge verifies without asking the origin; with
/// `edge-key`, the older form only edges holding that key accept.
pub async fn sign_url(ctx: &Ctx) -> S3Result<Response> {
    let need = |n: &'static str| {
        ctx.query(n).filter(|v| !v.is_empty()).ok_or_else(|| {
            S3Error::msg(Code::InvalidArgument, format!("{n} is required")).with("ArgumentName", n)
        })
    };
    let (bucket, key) = (need("bucket")?, need("key")?);
    ctx.owned_bucket(bucket).await?;
    let expires_in: u64 = ctx
        .query("expires-in")
        .map(|v| {
            v.parse()
                .map_err(|_| S3Error::msg(Code::InvalidArgument, "expires-in must be seconds"))
        })
        .transpose()?
        .unwrap_or(3600);
    if expires_in > 7 * 86_400 {
        return Err(S3Error::msg(
            Code::InvalidArgument,
            "expires-in must be at most 604800 seconds",
        ));
    }
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(S3Error::internal)?
        .as_secs()
        + expires_in;
    let path = match ctx.query("edge-key").filter(|v| !v.is_empty()) {
        // The older form: only edges holding that edge key accept it.
        Some(edge_key) => {
            let ak = edge_key.to_owned();
            let edge = ctx
                .state
                .meta
                .read(move |c| crate::store::meta::keys::get(c, &ak))
                .await?;
            let edge = edge
                .filter(|k| k.role == crate::store::meta::keys::Role::Edge)
                .ok_or_else(|| {
                    S3Error::msg(Code::InvalidArgument, "edge-key is not an edge key")
                })?;
            cairn_shared::signed_url::path(&edge.secret_key, bucket, key, expires)
        }
        None => super::url_keys::signer(&ctx.state)
            .await?
            .path(bucket, key, expires),
    };
    let path = path.ok_or_else(|| {
        S3Error::msg(
            Code::InvalidArgument,
            "This key cannot be served from a URL.",
        )
    })?;
    let mut resp = Response::new(Body::from(
        json!({"path": path, "expires": expires}).to_string(),
    ));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The current version of `bucket`/`key` as an anonymous GET gets it
/// (status 200 only: what the public may read, so a private object is
/// never pushed to edges), as `{"headers": [[name, value]...], "body":
/// base64}` for the edge to cache as if it had fetched it.
async fn inline_object(ctx: &Ctx, bucket: &str, key: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let path = cairn_shared::target::object_path(bucket, key)?;
    let (parts, ()) = http::Request::get(path).body(()).ok()?.into_parts();
    let anonymous = Ctx {
        state: ctx.state.clone(),
        verified: crate::auth::Verified {
            principal: Principal::Anonymous,
            payload: crate::auth::Payload::Unsigned,
        },
        parts,
        pairs: Vec::new(),
        action: "s3:GetObject",
        object_key: Some(key.to_owned()),
        bucket_found: Default::default(),
    };
    let resp = super::get::get_object(&anonymous, bucket, key, super::get::Read::current())
        .await
        .ok()?;
    if resp.status() != http::StatusCode::OK {
        return None;
    }
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let limit = usize::try_from(INLINE_MAX).ok()?;
    let body = axum::body::to_bytes(resp.into_body(), limit).await.ok()?;
    Some(json!({
        "headers": headers,
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
    }))
}

/// The public URL keys as a feed page carries them:
/// `{"tag": "...", "keys": {"k1": "base64url", ...}}` (`tag` when the
/// caller read it already).
fn keys_json(conn: &rusqlite::Connection, tag: Option<String>) -> S3Result<serde_json::Value> {
    let tag = match tag {
        Some(t) => t,
        None => super::url_keys::tag(conn)?,
    };
    let keys: serde_json::Map<String, serde_json::Value> = super::url_keys::public_keys(conn)?
        .into_iter()
        .map(|(id, public)| (id, public.into()))
        .collect();
    Ok(json!({"tag": tag, "keys": keys}))
}

/// Notes the follower for `/metrics` and `cairn-origin edges`.
fn seen(ctx: &Ctx, position: i64) {
    if let Principal::Key {
        access_key, name, ..
    } = &ctx.verified.principal
    {
        let region = ctx.query("region").unwrap_or("unknown");
        ctx.state.metrics.edge_polled(
            access_key,
            EdgeSeen {
                name: name.clone(),
                region: region.chars().take(64).collect(),
                position,
                seen: std::time::SystemTime::now(),
            },
        );
    }
}
