//! Bucket settings that make objects public or browser-reachable: canned
//! ACLs, bucket policies (see `policy.rs`) and CORS
//! configurations. Each is validated whole before it is stored.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::body::BodyReader;
use super::{empty, owner_id, write_owner, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::buckets::{self, BucketRow, Setting};
use crate::xml::XmlWriter;

const MAX_BODY: u64 = 64 * 1024;
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// Whether the bucket's ACL grants everyone READ (and is not ignored).
pub fn bucket_acl_public(row: &BucketRow) -> bool {
    row.acl == "public-read" && !row.block().ignore_public_acls
}

/// Whether an object's own ACL grants everyone READ (and is not ignored).
pub fn object_acl_public(row: &BucketRow, acl: Option<&str>) -> bool {
    acl == Some("public-read") && !row.block().ignore_public_acls
}

/// ACLs are off under `BucketOwnerEnforced` (but for the ones that say
/// what is true anyway); BlockPublicAcls refuses setting a public one.
pub fn check_acl_allowed(row: &BucketRow, canned: Option<&str>) -> S3Result<()> {
    if row.ownership.as_deref() == Some("BucketOwnerEnforced")
        && !matches!(
            canned.map(str::trim),
            None | Some("private" | "bucket-owner-full-control")
        )
    {
        return Err(S3Error::new(Code::AccessControlListNotSupported));
    }
    let public = matches!(
        canned.map(str::trim),
        Some("public-read" | "public-read-write" | "authenticated-read")
    );
    if public && row.block().block_public_acls {
        return Err(S3Error::msg(
            Code::AccessDenied,
            "The bucket's PublicAccessBlock blocks public ACLs.",
        ));
    }
    Ok(())
}

/// An object's canned ACL as stored: `None` for private.
pub fn acl_column(canned: &str) -> Option<String> {
    (canned != "private").then(|| canned.to_owned())
}

/// The object ACL a write asks for with `x-amz-acl` (the bucket-owner
/// ACLs describe a single-owner bucket's object as it is: private). A
/// public one is refused where the bucket blocks public ACLs (403), one
/// Cairn cannot keep is NotImplemented.
pub fn object_acl(ctx: &Ctx, bucket: &BucketRow) -> S3Result<Option<String>> {
    let header = ctx.header("x-amz-acl");
    check_acl_allowed(bucket, header)?;
    match header.map(str::trim) {
        None | Some("bucket-owner-full-control") | Some("bucket-owner-read") => Ok(None),
        Some(v) => Ok(acl_column(canned_acl(v)?)),
    }
}

/// Checks a canned ACL name: Cairn grants `private` and `public-read`.
pub fn canned_acl(value: &str) -> S3Result<&'static str> {
    match value.trim() {
        "private" => Ok("private"),
        "public-read" => Ok("public-read"),
        other => Err(S3Error::msg(
            Code::NotImplemented,
            format!(
                "The canned ACL '{other}' is not supported by Cairn; use private or public-read."
            ),
        )),
    }
}

pub async fn body(ctx: &Ctx, body: Body) -> S3Result<bytes::Bytes> {
    Ok(
        BodyReader::new(body, &ctx.parts.headers, &ctx.verified.payload, MAX_BODY)?
            .collect()
            .await?
            .0,
    )
}

/// Sets (or with `None`, clears) one bucket setting, in one write.
pub(super) async fn set(
    ctx: &Ctx,
    bucket: &str,
    setting: Setting,
    value: Option<String>,
) -> S3Result<()> {
    let b = bucket.to_owned();
    ctx.state
        .meta
        .write(move |c, _| buckets::set(c, &b, setting, value.as_deref()))
        .await
}

#[derive(Deserialize)]
struct AccessControlPolicy {
    #[serde(rename = "AccessControlList")]
    list: Option<GrantList>,
}

#[derive(Deserialize)]
struct GrantList {
    #[serde(rename = "Grant", default)]
    grants: Vec<Grant>,
}

#[derive(Deserialize)]
struct Grant {
    #[serde(rename = "Grantee")]
    grantee: Grantee,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Deserialize)]
struct Grantee {
    #[serde(rename = "URI")]
    uri: Option<String>,
    #[serde(rename = "ID")]
    id: Option<String>,
}

pub async fn put_acl(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let acl = requested_acl(ctx, &row, raw).await?;
    check_acl_allowed(&row, Some(acl))?;
    set(ctx, bucket, Setting::Acl, Some(acl.to_owned())).await?;
    Ok(empty(StatusCode::OK))
}

/// PutObjectAcl: the same two forms as a bucket's, for one version.
pub async fn put_object_acl(ctx: &Ctx, bucket: &str, key: &str, raw: Body) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let canned = requested_acl(ctx, &row, raw).await?;
    check_acl_allowed(&row, Some(canned))?;
    let acl = acl_column(canned);
    let version = ctx.version_param()?;
    let (b, k) = (bucket.to_owned(), key.to_owned());
    let vid = ctx
        .state
        .meta
        .write(move |c, _| {
            use crate::store::meta::versions::{set_attribute, Attribute};
            set_attribute(c, &b, &k, version.as_ref(), Attribute::Acl(acl.as_deref()))
        })
        .await?;
    let mut resp = empty(StatusCode::OK);
    super::put::version_header(resp.headers_mut(), vid.as_deref());
    Ok(resp)
}

