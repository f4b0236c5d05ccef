//! Bucket settings that make objects public or browser-reachable: canned
//! ACLs, bucket policies (see `policy.rs`) and CORS
//! configurations. Each is validated whole before it is stored.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

use super::body::BodyReader;
use super::{empty, owner_id, xml_response, Ctx};
use crate::acl::{Acl, Grantee};
use crate::error::{Code, S3Error, S3Result};
use crate::http::endpoint::VersionId;
use crate::store::meta::buckets::{self, BucketRow, Setting};
use crate::store::meta::objects::ObjectRow;
use crate::xml::XmlWriter;

const MAX_BODY: u64 = 64 * 1024;

/// The canonical ids an ACL is read with: the resource's owner and its
/// bucket's owner (the same for a bucket).
pub struct Owners {
    pub owner: String,
    pub bucket: String,
}

impl Owners {
    pub fn of_bucket(row: &BucketRow) -> Self {
        let id = owner_id(&row.owner);
        Owners {
            owner: id.clone(),
            bucket: id,
        }
    }

    /// An object's: its writer under ObjectWriter, else the bucket's owner.
    pub fn of_object(row: &BucketRow, object_owner: Option<&str>) -> Self {
        let bucket = owner_id(&row.owner);
        Owners {
            owner: object_owner.map(owner_id).unwrap_or_else(|| bucket.clone()),
            bucket,
        }
    }

    pub fn stored(&self, column: Option<&str>) -> Acl {
        Acl::stored(column, &self.owner, &self.bucket)
    }

    pub fn column(&self, acl: &Acl) -> Option<String> {
        acl.column(&self.owner, &self.bucket)
    }
}

/// A bucket's ACL as grants.
pub fn bucket_acl(row: &BucketRow) -> Acl {
    Owners::of_bucket(row).stored(Some(&row.acl))
}

/// An object's ACL as grants.
pub fn object_acl_of(row: &BucketRow, object: Option<&ObjectRow>) -> Acl {
    let object_owner = object.and_then(|o| o.owner.as_deref());
    Owners::of_object(row, object_owner).stored(object.and_then(|o| o.acl.as_deref()))
}

/// Who will own an object this request writes: `Some(access key)` when
/// it is not the bucket's owner. S3's ObjectOwnership decides:
/// BucketOwnerEnforced gives every object to the bucket's owner,
/// BucketOwnerPreferred does when the writer grants it
/// `bucket-owner-full-control`, ObjectWriter (and no setting) leaves
/// objects to their writers.
pub fn writer(ctx: &Ctx, bucket: &BucketRow) -> Option<String> {
    let caller = ctx.verified.principal.access_key()?;
    let to_bucket = match bucket.ownership.as_deref() {
        Some("BucketOwnerEnforced") => true,
        Some("BucketOwnerPreferred") => {
            ctx.header("x-amz-acl").map(str::trim) == Some("bucket-owner-full-control")
        }
        _ => false,
    };
    (caller != bucket.owner && !to_bucket).then(|| caller.to_owned())
}

/// ACLs are off under `BucketOwnerEnforced` (but for lists that say what
/// is true anyway: the owner's FULL_CONTROL); BlockPublicAcls refuses
/// setting a public one.
pub fn check_acl_allowed(row: &BucketRow, acl: &Acl, owners: &Owners) -> S3Result<()> {
    if row.ownership.as_deref() == Some("BucketOwnerEnforced") && owners.column(acl).is_some() {
        return Err(S3Error::new(Code::AccessControlListNotSupported));
    }
    if acl.is_public() && row.block().block_public_acls {
        return Err(S3Error::msg(
            Code::AccessDenied,
            "The bucket's PublicAccessBlock blocks public ACLs.",
        ));
    }
    Ok(())
}

/// The ACL a request's headers ask for: `x-amz-acl` (a canned ACL) or
/// `x-amz-grant-*`, not both; `None` without either.
pub fn header_acl(ctx: &Ctx, owners: &Owners) -> S3Result<Option<Acl>> {
    // The keys are read only for a request that names grantees: not on
    // every PUT.
    let grants = ctx
        .parts
        .headers
        .keys()
        .any(|k| k.as_str().starts_with("x-amz-grant-"));
    let granted = if grants {
        let known = ctx.known_ids()?;
        Acl::from_headers(&ctx.parts.headers, &|id| known.iter().any(|(k, _)| k == id))?
    } else {
        None
    };
    match (ctx.header("x-amz-acl"), granted) {
        (Some(_), Some(_)) => Err(S3Error::msg(
            Code::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )),
        (Some(name), None) => Ok(Some(Acl::canned(
            crate::acl::canned_name(name)?,
            &owners.owner,
            &owners.bucket,
        ))),
        (None, granted) => Ok(granted),
    }
}

