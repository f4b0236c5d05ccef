//! GetObjectAttributes: an object's ETag, checksum, size, storage class
//! and parts (paged by `x-amz-part-number-marker` and `x-amz-max-parts`)
//! in one call, without its body.

use axum::response::Response;
use http::HeaderValue;

use super::{http_date, xml_response, Ctx};
use crate::checksum::ChecksumAlgo;
use crate::error::{Code, S3Error, S3Result};
use crate::http::endpoint::VersionId;
use crate::store::meta::{objects, versions};
use crate::xml::XmlWriter;

/// The most parts one answer lists.
const MAX_PARTS: usize = 1000;

fn number(ctx: &Ctx, header: &'static str, default: usize) -> S3Result<usize> {
    match ctx.header(header) {
        None => Ok(default),
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            S3Error::msg(Code::InvalidArgument, format!("{header} must be a number"))
                .with("ArgumentName", header)
        }),
    }
}

pub async fn get(ctx: &Ctx, bucket: &str, key: &str, version: VersionId) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let wanted: Vec<String> = ctx
        .parts
        .headers
        .get_all("x-amz-object-attributes")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if wanted.is_empty() {
        return Err(S3Error::msg(
            Code::InvalidArgument,
            "x-amz-object-attributes must name at least one attribute",
        ));
    }
    let want = |a: &str| wanted.iter().any(|w| w == a);
    let max_parts = number(ctx, "x-amz-max-parts", MAX_PARTS)?.min(MAX_PARTS);
    let marker = number(ctx, "x-amz-part-number-marker", 0)?;
    let (b, k) = (bucket.to_owned(), key.to_owned());
    let (row, parts) = ctx
        .state
        .meta
        .read(move |c| -> S3Result<_> {
            let row = versions::object(c, &b, &k, version.as_ref())?;
            let parts = if row.parts > 0 {
                objects::parts(c, &b, &k, row.version_id.as_deref())?
            } else {
                Vec::new()
            };
            Ok((row, parts))
        })
        .await?;
    // An SSE-C object answers only to its key, as GET does.
    crate::sse::read_key(
        row.sse.as_ref(),
        &ctx.parts.headers,
        crate::sse::Role::Object,
        &ctx.state.sse_keys,
    )?;

    let mut w = XmlWriter::new();
    w.root("GetObjectAttributesResponse");
    if want("ETag") {
        w.elem("ETag", &row.etag);
    }
    if want("Checksum") {
        if let Some((algo, value)) = &row.checksum {
            if let Some(a) = ChecksumAlgo::from_name(algo) {
                w.open("Checksum");
                w.elem(&format!("Checksum{}", a.name()), value);
                w.elem("ChecksumType", crate::checksum::kind(value));
                w.close("Checksum");
            }
        }
    }
    if want("ObjectParts") && row.parts > 0 {
        w.open("ObjectParts");
        w.elem("PartsCount", &parts.len().to_string());
        w.elem("PartNumberMarker", &marker.to_string());
        let page: Vec<(usize, &objects::PartRef)> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| (i + 1, p))
            .filter(|(n, _)| *n > marker)
            .take(max_parts)
            .collect();
        let last = page.last().map_or(marker, |(n, _)| *n);
        w.elem("NextPartNumberMarker", &last.to_string());
        w.elem("MaxParts", &max_parts.to_string());
        let truncated = last < parts.len();
        w.elem("IsTruncated", if truncated { "true" } else { "false" });
        for (n, part) in page {
            w.open("Part");
            w.elem("PartNumber", &n.to_string());
            w.elem("Size", &part.size.to_string());
            let algo = row
                .checksum
                .as_ref()
                .and_then(|(a, _)| ChecksumAlgo::from_name(a));
            if let (Some(a), Some(sum)) = (algo, &part.checksum) {
                w.elem(&format!("Checksum{}", a.name()), sum);
            }
            w.close("Part");
        }
        w.close("ObjectParts");
    }
    if want("StorageClass") {
        w.elem("StorageClass", "STANDARD");
    }
    if want("ObjectSize") {
        w.elem("ObjectSize", &row.size.to_string());
    }
    w.close("GetObjectAttributesResponse");
    let mut resp = xml_response(w.finish());
    if let Ok(v) = HeaderValue::from_str(&http_date(row.modified_ms)) {
        resp.headers_mut().insert(http::header::LAST_MODIFIED, v);
    }
    super::put::version_header(resp.headers_mut(), row.version_id.as_deref());
    Ok(resp)
}
