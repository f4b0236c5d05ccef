//! Lifecycle over HTTP and in the background: Put/Get/DeleteBucket-
//! LifecycleConfiguration, the `x-amz-expiration` header, and [`apply`],
//! the worker that carries the rules out.
//!
//! The worker removes nothing a client could not: expired current versions
//! are deleted as a DELETE without a version id would (a delete marker in
//! a versioned bucket), noncurrent versions and lone delete markers are
//! removed by id through `versions::delete` (so Object Lock is checked and
//! a locked version stays), and old multipart uploads are aborted. Every
//! removal of a current version reaches edges through the change feed.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::{empty, http_date, now_ms, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::lifecycle::{self, Rule};
use crate::state::AppState;
use crate::store::error::StoreError;
use crate::store::meta::buckets::{self, BucketRow, Setting};
use crate::store::meta::objects::{self, ObjectRow};
use crate::store::meta::uploads;
use crate::store::meta::versions::{self, Version};

/// Rows read per step of the worker's walk.
const BATCH: usize = 256;

fn rules_of(json: &str) -> Vec<Rule> {
    serde_json::from_str(json).unwrap_or_default()
}

fn day_ms(state: &AppState) -> i64 {
    i64::try_from(state.config.lifecycle_day.as_millis()).unwrap_or(i64::MAX)
}

pub async fn put(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = super::settings::body(ctx, raw).await?;
    let rules = lifecycle::parse(&bytes)?;
    let json = serde_json::to_string(&rules).map_err(S3Error::internal)?;
    super::settings::set(ctx, bucket, Setting::Lifecycle, Some(json)).await?;
    Ok(empty(StatusCode::OK))
}

pub async fn get(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let rules = row.lifecycle.as_deref().map(rules_of).ok_or_else(|| {
        S3Error::new(Code::NoSuchLifecycleConfiguration).with("BucketName", bucket)
    })?;
    Ok(xml_response(lifecycle::to_xml(&rules)))
}

