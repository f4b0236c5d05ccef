//! CopyObject. With content addressing a copy writes no bytes: the new row
//! takes one more reference on the source's blob. Encryption is the
//! exception: a copy from or to an encrypted object reads the source's
//! plaintext and writes it again, sealed under the destination's key.

use axum::response::Response;
use http::HeaderMap;

use super::put::{stored_headers, WriteConditions};
use super::{iso8601, now_ms, system_time, xml_response, Ctx};
use crate::checksum::ChecksumAlgo;
use crate::error::{Code, S3Error, S3Result};
use crate::sse;
use crate::store::blob::BlobWriter;
use crate::store::meta::{buckets, objects, versions};
use crate::xml::XmlWriter;
use cairn_shared::conditional::{Outcome, Preconditions};
use cairn_shared::names::ObjectKey;

/// What `x-amz-copy-source` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub bucket: String,
    pub key: String,
    /// `Some(None)` names the `null` version; `None` the current one.
    pub version: Option<Option<String>>,
}

impl Source {
    /// Reads the source version's row and, for a multipart one, its parts.
    /// A delete marker or a missing version is NoSuchKey / NoSuchVersion.
    pub fn read(
        &self,
        c: &rusqlite::Connection,
    ) -> S3Result<Option<(objects::ObjectRow, Vec<objects::PartRef>)>> {
        let row = match &self.version {
            None => objects::get(c, &self.bucket, &self.key)?,
            Some(v) => match versions::find(c, &self.bucket, &self.key, v.as_deref())? {
                Some(versions::Version::Object(r)) => Some(r),
                Some(versions::Version::Marker(_)) => {
                    return Err(S3Error::new(Code::InvalidRequest).with("Key", self.key.as_str()))
                }
                None => {
                    return Err(S3Error::new(Code::NoSuchVersion)
                        .with("Key", self.key.as_str())
                        .with("VersionId", v.as_deref().unwrap_or("null")))
                }
            },
        };
        let Some(row) = row else { return Ok(None) };
        let parts = if row.parts > 0 {
            objects::parts(c, &self.bucket, &self.key, row.version_id.as_deref())?
        } else {
            Vec::new()
        };
        Ok(Some((row, parts)))
    }
}

/// Splits `x-amz-copy-source` (`[/]bucket/key[?versionId=...]`, URL-encoded).
pub fn parse_source(value: &str) -> S3Result<Source> {
    let (value, version) = match value.split_once("?versionId=") {
        Some((v, id)) => (v, Some((id != "null").then(|| id.to_owned()))),
        None => (value, None),
    };
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| {
            S3Error::msg(Code::InvalidArgument, "Copy Source must be UTF-8.")
                .with("ArgumentName", "x-amz-copy-source")
        })?;
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    match trimmed.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok(Source {
            bucket: b.to_owned(),
            key: k.to_owned(),
            version,
        }),
        _ => Err(S3Error::msg(
            Code::InvalidArgument,
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
        .with("ArgumentName", "x-amz-copy-source")),
    }
}

fn source_preconditions(h: &HeaderMap) -> Preconditions<'_> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    Preconditions {
        if_match: get("x-amz-copy-source-if-match"),
        if_none_match: get("x-amz-copy-source-if-none-match"),
        if_modified_since: get("x-amz-copy-source-if-modified-since"),
        if_unmodified_since: get("x-amz-copy-source-if-unmodified-since"),
    }
}

/// `x-amz-copy-source-if-*`: for copies S3 answers every failed
/// condition with 412.
pub fn check_source_conditions(ctx: &Ctx, source: &objects::ObjectRow) -> S3Result<()> {
    let outcome = source_preconditions(&ctx.parts.headers).evaluate(
        &format!("\"{}\"", source.etag),
        system_time(source.modified_ms),
        false,
    );
    if outcome == Outcome::Proceed {
        Ok(())
    } else {
        Err(S3Error::new(Code::PreconditionFailed))
    }
}

