//! Administration: keys, buckets (grants, quotas, usage), edges and the
//! `gc`/`check` jobs, as operations on an [`AppState`] that return plain
//! serializable values.
//!
//! Two fronts share them: `cairn-origin`'s commands on a local data dir,
//! and the admin API (`api.rs`), which the same commands reach with
//! `--endpoint` and `--token` (`client.rs`). Nothing here speaks S3; the
//! admin API is its own listener with its own tokens.

pub mod api;
pub mod client;
pub mod jobs;

use serde::{Deserialize, Serialize};

use crate::error::{Code, S3Error, S3Result};
use crate::ops::{iso8601, now_ms};
use crate::state::AppState;
use crate::store::meta::{buckets, changes, edges, grants, keys, usage};

/// A key as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyInfo {
    pub access_key: String,
    pub name: String,
    pub role: String,
    pub read_only: bool,
    /// RFC 3339, or `None` for never.
    pub expires: Option<String>,
}

/// A key just made: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewKey {
    pub access_key: String,
    pub secret_key: String,
    pub name: String,
}

/// What a new key may do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    /// An edge key (follows the change feed, reads any object).
    pub edge: bool,
    pub read_only: bool,
    /// Seconds until the key stops working.
    pub expires_in_secs: Option<u64>,
}

/// A change to a key: only the fields given change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyChange {
    pub read_only: Option<bool>,
    /// Seconds from now until the key stops working.
    pub expires_in_secs: Option<u64>,
    /// The key never expires.
    pub no_expiry: bool,
}

/// Permissions to add or take back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrantChange {
    pub key: String,
    pub read: bool,
    pub write: bool,
    pub owner: bool,
    /// Add (`true`) or take back (`false`; all when none is named).
    pub allow: bool,
}

/// A bucket's quotas; `None` lifts one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quota {
    pub max_objects: Option<u64>,
    pub max_bytes: Option<u64>,
}

/// Requests and egress of one operation class, since the server started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassTraffic {
    pub class: String,
    pub requests: u64,
    pub egress_bytes: u64,
}

/// Everything about one bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketInfo {
    pub name: String,
    pub owner: String,
    pub created: String,
    pub versioning: String,
    pub objects: i64,
    /// Bytes of current objects.
    pub bytes: i64,
    /// Noncurrent versions and delete markers, and their bytes.
    pub versions: i64,
    pub version_bytes: i64,
    pub dedup_bytes: i64,
    pub quota: Quota,
    /// The site's index and error documents, if it is one.
    pub website: Option<SiteSpec>,
    pub grants: Vec<GrantInfo>,
    /// Empty from a local data dir (traffic lives in the server).
    pub traffic: Vec<ClassTraffic>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantInfo {
    pub key: String,
    pub read: bool,
    pub write: bool,
    pub owner: bool,
}

/// A bucket's site, in the admin API's terms (routing rules and
/// redirect-all are set with PutBucketWebsite).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteSpec {
    pub index_document: String,
    pub error_document: Option<String>,
}

/// A webhook target's deliveries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyInfo {
    pub target: String,
    pub url: String,
    /// The feed position delivered up to, and how far behind the head.
    pub cursor: i64,
    pub lag: i64,
    /// Since the server started.
    pub delivered: u64,
    pub failures: u64,
    pub lost: u64,
    pub last_error: Option<String>,
}

/// An edge following the change feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EdgeInfo {
    pub name: String,
    pub region: String,
    pub access_key: String,
    /// Changes it has not yet asked past.
    pub lag: i64,
    pub seen_secs_ago: i64,
    /// `following`, `gone` (not seen for a minute) or `revoked`.
    pub state: String,
}

