//! Turns a request's method, path, query and Host into one S3 operation,
//! with everything the operation needs parsed: its bucket, its key, the
//! version, upload and part it names. A handler takes these as typed
//! arguments and never reads the query for them again.
//!
//! This is pure parsing: no I/O, no auth. Query parameters that name no
//! subresource (`x-id`, cache busters) are ignored, as S3 ignores them; a
//! subresource we do not implement is `NotImplemented`, never a guess.

use http::Method;

use crate::error::{Code, S3Error, S3Result};

pub use cairn_shared::target::{target, Target};

/// What a request is, before any credential is looked at: one of the two
/// kinds of request that carry no signature (a CORS preflight; a browser
/// form upload, authenticated by its signed policy), or an operation that
/// only a verified request reaches. The router can hand an [`Endpoint`] to
/// a handler only after `auth` verified the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Preflight { bucket: String },
    PostObject { bucket: String },
    Signed(Endpoint),
}

/// Every operation that needs a verified request, with the resource it
/// acts on. Handlers live in `ops::*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Service(ServiceOp),
    Bucket {
        bucket: String,
        op: BucketOp,
    },
    Object {
        bucket: String,
        key: String,
        op: ObjectOp,
    },
}

/// The `versionId` a request names: `None` for the current version,
/// `Some(None)` for S3's `null` version, `Some(Some(id))` for one version.
pub type VersionId = Option<Option<String>>;

/// The highest part number S3 takes (`partNumber`).
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Declares a fieldless operation enum with, per variant, the IAM action a
/// bucket policy names it by; its S3 name is the variant's name.
macro_rules! operations {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => $action:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant),)* }
            }

            /// The IAM action a bucket policy names this operation by.
            pub fn action(self) -> &'static str {
                match self { $(Self::$variant => $action,)* }
            }
        }
    };
}

operations! {
    /// Operations on no bucket.
    pub enum ServiceOp {
        ListBuckets => "s3:ListAllMyBuckets",
        /// `GET /_cairn/feed`: the change feed edges follow.
        ChangeFeed => "cairn:Internal",
        /// `GET /_cairn/sign`: a signed edge URL for a private object.
        SignEdgeUrl => "cairn:Internal",
    }
}

operations! {
    /// Operations on a bucket, its settings and its listings.
    pub enum BucketOp {
        CreateBucket => "s3:CreateBucket",
        HeadBucket => "s3:ListBucket",
        DeleteBucket => "s3:DeleteBucket",
        GetBucketLocation => "s3:GetBucketLocation",
        GetBucketVersioning => "s3:GetBucketVersioning",
        PutBucketVersioning => "s3:PutBucketVersioning",
        GetBucketAcl => "s3:GetBucketAcl",
        PutBucketAcl => "s3:PutBucketAcl",
        GetBucketPolicy => "s3:GetBucketPolicy",
        PutBucketPolicy => "s3:PutBucketPolicy",
        DeleteBucketPolicy => "s3:DeleteBucketPolicy",
        GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
        GetBucketCors => "s3:GetBucketCORS",
        PutBucketCors => "s3:PutBucketCORS",
        DeleteBucketCors => "s3:PutBucketCORS",
        ListObjects => "s3:ListBucket",
        ListObjectsV2 => "s3:ListBucket",
        ListObjectVersions => "s3:ListBucketVersions",
        ListMultipartUploads => "s3:ListBucketMultipartUploads",
        DeleteObjects => "s3:DeleteObject",
        GetBucketTagging => "s3:GetBucketTagging",
        PutBucketTagging => "s3:PutBucketTagging",
        DeleteBucketTagging => "s3:PutBucketTagging",
        GetBucketNotificationConfiguration => "s3:GetBucketNotification",
        PutBucketNotificationConfiguration => "s3:PutBucketNotification",
        GetBucketWebsite => "s3:GetBucketWebsite",
        PutBucketWebsite => "s3:PutBucketWebsite",
        DeleteBucketWebsite => "s3:DeleteBucketWebsite",
        GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
        PutBucketOwnershipControls => "s3:PutBucketOwnershipControls",
        DeleteBucketOwnershipControls => "s3:PutBucketOwnershipControls",
        GetBucketEncryption => "s3:GetEncryptionConfiguration",
        PutBucketEncryption => "s3:PutEncryptionConfiguration",
        DeleteBucketEncryption => "s3:PutEncryptionConfiguration",
        GetPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
        PutPublicAccessBlock => "s3:PutBucketPublicAccessBlock",
        DeletePublicAccessBlock => "s3:PutBucketPublicAccessBlock",
        GetBucketLifecycleConfiguration => "s3:GetLifecycleConfiguration",
        PutBucketLifecycleConfiguration => "s3:PutLifecycleConfiguration",
        DeleteBucketLifecycle => "s3:PutLifecycleConfiguration",
        GetObjectLockConfiguration => "s3:GetBucketObjectLockConfiguration",
        PutObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
    }
}

