//! Put/Get/DeleteBucketWebsite: a bucket's website configuration, which
//! edges read (with their key) to serve the bucket as a site. The checks
//! and the routing live in `cairn_shared::website`, shared with the edge.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

use super::{empty, now_ms, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::buckets;
use crate::xml::XmlWriter;
use cairn_shared::website::Website;

pub async fn put(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = super::settings::body(ctx, raw).await?;
    let site = Website::parse(&bytes)?;
    let b = bucket.to_owned();
    ctx.state
        .meta
        .write(move |c, _| buckets::set_website(c, &b, Some(&site), now_ms()))
        .await?;
    Ok(empty(StatusCode::OK))
}

/// The owner, and edges (which serve the site), may read it.
pub async fn get(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let b = bucket.to_owned();
    let site = if ctx.verified.principal.is_edge() {
        let (row, site) = ctx
            .state
            .meta
            .read(move |c| -> S3Result<_> { Ok((buckets::get(c, &b)?, buckets::website(c, &b)?)) })
            .await?;
        row.ok_or_else(|| S3Error::new(Code::NoSuchBucket).with("BucketName", bucket))?;
        site
    } else {
        ctx.owned_bucket(bucket).await?;
        ctx.state
            .meta
            .read(move |c| buckets::website(c, &b))
            .await?
    };
    let site = site
        .ok_or_else(|| S3Error::new(Code::NoSuchWebsiteConfiguration).with("BucketName", bucket))?;
    Ok(xml_response(to_xml(&site)))
}

pub async fn delete(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let b = bucket.to_owned();
    ctx.state
        .meta
        .write(move |c, _| buckets::set_website(c, &b, None, now_ms()))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn to_xml(site: &Website) -> Vec<u8> {
    let mut w = XmlWriter::new();
    w.root("WebsiteConfiguration");
    if let Some(all) = &site.redirect_all {
        w.open("RedirectAllRequestsTo");
        w.elem("HostName", &all.host);
        if let Some(p) = &all.protocol {
            w.elem("Protocol", p);
        }
        w.close("RedirectAllRequestsTo");
    }
    if let Some(suffix) = &site.index_suffix {
        w.open("IndexDocument");
        w.elem("Suffix", suffix);
        w.close("IndexDocument");
    }
    if let Some(key) = &site.error_key {
        w.open("ErrorDocument");
        w.elem("Key", key);
        w.close("ErrorDocument");
    }
    if !site.rules.is_empty() {
        w.open("RoutingRules");
        for r in &site.rules {
            w.open("RoutingRule");
            if r.key_prefix.is_some() || r.error_code.is_some() {
                w.open("Condition");
                if let Some(code) = r.error_code {
                    w.elem("HttpErrorCodeReturnedEquals", &code.to_string());
                }
                if let Some(p) = &r.key_prefix {
                    w.elem("KeyPrefixEquals", p);
                }
                w.close("Condition");
            }
            w.open("Redirect");
            let d = &r.redirect;
            let fields = [
                ("HostName", d.host.clone()),
                ("HttpRedirectCode", d.code.map(|c| c.to_string())),
                ("Protocol", d.protocol.clone()),
                ("ReplaceKeyPrefixWith", d.replace_key_prefix.clone()),
                ("ReplaceKeyWith", d.replace_key.clone()),
            ];
            for (name, value) in fields {
                if let Some(v) = value {
                    w.elem(name, &v);
                }
            }
            w.close("Redirect");
            w.close("RoutingRule");
        }
        w.close("RoutingRules");
    }
    w.close("WebsiteConfiguration");
    w.finish()
}