/// The canned ACL a PutBucketAcl or PutObjectAcl asks for: `x-amz-acl`,
/// or a grant list of the shapes Cairn can keep.
async fn requested_acl(ctx: &Ctx, row: &BucketRow, raw: Body) -> S3Result<&'static str> {
    Ok(match ctx.header("x-amz-acl") {
        Some(v) => {
            check_acl_allowed(row, Some(v))?;
            canned_acl(v)?
        }
        None => {
            // An explicit grant list: owner FULL_CONTROL, optionally AllUsers READ.
            let doc: AccessControlPolicy = crate::xml::parse(&body(ctx, raw).await?)?;
            let grants = doc.list.map(|l| l.grants).unwrap_or_default();
            let owner = owner_id(&row.owner);
            let mut public = false;
            for g in &grants {
                match (&g.grantee.uri, &g.grantee.id, g.permission.as_str()) {
                    (Some(u), _, "READ") if u == ALL_USERS => public = true,
                    (None, Some(id), "FULL_CONTROL") if *id == owner => {}
                    _ => {
                        return Err(S3Error::msg(
                            Code::NotImplemented,
                            "Cairn supports only owner FULL_CONTROL and AllUsers READ grants.",
                        ))
                    }
                }
            }
            if public {
                "public-read"
            } else {
                "private"
            }
        }
    })
}

/// The owner holds FULL_CONTROL; a public-read bucket or object adds
/// AllUsers READ.
pub async fn get_acl(ctx: &Ctx, bucket: &str, key: Option<&str>) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let public = match key {
        None => row.acl == "public-read",
        Some(key) => {
            let version = ctx.version_param()?;
            let (b, k) = (bucket.to_owned(), key.to_owned());
            let object = ctx
                .state
                .meta
                .read(move |c| crate::store::meta::versions::object(c, &b, &k, version.as_ref()))
                .await?;
            object.acl.as_deref() == Some("public-read")
        }
    };
    let xsi = [
        ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ("xsi:type", "CanonicalUser"),
    ];
    let mut w = XmlWriter::new();
    w.root("AccessControlPolicy");
    write_owner(&mut w, "Owner", &ctx.verified.principal);
    w.open("AccessControlList");
    // The group grant first, as S3 lists it.
    if public {
        w.open("Grant");
        w.open_with(
            "Grantee",
            &[
                ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                ("xsi:type", "Group"),
            ],
        );
        w.elem("URI", ALL_USERS);
        w.close("Grantee");
        w.elem("Permission", "READ");
        w.close("Grant");
    }
    w.open("Grant");
    w.open_with("Grantee", &xsi);
    w.elem("ID", &owner_id(&row.owner));
    if let crate::auth::Principal::Key { name, .. } = &ctx.verified.principal {
        w.elem("DisplayName", name);
    }
    w.close("Grantee");
    w.elem("Permission", "FULL_CONTROL");
    w.close("Grant");
    w.close("AccessControlList");
    w.close("AccessControlPolicy");
    Ok(xml_response(w.finish()))
}

pub async fn put_policy(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let bytes = body(ctx, raw).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| S3Error::new(Code::MalformedPolicy))?;
    let policy = crate::policy::parse(bucket, text)?;
    if row.block().block_public_policy && policy.is_public() {
        return Err(S3Error::msg(
            Code::AccessDenied,
            "The bucket's PublicAccessBlock blocks public bucket policies.",
        ));
    }
    set(ctx, bucket, Setting::Policy, Some(text.to_owned())).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn get_policy(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let policy = row
        .policy
        .ok_or_else(|| S3Error::new(Code::NoSuchBucketPolicy).with("BucketName", bucket))?;
    let mut resp = Response::new(Body::from(policy));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

pub async fn delete_policy(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    set(ctx, bucket, Setting::Policy, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn policy_status(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let public = row
        .policy
        .as_deref()
        .and_then(|p| crate::policy::parse(bucket, p).ok())
        .is_some_and(|p| p.is_public());
    let mut w = XmlWriter::new();
    w.root("PolicyStatus");
    w.elem("IsPublic", if public { "true" } else { "false" });
    w.close("PolicyStatus");
    Ok(xml_response(w.finish()))
}

pub async fn put_cors(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = body(ctx, raw).await?;
    let rules = super::cors::parse(&bytes)?;
    let normalized = String::from_utf8(super::cors::to_xml(&rules)).map_err(S3Error::internal)?;
    set(ctx, bucket, Setting::Cors, Some(normalized)).await?;
    Ok(empty(StatusCode::OK))
}

/// The owner reads its rules; edges read them too, to answer browsers.
pub async fn get_cors(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = if ctx.verified.principal.is_edge() {
        let b = bucket.to_owned();
        ctx.state
            .meta
            .read(move |c| buckets::get(c, &b))
            .await?
            .ok_or_else(|| S3Error::new(Code::NoSuchBucket).with("BucketName", bucket))?
    } else {
        ctx.owned_bucket(bucket).await?
    };
    let cors = row
        .cors
        .ok_or_else(|| S3Error::new(Code::NoSuchCORSConfiguration).with("BucketName", bucket))?;
    Ok(xml_response(cors.into_bytes()))
}

pub async fn delete_cors(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    set(ctx, bucket, Setting::Cors, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn put_tagging(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = body(ctx, raw).await?;
    let tags = super::tagging::parse_document(&bytes)?;
    set(ctx, bucket, Setting::Tags, tags).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn get_tagging(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let tags = row
        .tags
        .ok_or_else(|| S3Error::new(Code::NoSuchTagSet).with("BucketName", bucket))?;
    Ok(xml_response(super::tagging::document(Some(&tags))))
}

pub async fn delete_tagging(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    set(ctx, bucket, Setting::Tags, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
