//! DeleteObject and DeleteObjects (multi-delete, quiet mode).
//!
//! Deleting a key that does not exist succeeds, as in S3. All keys of one
//! DeleteObjects request are removed in a single transaction. A delete may
//! be conditional (`If-Match`, `x-amz-if-match-last-modified-time`,
//! `x-amz-if-match-size`, or the same per key in DeleteObjects): the
//! condition is checked against the version it would remove, inside the
//! write, and a missing version still succeeds.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use md5::{Digest, Md5};
use serde::Deserialize;

use super::body::BodyReader;
use super::put::content_md5;
use super::{empty, xml_response, Ctx};
use crate::checksum;
use crate::error::{Code, S3Error, S3Result};
use crate::http::endpoint::VersionId;
use crate::store::meta::objects::{self, Deleted};
use crate::store::meta::versions;
use crate::xml::{self, XmlWriter};
use cairn_shared::names::ObjectKey;

/// S3 accepts at most 1000 keys per DeleteObjects request.
const MAX_KEYS: usize = 1000;
/// 1000 keys of 1024 bytes plus markup.
const MAX_BODY: u64 = 2 * 1024 * 1024;

pub async fn delete_object(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let key = ObjectKey::parse(key)?;
    let bypass = bypass_governance(ctx);
    let h = |n: &str| ctx.header(n).map(str::trim);
    let condition = Condition {
        etag: h("if-match").map(str::to_owned),
        modified_s: match h("x-amz-if-match-last-modified-time") {
            None => None,
            Some(t) => Some(http_seconds(t)?),
        },
        size: match h("x-amz-if-match-size") {
            None => None,
            Some(n) => Some(n.parse().map_err(|_| {
                S3Error::msg(
                    Code::InvalidArgument,
                    "x-amz-if-match-size must be a number",
                )
            })?),
        },
    };
    let (b, blobs) = (bucket.to_owned(), ctx.state.blobs.clone());
    let deleted = ctx
        .state
        .meta
        .write(move |c, after| {
            let target = (key.as_str(), version.as_ref(), &condition);
            delete_one(c, &blobs, &b, target, bypass, after)
        })
        .await?;
    let mut resp = empty(StatusCode::NO_CONTENT);
    super::put::version_header(resp.headers_mut(), deleted.version_id.as_deref());
    if deleted.marker {
        resp.headers_mut().insert(
            "x-amz-delete-marker",
            http::HeaderValue::from_static("true"),
        );
    }
    Ok(resp)
}

/// `x-amz-bypass-governance-retention: true`: the owner may remove
/// versions under a GOVERNANCE retention.
pub fn bypass_governance(ctx: &Ctx) -> bool {
    ctx.header("x-amz-bypass-governance-retention")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// What a conditional delete requires of the version it removes.
#[derive(Debug, Clone, Default)]
struct Condition {
    /// An ETag list or `*`.
    etag: Option<String>,
    /// Last-Modified, in whole seconds.
    modified_s: Option<i64>,
    size: Option<u64>,
}

impl Condition {
    /// Whether the delete is conditional at all (else nothing is read).
    fn is_set(&self) -> bool {
        self.etag.is_some() || self.modified_s.is_some() || self.size.is_some()
    }

    fn check(&self, row: &objects::ObjectRow) -> S3Result<()> {
        let etag_ok = self
            .etag
            .as_deref()
            .is_none_or(|want| cairn_shared::etag::list_matches(want, &row.etag));
        let time_ok = self.modified_s.is_none_or(|s| s == row.modified_ms / 1000);
        let size_ok = self.size.is_none_or(|n| n == row.size);
        if etag_ok && time_ok && size_ok {
            Ok(())
        } else {
            Err(S3Error::new(Code::PreconditionFailed))
        }
    }
}

/// An HTTP date (or ISO 8601 time), in seconds since the epoch.
fn http_seconds(text: &str) -> S3Result<i64> {
    let parsed = httpdate::parse_http_date(text).ok().and_then(|t| {
        t.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs() as i64)
    });
    parsed
        .or_else(|| super::parse_iso8601(text).map(|ms| ms.div_euclid(1000)))
        .ok_or_else(|| S3Error::msg(Code::InvalidArgument, "Invalid last modified time"))
}

/// Deletes one key, or one version of it when the target names one, if
/// the target's condition holds for what would be removed.
fn delete_one(
    c: &rusqlite::Connection,
    blobs: &crate::store::blob::BlobStore,
    bucket: &str,
    (key, version, condition): (&str, Option<&Option<String>>, &Condition),
    bypass: bool,
    after: &mut Vec<crate::store::meta::AfterCommit>,
) -> S3Result<Deleted> {
    if condition.is_set() {
        let target = match version {
            None => objects::get(c, bucket, key)?,
            Some(v) => match versions::find(c, bucket, key, v.as_deref())? {
                Some(versions::Version::Object(row)) => Some(row),
                _ => None,
            },
        };
        if let Some(row) = &target {
            condition.check(row)?;
        }
    }
    Ok(match version {
        None => objects::delete(c, blobs, bucket, key, after)?,
        Some(v) => versions::delete(c, blobs, bucket, key, v.as_deref(), bypass, after)?,
    })
}

