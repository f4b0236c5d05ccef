//! Signature Version 2, in the header (`AWS AK:sig`) and in presigned query
//! strings (`AWSAccessKeyId`, `Expires`, `Signature`).
//!
//! Still needed: boto3 presigns with it by default against custom
//! endpoints, so a user's first presigned link depends on it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::request::Parts;
use sha1::Sha1;

use super::sigv4::{constant_time_eq, MAX_SKEW};
use crate::error::{Code, S3Error, S3Result};

/// Query parameters that are part of the string to sign.
const SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

#[derive(Debug, Clone)]
pub struct V2Request {
    pub access_key: String,
    pub signature: String,
    /// Presigned: the expiry as Unix seconds; it replaces the Date line.
    pub expires: Option<u64>,
}

pub fn parse_header(value: &str) -> S3Result<V2Request> {
    let rest = value
        .strip_prefix("AWS ")
        .ok_or_else(|| S3Error::new(Code::InvalidArgument))?;
    let (ak, sig) = rest.rsplit_once(':').ok_or_else(|| {
        S3Error::msg(
            Code::InvalidArgument,
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
        )
    })?;
    Ok(V2Request {
        access_key: ak.trim().to_owned(),
        signature: sig.trim().to_owned(),
        expires: None,
    })
}

pub fn parse_query(pairs: &[(String, String)]) -> S3Result<V2Request> {
    let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let (Some(ak), Some(sig), Some(exp)) =
        (get("AWSAccessKeyId"), get("Signature"), get("Expires"))
    else {
        return Err(S3Error::msg(Code::AccessDenied, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"));
    };
    let expires = exp.parse().map_err(|_| {
        S3Error::msg(
            Code::AccessDenied,
            "Invalid date (should be seconds since epoch)",
        )
    })?;
    Ok(V2Request {
        access_key: ak,
        signature: sig,
        expires: Some(expires),
    })
}

fn header<'a>(parts: &'a Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The string V2 signs. `vhost_bucket` is the bucket when it came from the
/// Host header, since the canonical resource always names it.
pub fn string_to_sign(
    parts: &Parts,
    pairs: &[(String, String)],
    vhost_bucket: Option<&str>,
    date_line: &str,
) -> String {
    string_to_sign_for(parts, pairs, vhost_bucket, parts.uri.path(), date_line)
}

/// The string V2 signs, with `path` as the resource's path.
fn string_to_sign_for(
    parts: &Parts,
    pairs: &[(String, String)],
    vhost_bucket: Option<&str>,
    path: &str,
    date_line: &str,
) -> String {
    let mut amz: Vec<(String, String)> = Vec::new();
    for (name, value) in &parts.headers {
        let n = name.as_str();
        if n.starts_with("x-amz-") {
            let v = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
            match amz.iter_mut().find(|(k, _)| k == n) {
                Some((_, existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                None => amz.push((n.to_owned(), v)),
            }
        }
    }
    amz.sort();
    let mut s = format!(
        "{}\n{}\n{}\n{}\n",
        parts.method.as_str(),
        header(parts, "content-md5"),
        header(parts, "content-type"),
        date_line
    );
    for (k, v) in amz {
        s.push_str(&format!("{k}:{v}\n"));
    }
    if let Some(b) = vhost_bucket {
        s.push('/');
        s.push_str(b);
    }
    s.push_str(path);
    let mut sub: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    sub.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (k, v)) in sub.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

impl V2Request {
    pub fn verify(
        &self,
        parts: &Parts,
        pairs: &[(String, String)],
        vhost_bucket: Option<&str>,
        secret: &str,
        now: SystemTime,
    ) -> S3Result<()> {
        let date_line = match self.expires {
            Some(exp) => {
                if now > UNIX_EPOCH + Duration::from_secs(exp) {
                    return Err(S3Error::msg(Code::AccessDenied, "Request has expired"));
                }
                exp.to_string()
            }
            None => {
                let amz_date = header(parts, "x-amz-date");
                let date = if amz_date.is_empty() {
                    header(parts, "date")
                } else {
                    amz_date
                };
                let t = httpdate::parse_http_date(date).map_err(|_| {
                    S3Error::msg(
                        Code::AccessDenied,
                        "AWS authentication requires a valid Date or x-amz-date header",
                    )
                })?;
                let skew = now.duration_since(t).unwrap_or_else(|e| e.duration());
                if skew > MAX_SKEW {
                    return Err(S3Error::new(Code::RequestTimeTooSkewed));
                }
                // With x-amz-date present, the Date line is empty: the value
                // is signed among the x-amz-* headers instead.
                if amz_date.is_empty() {
                    date.to_owned()
                } else {
                    String::new()
                }
            }
        };
        let sts = string_to_sign(parts, pairs, vhost_bucket, &date_line);
        let sign = |sts: &str| -> S3Result<bool> {
            let mut mac =
                Hmac::<Sha1>::new_from_slice(secret.as_bytes()).map_err(S3Error::internal)?;
            mac.update(sts.as_bytes());
            let expected = B64.encode(mac.finalize().into_bytes());
            Ok(constant_time_eq(
                expected.as_bytes(),
                self.signature.as_bytes(),
            ))
        };
        if sign(&sts)? {
            return Ok(());
        }
        // A path-style request for a bucket (`/bucket`) is signed by some
        // clients (boto's `s3` signer) with the resource `/bucket/`, as
        // S3 accepts: the same resource, named with its trailing slash.
        let path = parts.uri.path();
        if vhost_bucket.is_none() && path.len() > 1 && !path[1..].contains('/') {
            let bucket_dir = format!("{path}/");
            let with_slash = string_to_sign_for(parts, pairs, None, &bucket_dir, &date_line);
            if sign(&with_slash)? {
                return Ok(());
            }
        }
        Err(S3Error::new(Code::SignatureDoesNotMatch)
            .with("AWSAccessKeyId", &self.access_key)
            .with("StringToSign", sts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "Object GET" example from AWS's Signature Version 2 documentation.
    #[test]
    fn aws_documented_v2_example() {
        let req = http::Request::get("/photos/puppy.jpg")
            .header("host", "awsexamplebucket1.us-west-1.s3.amazonaws.com")
            .header("date", "Tue, 27 Mar 2007 19:36:42 +0000")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        let sts = string_to_sign(
            &parts,
            &[],
            Some("awsexamplebucket1"),
            "Tue, 27 Mar 2007 19:36:42 +0000",
        );
        assert_eq!(
            sts,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        let mut mac =
            Hmac::<Sha1>::new_from_slice(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").unwrap();
        mac.update(sts.as_bytes());
        assert_eq!(
            B64.encode(mac.finalize().into_bytes()),
            "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="
        );
    }
}
