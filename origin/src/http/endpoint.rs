//! Turns a request's method, path, query and Host into one S3 operation.
//!
//! This is pure parsing: no I/O, no auth. Query parameters that name no
//! subresource (`x-id`, cache busters) are ignored, as S3 ignores them; a
//! subresource we do not implement is `NotImplemented`, never a guess.

use http::Method;

use crate::error::{Code, S3Error, S3Result};

pub use cairn_shared::target::{target, Target};

/// Every operation the origin knows. Handlers live in `ops::*`.
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
    CorsPreflight,
    PostObject,
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
    PutBucketTagging,
    GetBucketOwnershipControls,
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
            Endpoint::CorsPreflight => "CorsPreflight",
            Endpoint::PostObject => "PostObject",
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
            Endpoint::GetBucketOwnershipControls => "GetBucketOwnershipControls",
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

    /// Picks the operation. `has(q)` says whether query parameter `q` is
    /// present; `copy_source` whether `x-amz-copy-source` was sent.
    pub fn parse(
        method: &Method,
        target: &Target,
        has: impl Fn(&str) -> bool,
        copy_source: bool,
    ) -> S3Result<Endpoint> {
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
                (&Method::GET, Some("feed")) => Ok(Endpoint::ChangeFeed),
                (&Method::GET, Some("sign")) => Ok(Endpoint::SignEdgeUrl),
                _ => Err(S3Error::msg(
                    Code::InvalidRequest,
                    "Unknown Cairn API call.",
                )),
            },
            (None, _) => match *method {
                Method::GET => Ok(Endpoint::ListBuckets),
                _ => not_allowed(),
            },
            (Some(_), None) => {
                const UNSUPPORTED: &[&str] = &[
                    "website",
                    "logging",
                    "notification",
                    "encryption",
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
                    Method::OPTIONS => Ok(Endpoint::CorsPreflight),
                    Method::GET if has("ownershipControls") => {
                        Ok(Endpoint::GetBucketOwnershipControls)
                    }
                    Method::PUT if has("ownershipControls") => {
                        Ok(Endpoint::PutBucketOwnershipControls)
                    }
                    Method::DELETE if has("ownershipControls") => {
                        Ok(Endpoint::DeleteBucketOwnershipControls)
                    }
                    Method::GET if has("publicAccessBlock") => Ok(Endpoint::GetPublicAccessBlock),
                    Method::PUT if has("publicAccessBlock") => Ok(Endpoint::PutPublicAccessBlock),
                    Method::DELETE if has("publicAccessBlock") => {
                        Ok(Endpoint::DeletePublicAccessBlock)
                    }
                    Method::GET if has("lifecycle") => {
                        Ok(Endpoint::GetBucketLifecycleConfiguration)
                    }
                    Method::PUT if has("lifecycle") => {
                        Ok(Endpoint::PutBucketLifecycleConfiguration)
                    }
                    Method::DELETE if has("lifecycle") => Ok(Endpoint::DeleteBucketLifecycle),
                    Method::GET if has("object-lock") => Ok(Endpoint::GetObjectLockConfiguration),
                    Method::PUT if has("object-lock") => Ok(Endpoint::PutObjectLockConfiguration),
                    Method::GET if has("tagging") => Ok(Endpoint::GetBucketTagging),
                    Method::PUT if has("tagging") => Ok(Endpoint::PutBucketTagging),
                    Method::DELETE if has("tagging") => Ok(Endpoint::DeleteBucketTagging),
                    Method::GET if has("policyStatus") => Ok(Endpoint::GetBucketPolicyStatus),
                    Method::GET if has("policy") => Ok(Endpoint::GetBucketPolicy),
                    Method::PUT if has("policy") => Ok(Endpoint::PutBucketPolicy),
                    Method::DELETE if has("policy") => Ok(Endpoint::DeleteBucketPolicy),
                    Method::GET if has("cors") => Ok(Endpoint::GetBucketCors),
                    Method::PUT if has("cors") => Ok(Endpoint::PutBucketCors),
                    Method::DELETE if has("cors") => Ok(Endpoint::DeleteBucketCors),
                    Method::PUT if has("acl") => Ok(Endpoint::PutBucketAcl),
                    Method::GET if has("location") => Ok(Endpoint::GetBucketLocation),
                    Method::GET if has("versioning") => Ok(Endpoint::GetBucketVersioning),
                    Method::GET if has("acl") => Ok(Endpoint::GetBucketAcl),
                    Method::GET if has("versions") => Ok(Endpoint::ListObjectVersions),
                    Method::GET if has("uploads") => Ok(Endpoint::ListMultipartUploads),
                    Method::GET if has("list-type") => Ok(Endpoint::ListObjectsV2),
                    Method::GET => Ok(Endpoint::ListObjects),
                    Method::HEAD => Ok(Endpoint::HeadBucket),
                    Method::PUT if has("versioning") => Ok(Endpoint::PutBucketVersioning),
                    Method::PUT => Ok(Endpoint::CreateBucket),
                    Method::DELETE => Ok(Endpoint::DeleteBucket),
                    Method::POST if has("delete") => Ok(Endpoint::DeleteObjects),
                    Method::POST => Ok(Endpoint::PostObject),
                    _ => not_allowed(),
                }
            }
            (Some(_), Some(_)) => {
                const UNSUPPORTED: &[&str] = &["restore", "torrent", "select"];
                if let Some(sub) = UNSUPPORTED.iter().find(|s| has(s)) {
                    return not_impl(&format!("The object subresource '{sub}'"));
                }
                match *method {
                    Method::OPTIONS => Ok(Endpoint::CorsPreflight),
                    Method::GET if has("attributes") => Ok(Endpoint::GetObjectAttributes),
                    Method::GET if has("retention") => Ok(Endpoint::GetObjectRetention),
                    Method::PUT if has("retention") => Ok(Endpoint::PutObjectRetention),
                    Method::GET if has("legal-hold") => Ok(Endpoint::GetObjectLegalHold),
                    Method::PUT if has("legal-hold") => Ok(Endpoint::PutObjectLegalHold),
                    Method::GET if has("tagging") => Ok(Endpoint::GetObjectTagging),
                    Method::PUT if has("tagging") => Ok(Endpoint::PutObjectTagging),
                    Method::DELETE if has("tagging") => Ok(Endpoint::DeleteObjectTagging),
                    Method::POST if has("uploads") => Ok(Endpoint::CreateMultipartUpload),
                    Method::POST if has("uploadId") => Ok(Endpoint::CompleteMultipartUpload),
                    Method::PUT if has("uploadId") && copy_source => Ok(Endpoint::UploadPartCopy),
                    Method::PUT if has("uploadId") => Ok(Endpoint::UploadPart),
                    Method::DELETE if has("uploadId") => Ok(Endpoint::AbortMultipartUpload),
                    Method::GET if has("uploadId") => Ok(Endpoint::ListParts),
                    Method::GET if has("acl") => Ok(Endpoint::GetObjectAcl),
                    Method::GET => Ok(Endpoint::GetObject),
                    Method::HEAD => Ok(Endpoint::HeadObject),
                    Method::PUT if has("acl") => Ok(Endpoint::PutObjectAcl),
                    Method::PUT if copy_source => Ok(Endpoint::CopyObject),
                    Method::PUT => Ok(Endpoint::PutObject),
                    Method::DELETE => Ok(Endpoint::DeleteObject),
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
            Endpoint::ListObjectsV2
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, &bucket, |q| q == "x-id", false).unwrap(),
            Endpoint::ListObjects
        );
        assert_eq!(
            Endpoint::parse(&Method::POST, &bucket, |q| q == "delete", false).unwrap(),
            Endpoint::DeleteObjects
        );
        assert_eq!(
            Endpoint::parse(&Method::PUT, &object, none, true).unwrap(),
            Endpoint::CopyObject
        );
        assert_eq!(
            Endpoint::parse(&Method::PUT, &object, |q| q == "x-id", false).unwrap(),
            Endpoint::PutObject
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
    }
}
