//! Object tags: Put/Get/DeleteObjectTagging (of any version) and the
//! `x-amz-tagging` header on PUT, POST, CopyObject and
//! CreateMultipartUpload.
//!
//! A tag set is validated whole against S3's limits before anything is
//! stored, and kept with the version it belongs to (a column of `objects`
//! and `versions`) as one canonical string: URL-encoded `k=v` pairs sorted
//! by key, the form `x-amz-tagging` uses. Tags change no bytes and no
//! version, so edges are not told.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::{empty, xml_response, Ctx};
use crate::auth::encode;
use crate::error::{Code, S3Error, S3Result};
use crate::http::endpoint::VersionId;
use crate::store::meta::versions;
use crate::xml::{self, XmlWriter};
use cairn_shared::names::ObjectKey;

/// S3's limits: tags per object, and key and value lengths in characters.
const MAX_TAGS: usize = 10;
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;

fn invalid(msg: &'static str) -> S3Error {
    S3Error::msg(Code::InvalidTag, msg)
}

/// Checks a tag set against S3's rules and returns its canonical form
/// (`None` for an empty set).
pub fn canonical(mut tags: Vec<(String, String)>) -> S3Result<Option<String>> {
    if tags.len() > MAX_TAGS {
        return Err(invalid("Object tags cannot be greater than 10"));
    }
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > MAX_KEY {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > MAX_VALUE {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
    }
    tags.sort();
    if tags.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(invalid("Cannot provide multiple Tags with the same key"));
    }
    if tags.is_empty() {
        return Ok(None);
    }
    let pairs: Vec<String> = tags
        .iter()
        .map(|(k, v)| format!("{}={}", encode::strict(k), encode::strict(v)))
        .collect();
    Ok(Some(pairs.join("&")))
}

/// The tag set of a stored canonical string, in order.
pub fn decode(stored: Option<&str>) -> Vec<(String, String)> {
    stored.map(encode::query_pairs).unwrap_or_default()
}

/// Tags from an `x-amz-tagging` value (a URL query string).
pub fn parse_header(value: &str) -> S3Result<Option<String>> {
    canonical(encode::query_pairs(value))
}

/// The request's `x-amz-tagging`, validated; `None` without one.
pub fn from_header(ctx: &Ctx) -> S3Result<Option<String>> {
    match ctx.parts.headers.get("x-amz-tagging") {
        None => Ok(None),
        Some(v) => parse_header(
            v.to_str()
                .map_err(|_| invalid("The x-amz-tagging header is not valid"))?,
        ),
    }
}

#[derive(Deserialize)]
struct Tagging {
    #[serde(rename = "TagSet")]
    tag_set: TagSet,
}

#[derive(Deserialize)]
struct TagSet {
    #[serde(rename = "Tag", default)]
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

/// A `<Tagging>` document's tags, validated, in canonical form.
pub fn parse_document(body: &[u8]) -> S3Result<Option<String>> {
    let doc: Tagging = xml::parse(body)?;
    canonical(
        doc.tag_set
            .tags
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
    )
}

/// Writes `<Tagging><TagSet>…</TagSet></Tagging>`.
pub fn document(stored: Option<&str>) -> Vec<u8> {
    let mut w = XmlWriter::new();
    w.root("Tagging");
    w.open("TagSet");
    for (k, v) in decode(stored) {
        w.open("Tag");
        w.elem("Key", &k);
        w.elem("Value", &v);
        w.close("Tag");
    }
    w.close("TagSet");
    w.close("Tagging");
    w.finish()
}

pub async fn get(ctx: &Ctx, bucket: &str, key: &str, version: VersionId) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let (b, k) = (bucket.to_owned(), key.to_owned());
    let row = ctx
        .state
        .meta
        .read(move |c| versions::object(c, &b, &k, version.as_ref()))
        .await?;
    let mut resp = xml_response(document(row.tags.as_deref()));
    super::put::version_header(resp.headers_mut(), row.version_id.as_deref());
    Ok(resp)
}

pub async fn put(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
    raw: Body,
) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let key = ObjectKey::parse(key)?;
    let bytes = super::settings::body(ctx, raw).await?;
    let tags = parse_document(&bytes)?;
    set(ctx, bucket, key.as_str(), version, tags, StatusCode::OK).await
}

pub async fn delete(ctx: &Ctx, bucket: &str, key: &str, version: VersionId) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    set(ctx, bucket, key, version, None, StatusCode::NO_CONTENT).await
}

async fn set(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
    tags: Option<String>,
    status: StatusCode,
) -> S3Result<Response> {
    let (b, k) = (bucket.to_owned(), key.to_owned());
    let vid = ctx
        .state
        .meta
        .write(move |c, _| {
            let tags = versions::Attribute::Tags(tags.as_deref());
            versions::set_attribute(c, &b, &k, version.as_ref(), tags)
        })
        .await?;
    let mut resp = empty(status);
    super::put::version_header(resp.headers_mut(), vid.as_deref());
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_sets_are_checked_and_kept_sorted() {
        assert_eq!(
            parse_header("foo=bar&bar").unwrap().as_deref(),
            Some("bar=&foo=bar")
        );
        assert_eq!(parse_header("").unwrap(), None);
        assert_eq!(
            decode(parse_header("a%20b=c%26d").unwrap().as_deref()),
            vec![("a b".to_owned(), "c&d".to_owned())]
        );
        let eleven: String = (0..11).map(|i| format!("k{i}=v&")).collect();
        assert_eq!(parse_header(&eleven).unwrap_err().code, Code::InvalidTag);
        let long_key = format!("{}=v", "k".repeat(129));
        assert_eq!(parse_header(&long_key).unwrap_err().code, Code::InvalidTag);
        let long_value = format!("k={}", "v".repeat(257));
        assert_eq!(
            parse_header(&long_value).unwrap_err().code,
            Code::InvalidTag
        );
        assert_eq!(parse_header("a=1&a=2").unwrap_err().code, Code::InvalidTag);
        assert!(parse_header(&format!("{}={}", "k".repeat(128), "v".repeat(256))).is_ok());
    }
}
