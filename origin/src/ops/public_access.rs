//! Put/Get/DeletePublicAccessBlock: a bucket's four switches that keep
//! ACLs and policies from making anything public.
//!
//! Where they act: `settings::check_acl_allowed` (BlockPublicAcls, on every
//! request that sets an ACL), `settings::put_policy` (BlockPublicPolicy),
//! and `access` (IgnorePublicAcls drops group grants,
//! RestrictPublicBuckets public policies) on every decision. A change is a bucket change on the feed, so edges drop what
//! they cached of a bucket that stopped being public.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::{empty, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::buckets::{PublicBlock, Setting};
use crate::xml::{self, XmlWriter};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Configuration {
    block_public_acls: Option<String>,
    ignore_public_acls: Option<String>,
    block_public_policy: Option<String>,
    restrict_public_buckets: Option<String>,
}

fn flag(v: Option<&str>) -> S3Result<bool> {
    match v.map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(S3Error::new(Code::MalformedXML)),
    }
}

pub async fn put(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = super::settings::body(ctx, raw).await?;
    let c: Configuration = xml::parse(&bytes)?;
    let block = PublicBlock {
        block_public_acls: flag(c.block_public_acls.as_deref())?,
        ignore_public_acls: flag(c.ignore_public_acls.as_deref())?,
        block_public_policy: flag(c.block_public_policy.as_deref())?,
        restrict_public_buckets: flag(c.restrict_public_buckets.as_deref())?,
    };
    super::settings::set(ctx, bucket, Setting::PublicBlock, Some(block.encode())).await?;
    Ok(empty(StatusCode::OK))
}

pub async fn get(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let b = row.public_block.ok_or_else(|| {
        S3Error::new(Code::NoSuchPublicAccessBlockConfiguration).with("BucketName", bucket)
    })?;
    let text = |v: bool| if v { "true" } else { "false" };
    let mut w = XmlWriter::new();
    w.root("PublicAccessBlockConfiguration");
    w.elem("BlockPublicAcls", text(b.block_public_acls));
    w.elem("IgnorePublicAcls", text(b.ignore_public_acls));
    w.elem("BlockPublicPolicy", text(b.block_public_policy));
    w.elem("RestrictPublicBuckets", text(b.restrict_public_buckets));
    w.close("PublicAccessBlockConfiguration");
    Ok(xml_response(w.finish()))
}

pub async fn delete(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    super::settings::set(ctx, bucket, Setting::PublicBlock, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
