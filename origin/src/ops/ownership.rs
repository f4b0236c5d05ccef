//! Put/Get/DeleteBucketOwnershipControls, and `x-amz-object-ownership` on
//! CreateBucket. Every object of a Cairn bucket belongs to the bucket's
//! owner whatever the setting; `BucketOwnerEnforced` also turns ACLs off
//! (`settings::check_acl_allowed` answers AccessControlListNotSupported).

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::{empty, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::buckets::Setting;
use crate::xml::{self, XmlWriter};

const SETTINGS: &[&str] = &[
    "BucketOwnerEnforced",
    "BucketOwnerPreferred",
    "ObjectWriter",
];

/// A valid ObjectOwnership value.
pub fn parse(value: &str) -> S3Result<String> {
    let v = value.trim();
    if SETTINGS.contains(&v) {
        Ok(v.to_owned())
    } else {
        Err(
            S3Error::msg(Code::InvalidArgument, "Invalid ObjectOwnership value")
                .with("ArgumentName", "ObjectOwnership"),
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipControls {
    #[serde(rename = "Rule", default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    object_ownership: String,
}

pub async fn put(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let bytes = super::settings::body(ctx, raw).await?;
    let doc: OwnershipControls = xml::parse(&bytes)?;
    let [rule] = doc.rules.as_slice() else {
        return Err(S3Error::new(Code::MalformedXML));
    };
    let value = parse(&rule.object_ownership)?;
    if value == "BucketOwnerEnforced" && row.acl != "private" {
        return Err(S3Error::new(Code::InvalidBucketAclWithObjectOwnership));
    }
    super::settings::set(ctx, bucket, Setting::Ownership, Some(value)).await?;
    Ok(empty(StatusCode::OK))
}

pub async fn get(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let value = row.ownership.ok_or_else(|| {
        S3Error::new(Code::OwnershipControlsNotFoundError).with("BucketName", bucket)
    })?;
    let mut w = XmlWriter::new();
    w.root("OwnershipControls");
    w.open("Rule");
    w.elem("ObjectOwnership", &value);
    w.close("Rule");
    w.close("OwnershipControls");
    Ok(xml_response(w.finish()))
}

pub async fn delete(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    super::settings::set(ctx, bucket, Setting::Ownership, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
