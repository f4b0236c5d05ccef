//! DeleteObject and DeleteObjects (multi-delete, quiet mode).
//!
//! Deleting a key that does not exist succeeds, as in S3. All keys of one
//! DeleteObjects request are removed in a single transaction.

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
use crate::store::meta::objects;
use crate::xml::{self, XmlWriter};
use cairn_shared::names::ObjectKey;

/// S3 accepts at most 1000 keys per DeleteObjects request.
const MAX_KEYS: usize = 1000;
/// 1000 keys of 1024 bytes plus markup.
const MAX_BODY: u64 = 2 * 1024 * 1024;

pub async fn delete_object(ctx: &Ctx, bucket: &str, key: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let key = ObjectKey::parse(key)?;
    let (b, blobs) = (bucket.to_owned(), ctx.state.blobs.clone());
    ctx.state
        .meta
        .write(move |c, after| objects::delete(c, &blobs, &b, key.as_str(), after))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
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
    let keys: Vec<String> = req.objects.into_iter().map(|o| o.key).collect();
    let (b, blobs, ks) = (bucket.to_owned(), ctx.state.blobs.clone(), keys.clone());
    let results: Vec<S3Result<()>> = ctx
        .state
        .meta
        .write(move |c, after| {
            let mut results: Vec<S3Result<()>> = Vec::with_capacity(ks.len());
            for k in &ks {
                match ObjectKey::parse(k) {
                    // A storage failure fails (and rolls back) the whole
                    // request; a bad key is only that key's error.
                    Ok(key) => {
                        objects::delete(c, &blobs, &b, key.as_str(), after)?;
                        results.push(Ok(()));
                    }
                    Err(e) => results.push(Err(S3Error::from(e))),
                }
            }
            Ok(results)
        })
        .await?;
    let mut w = XmlWriter::new();
    w.root("DeleteResult");
    for (key, result) in keys.iter().zip(results) {
        match result {
            Ok(()) if req.quiet => {}
            Ok(()) => {
                w.open("Deleted");
                w.elem("Key", key);
                w.close("Deleted");
            }
            Err(e) => {
                w.open("Error");
                w.elem("Key", key);
                w.elem("Code", e.code.as_str());
                w.elem("Message", &e.message);
                w.close("Error");
            }
        }
    }
    w.close("DeleteResult");
    Ok(xml_response(w.finish()))
}