fn to_u(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

fn to_i(v: Option<u64>) -> S3Result<Option<i64>> {
    v.map(|n| i64::try_from(n).map_err(|_| S3Error::msg(Code::InvalidArgument, "number too large")))
        .transpose()
}

/// Unix ms `secs` from now.
fn from_now(secs: u64) -> S3Result<i64> {
    let ms = i64::try_from(secs.saturating_mul(1000))
        .map_err(|_| S3Error::msg(Code::InvalidArgument, "expiry too far in the future"))?;
    Ok(now_ms().saturating_add(ms))
}

pub async fn list_keys(state: &AppState) -> S3Result<Vec<KeyInfo>> {
    let rows = state.meta.read(keys::list).await?;
    Ok(rows
        .into_iter()
        .map(|k| KeyInfo {
            access_key: k.access_key,
            name: k.name,
            role: k.role.as_str().to_owned(),
            read_only: k.read_only,
            expires: k.expires_ms.map(iso8601),
        })
        .collect())
}

pub async fn create_key(state: &AppState, spec: KeySpec) -> S3Result<NewKey> {
    if spec.name.trim().is_empty() || spec.name.len() > 128 {
        return Err(S3Error::msg(
            Code::InvalidArgument,
            "a key needs a name of 1 to 128 characters",
        ));
    }
    let role = if spec.edge {
        keys::Role::Edge
    } else {
        keys::Role::User
    };
    let mut key = crate::generate_key(&spec.name, role);
    key.read_only = spec.read_only;
    key.expires_ms = spec.expires_in_secs.map(from_now).transpose()?;
    let stored = key.clone();
    state
        .meta
        .write(move |c, _| keys::insert(c, &stored, now_ms()))
        .await?;
    Ok(NewKey {
        access_key: key.access_key,
        secret_key: key.secret_key,
        name: key.name,
    })
}

pub async fn change_key(state: &AppState, access_key: &str, change: KeyChange) -> S3Result<()> {
    let expires = match (change.expires_in_secs, change.no_expiry) {
        (Some(s), _) => Some(Some(from_now(s)?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let ak = access_key.to_owned();
    let found = state
        .meta
        .write(move |c, _| keys::update(c, &ak, change.read_only, expires))
        .await?;
    state.keys.forget(access_key);
    if found {
        Ok(())
    } else {
        Err(no_such_key(access_key))
    }
}

pub async fn delete_key(state: &AppState, access_key: &str) -> S3Result<()> {
    let ak = access_key.to_owned();
    let deleted = state.meta.write(move |c, _| keys::delete(c, &ak)).await?;
    state.keys.forget(access_key);
    if deleted {
        Ok(())
    } else {
        Err(no_such_key(access_key))
    }
}

fn no_such_key(access_key: &str) -> S3Error {
    S3Error::msg(
        Code::InvalidAccessKeyId,
        format!("no access key {access_key}"),
    )
}

pub async fn bucket_info(state: &AppState, name: &str) -> S3Result<BucketInfo> {
    let n = name.to_owned();
    let (row, grants, usage, site) = state
        .meta
        .read(move |c| -> S3Result<_> {
            Ok((
                buckets::get(c, &n)?,
                grants::list(c, &n)?,
                usage::get(c, &n)?,
                buckets::website(c, &n)?,
            ))
        })
        .await?;
    let row = row.ok_or_else(|| S3Error::new(Code::NoSuchBucket).with("BucketName", name))?;
    let traffic = state
        .metrics
        .all_traffic()
        .into_iter()
        .find(|(b, _)| b == name)
        .map(|(_, t)| {
            crate::metrics::OpClass::ALL
                .iter()
                .map(|c| ClassTraffic {
                    class: c.as_str().to_owned(),
                    requests: t.requests(*c),
                    egress_bytes: t.egress(*c),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(BucketInfo {
        name: row.name,
        owner: row.owner,
        created: iso8601(row.created_ms),
        versioning: format!("{:?}", row.versioning),
        objects: usage.objects,
        bytes: usage.bytes,
        versions: usage.versions,
        version_bytes: usage.version_bytes,
        dedup_bytes: usage.dedup_bytes,
        quota: Quota {
            max_objects: to_u(row.max_objects),
            max_bytes: to_u(row.max_bytes),
        },
        website: site.map(|w| SiteSpec {
            index_document: w.index_suffix.unwrap_or_default(),
            error_document: w.error_key,
        }),
        grants: grants
            .into_iter()
            .map(|(key, g)| GrantInfo {
                key,
                read: g.read,
                write: g.write,
                owner: g.owner,
            })
            .collect(),
        traffic,
    })
}

pub async fn list_buckets(state: &AppState) -> S3Result<Vec<BucketInfo>> {
    let names = state.meta.read(buckets::all_names).await?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        out.push(bucket_info(state, &name).await?);
    }
    Ok(out)
}

/// Creates a bucket owned by `owner` (an access key), as its CreateBucket
/// would with default settings.
pub async fn create_bucket(state: &AppState, name: &str, owner: &str) -> S3Result<()> {
    let name = cairn_shared::names::BucketName::parse(name)?;
    let (n, o) = (name.as_str().to_owned(), owner.to_owned());
    state
        .meta
        .write(move |c, _| {
            if keys::get(c, &o)?.is_none() {
                return Err(no_such_key(&o));
            }
            Ok(buckets::create(c, &n, &o, "private", false, now_ms())?)
        })
        .await
}

/// Deletes an empty bucket (its uploads in progress are aborted, as
/// DeleteBucket does).
pub async fn delete_bucket(state: &AppState, name: &str) -> S3Result<()> {
    let (n, blobs) = (name.to_owned(), state.blobs.clone());
    state
        .meta
        .write(move |c, after| buckets::delete(c, &blobs, &n, after))
        .await?;
    state.metrics.forget_bucket(name);
    Ok(())
}

pub async fn change_grant(state: &AppState, bucket: &str, g: GrantChange) -> S3Result<GrantInfo> {
    let mut change = grants::Grant {
        read: g.read,
        write: g.write,
        owner: g.owner,
    };
    if change.is_empty() {
        if g.allow {
            return Err(S3Error::msg(
                Code::InvalidArgument,
                "name what to allow: read, write and/or owner",
            ));
        }
        change = grants::Grant {
            read: true,
            write: true,
            owner: true,
        };
    }
    let (b, k, allow) = (bucket.to_owned(), g.key.clone(), g.allow);
    let now = state
        .meta
        .write(move |c, _| grants::change(c, &b, &k, change, allow))
        .await?;
    Ok(GrantInfo {
        key: g.key,
        read: now.read,
        write: now.write,
        owner: now.owner,
    })
}

pub async fn set_quota(state: &AppState, bucket: &str, quota: Quota) -> S3Result<()> {
    let (objects, bytes) = (to_i(quota.max_objects)?, to_i(quota.max_bytes)?);
    let b = bucket.to_owned();
    state
        .meta
        .write(move |c, _| usage::set_quota(c, &b, objects, bytes))
        .await?;
    Ok(())
}

pub async fn list_edges(state: &AppState) -> S3Result<Vec<EdgeInfo>> {
    let (rows, head) = state
        .meta
        .read(|c| -> S3Result<_> { Ok((edges::list(c)?, changes::bounds(c)?.1)) })
        .await?;
    let now = now_ms();
    Ok(rows
        .into_iter()
        .map(|e| {
            let ago = (now - e.seen_ms).max(0) / 1000;
            // Long polls return within 30 s and are recorded within 5 s.
            let state = if e.revoked {
                "revoked"
            } else if ago < 60 {
                "following"
            } else {
                "gone"
            };
            EdgeInfo {
                name: e.name,
                region: e.region,
                access_key: e.access_key,
                lag: (head - e.position).max(0),
                seen_secs_ago: ago,
                state: state.to_owned(),
            }
        })
        .collect())
}

/// Every webhook target: those configured, and (from a data dir, where
/// the server's settings are unknown) those with a saved position.
pub async fn notifications(state: &AppState) -> S3Result<Vec<NotifyInfo>> {
    use std::sync::atomic::Ordering::Relaxed;
    let (cursors, head) = state
        .meta
        .read(|c| -> S3Result<_> {
            Ok((
                crate::store::meta::notify::cursors(c)?,
                changes::bounds(c)?.1,
            ))
        })
        .await?;
    let mut names: Vec<String> = state
        .config
        .webhooks
        .iter()
        .map(|t| t.name.clone())
        .collect();
    for (name, _) in &cursors {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(names
        .into_iter()
        .map(|name| {
            let s = state.notify.of(&name);
            let cursor = cursors
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(head, |(_, c)| *c);
            NotifyInfo {
                lag: (head - cursor).max(0),
                cursor,
                delivered: s.delivered.load(Relaxed),
                failures: s.failures.load(Relaxed),
                lost: s.lost.load(Relaxed),
                last_error: s.last_error.lock().ok().and_then(|e| e.clone()),
                url: state
                    .config
                    .webhooks
                    .iter()
                    .find(|t| t.name == name)
                    .map_or_else(|| "-".to_owned(), |t| t.url.clone()),
                target: name,
            }
        })
        .collect())
}

/// Sets (or with `None` removes) a bucket's website configuration, checked
/// as PutBucketWebsite checks it.
pub async fn set_website(state: &AppState, bucket: &str, spec: Option<SiteSpec>) -> S3Result<()> {
    let site = spec
        .map(|spec| {
            cairn_shared::website::Website::documents(spec.index_document, spec.error_document)
        })
        .transpose()?;
    let b = bucket.to_owned();
    state
        .meta
        .write(move |c, _| {
            if buckets::get(c, &b)?.is_none() {
                return Err(S3Error::new(Code::NoSuchBucket).with("BucketName", b.as_str()));
            }
            Ok(buckets::set_website(c, &b, site.as_ref(), now_ms())?)
        })
        .await
}
