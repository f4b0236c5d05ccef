//! Object Lock over HTTP: Put/GetObjectLockConfiguration (a bucket's
//! default retention), Put/GetObjectRetention and Put/GetObjectLegalHold
//! of a version, the `x-amz-object-lock-*` headers on writes, and the same
//! headers on GET and HEAD.
//!
//! What a lock forbids is enforced in the store (`store::meta::locks`);
//! this module parses, validates and answers.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

use super::{empty, iso8601, now_ms, parse_iso8601, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::http::endpoint::VersionId;
use crate::store::meta::buckets::{self, BucketRow};
use crate::store::meta::locks::{self, DefaultRetention, Mode, ObjectLock};
use crate::store::meta::versions;
use crate::xml::{self, XmlWriter};

fn no_lock(bucket: &str) -> S3Error {
    S3Error::msg(
        Code::InvalidRequest,
        "Bucket is missing Object Lock Configuration",
    )
    .with("BucketName", bucket)
}

/// The lock a write asks for with `x-amz-object-lock-mode`,
/// `-retain-until-date` and `-legal-hold`; only a lock-enabled bucket
/// takes them. Mode and date come together, and the date is in the future.
pub fn from_headers(headers: &HeaderMap, bucket: &BucketRow) -> S3Result<ObjectLock> {
    let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap_or("\u{FFFD}"));
    let (mode, until, hold) = (
        h("x-amz-object-lock-mode"),
        h("x-amz-object-lock-retain-until-date"),
        h("x-amz-object-lock-legal-hold"),
    );
    if mode.is_none() && until.is_none() && hold.is_none() {
        return Ok(ObjectLock::default());
    }
    if !bucket.lock_enabled {
        return Err(no_lock(&bucket.name));
    }
    let invalid = |msg: &'static str| S3Error::msg(Code::InvalidArgument, msg);
    let mut lock = ObjectLock::default();
    match (mode, until) {
        (None, None) => {}
        (Some(m), Some(u)) => {
            lock.mode = Some(Mode::parse(m).ok_or_else(|| invalid("Unknown wormMode directive."))?);
            let until = parse_iso8601(u).ok_or_else(|| {
                invalid("The retain until date must be provided in ISO 8601 format")
            })?;
            if until <= now_ms() {
                return Err(invalid("The retain until date must be in the future!"));
            }
            lock.until_ms = Some(until);
        }
        _ => return Err(invalid(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
        )),
    }
    lock.legal_hold = match hold {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(_) => return Err(invalid("Legal Hold must be either of 'ON' or 'OFF'")),
    };
    Ok(lock)
}