/// Operations on one object (or one of its versions, or one upload to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectOp {
    PutObject,
    CopyObject,
    /// `part`: one part of a multipart object (`partNumber`).
    GetObject {
        version: VersionId,
        part: Option<u32>,
    },
    HeadObject {
        version: VersionId,
        part: Option<u32>,
    },
    DeleteObject {
        version: VersionId,
    },
    GetObjectAcl {
        version: VersionId,
    },
    PutObjectAcl {
        version: VersionId,
    },
    GetObjectTagging {
        version: VersionId,
    },
    PutObjectTagging {
        version: VersionId,
    },
    DeleteObjectTagging {
        version: VersionId,
    },
    GetObjectAttributes {
        version: VersionId,
    },
    GetObjectRetention {
        version: VersionId,
    },
    PutObjectRetention {
        version: VersionId,
    },
    GetObjectLegalHold {
        version: VersionId,
    },
    PutObjectLegalHold {
        version: VersionId,
    },
    CreateMultipartUpload,
    UploadPart {
        upload_id: String,
        part: u32,
    },
    UploadPartCopy {
        upload_id: String,
        part: u32,
    },
    CompleteMultipartUpload {
        upload_id: String,
    },
    AbortMultipartUpload {
        upload_id: String,
    },
    ListParts {
        upload_id: String,
    },
}

impl ObjectOp {
    pub fn name(&self) -> &'static str {
        use ObjectOp::*;
        match self {
            PutObject => "PutObject",
            CopyObject => "CopyObject",
            GetObject { .. } => "GetObject",
            HeadObject { .. } => "HeadObject",
            DeleteObject { .. } => "DeleteObject",
            GetObjectAcl { .. } => "GetObjectAcl",
            PutObjectAcl { .. } => "PutObjectAcl",
            GetObjectTagging { .. } => "GetObjectTagging",
            PutObjectTagging { .. } => "PutObjectTagging",
            DeleteObjectTagging { .. } => "DeleteObjectTagging",
            GetObjectAttributes { .. } => "GetObjectAttributes",
            GetObjectRetention { .. } => "GetObjectRetention",
            PutObjectRetention { .. } => "PutObjectRetention",
            GetObjectLegalHold { .. } => "GetObjectLegalHold",
            PutObjectLegalHold { .. } => "PutObjectLegalHold",
            CreateMultipartUpload => "CreateMultipartUpload",
            UploadPart { .. } => "UploadPart",
            UploadPartCopy { .. } => "UploadPartCopy",
            CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            AbortMultipartUpload { .. } => "AbortMultipartUpload",
            ListParts { .. } => "ListParts",
        }
    }

    /// The IAM action a bucket policy names this operation by: the
    /// `*Version*` form when the request names a version.
    pub fn action(&self) -> &'static str {
        use ObjectOp::*;
        let pick = |version: &VersionId, current, versioned| match version {
            None => current,
            Some(_) => versioned,
        };
        match self {
            PutObject | CopyObject | CreateMultipartUpload => "s3:PutObject",
            UploadPart { .. } | UploadPartCopy { .. } | CompleteMultipartUpload { .. } => {
                "s3:PutObject"
            }
            AbortMultipartUpload { .. } => "s3:AbortMultipartUpload",
            ListParts { .. } => "s3:ListMultipartUploadParts",
            GetObject { version, .. } | HeadObject { version, .. } => {
                pick(version, "s3:GetObject", "s3:GetObjectVersion")
            }
            DeleteObject { version } => pick(version, "s3:DeleteObject", "s3:DeleteObjectVersion"),
            GetObjectAcl { version } => pick(version, "s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
            PutObjectAcl { version } => pick(version, "s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
            GetObjectTagging { version } => {
                pick(version, "s3:GetObjectTagging", "s3:GetObjectVersionTagging")
            }
            PutObjectTagging { version } => {
                pick(version, "s3:PutObjectTagging", "s3:PutObjectVersionTagging")
            }
            DeleteObjectTagging { version } => pick(
                version,
                "s3:DeleteObjectTagging",
                "s3:DeleteObjectVersionTagging",
            ),
            GetObjectAttributes { .. } => "s3:GetObjectAttributes",
            GetObjectRetention { .. } => "s3:GetObjectRetention",
            PutObjectRetention { .. } => "s3:PutObjectRetention",
            GetObjectLegalHold { .. } => "s3:GetObjectLegalHold",
            PutObjectLegalHold { .. } => "s3:PutObjectLegalHold",
        }
    }

    /// Whether the operation writes an object's bytes.
    pub fn writes_bytes(&self) -> bool {
        use ObjectOp::*;
        matches!(
            self,
            PutObject
                | CopyObject
                | CreateMultipartUpload
                | UploadPart { .. }
                | UploadPartCopy { .. }
        )
    }
}

