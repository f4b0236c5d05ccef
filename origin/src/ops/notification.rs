//! Put/GetBucketNotificationConfiguration: a bucket's webhook rules
//! (`crate::notify` parses, matches and delivers them).

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

use super::{empty, xml_response, Ctx};
use crate::error::S3Result;
use crate::store::meta::notify;

pub async fn put(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = super::settings::body(ctx, raw).await?;
    let rules = crate::notify::parse(&bytes, &ctx.state.config.webhooks)?;
    let b = bucket.to_owned();
    ctx.state
        .meta
        .write(move |c, _| notify::set_rules(c, &b, &rules))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn get(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let b = bucket.to_owned();
    let rules = ctx.state.meta.read(move |c| notify::rules(c, &b)).await?;
    Ok(xml_response(crate::notify::to_xml(&rules)))
}