/// The lock headers GET and HEAD answer with.
pub fn write_headers(h: &mut HeaderMap, lock: &ObjectLock) {
    if let (Some(mode), Some(until)) = (lock.mode, lock.until_ms) {
        h.insert(
            "x-amz-object-lock-mode",
            HeaderValue::from_static(mode.as_str()),
        );
        if let Ok(v) = HeaderValue::from_str(&iso8601(until)) {
            h.insert("x-amz-object-lock-retain-until-date", v);
        }
    }
    if lock.legal_hold {
        h.insert(
            "x-amz-object-lock-legal-hold",
            HeaderValue::from_static("ON"),
        );
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ObjectLockConfiguration {
    object_lock_enabled: Option<String>,
    rule: Option<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    default_retention: Retention,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Retention {
    mode: Option<String>,
    days: Option<String>,
    years: Option<String>,
}

fn period(text: &str) -> S3Result<u32> {
    match text.trim().parse::<i64>() {
        Ok(n) if (1..=36_500).contains(&n) => Ok(n as u32),
        _ => Err(S3Error::new(Code::InvalidRetentionPeriod)),
    }
}

pub async fn put_config(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = super::settings::body(ctx, raw).await?;
    let conf: ObjectLockConfiguration = xml::parse(&bytes)?;
    if conf.object_lock_enabled.as_deref() != Some("Enabled") {
        return Err(S3Error::new(Code::MalformedXML));
    }
    let default = match conf.rule {
        None => None,
        Some(rule) => {
            let r = rule.default_retention;
            let mode = r
                .mode
                .as_deref()
                .and_then(Mode::parse)
                .ok_or_else(|| S3Error::new(Code::MalformedXML))?;
            let (days, years) = match (r.days.as_deref(), r.years.as_deref()) {
                (Some(d), None) => (Some(period(d)?), None),
                (None, Some(y)) => (None, Some(period(y)?)),
                _ => return Err(S3Error::new(Code::MalformedXML)),
            };
            Some(DefaultRetention { mode, days, years })
        }
    };
    let b = bucket.to_owned();
    ctx.state
        .meta
        .write(move |c, _| buckets::set_lock(c, &b, default))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn get_config(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    if !row.lock_enabled {
        return Err(
            S3Error::new(Code::ObjectLockConfigurationNotFoundError).with("BucketName", bucket)
        );
    }
    let mut w = XmlWriter::new();
    w.root("ObjectLockConfiguration");
    w.elem("ObjectLockEnabled", "Enabled");
    if let Some(d) = row.default_retention {
        w.open("Rule");
        w.open("DefaultRetention");
        w.elem("Mode", d.mode.as_str());
        if let Some(days) = d.days {
            w.elem("Days", &days.to_string());
        }
        if let Some(years) = d.years {
            w.elem("Years", &years.to_string());
        }
        w.close("DefaultRetention");
        w.close("Rule");
    }
    w.close("ObjectLockConfiguration");
    Ok(xml_response(w.finish()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RetentionDoc {
    mode: Option<String>,
    retain_until_date: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegalHoldDoc {
    status: Option<String>,
}

/// Reads a lock-enabled bucket's version and applies `change` to its lock
/// inside one write.
async fn update(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
    change: impl FnOnce(&mut ObjectLock) -> S3Result<()> + Send + 'static,
) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    if !row.lock_enabled {
        return Err(no_lock(bucket));
    }
    let (b, k) = (bucket.to_owned(), key.to_owned());
    let vid = ctx
        .state
        .meta
        .write(move |c, _| -> S3Result<_> {
            let obj = versions::object(c, &b, &k, version.as_ref())?;
            let current = versions::is_current(c, &b, &obj)?;
            let mut lock = obj.lock;
            change(&mut lock)?;
            locks::set(c, &b, &k, obj.version_id.as_deref(), current, &lock)?;
            Ok(obj.version_id)
        })
        .await?;
    let mut resp = empty(StatusCode::OK);
    super::put::version_header(resp.headers_mut(), vid.as_deref());
    Ok(resp)
}

pub async fn put_retention(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
    raw: Body,
) -> S3Result<Response> {
    let bytes = super::settings::body(ctx, raw).await?;
    let doc: RetentionDoc = xml::parse(&bytes)?;
    let mode = doc
        .mode
        .as_deref()
        .and_then(Mode::parse)
        .ok_or_else(|| S3Error::new(Code::MalformedXML))?;
    let until = doc
        .retain_until_date
        .as_deref()
        .and_then(parse_iso8601)
        .ok_or_else(|| S3Error::new(Code::MalformedXML))?;
    let bypass = super::delete::bypass_governance(ctx);
    update(ctx, bucket, key, version, move |lock| {
        lock.check_retention_change(mode, until, now_ms(), bypass)?;
        lock.mode = Some(mode);
        lock.until_ms = Some(until);
        Ok(())
    })
    .await
}

pub async fn put_legal_hold(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
    raw: Body,
) -> S3Result<Response> {
    let bytes = super::settings::body(ctx, raw).await?;
    let doc: LegalHoldDoc = xml::parse(&bytes)?;
    let on = match doc.status.as_deref() {
        Some("ON") => true,
        Some("OFF") => false,
        _ => return Err(S3Error::new(Code::MalformedXML)),
    };
    update(ctx, bucket, key, version, move |lock| {
        lock.legal_hold = on;
        Ok(())
    })
    .await
}

async fn read(ctx: &Ctx, bucket: &str, key: &str, version: VersionId) -> S3Result<ObjectLock> {
    let row = ctx.owned_bucket(bucket).await?;
    if !row.lock_enabled {
        return Err(no_lock(bucket));
    }
    let (b, k) = (bucket.to_owned(), key.to_owned());
    Ok(ctx
        .state
        .meta
        .read(move |c| versions::object(c, &b, &k, version.as_ref()))
        .await?
        .lock)
}

pub async fn get_retention(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
) -> S3Result<Response> {
    let lock = read(ctx, bucket, key, version).await?;
    let (Some(mode), Some(until)) = (lock.mode, lock.until_ms) else {
        return Err(S3Error::new(Code::NoSuchObjectLockConfiguration));
    };
    let mut w = XmlWriter::new();
    w.root("Retention");
    w.elem("Mode", mode.as_str());
    w.elem("RetainUntilDate", &iso8601(until));
    w.close("Retention");
    Ok(xml_response(w.finish()))
}

pub async fn get_legal_hold(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
) -> S3Result<Response> {
    let lock = read(ctx, bucket, key, version).await?;
    let mut w = XmlWriter::new();
    w.root("LegalHold");
    w.elem("Status", if lock.legal_hold { "ON" } else { "OFF" });
    w.close("LegalHold");
    Ok(xml_response(w.finish()))
}