/// The object ACL a write asks for (`x-amz-acl` or `x-amz-grant-*`), as
/// its row keeps it for an object owned by `writer` (see [`writer`]):
/// refused where the bucket's settings forbid it.
pub fn object_acl(ctx: &Ctx, bucket: &BucketRow, writer: Option<&str>) -> S3Result<Option<String>> {
    let owners = Owners::of_object(bucket, writer);
    let Some(acl) = header_acl(ctx, &owners)? else {
        return Ok(None);
    };
    check_acl_allowed(bucket, &acl, &owners)?;
    Ok(owners.column(&acl))
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
        .await?;
    Ok(())
}

pub async fn put_acl(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let owners = Owners::of_bucket(&row);
    let acl = requested_acl(ctx, &row, &owners, raw).await?;
    let column = owners.column(&acl);
    set(ctx, bucket, Setting::Acl, column).await?;
    Ok(empty(StatusCode::OK))
}

/// PutObjectAcl: the same forms as a bucket's, for one version.
pub async fn put_object_acl(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    version: VersionId,
    raw: Body,
) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let (b, k, v) = (bucket.to_owned(), key.to_owned(), version.clone());
    let object = ctx
        .state
        .meta
        .read(move |c| crate::store::meta::versions::object(c, &b, &k, v.as_ref()))
        .await?;
    let owners = Owners::of_object(&row, object.owner.as_deref());
    let acl = owners.column(&requested_acl(ctx, &row, &owners, raw).await?);
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

/// The ACL a PutBucketAcl or PutObjectAcl asks for: its headers, or an
/// `AccessControlPolicy` body; checked against the bucket's settings.
async fn requested_acl(ctx: &Ctx, row: &BucketRow, owners: &Owners, raw: Body) -> S3Result<Acl> {
    let acl = match header_acl(ctx, owners)? {
        Some(acl) => acl,
        None => {
            let known = ctx.known_ids()?;
            Acl::from_xml(&body(ctx, raw).await?, &|id| {
                known.iter().any(|(k, _)| k == id)
            })?
        }
    };
    check_acl_allowed(row, &acl, owners)?;
    Ok(acl)
}

/// GetBucketAcl and GetObjectAcl: the owner, and the grants.
pub async fn get_acl(
    ctx: &Ctx,
    bucket: &str,
    object: Option<(&str, VersionId)>,
) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let (acl, owner) = match object {
        None => (bucket_acl(&row), owner_id(&row.owner)),
        Some((key, version)) => {
            let (b, k) = (bucket.to_owned(), key.to_owned());
            let object = ctx
                .state
                .meta
                .read(move |c| crate::store::meta::versions::object(c, &b, &k, version.as_ref()))
                .await?;
            let owners = Owners::of_object(&row, object.owner.as_deref());
            (object_acl_of(&row, Some(&object)), owners.owner)
        }
    };
    let names = ctx.known_ids()?;
    let name_of = |id: &str| names.iter().find(|(k, _)| k == id).map(|(_, n)| n.clone());
    let mut w = XmlWriter::new();
    w.root("AccessControlPolicy");
    w.open("Owner");
    w.elem("ID", &owner);
    if let Some(n) = name_of(&owner) {
        w.elem("DisplayName", &n);
    }
    w.close("Owner");
    w.open("AccessControlList");
    const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    // Group grants first, as S3 lists them.
    let (groups, users): (Vec<_>, Vec<_>) = acl
        .0
        .iter()
        .partition(|g| matches!(g.grantee, Grantee::Group(_)));
    for g in groups.into_iter().chain(users) {
        w.open("Grant");
        match &g.grantee {
            Grantee::User(id) => {
                w.open_with(
                    "Grantee",
                    &[("xmlns:xsi", XSI), ("xsi:type", "CanonicalUser")],
                );
                w.elem("ID", id);
                if let Some(n) = name_of(id) {
                    w.elem("DisplayName", &n);
                }
            }
            Grantee::Group(uri) => {
                w.open_with("Grantee", &[("xmlns:xsi", XSI), ("xsi:type", "Group")]);
                w.elem("URI", uri);
            }
        }
        w.close("Grantee");
        w.elem("Permission", g.permission.name());
        w.close("Grant");
    }
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
        .is_some_and(|p| p.is_public())
        || (!row.block().ignore_public_acls && bucket_acl(&row).is_public());
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
    let row = ctx.edge_or_owned_bucket(bucket).await?;
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