impl Endpoint {
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::Service(op) => op.name(),
            Endpoint::Bucket { op, .. } => op.name(),
            Endpoint::Object { op, .. } => op.name(),
        }
    }

    /// The bucket the operation acts on (none for service operations).
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Endpoint::Bucket { bucket, .. } | Endpoint::Object { bucket, .. } => Some(bucket),
            Endpoint::Service(_) => None,
        }
    }

    /// The object key the operation acts on, if it acts on one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Endpoint::Object { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The IAM action a bucket policy names this operation by.
    pub fn action(&self) -> &'static str {
        match self {
            Endpoint::Service(op) => op.action(),
            Endpoint::Bucket { op, .. } => op.action(),
            Endpoint::Object { op, .. } => op.action(),
        }
    }

    /// Picks the operation and parses what it names. `pairs` are the
    /// decoded query parameters; `copy_source` says whether
    /// `x-amz-copy-source` was sent.
    pub fn parse(
        method: &Method,
        target: Target,
        pairs: &[(String, String)],
        copy_source: bool,
    ) -> S3Result<Operation> {
        let query = |q: &str| pairs.iter().find(|(k, _)| k == q).map(|(_, v)| v.as_str());
        let has = |q: &str| query(q).is_some();
        let not_impl = |what: &str| {
            Err(S3Error::msg(
                Code::NotImplemented,
                format!("{what} is not implemented by Cairn yet."),
            ))
        };
        let not_allowed = || Err(S3Error::new(Code::MethodNotAllowed));
        let Target { bucket, key, .. } = target;
        let Some(bucket) = bucket else {
            return match *method {
                Method::GET => Ok(Operation::Signed(Endpoint::Service(ServiceOp::ListBuckets))),
                _ => not_allowed(),
            };
        };
        // `_` cannot start a bucket name: Cairn's own API lives there.
        if bucket == "_cairn" {
            let op = match (method, key.as_deref()) {
                (&Method::GET, Some("feed")) => ServiceOp::ChangeFeed,
                (&Method::GET, Some("sign")) => ServiceOp::SignEdgeUrl,
                _ => {
                    return Err(S3Error::msg(
                        Code::InvalidRequest,
                        "Unknown Cairn API call.",
                    ))
                }
            };
            return Ok(Operation::Signed(Endpoint::Service(op)));
        }
        let Some(key) = key else {
            const UNSUPPORTED: &[&str] = &[
                "logging",
                "replication",
                "accelerate",
                "requestPayment",
                "intelligent-tiering",
                "analytics",
                "metrics",
                "inventory",
                // MinIO's notification listener (`?events=...`).
                "events",
            ];
            if let Some(sub) = UNSUPPORTED.iter().find(|s| has(s)) {
                return not_impl(&format!("The bucket subresource '{sub}'"));
            }
            use BucketOp::*;
            let op = match *method {
                Method::OPTIONS => return Ok(Operation::Preflight { bucket }),
                Method::POST if !has("delete") => return Ok(Operation::PostObject { bucket }),
                Method::POST => DeleteObjects,
                Method::GET if has("encryption") => GetBucketEncryption,
                Method::PUT if has("encryption") => PutBucketEncryption,
                Method::DELETE if has("encryption") => DeleteBucketEncryption,
                Method::GET if has("ownershipControls") => GetBucketOwnershipControls,
                Method::PUT if has("ownershipControls") => PutBucketOwnershipControls,
                Method::DELETE if has("ownershipControls") => DeleteBucketOwnershipControls,
                Method::GET if has("publicAccessBlock") => GetPublicAccessBlock,
                Method::PUT if has("publicAccessBlock") => PutPublicAccessBlock,
                Method::DELETE if has("publicAccessBlock") => DeletePublicAccessBlock,
                Method::GET if has("lifecycle") => GetBucketLifecycleConfiguration,
                Method::PUT if has("lifecycle") => PutBucketLifecycleConfiguration,
                Method::DELETE if has("lifecycle") => DeleteBucketLifecycle,
                Method::GET if has("object-lock") => GetObjectLockConfiguration,
                Method::PUT if has("object-lock") => PutObjectLockConfiguration,
                Method::GET if has("tagging") => GetBucketTagging,
                Method::PUT if has("tagging") => PutBucketTagging,
                Method::DELETE if has("tagging") => DeleteBucketTagging,
                Method::GET if has("website") => GetBucketWebsite,
                Method::PUT if has("website") => PutBucketWebsite,
                Method::DELETE if has("website") => DeleteBucketWebsite,
                Method::GET if has("notification") => GetBucketNotificationConfiguration,
                Method::PUT if has("notification") => PutBucketNotificationConfiguration,
                Method::GET if has("policyStatus") => GetBucketPolicyStatus,
                Method::GET if has("policy") => GetBucketPolicy,
                Method::PUT if has("policy") => PutBucketPolicy,
                Method::DELETE if has("policy") => DeleteBucketPolicy,
                Method::GET if has("cors") => GetBucketCors,
                Method::PUT if has("cors") => PutBucketCors,
                Method::DELETE if has("cors") => DeleteBucketCors,
                Method::GET if has("acl") => GetBucketAcl,
                Method::PUT if has("acl") => PutBucketAcl,
                Method::GET if has("location") => GetBucketLocation,
                Method::GET if has("versioning") => GetBucketVersioning,
                Method::PUT if has("versioning") => PutBucketVersioning,
                Method::GET if has("versions") => ListObjectVersions,
                Method::GET if has("uploads") => ListMultipartUploads,
                Method::GET if has("list-type") => ListObjectsV2,
                Method::GET => ListObjects,
                Method::HEAD => HeadBucket,
                Method::PUT => CreateBucket,
                Method::DELETE => DeleteBucket,
                _ => return not_allowed(),
            };
            return Ok(Operation::Signed(Endpoint::Bucket { bucket, op }));
        };
        const UNSUPPORTED: &[&str] = &["restore", "torrent", "select"];
        if let Some(sub) = UNSUPPORTED.iter().find(|s| has(s)) {
            return not_impl(&format!("The object subresource '{sub}'"));
        }
        use ObjectOp::*;
        let version = || version_id(query("versionId"));
        let upload_id = query("uploadId").map(str::to_owned);
        let op = match (method, upload_id) {
            (&Method::OPTIONS, _) => return Ok(Operation::Preflight { bucket }),
            (&Method::GET, _) if has("attributes") => GetObjectAttributes {
                version: version()?,
            },
            (&Method::GET, _) if has("retention") => GetObjectRetention {
                version: version()?,
            },
            (&Method::PUT, _) if has("retention") => PutObjectRetention {
                version: version()?,
            },
            (&Method::GET, _) if has("legal-hold") => GetObjectLegalHold {
                version: version()?,
            },
            (&Method::PUT, _) if has("legal-hold") => PutObjectLegalHold {
                version: version()?,
            },
            (&Method::GET, _) if has("tagging") => GetObjectTagging {
                version: version()?,
            },
            (&Method::PUT, _) if has("tagging") => PutObjectTagging {
                version: version()?,
            },
            (&Method::DELETE, _) if has("tagging") => DeleteObjectTagging {
                version: version()?,
            },
            (&Method::POST, _) if has("uploads") => CreateMultipartUpload,
            (&Method::POST, Some(upload_id)) => CompleteMultipartUpload { upload_id },
            (&Method::PUT, Some(upload_id)) => {
                let part = part_number(query("partNumber"))?.ok_or_else(bad_part_number)?;
                match copy_source {
                    true => UploadPartCopy { upload_id, part },
                    false => UploadPart { upload_id, part },
                }
            }
            (&Method::DELETE, Some(upload_id)) => AbortMultipartUpload { upload_id },
            (&Method::GET, Some(upload_id)) => ListParts { upload_id },
            (&Method::GET, _) if has("acl") => GetObjectAcl {
                version: version()?,
            },
            (&Method::PUT, _) if has("acl") => PutObjectAcl {
                version: version()?,
            },
            (&Method::GET, _) => GetObject {
                version: version()?,
                part: part_number(query("partNumber"))?,
            },
            (&Method::HEAD, _) => HeadObject {
                version: version()?,
                part: part_number(query("partNumber"))?,
            },
            (&Method::PUT, _) if copy_source => CopyObject,
            (&Method::PUT, _) => PutObject,
            (&Method::DELETE, _) => DeleteObject {
                version: version()?,
            },
            _ => return not_allowed(),
        };
        Ok(Operation::Signed(Endpoint::Object { bucket, key, op }))
    }
}

