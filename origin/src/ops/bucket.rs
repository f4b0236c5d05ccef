//! Bucket operations: create, head, delete, list, location.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::body::BodyReader;
use super::{empty, iso8601, now_ms, write_owner, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::store::error::StoreError;
use crate::store::meta::buckets;
use crate::xml::{self, XmlWriter};
use cairn_shared::names::BucketName;

/// Largest XML configuration body we read.
const MAX_CONFIG_BODY: u64 = 64 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBucketConfiguration {
    location_constraint: Option<String>,
}

pub async fn create(ctx: &Ctx, name: &str, body: Body) -> S3Result<Response> {
    let owner = ctx.caller()?.to_owned();
    let name = BucketName::parse(name)?;
    let owners = super::settings::Owners {
        owner: super::owner_id(&owner),
        bucket: super::owner_id(&owner),
    };
    let acl = super::settings::header_acl(ctx, &owners)?.and_then(|a| owners.column(&a));
    let (xml_body, _) = BodyReader::new(
        body,
        &ctx.parts.headers,
        &ctx.verified.payload,
        MAX_CONFIG_BODY,
    )?
    .collect()
    .await?;
    if !xml_body.iter().all(u8::is_ascii_whitespace) {
        let conf: CreateBucketConfiguration = xml::parse(&xml_body)?;
        let region = &ctx.state.config.region;
        match conf.location_constraint.as_deref().map(str::trim) {
            None | Some("") if region == "us-east-1" => {}
            Some(r) if r == region => {}
            other => {
                return Err(S3Error::msg(
                    Code::InvalidLocationConstraint,
                    format!("The {} location constraint is incompatible with the region this endpoint serves ({region}).", other.unwrap_or("empty")),
                ))
            }
        }
    }
    let n = name.as_str().to_owned();
    let lock = ctx
        .header("x-amz-bucket-object-lock-enabled")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let ownership = ctx
        .header("x-amz-object-ownership")
        .map(super::ownership::parse)
        .transpose()?;
    if ownership.as_deref() == Some("BucketOwnerEnforced") && acl.is_some() {
        return Err(S3Error::new(Code::InvalidBucketAclWithObjectOwnership));
    }
    // In us-east-1, S3 answers an owner's repeated create with success and
    // changes nothing; every other region says BucketAlreadyOwnedByYou.
    let legacy_region = ctx.state.config.region == "us-east-1";
    let created = ctx
        .state
        .meta
        .write(move |c, _| {
            buckets::create(
                c,
                &n,
                &owner,
                acl.as_deref().unwrap_or("private"),
                lock,
                now_ms(),
            )?;
            match &ownership {
                Some(o) => buckets::set(c, &n, buckets::Setting::Ownership, Some(o)),
                None => Ok(()),
            }
        })
        .await;
    match created {
        Err(StoreError::BucketExists { by_you: true, .. }) if legacy_region => {}
        other => other?,
    }
    let mut resp = empty(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&format!("/{name}")) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn head(ctx: &Ctx, name: &str) -> S3Result<Response> {
    ctx.owned_bucket(name).await?;
    let mut resp = empty(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&ctx.state.config.region) {
        resp.headers_mut().insert("x-amz-bucket-region", v);
    }
    Ok(resp)
}

pub async fn delete(ctx: &Ctx, name: &str) -> S3Result<Response> {
    ctx.owned_bucket(name).await?;
    let (n, blobs) = (name.to_owned(), ctx.state.blobs.clone());
    ctx.state
        .meta
        .write(move |c, after| buckets::delete(c, &blobs, &n, after))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The most buckets one ListBuckets page holds (S3's limit).
const MAX_BUCKETS: usize = 10_000;

/// ListBuckets, paged by `max-buckets` and `continuation-token` (the last
/// name of the page before), filtered by `prefix`.
pub async fn list_buckets(ctx: &Ctx) -> S3Result<Response> {
    let owner = ctx.caller()?.to_owned();
    let max = match ctx.query("max-buckets") {
        None => MAX_BUCKETS,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_BUCKETS).contains(n))
            .ok_or_else(|| {
                S3Error::msg(
                    Code::InvalidArgument,
                    "max-buckets must be between 1 and 10000",
                )
                .with("ArgumentName", "max-buckets")
            })?,
    };
    let after = ctx.query("continuation-token").unwrap_or("").to_owned();
    let prefix = ctx.query("prefix").unwrap_or("").to_owned();
    let (a, p) = (after.clone(), prefix.clone());
    let mut rows = ctx
        .state
        .meta
        .read(move |c| buckets::list_owned(c, &owner, &a, &p, max + 1))
        .await?;
    let truncated = rows.len() > max;
    rows.truncate(max);
    let mut w = XmlWriter::new();
    w.root("ListAllMyBucketsResult");
    write_owner(&mut w, "Owner", &ctx.verified.principal);
    w.open("Buckets");
    for b in &rows {
        w.open("Bucket");
        w.elem("Name", &b.name);
        w.elem("CreationDate", &iso8601(b.created_ms));
        w.elem("BucketRegion", &ctx.state.config.region);
        w.close("Bucket");
    }
    w.close("Buckets");
    if truncated {
        if let Some(last) = rows.last() {
            w.elem("ContinuationToken", &last.name);
        }
    }
    if !prefix.is_empty() {
        w.elem("Prefix", &prefix);
    }
    w.close("ListAllMyBucketsResult");
    Ok(xml_response(w.finish()))
}

pub async fn location(ctx: &Ctx, name: &str) -> S3Result<Response> {
    ctx.owned_bucket(name).await?;
    let mut w = XmlWriter::new();
    w.root("LocationConstraint");
    // S3 reports us-east-1 as an empty constraint.
    let region = &ctx.state.config.region;
    if region != "us-east-1" {
        w.text(region);
    }
    w.close("LocationConstraint");
    Ok(xml_response(w.finish()))
}
