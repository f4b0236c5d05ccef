//! CopyObject. With content addressing a copy writes no bytes: the new row
//! takes one more reference on the source's blob.

use axum::response::Response;
use http::HeaderMap;

use super::put::{stored_headers, WriteConditions};
use super::{authorize, iso8601, now_ms, system_time, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::{buckets, objects};
use crate::xml::XmlWriter;
use cairn_shared::conditional::{Outcome, Preconditions};
use cairn_shared::names::ObjectKey;

/// Splits `x-amz-copy-source` (`[/]bucket/key[?versionId=...]`, URL-encoded).
pub fn parse_source(value: &str) -> S3Result<(String, String)> {
    let value = value
        .split_once("?versionId=")
        .map(|(v, _)| v)
        .unwrap_or(value);
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| {
            S3Error::msg(Code::InvalidArgument, "Copy Source must be UTF-8.")
                .with("ArgumentName", "x-amz-copy-source")
        })?;
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    match trimmed.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_owned(), k.to_owned())),
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
    ctx.owned_bucket(bucket).await?;
    let key = ObjectKey::parse(key)?;
    let (src_bucket, src_key) = parse_source(ctx.header("x-amz-copy-source").unwrap_or(""))?;
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
    let (sb, sk) = (src_bucket.clone(), src_key.clone());
    let (src_bucket_row, source) = ctx
        .state
        .meta
        .read(move |c| Ok((buckets::get(c, &sb)?, objects::get(c, &sb, &sk)?)))
        .await?;
    authorize(&ctx.verified.principal, &src_bucket, src_bucket_row)?;
    let source =
        source.ok_or_else(|| S3Error::new(Code::NoSuchKey).with("Key", src_key.as_str()))?;
    check_source_conditions(ctx, &source)?;
    if src_bucket == bucket && src_key == key.as_str() && !replace {
        return Err(S3Error::msg(Code::InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."));
    }
    let mut row = source.clone();
    row.key = key.as_str().to_owned();
    row.modified_ms = now_ms();
    if replace {
        row.headers = stored_headers(&ctx.parts.headers)?;
    }
    let conditions = WriteConditions::from_headers(&ctx.parts.headers)?;
    let (b, blobs, committed) = (bucket.to_owned(), ctx.state.blobs.clone(), row.clone());
    ctx.state
        .meta
        .write(move |c, after| {
            // The source may have changed since we read it: copy what is
            // there now only if it is still the same blob.
            let current = objects::get(c, &src_bucket, &src_key)?;
            if current.as_ref().map(|r| r.blob) != Some(row.blob) {
                return Err(S3Error::new(Code::ConditionalRequestConflict));
            }
            conditions.check(objects::get(c, &b, &row.key)?.as_ref(), &row.key)?;
            if row.parts == 0 {
                objects::add_ref(c, &row.blob)?;
                return objects::upsert(c, &blobs, &b, &row, after);
            }
            // A multipart source: the copy shares every part's blob. Read
            // the parts before the upsert, which may replace this very row.
            let parts = objects::parts(c, &src_bucket, &src_key)?;
            for p in &parts {
                objects::add_ref(c, &p.blob)?;
            }
            objects::upsert(c, &blobs, &b, &row, after)?;
            objects::insert_parts(c, &b, &row.key, &parts)
        })
        .await?;
    let mut w = XmlWriter::new();
    w.root("CopyObjectResult");
    w.elem("LastModified", &iso8601(committed.modified_ms));
    w.elem("ETag", &format!("\"{}\"", committed.etag));
    w.close("CopyObjectResult");
    let mut resp = xml_response(w.finish());
    if let Ok(v) = http::HeaderValue::from_str(&committed.blob.to_hex()) {
        resp.headers_mut().insert("x-cairn-blake3", v);
    }
    Ok(resp)
}