pub async fn delete(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    super::settings::set(ctx, bucket, Setting::Lifecycle, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `x-amz-expiration: expiry-date="…", rule-id="…"` for a current version
/// a rule will expire.
pub fn expiration_header(h: &mut HeaderMap, state: &AppState, bucket: &BucketRow, row: &ObjectRow) {
    let Some(json) = bucket.lifecycle.as_deref() else {
        return;
    };
    let rules = rules_of(json);
    let tags = super::tagging::decode(row.tags.as_deref());
    let Some((at, id)) = lifecycle::expiry(
        &rules,
        &row.key,
        row.size,
        &tags,
        row.modified_ms,
        day_ms(state),
    ) else {
        return;
    };
    let value = format!("expiry-date=\"{}\", rule-id=\"{}\"", http_date(at), id);
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert("x-amz-expiration", v);
    }
}

/// Applies every bucket's rules once; returns how many versions, markers
/// and uploads it removed.
pub async fn apply(state: &AppState) -> S3Result<usize> {
    let buckets = state.meta.read(buckets::with_lifecycle).await?;
    let day = day_ms(state);
    let mut removed = 0;
    for (bucket, json) in buckets {
        for rule in rules_of(&json).into_iter().filter(|r| r.enabled) {
            removed += expire_current(state, &bucket, &rule, day).await?;
            if rule.noncurrent_days.is_some() || rule.expired_object_delete_marker {
                removed += expire_noncurrent(state, &bucket, &rule, day).await?;
            }
            if let Some(days) = rule.abort_multipart_days {
                removed += abort_uploads(state, &bucket, &rule, days, day).await?;
            }
        }
    }
    Ok(removed)
}

/// Current versions past their expiry are deleted as a plain DELETE is.
async fn expire_current(state: &AppState, bucket: &str, rule: &Rule, day: i64) -> S3Result<usize> {
    if rule.expiration_days.is_none() && rule.expiration_date_ms.is_none() {
        return Ok(0);
    }
    let mut after: Vec<u8> = Vec::new();
    let mut removed = 0;
    loop {
        let (b, p, a) = (bucket.to_owned(), rule.filter.prefix.clone(), after.clone());
        let rows = state
            .meta
            .read(move |c| objects::scan_rows(c, &b, &p, &a, BATCH))
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.key.as_bytes().to_vec();
        let now = now_ms();
        let due: Vec<ObjectRow> = rows
            .into_iter()
            .filter(|r| is_due(rule, r, now, day))
            .collect();
        for row in due {
            let (b, blobs, rule) = (bucket.to_owned(), state.blobs.clone(), rule.clone());
            let done = state
                .meta
                .write(move |c, after| -> S3Result<_> {
                    // Only the version that was due: a newer write is not.
                    match objects::get(c, &b, &row.key)? {
                        Some(now_row)
                            if now_row.version() == row.version()
                                && is_due(&rule, &now_row, now_ms(), day) =>
                        {
                            objects::delete(c, &blobs, &b, &row.key, after)?;
                            Ok(true)
                        }
                        _ => Ok(false),
                    }
                })
                .await?;
            removed += usize::from(done);
        }
    }
    Ok(removed)
}

fn is_due(rule: &Rule, row: &ObjectRow, now: i64, day: i64) -> bool {
    let tags = super::tagging::decode(row.tags.as_deref());
    rule.covers(&row.key, row.size, &tags)
        && rule
            .expiry_ms(row.modified_ms, day)
            .is_some_and(|t| t <= now)
}

/// Noncurrent versions past NoncurrentDays, and delete markers with
/// nothing left behind them, are removed by id (Object Lock permitting).
async fn expire_noncurrent(
    state: &AppState,
    bucket: &str,
    rule: &Rule,
    day: i64,
) -> S3Result<usize> {
    let mut after: (Vec<u8>, i64) = (Vec::new(), 0);
    let mut removed = 0;
    loop {
        let (b, a, r) = (bucket.to_owned(), after.clone(), rule.clone());
        let (next, due) = state
            .meta
            .read(move |c| -> S3Result<_> {
                let rows = versions::scan(c, &b, &r.filter.prefix, (&a.0, a.1), BATCH)?;
                let next = rows
                    .last()
                    .map(|(seq, v)| (v.key().as_bytes().to_vec(), *seq));
                let mut due = Vec::new();
                for (seq, version) in rows {
                    if is_due_noncurrent(c, &b, &r, seq, &version, day)? {
                        due.push((seq, version));
                    }
                }
                Ok((next, due))
            })
            .await?;
        let Some(next) = next else { break };
        after = next;
        for (seq, version) in due {
            let (b, blobs, rule) = (bucket.to_owned(), state.blobs.clone(), rule.clone());
            let done = state
                .meta
                .write(move |c, after| -> S3Result<_> {
                    // Still due now, inside the write.
                    if !is_due_noncurrent(c, &b, &rule, seq, &version, day)? {
                        return Ok(false);
                    }
                    let vid = version.version_id();
                    match versions::delete(c, &blobs, &b, version.key(), vid, false, after) {
                        Ok(_) => Ok(true),
                        // A locked version stays; the next pass looks again.
                        Err(StoreError::Locked(_)) => Ok(false),
                        Err(e) => Err(e.into()),
                    }
                })
                .await?;
            removed += usize::from(done);
        }
    }
    Ok(removed)
}

fn is_due_noncurrent(
    c: &rusqlite::Connection,
    bucket: &str,
    rule: &Rule,
    seq: i64,
    version: &Version,
    day: i64,
) -> S3Result<bool> {
    let key = version.key();
    Ok(match version {
        Version::Object(row) => {
            let tags = super::tagging::decode(row.tags.as_deref());
            match rule.noncurrent_days {
                Some(d) if rule.covers(key, row.size, &tags) => {
                    versions::superseded_ms(c, bucket, key, seq)?
                        .is_some_and(|since| lifecycle::after_days(since, d, day) <= now_ms())
                }
                _ => false,
            }
        }
        Version::Marker(_) => {
            rule.expired_object_delete_marker
                && rule.filter.tags.is_empty()
                && versions::lone_marker(c, bucket, key)?.is_some()
        }
    })
}

/// Multipart uploads started more than `days` ago under the rule's prefix
/// are aborted.
async fn abort_uploads(
    state: &AppState,
    bucket: &str,
    rule: &Rule,
    days: u32,
    day: i64,
) -> S3Result<usize> {
    let (b, blobs, prefix) = (
        bucket.to_owned(),
        state.blobs.clone(),
        rule.filter.prefix.clone(),
    );
    state
        .meta
        .write(move |c, after| {
            let mut aborted = 0;
            for id in uploads::in_bucket(c, &b)? {
                let Some(u) = uploads::get(c, &id)? else {
                    continue;
                };
                if u.key.starts_with(&prefix)
                    && lifecycle::after_days(u.created_ms, days, day) <= now_ms()
                {
                    uploads::finish(c, &blobs, &id, &[], after)?;
                    aborted += 1;
                }
            }
            Ok(aborted)
        })
        .await
}
