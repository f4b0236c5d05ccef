//! PutBucketVersioning and GetBucketVersioning.
//!
//! The state lives on the bucket row; what a write or delete does with it
//! is decided in the store (`store::meta::objects::upsert`, `delete` and
//! `store::meta::versions`), inside the write transaction, so a PUT racing
//! a change of state sees one state or the other, never a mix.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::{empty, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::buckets::{self, Versioning};
use crate::xml::{self, XmlWriter};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersioningConfiguration {
    status: Option<String>,
    #[serde(alias = "MFADelete")]
    mfa_delete: Option<String>,
}

pub async fn put(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = super::settings::body(ctx, raw).await?;
    let conf: VersioningConfiguration = xml::parse(&bytes)?;
    if conf.mfa_delete.as_deref() == Some("Enabled") {
        return Err(S3Error::msg(
            Code::NotImplemented,
            "MFA delete is not supported by Cairn.",
        ));
    }
    let state = match conf.status.as_deref() {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => return Err(S3Error::new(Code::MalformedXML)),
    };
    let b = bucket.to_owned();
    ctx.state
        .meta
        .write(move |c, _| buckets::set_versioning(c, &b, state))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn get(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let mut w = XmlWriter::new();
    w.root("VersioningConfiguration");
    if let Some(status) = row.versioning.status() {
        w.elem("Status", status);
    }
    w.close("VersioningConfiguration");
    Ok(xml_response(w.finish()))
}