/// A `versionId` query parameter: `null` names S3's null version; any
/// other id is what Cairn hands out (ASCII letters and digits).
fn version_id(param: Option<&str>) -> S3Result<VersionId> {
    match param {
        None => Ok(None),
        Some("null") => Ok(Some(None)),
        Some(v)
            if !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok(Some(Some(v.to_owned())))
        }
        Some(_) => Err(
            S3Error::msg(Code::InvalidArgument, "Invalid version id specified")
                .with("ArgumentName", "versionId"),
        ),
    }
}

/// A `partNumber` query parameter (1 to 10,000), if any.
fn part_number(param: Option<&str>) -> S3Result<Option<u32>> {
    match param {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
            .map(Some)
            .ok_or_else(bad_part_number),
    }
}

fn bad_part_number() -> S3Error {
    S3Error::msg(
        Code::InvalidArgument,
        "Part number must be an integer between 1 and 10000, inclusive",
    )
    .with("ArgumentName", "partNumber")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        copy: bool,
    ) -> S3Result<Operation> {
        let target = target(None, path, None).unwrap();
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Endpoint::parse(&method, target, &pairs, copy)
    }

    fn bucket_op(op: BucketOp) -> Operation {
        Operation::Signed(Endpoint::Bucket {
            bucket: "b".into(),
            op,
        })
    }

    fn object_op(op: ObjectOp) -> Operation {
        Operation::Signed(Endpoint::Object {
            bucket: "b".into(),
            key: "k".into(),
            op,
        })
    }

    fn code(r: S3Result<Operation>) -> Code {
        r.unwrap_err().code
    }

    #[test]
    fn operations_and_what_they_name() {
        use Method as M;
        let ok = |m, p, q, c| parse(m, p, q, c).unwrap();
        assert_eq!(
            ok(M::GET, "/b", &[("list-type", "2")], false),
            bucket_op(BucketOp::ListObjectsV2)
        );
        assert_eq!(
            ok(M::GET, "/b", &[("x-id", "x")], false),
            bucket_op(BucketOp::ListObjects)
        );
        assert_eq!(
            ok(M::POST, "/b", &[("delete", "")], false),
            bucket_op(BucketOp::DeleteObjects)
        );
        assert_eq!(
            ok(M::PUT, "/b/k", &[], true),
            object_op(ObjectOp::CopyObject)
        );
        assert_eq!(
            ok(M::PUT, "/b/k", &[("x-id", "PutObject")], false),
            object_op(ObjectOp::PutObject)
        );
        assert_eq!(
            ok(
                M::PUT,
                "/b/k",
                &[("partNumber", "7"), ("uploadId", "u1")],
                false
            ),
            object_op(ObjectOp::UploadPart {
                upload_id: "u1".into(),
                part: 7
            })
        );
        assert_eq!(
            ok(
                M::PUT,
                "/b/k",
                &[("partNumber", "7"), ("uploadId", "u1")],
                true
            ),
            object_op(ObjectOp::UploadPartCopy {
                upload_id: "u1".into(),
                part: 7
            })
        );
        assert_eq!(
            ok(
                M::GET,
                "/b/k",
                &[("versionId", "null"), ("partNumber", "2")],
                false
            ),
            object_op(ObjectOp::GetObject {
                version: Some(None),
                part: Some(2)
            })
        );
        assert_eq!(
            ok(M::DELETE, "/b/k", &[("versionId", "abc123")], false),
            object_op(ObjectOp::DeleteObject {
                version: Some(Some("abc123".into()))
            })
        );
        assert_eq!(
            ok(M::GET, "/", &[], false),
            Operation::Signed(Endpoint::Service(ServiceOp::ListBuckets))
        );
        assert_eq!(
            ok(M::GET, "/_cairn/feed", &[], false),
            Operation::Signed(Endpoint::Service(ServiceOp::ChangeFeed))
        );
    }

    #[test]
    fn the_unsigned_kinds_are_not_endpoints_a_handler_could_take() {
        assert_eq!(
            parse(Method::OPTIONS, "/b/k", &[], false).unwrap(),
            Operation::Preflight { bucket: "b".into() }
        );
        assert_eq!(
            parse(Method::POST, "/b", &[], false).unwrap(),
            Operation::PostObject { bucket: "b".into() }
        );
    }

    #[test]
    fn bad_requests_are_refused_with_s3s_codes() {
        assert_eq!(
            code(parse(Method::PATCH, "/b/k", &[], false)),
            Code::MethodNotAllowed
        );
        assert_eq!(
            code(parse(Method::PUT, "/", &[], false)),
            Code::MethodNotAllowed
        );
        assert_eq!(
            code(parse(Method::GET, "/b", &[("logging", "")], false)),
            Code::NotImplemented
        );
        for bad in ["0", "10001", "-1", "x", ""] {
            let q = [("uploadId", "u"), ("partNumber", bad)];
            assert_eq!(
                code(parse(Method::PUT, "/b/k", &q, false)),
                Code::InvalidArgument
            );
            let q = [("partNumber", bad)];
            assert_eq!(
                code(parse(Method::GET, "/b/k", &q, false)),
                Code::InvalidArgument
            );
        }
        // An upload part needs its number.
        let q = [("uploadId", "u")];
        assert_eq!(
            code(parse(Method::PUT, "/b/k", &q, false)),
            Code::InvalidArgument
        );
        for bad in ["", "a/b", "x y", &"v".repeat(65)] {
            let q = [("versionId", bad)];
            assert_eq!(
                code(parse(Method::GET, "/b/k", &q, false)),
                Code::InvalidArgument
            );
        }
    }

    #[test]
    fn a_version_turns_an_action_into_its_version_form() {
        let get = |version| {
            ObjectOp::GetObject {
                version,
                part: None,
            }
            .action()
        };
        assert_eq!(get(None), "s3:GetObject");
        assert_eq!(get(Some(None)), "s3:GetObjectVersion");
        let del = ObjectOp::DeleteObjectTagging {
            version: Some(Some("v".into())),
        };
        assert_eq!(del.action(), "s3:DeleteObjectVersionTagging");
        assert_eq!(BucketOp::DeleteBucketCors.action(), "s3:PutBucketCORS");
        assert_eq!(BucketOp::DeleteBucketCors.name(), "DeleteBucketCors");
    }
}
