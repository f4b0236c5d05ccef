//! Turns a request's method, path, query and Host into one S3 operation.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Preflight,
    PostObject,
    Signed(Endpoint),
}

fn signed(e: Endpoint) -> S3Result<Operation> {
    Ok(Operation::Signed(e))
}

/// Every operation that needs a verified request. Handlers live in
/// `ops::*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    GetBucketVersioning,
    PutBucketVersioning,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetBucketCors,
    PutBucketCors,
    DeleteBucketCors,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    ListMultipartUploads,
    DeleteObjects,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    GetObjectAcl,
    PutObjectAcl,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    GetBucketTagging,
    GetBucketNotificationConfiguration,
    PutBucketNotificationConfiguration,
    GetBucketWebsite,
    PutBucketWebsite,
    DeleteBucketWebsite,
    PutBucketTagging,
    GetBucketOwnershipControls,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetBucketLifecycleConfiguration,
    PutBucketLifecycleConfiguration,
    DeleteBucketLifecycle,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetObjectAttributes,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    DeleteBucketTagging,
    /// `GET /_cairn/feed`: the change feed edges follow.
    ChangeFeed,
    /// `GET /_cairn/sign`: a signed edge URL for a private object.
    SignEdgeUrl,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::ListBuckets => "ListBuckets",
            Endpoint::CreateBucket => "CreateBucket",
            Endpoint::HeadBucket => "HeadBucket",
            Endpoint::DeleteBucket => "DeleteBucket",
            Endpoint::GetBucketLocation => "GetBucketLocation",
            Endpoint::GetBucketVersioning => "GetBucketVersioning",
            Endpoint::PutBucketVersioning => "PutBucketVersioning",
            Endpoint::GetBucketAcl => "GetBucketAcl",
            Endpoint::PutBucketAcl => "PutBucketAcl",
            Endpoint::GetBucketPolicy => "GetBucketPolicy",
            Endpoint::PutBucketPolicy => "PutBucketPolicy",
            Endpoint::DeleteBucketPolicy => "DeleteBucketPolicy",
            Endpoint::GetBucketPolicyStatus => "GetBucketPolicyStatus",
            Endpoint::GetBucketCors => "GetBucketCors",
            Endpoint::PutBucketCors => "PutBucketCors",
            Endpoint::DeleteBucketCors => "DeleteBucketCors",
            Endpoint::ListObjects => "ListObjects",
            Endpoint::ListObjectsV2 => "ListObjectsV2",
            Endpoint::ListObjectVersions => "ListObjectVersions",
            Endpoint::ListMultipartUploads => "ListMultipartUploads",
            Endpoint::DeleteObjects => "DeleteObjects",
            Endpoint::CreateMultipartUpload => "CreateMultipartUpload",
            Endpoint::UploadPart => "UploadPart",
            Endpoint::UploadPartCopy => "UploadPartCopy",
            Endpoint::CompleteMultipartUpload => "CompleteMultipartUpload",
            Endpoint::AbortMultipartUpload => "AbortMultipartUpload",
            Endpoint::ListParts => "ListParts",
            Endpoint::PutObject => "PutObject",
            Endpoint::CopyObject => "CopyObject",
            Endpoint::GetObject => "GetObject",
            Endpoint::HeadObject => "HeadObject",
            Endpoint::DeleteObject => "DeleteObject",
            Endpoint::GetObjectAcl => "GetObjectAcl",
            Endpoint::PutObjectAcl => "PutObjectAcl",
            Endpoint::GetObjectTagging => "GetObjectTagging",
            Endpoint::PutObjectTagging => "PutObjectTagging",
            Endpoint::DeleteObjectTagging => "DeleteObjectTagging",
            Endpoint::GetBucketTagging => "GetBucketTagging",
            Endpoint::GetBucketNotificationConfiguration => "GetBucketNotificationConfiguration",
            Endpoint::PutBucketNotificationConfiguration => "PutBucketNotificationConfiguration",
            Endpoint::GetBucketWebsite => "GetBucketWebsite",
            Endpoint::PutBucketWebsite => "PutBucketWebsite",
            Endpoint::DeleteBucketWebsite => "DeleteBucketWebsite",
            Endpoint::GetBucketOwnershipControls => "GetBucketOwnershipControls",
            Endpoint::GetBucketEncryption => "GetBucketEncryption",
            Endpoint::PutBucketEncryption => "PutBucketEncryption",
            Endpoint::DeleteBucketEncryption => "DeleteBucketEncryption",
            Endpoint::PutBucketOwnershipControls => "PutBucketOwnershipControls",
            Endpoint::DeleteBucketOwnershipControls => "DeleteBucketOwnershipControls",
            Endpoint::GetPublicAccessBlock => "GetPublicAccessBlock",
            Endpoint::PutPublicAccessBlock => "PutPublicAccessBlock",
            Endpoint::DeletePublicAccessBlock => "DeletePublicAccessBlock",
            Endpoint::GetBucketLifecycleConfiguration => "GetBucketLifecycleConfiguration",
            Endpoint::PutBucketLifecycleConfiguration => "PutBucketLifecycleConfiguration",
            Endpoint::DeleteBucketLifecycle => "DeleteBucketLifecycle",
            Endpoint::GetObjectLockConfiguration => "GetObjectLockConfiguration",
            Endpoint::PutObjectLockConfiguration => "PutObjectLockConfiguration",
            Endpoint::GetObjectAttributes => "GetObjectAttributes",
            Endpoint::GetObjectRetention => "GetObjectRetention",
            Endpoint::PutObjectRetention => "PutObjectRetention",
            Endpoint::GetObjectLegalHold => "GetObjectLegalHold",
            Endpoint::PutObjectLegalHold => "PutObjectLegalHold",
            Endpoint::PutBucketTagging => "PutBucketTagging",
            Endpoint::DeleteBucketTagging => "DeleteBucketTagging",
            Endpoint::ChangeFeed => "ChangeFeed",
            Endpoint::SignEdgeUrl => "SignEdgeUrl",
        }
    }

    /// The IAM action a bucket policy names this operation by.
    pub fn action(self) -> &'static str {
        use Endpoint::*;
        match self {
            ListBuckets => "s3:ListAllMyBuckets",
            CreateBucket => "s3:CreateBucket",
            HeadBucket | ListObjects | ListObjectsV2 => "s3:ListBucket",
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
            PutBucketCors | DeleteBucketCors => "s3:PutBucketCORS",
            ListObjectVersions => "s3:ListBucketVersions",
            ListMultipartUploads => "s3:ListBucketMultipartUploads",
            DeleteObjects | DeleteObject => "s3:DeleteObject",
            CreateMultipartUpload
            | UploadPart
            | UploadPartCopy
            | CompleteMultipartUpload
            | PutObject
            | CopyObject => "s3:PutObject",
            AbortMultipartUpload => "s3:AbortMultipartUpload",
            ListParts => "s3:ListMultipartUploadParts",
            GetObject | HeadObject => "s3:GetObject",
            GetObjectAcl => "s3:GetObjectAcl",
            PutObjectAcl => "s3:PutObjectAcl",
            GetObjectTagging => "s3:GetObjectTagging",
            PutObjectTagging => "s3:PutObjectTagging",
            DeleteObjectTagging => "s3:DeleteObjectTagging",
            GetBucketTagging => "s3:GetBucketTagging",
            GetBucketNotificationConfiguration => "s3:GetBucketNotification",
            PutBucketNotificationConfiguration => "s3:PutBucketNotification",
            GetBucketWebsite => "s3:GetBucketWebsite",
            PutBucketWebsite => "s3:PutBucketWebsite",
            DeleteBucketWebsite => "s3:DeleteBucketWebsite",
            PutBucketTagging | DeleteBucketTagging => "s3:PutBucketTagging",
            GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
            PutBucketOwnershipControls | DeleteBucketOwnershipControls => {
                "s3:PutBucketOwnershipControls"
            }
            GetBucketEncryption => "s3:GetEncryptionConfiguration",
            PutBucketEncryption | DeleteBucketEncryption => "s3:PutEncryptionConfiguration",
            GetPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
            PutPublicAccessBlock | DeletePublicAccessBlock => "s3:PutBucketPublicAccessBlock",
            GetBucketLifecycleConfiguration => "s3:GetLifecycleConfiguration",
            PutBucketLifecycleConfiguration | DeleteBucketLifecycle => {
                "s3:PutLifecycleConfiguration"
            }
            GetObjectLockConfiguration => "s3:GetBucketObjectLockConfiguration",
            PutObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
            GetObjectAttributes => "s3:GetObjectAttributes",
            GetObjectRetention => "s3:GetObjectRetention",
            PutObjectRetention => "s3:PutObjectRetention",
            GetObjectLegalHold => "s3:GetObjectLegalHold",
            PutObjectLegalHold => "s3:PutObjectLegalHold",
            ChangeFeed | SignEdgeUrl => "cairn:Internal",
        }
    }

    /// Picks the operation. `has(q)` says whether query parameter `q` is
    /// present; `copy_source` whether `x-amz-copy-source` was sent.
    pub fn parse(
        method: &Method,
        target: &Target,
        has: impl Fn(&str) -> bool,
        copy_source: bool,
    ) -> S3Result<Operation> {
        let not_impl = |what: &str| {
            Err(S3Error::msg(
                Code::NotImplemented,
                format!("{what} is not implemented by Cairn yet."),
            ))
        };
        let not_allowed = || Err(S3Error::new(Code::MethodNotAllowed));
        match (&target.bucket, &target.key) {
            // `_` cannot start a bucket name: Cairn's own API lives there.
            (Some(b), key) if b == "_cairn" => match (method, key.as_deref()) {
                (&Method::GET, Some("feed")) => signed(Endpoint::ChangeFeed),
                (&Method::GET, Some("sign")) => signed(Endpoint::SignEdgeUrl),
                _ => Err(S3Error::msg(
                    Code::InvalidRequest,
                    "Unknown Cairn API call.",
                )),
            },
            (None, _) => match *method {
                Method::GET => signed(Endpoint::ListBuckets),
                _ => not_allowed(),
            },
            (Some(_), None) => {
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
                match *method {
                    Method::OPTIONS => Ok(Operation::Preflight),
                    Method::GET if has("encryption") => signed(Endpoint::GetBucketEncryption),
                    Method::PUT if has("encryption") => signed(Endpoint::PutBucketEncryption),
                    Method::DELETE if has("encryption") => signed(Endpoint::DeleteBucketEncryption),
                    Method::GET if has("ownershipControls") => {
                        signed(Endpoint::GetBucketOwnershipControls)
                    }
                    Method::PUT if has("ownershipControls") => {
                        signed(Endpoint::PutBucketOwnershipControls)
                    }
                    Method::DELETE if has("ownershipControls") => {
                        signed(Endpoint::DeleteBucketOwnershipControls)
                    }
                    Method::GET if has("publicAccessBlock") => {
                        signed(Endpoint::GetPublicAccessBlock)
                    }
                    Method::PUT if has("publicAccessBlock") => {
                        signed(Endpoint::PutPublicAccessBlock)
                    }
                    Method::DELETE if has("publicAccessBlock") => {
                        signed(Endpoint::DeletePublicAccessBlock)
                    }
                    Method::GET if has("lifecycle") => {
                        signed(Endpoint::GetBucketLifecycleConfiguration)
                    }
                    Method::PUT if has("lifecycle") => {
                        signed(Endpoint::PutBucketLifecycleConfiguration)
                    }
                    Method::DELETE if has("lifecycle") => signed(Endpoint::DeleteBucketLifecycle),
                    Method::GET if has("object-lock") => {
                        signed(Endpoint::GetObjectLockConfiguration)
                    }
                    Method::PUT if has("object-lock") => {
                        signed(Endpoint::PutObjectLockConfiguration)
                    }
                    Method::GET if has("tagging") => signed(Endpoint::GetBucketTagging),
                    Method::GET if has("website") => signed(Endpoint::GetBucketWebsite),
                    Method::PUT if has("website") => signed(Endpoint::PutBucketWebsite),
                    Method::DELETE if has("website") => signed(Endpoint::DeleteBucketWebsite),
                    Method::GET if has("notification") => {
                        signed(Endpoint::GetBucketNotificationConfiguration)
                    }
                    Method::PUT if has("notification") => {
                        signed(Endpoint::PutBucketNotificationConfiguration)
                    }
                    Method::PUT if has("tagging") => signed(Endpoint::PutBucketTagging),
                    Method::DELETE if has("tagging") => signed(Endpoint::DeleteBucketTagging),
                    Method::GET if has("policyStatus") => signed(Endpoint::GetBucketPolicyStatus),
                    Method::GET if has("policy") => signed(Endpoint::GetBucketPolicy),
                    Method::PUT if has("policy") => signed(Endpoint::PutBucketPolicy),
                    Method::DELETE if has("policy") => signed(Endpoint::DeleteBucketPolicy),
                    Method::GET if has("cors") => signed(Endpoint::GetBucketCors),
                    Method::PUT if has("cors") => signed(Endpoint::PutBucketCors),
                    Method::DELETE if has("cors") => signed(Endpoint::DeleteBucketCors),
                    Method::PUT if has("acl") => signed(Endpoint::PutBucketAcl),
                    Method::GET if has("location") => signed(Endpoint::GetBucketLocation),
                    Method::GET if has("versioning") => signed(Endpoint::GetBucketVersioning),
                    Method::GET if has("acl") => signed(Endpoint::GetBucketAcl),
                    Method::GET if has("versions") => signed(Endpoint::ListObjectVersions),
                    Method::GET if has("uploads") => signed(Endpoint::ListMultipartUploads),
                    Method::GET if has("list-type") => signed(Endpoint::ListObjectsV2),
                    Method::GET => signed(Endpoint::ListObjects),
                    Method::HEAD => signed(Endpoint::HeadBucket),
                    Method::PUT if has("versioning") => signed(Endpoint::PutBucketVersioning),
                    Method::PUT => signed(Endpoint::CreateBucket),
                    Method::DELETE => signed(Endpoint::DeleteBucket),
                    Method::POST if has("delete") => signed(Endpoint::DeleteObjects),
                    Method::POST => Ok(Operation::PostObject),
                    _ => not_allowed(),
                }
            }
            (Some(_), Some(_)) => {
                const UNSUPPORTED: &[&str] = &["restore", "torrent", "select"];
                if let Some(sub) = UNSUPPORTED.iter().find(|s| has(s)) {
                    return not_impl(&format!("The object subresource '{sub}'"));
                }
                match *method {
                    Method::OPTIONS => Ok(Operation::Preflight),
                    Method::GET if has("attributes") => signed(Endpoint::GetObjectAttributes),
                    Method::GET if has("retention") => signed(Endpoint::GetObjectRetention),
                    Method::PUT if has("retention") => signed(Endpoint::PutObjectRetention),
                    Method::GET if has("legal-hold") => signed(Endpoint::GetObjectLegalHold),
                    Method::PUT if has("legal-hold") => signed(Endpoint::PutObjectLegalHold),
                    Method::GET if has("tagging") => signed(Endpoint::GetObjectTagging),
                    Method::PUT if has("tagging") => signed(Endpoint::PutObjectTagging),
                    Method::DELETE if has("tagging") => signed(Endpoint::DeleteObjectTagging),
                    Method::POST if has("uploads") => signed(Endpoint::CreateMultipartUpload),
                    Method::POST if has("uploadId") => signed(Endpoint::CompleteMultipartUpload),
                    Method::PUT if has("uploadId") && copy_source => {
                        signed(Endpoint::UploadPartCopy)
                    }
                    Method::PUT if has("uploadId") => signed(Endpoint::UploadPart),
                    Method::DELETE if has("uploadId") => signed(Endpoint::AbortMultipartUpload),
                    Method::GET if has("uploadId") => signed(Endpoint::ListParts),
                    Method::GET if has("acl") => signed(Endpoint::GetObjectAcl),
                    Method::GET => signed(Endpoint::GetObject),
                    Method::HEAD => signed(Endpoint::HeadObject),
                    Method::PUT if has("acl") => signed(Endpoint::PutObjectAcl),
                    Method::PUT if copy_source => signed(Endpoint::CopyObject),
                    Method::PUT => signed(Endpoint::PutObject),
                    Method::DELETE => signed(Endpoint::DeleteObject),
                    _ => not_allowed(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(b: Option<&str>, k: Option<&str>, vhost: bool) -> Target {
        Target {
            bucket: b.map(Into::into),
            key: k.map(Into::into),
            vhost,
        }
    }
    #[test]
    fn operations() {
        let bucket = t(Some("b"), None, false);
        let object = t(Some("b"), Some("k"), false);
        let none = |_: &str| false;
        assert_eq!(
            Endpoint::parse(&Method::GET, &bucket, |q| q == "list-type", false).unwrap(),
            Operation::Signed(Endpoint::ListObjectsV2)
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, &bucket, |q| q == "x-id", false).unwrap(),
            Operation::Signed(Endpoint::ListObjects)
        );
        assert_eq!(
            Endpoint::parse(&Method::POST, &bucket, |q| q == "delete", false).unwrap(),
            Operation::Signed(Endpoint::DeleteObjects)
        );
        assert_eq!(
            Endpoint::parse(&Method::PUT, &object, none, true).unwrap(),
            Operation::Signed(Endpoint::CopyObject)
        );
        assert_eq!(
            Endpoint::parse(&Method::PUT, &object, |q| q == "x-id", false).unwrap(),
            Operation::Signed(Endpoint::PutObject)
        );
        assert_eq!(
            Endpoint::parse(&Method::PATCH, &object, none, false)
                .unwrap_err()
                .code,
            Code::MethodNotAllowed
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, &bucket, |q| q == "logging", false)
                .unwrap_err()
                .code,
            Code::NotImplemented
        );
        // The two unsigned kinds are not endpoints a handler could take.
        assert_eq!(
            Endpoint::parse(&Method::OPTIONS, &object, none, false).unwrap(),
            Operation::Preflight
        );
        assert_eq!(
            Endpoint::parse(&Method::POST, &bucket, none, false).unwrap(),
            Operation::PostObject
        );
    }
}