pub async fn copy_object(ctx: &Ctx, bucket: &str, key: &str) -> S3Result<Response> {
    let bucket_row = ctx.owned_bucket(bucket).await?;
    let key = ObjectKey::parse(key)?;
    let source = parse_source(ctx.header("x-amz-copy-source").unwrap_or(""))?;
    let replace = match ctx.header("x-amz-metadata-directive") {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => {
            return Err(
                S3Error::msg(Code::InvalidArgument, "Unknown metadata directive.")
                    .with("ArgumentName", "x-amz-metadata-directive"),
            )
        }
    };
    let src = source.clone();
    let (src_bucket_row, found) = ctx
        .state
        .meta
        .read(move |c| -> S3Result<_> { Ok((buckets::get(c, &src.bucket)?, src.read(c)?)) })
        .await?;
    ctx.authorize_source(
        &source.bucket,
        src_bucket_row,
        &source.key,
        found.as_ref().map(|(r, _)| r),
    )?;
    let (src_row, src_parts) =
        found.ok_or_else(|| S3Error::new(Code::NoSuchKey).with("Key", source.key.as_str()))?;
    check_source_conditions(ctx, &src_row)?;
    let headers = &ctx.parts.headers;
    let open = sse::read_key(
        src_row.sse.as_ref(),
        headers,
        sse::Role::CopySource,
        &ctx.state.sse_keys,
    )?;
    let sealing = sse::requested(headers, bucket_row.encryption.as_ref())?;
    if source.bucket == bucket
        && source.key == key.as_str()
        && source.version.is_none()
        && !replace
        && sealing.is_none()
    {
        return Err(S3Error::msg(Code::InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."));
    }
    let mut row = src_row.clone();
    row.key = key.as_str().to_owned();
    row.modified_ms = now_ms();
    if replace {
        row.headers = stored_headers(&ctx.parts.headers)?;
    }
    // As in S3, a copy's ACL is the request's, never the source's.
    row.owner = super::settings::writer(ctx, &bucket_row);
    row.acl = super::settings::object_acl(ctx, &bucket_row, row.owner.as_deref())?;
    // Nor does a copy inherit the source's lock.
    row.lock = super::object_lock::from_headers(&ctx.parts.headers, &bucket_row)?;
    match ctx.header("x-amz-tagging-directive") {
        None | Some("COPY") => {}
        Some("REPLACE") => row.tags = super::tagging::from_header(ctx)?,
        Some(_) => {
            return Err(
                S3Error::msg(Code::InvalidArgument, "Unknown tagging directive.")
                    .with("ArgumentName", "x-amz-tagging-directive"),
            )
        }
    }
    let conditions = WriteConditions::from_headers(&ctx.parts.headers)?;
    let (committed, version) = if open.is_some() || sealing.is_some() {
        let sealing = sealing.map(|r| r.seal(&ctx.state.sse_keys)).transpose()?;
        let blobs = ctx.state.blobs.clone();
        let segments = super::multipart::segments(&src_row, &src_parts, 0, src_row.size);
        let mut writer = BlobWriter::start(
            &blobs,
            false,
            Some(ChecksumAlgo::Crc64Nvme),
            sealing.as_ref().map(|(_, k)| k),
        )?;
        let mut reader = super::get::segment_stream(blobs, segments, open);
        while let Some(chunk) = futures_util::StreamExt::next(&mut reader).await {
            writer.write(chunk?).await?;
        }
        let (temp, d) = writer.finish().await?;
        let fresh = super::put::single_blob_row(&row.key, &d, Vec::new());
        row.blob = fresh.blob;
        row.size = fresh.size;
        row.etag = fresh.etag;
        row.checksum = fresh.checksum;
        row.parts = 0;
        row.sse = None;
        if let Some((info, dek)) = sealing {
            row.etag = sse::etag(Some(&info), Some(&dek), &d.md5);
            row.sse = Some(info);
        }
        let version = super::put::commit(&ctx.state, bucket, row.clone(), temp, conditions).await?;
        (row, version)
    } else {
        share(ctx, bucket, &source, row, conditions).await?
    };
    let mut w = XmlWriter::new();
    w.root("CopyObjectResult");
    w.elem("LastModified", &iso8601(committed.modified_ms));
    w.elem("ETag", &format!("\"{}\"", committed.etag));
    w.close("CopyObjectResult");
    let mut resp = xml_response(w.finish());
    match &committed.sse {
        None => {
            if let Ok(v) = http::HeaderValue::from_str(&committed.blob.to_hex()) {
                resp.headers_mut().insert("x-cairn-blake3", v);
            }
        }
        Some(e) => e.write_headers(resp.headers_mut()),
    }
    super::put::version_header(resp.headers_mut(), version.as_deref());
    if let Some(v) = src_row
        .version_id
        .as_deref()
        .and_then(|v| http::HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert("x-amz-copy-source-version-id", v);
    }
    Ok(resp)
}

/// Commits a copy that shares the source's blobs (plain to plain).
async fn share(
    ctx: &Ctx,
    bucket: &str,
    source: &Source,
    mut row: objects::ObjectRow,
    conditions: WriteConditions,
) -> S3Result<(objects::ObjectRow, Option<String>)> {
    let (b, blobs, src) = (bucket.to_owned(), ctx.state.blobs.clone(), source.clone());
    ctx.state
        .meta
        .write(move |c, after| {
            // The source may have changed since we read it: copy what is
            // there now only if it is still the same blob. Its parts are
            // read before the upsert, which may replace this very row.
            let current = src.read(c)?;
            let parts = match current {
                Some((now, parts)) if now.blob == row.blob => parts,
                _ => return Err(S3Error::new(Code::ConditionalRequestConflict)),
            };
            let dest = objects::get(c, &b, &row.key)?;
            conditions.check(dest.as_ref(), &row.key)?;
            let bucket_row = crate::store::meta::buckets::get(c, &b)?
                .ok_or_else(|| S3Error::new(Code::NoSuchBucket).with("BucketName", b.as_str()))?;
            objects::check_quota(c, &bucket_row, dest.as_ref(), row.size)?;
            // The copy shares every blob: the object's, or each part's.
            if row.parts == 0 {
                objects::add_ref(c, &row.blob)?;
            }
            for p in &parts {
                objects::add_ref(c, &p.blob)?;
            }
            crate::store::meta::usage::deduplicated(c, &b, row.size)?;
            let version = objects::upsert(c, &blobs, &bucket_row, dest, &mut row, &parts, after)?;
            Ok((row, version))
        })
        .await
}
