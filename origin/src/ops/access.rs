//! Who may do what: the bucket owner, bucket grants to other keys, bucket
//! and object ACLs, and bucket policies, decided for the operation a
//! request is. Every handler reaches a bucket through one of these checks.
//!
//! How they combine, in order:
//! 1. A read-only key may only read (`reads`), whatever else says yes
//!    (checked once for every signed request, by [`refuse_read_only`]).
//! 2. A policy's Deny refuses, except the owner's own policy management.
//! 3. The bucket's creator, or a key granted `owner` on it, may do anything.
//! 4. A key granted `read` may read and list objects, one granted `write`
//!    may write and delete them ([`Grant`] admits exactly what a policy
//!    Allow of the same actions would).
//! 5. An ACL's grant or a policy's Allow admits; anonymous callers only
//!    to read.

use crate::acl::{Acl, Grantee, Permission, Who};
use crate::auth::Principal;
use crate::error::{Code, S3Error, S3Result};
use crate::policy::{Caller, Decision, Request};
use crate::state::AppState;
use crate::store::meta::buckets::BucketRow;
use crate::store::meta::grants::{self, Grant};
use crate::store::meta::objects::ObjectRow;

use super::{owner_id, settings, Ctx};

/// Actions a bucket's owner may take whatever its policy denies, so that
/// no policy can lock the owner out of changing it.
const OWNER_ALWAYS: &[&str] = &[
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
];

/// Whether an action only reads (all an anonymous caller can be granted).
fn reads(action: &str) -> bool {
    let name = action.strip_prefix("s3:").unwrap_or(action);
    name.starts_with("Get") || name.starts_with("List")
}

/// Step 1: a read-only key is refused anything but a read.
pub fn refuse_read_only(principal: &Principal, action: &str) -> S3Result<()> {
    if principal.is_read_only() && !reads(action) {
        return Err(S3Error::msg(
            Code::AccessDenied,
            "This access key is read-only.",
        ));
    }
    Ok(())
}

/// Whether a bucket grant admits `action`: `read` admits reading objects
/// (and their tags, attributes, retention) and listing; `write` admits
/// writing, tagging and deleting objects and running multipart uploads;
/// `owner` admits everything.
pub fn grant_admits(grant: Grant, action: &str) -> bool {
    let name = action.strip_prefix("s3:").unwrap_or(action);
    let read = name.starts_with("GetObject")
        || matches!(
            name,
            "ListBucket" | "ListBucketVersions" | "GetBucketLocation"
        );
    let write = matches!(
        name,
        "PutObject"
            | "PutObjectTagging"
            | "PutObjectVersionTagging"
            | "DeleteObject"
            | "DeleteObjectVersion"
            | "DeleteObjectTagging"
            | "DeleteObjectVersionTagging"
            | "AbortMultipartUpload"
            | "ListMultipartUploadParts"
            | "ListBucketMultipartUploads"
    );
    grant.owner || (grant.read && read) || (grant.write && write)
}

/// The owner and grant rules alone, for requests that carry no operation
/// context (POST form uploads, authorized by their form's signature): the
/// bucket's creator or a key granted write or owner on it.
pub fn authorize_form(
    state: &AppState,
    principal: &Principal,
    name: &str,
    row: Option<BucketRow>,
) -> S3Result<BucketRow> {
    let row = row.ok_or_else(|| missing(name))?;
    refuse_read_only(principal, "s3:PutObject")?;
    if grant_admits(grant_of(state, principal, &row)?, "s3:PutObject") {
        Ok(row)
    } else {
        Err(S3Error::new(Code::AccessDenied))
    }
}

/// What `principal` holds on `row`: everything for its creator, its bucket
/// grant for another key (looked up only then), nothing for anonymous.
fn grant_of(state: &AppState, principal: &Principal, row: &BucketRow) -> S3Result<Grant> {
    Ok(match principal.access_key() {
        Some(ak) if ak != row.owner => state.meta.read_now(|c| grants::get(c, &row.name, ak))?,
        Some(_) => Grant {
            owner: true,
            ..Grant::default()
        },
        None => Grant::default(),
    })
}

fn missing(name: &str) -> S3Error {
    S3Error::new(Code::NoSuchBucket).with("BucketName", name)
}

impl Ctx {
    /// Notes that the bucket exists (for its traffic counters) and
    /// unwraps it.
    fn found(&self, name: &str, row: Option<BucketRow>) -> S3Result<BucketRow> {
        let row = row.ok_or_else(|| missing(name))?;
        self.bucket_found
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(row)
    }

