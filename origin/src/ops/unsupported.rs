//! Request headers that ask for features Cairn does not have yet.
//!
//! Accepting them silently is worse than refusing: a client that asked for
//! a cold storage class believes its data is archived when it is not. So a
//! header that asks for what Cairn cannot do gets S3's error; one that asks
//! for what is already true (`x-amz-acl: private`, which rclone sends by
//! default; `x-amz-storage-class: STANDARD`) is accepted as it is.

use http::HeaderMap;

use crate::error::{Code, S3Error, S3Result};
use crate::http::endpoint::Endpoint;

/// The longest `x-amz-website-redirect-location` S3 takes.
const MAX_REDIRECT: usize = 2048;

const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

/// Refuses a request whose headers ask for a feature Cairn lacks.
pub fn refuse(endpoint: &Endpoint, headers: &HeaderMap) -> S3Result<()> {
    let writes_object = matches!(endpoint, Endpoint::Object { op, .. } if op.writes_bytes());
    if !writes_object {
        return Ok(());
    }
    let value = |n: &str| headers.get(n).map(|v| v.to_str().unwrap_or("\u{FFFD}"));
    // A site redirects requests for the object there (the edge's sites):
    // a path on the same site or an http(s) URL, as S3 requires.
    if let Some(to) = value("x-amz-website-redirect-location") {
        let ok = to.len() <= MAX_REDIRECT
            && (to.starts_with('/') || to.starts_with("http://") || to.starts_with("https://"));
        if !ok {
            return Err(S3Error::msg(
                Code::InvalidRedirectLocation,
                "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.",
            ));
        }
    }
    if let Some(class) = value("x-amz-storage-class") {
        if !STORAGE_CLASSES.contains(&class) {
            return Err(S3Error::msg(
                Code::InvalidStorageClass,
                "The storage class you specified is not valid",
            ));
        }
        if class != "STANDARD" {
            return Err(not_implemented(
                "Storage classes other than STANDARD",
                "x-amz-storage-class",
            ));
        }
    }
    Ok(())
}

fn not_implemented(feature: &str, header: &str) -> S3Error {
    S3Error::msg(
        Code::NotImplemented,
        format!("{feature} ({header}) is not implemented by Cairn yet; nothing was stored."),
    )
    .with("Header", header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(endpoint: &Endpoint, pairs: &[(&str, &str)]) -> Result<(), Code> {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        refuse(endpoint, &h).map_err(|e| e.code)
    }

    #[test]
    fn what_is_refused_and_what_is_already_true() {
        use crate::http::endpoint::{BucketOp, ObjectOp};
        let put = || Endpoint::Object {
            bucket: "b".into(),
            key: "k".into(),
            op: ObjectOp::PutObject,
        };
        let bucket = |op| Endpoint::Bucket {
            bucket: "b".into(),
            op,
        };
        let ni = Err(Code::NotImplemented);
        type Case<'a> = (Endpoint, &'a [(&'a str, &'a str)], Result<(), Code>);
        let cases: &[Case] = &[
            (put(), &[], Ok(())),
            (put(), &[("x-amz-acl", "private")], Ok(())),
            (put(), &[("x-amz-acl", "bucket-owner-full-control")], Ok(())),
            (put(), &[("x-amz-storage-class", "STANDARD")], Ok(())),
            (put(), &[("x-amz-storage-class", "GLACIER")], ni),
            (
                put(),
                &[("x-amz-storage-class", "COLD")],
                Err(Code::InvalidStorageClass),
            ),
            (put(), &[("x-amz-tagging", "a=b")], Ok(())),
            (put(), &[("x-amz-website-redirect-location", "/x")], Ok(())),
            (
                put(),
                &[("x-amz-website-redirect-location", "elsewhere")],
                Err(Code::InvalidRedirectLocation),
            ),
            (
                bucket(BucketOp::CreateBucket),
                &[("x-amz-acl", "public-read")],
                Ok(()),
            ),
            (
                bucket(BucketOp::ListObjects),
                &[("x-amz-tagging", "a=b")],
                Ok(()),
            ),
        ];
        for (endpoint, headers, want) in cases {
            assert_eq!(check(endpoint, headers), *want, "{endpoint:?} {headers:?}");
        }
    }
}
