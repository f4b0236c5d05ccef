//! Turns a request's method, path, query and Host into one S3 operation.
//!
//! This is pure parsing: no I/O, no auth. Query parameters that name no
//! subresource (`x-id`, cache busters) are ignored, as S3 ignores them; a
//! subresource we do not implement is `NotImplemented`, never a guess.

use http::Method;

use crate::auth::encode;
use crate::error::{Code, S3Error, S3Result};

/// The bucket and key a request addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The bucket came from the Host header (virtual-hosted style).
    pub vhost: bool,
}

/// Finds bucket and key. With a base domain configured, `bucket.BASE` in
/// the Host header selects the bucket and the whole path is the key;
/// otherwise the first path segment is the bucket.
pub fn target(host: Option<&str>, raw_path: &str, domain: Option<&str>) -> Target {
    let path = encode::decode(raw_path);
    let path = path.strip_prefix('/').unwrap_or(&path);
    if let (Some(host), Some(domain)) = (host, domain) {
        let host = strip_port(host).to_ascii_lowercase();
        if let Some(bucket) = host.strip_suffix(domain).and_then(|h| h.strip_suffix('.')) {
            if !bucket.is_empty() {
                return Target {
                    bucket: Some(bucket.to_owned()),
                    key: (!path.is_empty()).then(|| path.to_owned()),
                    vhost: true,
                };
            }
        }
    }
    match path.split_once('/') {
        _ if path.is_empty() => Target::default(),
        None => Target {
            bucket: Some(path.to_owned()),
            ..Target::default()
        },
        Some((bucket, key)) => Target {
            bucket: Some(bucket.to_owned()),
            key: (!key.is_empty()).then(|| key.to_owned()),
            vhost: false,
        },
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map(|(h, _)| &host[..h.len() + 1])
            .unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

/// Every operation the origin knows. Handlers live in `ops::*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    GetBucketVersioning,
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
            (None, _) => match *method {
                Method::GET => Ok(Endpoint::ListBuckets),
                _ => not_allowed(),
            },
            (Some(_), None) => {
                const UNSUPPORTED: &[&str] = &[
                    "lifecycle",
                    "tagging",
                    "website",
                    "logging",
                    "notification",
                    "encryption",
                    "replication",
                    "ownershipControls",
                    "publicAccessBlock",
                    "object-lock",
                    "accelerate",
                    "requestPayment",
                    "intelligent-tiering",
                    "analytics",
                    "metrics",
                    "inventory",
                ];
                if let Some(sub) = UNSUPPORTED.iter().find(|s| has(s)) {
                    return not_impl(&format!("The bucket subresource '{sub}'"));
                }
                match *method {
                    Method::OPTIONS => Ok(Endpoint::CorsPreflight),
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
                    Method::PUT if has("versioning") => not_impl("Enabling versioning"),
                    Method::PUT => Ok(Endpoint::CreateBucket),
                    Method::DELETE => Ok(Endpoint::DeleteBucket),
                    Method::POST if has("delete") => Ok(Endpoint::DeleteObjects),
                    Method::POST => Ok(Endpoint::PostObject),
                    _ => not_allowed(),
                }
            }
            (Some(_), Some(_)) => {
                const UNSUPPORTED: &[&str] = &[
                    "tagging",
                    "retention",
                    "legal-hold",
                    "attributes",
                    "restore",
                    "torrent",
                    "select",
                ];
                if let Some(sub) = UNSUPPORTED.iter().find(|s| has(s)) {
                    return not_impl(&format!("The object subresource '{sub}'"));
                }
                match *method {
                    Method::OPTIONS => Ok(Endpoint::CorsPreflight),
                    Method::POST if has("uploads") => Ok(Endpoint::CreateMultipartUpload),
                    Method::POST if has("uploadId") => Ok(Endpoint::CompleteMultipartUpload),
                    Method::PUT if has("uploadId") && copy_source => Ok(Endpoint::UploadPartCopy),
                    Method::PUT if has("uploadId") => Ok(Endpoint::UploadPart),
                    Method::DELETE if has("uploadId") => Ok(Endpoint::AbortMultipartUpload),
                    Method::GET if has("uploadId") => Ok(Endpoint::ListParts),
                    Method::GET if has("acl") => Ok(Endpoint::GetObjectAcl),
                    Method::GET => Ok(Endpoint::GetObject),
                    Method::HEAD => Ok(Endpoint::HeadObject),
                    Method::PUT if has("acl") => not_impl("Changing an object's ACL"),
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
    fn targets() {
        let d = Some("s3.local");
        let cases = [
            (Some("localhost:9000"), "/", None, t(None, None, false)),
            (
                Some("localhost:9000"),
                "/bkt",
                None,
                t(Some("bkt"), None, false),
            ),
            (
                Some("localhost:9000"),
                "/bkt/",
                None,
                t(Some("bkt"), None, false),
            ),
            (
                Some("localhost:9000"),
                "/bkt//a%20b/c",
                None,
                t(Some("bkt"), Some("/a b/c"), false),
            ),
            (
                Some("bkt.s3.local:9000"),
                "/x/y%2Bz",
                d,
                t(Some("bkt"), Some("x/y+z"), true),
            ),
            (Some("bkt.s3.local"), "/", d, t(Some("bkt"), None, true)),
            (
                Some("s3.local:9000"),
                "/bkt/k",
                d,
                t(Some("bkt"), Some("k"), false),
            ),
            (
                Some("127.0.0.1:9000"),
                "/bkt/k",
                d,
                t(Some("bkt"), Some("k"), false),
            ),
        ];
        for (host, path, domain, want) in cases {
            assert_eq!(target(host, path, domain), want, "{host:?} {path}");
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
            Endpoint::parse(&Method::GET, &bucket, |q| q == "lifecycle", false)
                .unwrap_err()
                .code,
            Code::NotImplemented
        );
    }
}