    /// Whether this request may act on `row` (the bucket it names): the
    /// owner unless a policy denies it, anyone else as an ACL grants or a
    /// policy allows.
    pub fn authorize(&self, name: &str, row: Option<BucketRow>) -> S3Result<BucketRow> {
        let row = self.found(name, row)?;
        let key = self.object_key.as_deref();
        let action = self.action;
        // A condition on the object's tags, or the object's own ACL,
        // needs the object.
        let tag_condition = row
            .policy
            .as_deref()
            .and_then(|p| self.state.policies.get(name, p))
            .is_some_and(|entry| entry.1.needs_object_tags());
        let object = match key {
            Some(k) if tag_condition || action.ends_with("Acl") => self
                .state
                .meta
                .read_now(|c| crate::store::meta::objects::get(c, name, k))?,
            _ => None,
        };
        let granted = || self.acl_grants(&row, object.as_ref(), action);
        self.decide(&row, action, key, object.as_ref(), &granted)?;
        Ok(row)
    }

    /// GetObject and HeadObject: also edges (which serve signed URLs).
    pub fn authorize_read(
        &self,
        name: &str,
        row: Option<BucketRow>,
        key: &str,
        object: Option<&ObjectRow>,
    ) -> S3Result<BucketRow> {
        let row = self.found(name, row)?;
        let granted =
            || self.verified.principal.is_edge() || self.acl_grants(&row, object, "s3:GetObject");
        match self.decide(&row, self.action, Some(key), object, &granted) {
            Ok(()) => Ok(row),
            // As S3: who may list the key's name learns that it is
            // missing (404); others learn nothing (403).
            Err(_) if object.is_none() && self.may_list(&row, key) => Ok(row),
            Err(e) => Err(e),
        }
    }

    /// Whether the caller may list `prefix` in the bucket.
    fn may_list(&self, row: &BucketRow, prefix: &str) -> bool {
        let listing = Lookup {
            object: None,
            prefix: Some(prefix),
        };
        let granted = || self.acl_grants(row, None, "s3:ListBucket");
        self.decide_with(row, "s3:ListBucket", None, &listing, &granted)
            .is_ok()
    }

    /// Listing a bucket: also whom its ACL grants READ.
    pub fn authorize_list(&self, name: &str, row: Option<BucketRow>) -> S3Result<BucketRow> {
        let row = self.found(name, row)?;
        let granted = || self.acl_grants(&row, None, "s3:ListBucket");
        self.decide(&row, self.action, None, None, &granted)?;
        Ok(row)
    }

    /// A copy's source: `s3:GetObject` on it, for the caller.
    pub fn authorize_source(
        &self,
        name: &str,
        row: Option<BucketRow>,
        key: &str,
        object: Option<&ObjectRow>,
    ) -> S3Result<BucketRow> {
        let row = self.found(name, row)?;
        let granted = || self.acl_grants(&row, object, "s3:GetObject");
        self.decide(&row, "s3:GetObject", Some(key), object, &granted)?;
        Ok(row)
    }

    /// What the bucket's and the object's ACLs grant this caller for
    /// `action`. As in S3, a bucket's READ lists it, WRITE writes and
    /// deletes its objects, READ_ACP/WRITE_ACP read and change its ACL;
    /// an object's READ reads it and its *_ACP its ACL. Unlike S3, a
    /// bucket's READ also reads its objects: a public bucket is a public
    /// site. Groups count for nothing under IgnorePublicAcls; anonymous
    /// callers are never granted a write.
    fn acl_grants(&self, row: &BucketRow, object: Option<&ObjectRow>, action: &str) -> bool {
        let canonical = self.verified.principal.access_key().map(owner_id);
        let who = match &canonical {
            Some(c) => Who::Key(c),
            None => Who::Anonymous,
        };
        let visible = |acl: Acl| {
            if row.block().ignore_public_acls {
                Acl(acl
                    .0
                    .into_iter()
                    .filter(|g| !matches!(g.grantee, Grantee::Group(_)))
                    .collect())
            } else {
                acl
            }
        };
        let bucket = || visible(settings::bucket_acl(row));
        let object = || visible(settings::object_acl_of(row, object));
        match action.strip_prefix("s3:").unwrap_or(action) {
            "ListBucket" | "ListBucketVersions" | "ListBucketMultipartUploads" => {
                bucket().allows(who, Permission::Read)
            }
            "GetBucketAcl" => bucket().allows(who, Permission::ReadAcp),
            "PutBucketAcl" => bucket().allows(who, Permission::WriteAcp),
            "PutObject"
            | "DeleteObject"
            | "DeleteObjectVersion"
            | "AbortMultipartUpload"
            | "ListMultipartUploadParts" => bucket().allows(who, Permission::Write),
            "GetObject" | "GetObjectVersion" => {
                bucket().allows(who, Permission::Read) || object().allows(who, Permission::Read)
            }
            "GetObjectAcl" | "GetObjectVersionAcl" => object().allows(who, Permission::ReadAcp),
            "PutObjectAcl" | "PutObjectVersionAcl" => object().allows(who, Permission::WriteAcp),
            _ => false,
        }
    }