#[derive(Deserialize)]
struct Delete {
    #[serde(rename = "Object", default)]
    objects: Vec<ObjectId>,
    #[serde(rename = "Quiet", default)]
    quiet: bool,
}

#[derive(Deserialize)]
struct ObjectId {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "VersionId")]
    version_id: Option<String>,
    #[serde(rename = "ETag")]
    etag: Option<String>,
    #[serde(rename = "LastModifiedTime")]
    last_modified: Option<String>,
    #[serde(rename = "Size")]
    size: Option<u64>,
}

/// Checks Content-MD5 or a flexible checksum over a small body. Current
/// SDKs send CRC32 instead of Content-MD5; either is accepted.
fn check_small_body(ctx: &Ctx, body: &[u8], trailers: &[(String, String)]) -> S3Result<()> {
    if let Some(md5) = content_md5(&ctx.parts.headers)? {
        if md5 != <[u8; 16]>::from(Md5::digest(body)) {
            return Err(S3Error::new(Code::BadDigest));
        }
    }
    let sent = checksum::expected(&ctx.parts.headers)?;
    if let Some(algo) = sent.algo {
        let value = match sent.value {
            Some(v) => Some(v),
            None => trailers
                .iter()
                .find(|(k, _)| k == algo.header())
                .map(|(_, v)| algo.check_value(v))
                .transpose()?,
        };
        if let Some(value) = value {
            let mut h = algo.hasher();
            h.update(body);
            checksum::verify(&value, &h.finish())?;
        }
    }
    Ok(())
}

pub async fn delete_objects(ctx: &Ctx, bucket: &str, body: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let (raw, trailers) =
        BodyReader::new(body, &ctx.parts.headers, &ctx.verified.payload, MAX_BODY)?
            .collect()
            .await?;
    check_small_body(ctx, &raw, &trailers)?;
    let req: Delete = xml::parse(&raw)?;
    if req.objects.is_empty() || req.objects.len() > MAX_KEYS {
        return Err(S3Error::new(Code::MalformedXML));
    }
    let mut keys: Vec<(String, Option<Option<String>>, Condition)> = Vec::new();
    for o in req.objects {
        let v = o.version_id.map(|v| (v != "null").then_some(v));
        let condition = Condition {
            etag: o.etag,
            modified_s: o.last_modified.as_deref().map(http_seconds).transpose()?,
            size: o.size,
        };
        keys.push((o.key, v, condition));
    }
    let (b, blobs, ks) = (bucket.to_owned(), ctx.state.blobs.clone(), keys.clone());
    let bypass = bypass_governance(ctx);
    let results: Vec<S3Result<Deleted>> = ctx
        .state
        .meta
        .write(move |c, after| {
            let mut results: Vec<S3Result<Deleted>> = Vec::with_capacity(ks.len());
            for (k, v, condition) in &ks {
                match ObjectKey::parse(k) {
                    // A storage failure fails (and rolls back) the whole
                    // request; a bad key is only that key's error. So are
                    // a failed condition and a version Object Lock keeps:
                    // both are checked before any change.
                    Ok(key) => {
                        let target = (key.as_str(), v.as_ref(), condition);
                        match delete_one(c, &blobs, &b, target, bypass, after) {
                            Ok(d) => results.push(Ok(d)),
                            Err(e)
                                if matches!(
                                    e.code,
                                    Code::AccessDenied | Code::PreconditionFailed
                                ) =>
                            {
                                results.push(Err(e))
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => results.push(Err(S3Error::from(e))),
                }
            }
            Ok(results)
        })
        .await?;
    let mut w = XmlWriter::new();
    w.root("DeleteResult");
    for ((key, version, _), result) in keys.iter().zip(results) {
        match result {
            Ok(_) if req.quiet => {}
            Ok(d) => {
                w.open("Deleted");
                w.elem("Key", key);
                if version.is_some() {
                    w.elem("VersionId", d.version_id.as_deref().unwrap_or("null"));
                }
                if d.marker {
                    w.elem("DeleteMarker", "true");
                    w.elem(
                        "DeleteMarkerVersionId",
                        d.version_id.as_deref().unwrap_or("null"),
                    );
                }
                w.close("Deleted");
            }
            Err(e) => {
                w.open("Error");
                w.elem("Key", key);
                if let Some(v) = version {
                    w.elem("VersionId", v.as_deref().unwrap_or("null"));
                }
                w.elem("Code", e.code.as_str());
                w.elem("Message", &e.message);
                w.close("Error");
            }
        }
    }
    w.close("DeleteResult");
    Ok(xml_response(w.finish()))
}