    /// The one decision: a policy's Deny refuses (but the owner's policy
    /// management); then the owner, `granted` (an ACL's grant) or a
    /// policy's Allow admit; anonymous callers only to read.
    fn decide(
        &self,
        row: &BucketRow,
        action: &str,
        key: Option<&str>,
        object: Option<&ObjectRow>,
        granted: &dyn Fn() -> bool,
    ) -> S3Result<()> {
        let lookup = Lookup {
            object,
            prefix: None,
        };
        self.decide_with(row, action, key, &lookup, granted)
    }

    fn decide_with(
        &self,
        row: &BucketRow,
        action: &str,
        key: Option<&str>,
        lookup: &Lookup<'_>,
        granted: &dyn Fn() -> bool,
    ) -> S3Result<()> {
        let principal = &self.verified.principal;
        // The bucket's grant to this key, looked up only for keys that did
        // not create it.
        let grant = grant_of(&self.state, principal, row)?;
        let owner = grant.owner;
        let decision = self.policy_decision(row, action, key, lookup);
        if decision == Decision::Deny && !(owner && OWNER_ALWAYS.contains(&action)) {
            return Err(S3Error::new(Code::AccessDenied));
        }
        let anonymous = matches!(principal, Principal::Anonymous);
        let allowed = grant_admits(grant, action)
            || granted()
            || (decision == Decision::Allow && (!anonymous || reads(action)));
        if allowed {
            Ok(())
        } else {
            Err(S3Error::new(Code::AccessDenied))
        }
    }

    fn policy_decision(
        &self,
        row: &BucketRow,
        action: &str,
        key: Option<&str>,
        lookup: &Lookup<'_>,
    ) -> Decision {
        let Some(text) = row.policy.as_deref() else {
            return Decision::Default;
        };
        // Stored policies were checked when put; one that no longer parses
        // grants nothing.
        let Some(entry) = self.state.policies.get(&row.name, text) else {
            return Decision::Default;
        };
        let policy = &entry.1;
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{}/{k}", row.name),
            None => format!("arn:aws:s3:::{}", row.name),
        };
        let canonical;
        let caller = match &self.verified.principal {
            Principal::Anonymous => Caller::Anonymous,
            Principal::Key { access_key, .. } => {
                canonical = owner_id(access_key);
                Caller::Key {
                    access_key,
                    canonical_id: &canonical,
                }
            }
        };
        let context = |k: &str| self.condition_value(k, lookup);
        let decision = policy.evaluate(&Request {
            caller,
            action,
            resource: &resource,
            context: &context,
        });
        // RestrictPublicBuckets: a public policy admits only the owner's
        // own account, so no one else.
        if decision == Decision::Allow && row.block().restrict_public_buckets && policy.is_public()
        {
            return Decision::Default;
        }
        decision
    }

    /// The value of a policy condition key for this request.
    fn condition_value(&self, key: &str, lookup: &Lookup<'_>) -> Option<Vec<String>> {
        let header = |n: &str| self.header(n).map(|v| vec![v.trim().to_owned()]);
        let query = |n: &str| self.query(n).map(|v| vec![v.to_owned()]);
        let (scope, rest) = key.split_once('/').unwrap_or((key, ""));
        match scope {
            "s3:existingobjecttag" => tag_value(lookup.object?.tags.as_deref(), rest),
            "s3:prefix" if lookup.prefix.is_some() => lookup.prefix.map(|p| vec![p.to_owned()]),
            "s3:requestobjecttag" => tag_value(self.header("x-amz-tagging"), rest),
            "s3:requestobjecttagkeys" => {
                let tags = super::tagging::decode(self.header("x-amz-tagging"));
                (!tags.is_empty()).then(|| tags.into_iter().map(|(k, _)| k).collect())
            }
            "s3:x-amz-copy-source" => self.header("x-amz-copy-source").map(|v| {
                let decoded = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                vec![decoded.trim_start_matches('/').to_owned()]
            }),
            "s3:prefix" | "s3:delimiter" | "s3:max-keys" | "s3:versionid" => query(match scope {
                "s3:prefix" => "prefix",
                "s3:delimiter" => "delimiter",
                "s3:max-keys" => "max-keys",
                _ => "versionId",
            }),
            "aws:referer" => header("referer"),
            "aws:sourceip" => self.peer()?.addr.map(|a| vec![a.ip().to_string()]),
            "aws:securetransport" => self.peer().map(|p| vec![p.tls.to_string()]),
            "aws:useragent" => header("user-agent"),
            s => s
                .strip_prefix("s3:x-amz-")
                .and_then(|h| header(&format!("x-amz-{h}"))),
        }
    }
}

/// What a decision may look up beyond the request itself.
struct Lookup<'a> {
    /// The object the request acts on, for `s3:ExistingObjectTag/*`.
    object: Option<&'a ObjectRow>,
    /// `s3:prefix` when a listing permission stands in for a key's read.
    prefix: Option<&'a str>,
}

/// One tag's value from a tag set in `x-amz-tagging` form.
fn tag_value(tags: Option<&str>, name: &str) -> Option<Vec<String>> {
    super::tagging::decode(tags)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| vec![v])
}
