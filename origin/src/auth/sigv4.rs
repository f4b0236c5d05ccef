//! Signature Version 4: the `Authorization` header form and presigned query
//! strings, verified by rebuilding the canonical request the client signed.
//!
//! Key derivation and the final HMAC come from `aws-sigv4`; what is ours is
//! canonicalizing the request *as received*, which a signer never needs.

use std::time::{Duration, SystemTime};

use http::request::Parts;
use sha2::{Digest, Sha256};

use super::encode;
use super::{ChunkSigner, Payload, V4_ALGORITHM};
use crate::error::{Code, S3Error, S3Result};

/// The longest a presigned URL may live (7 days), as in S3.
const MAX_PRESIGN: u64 = 7 * 24 * 3600;
/// The clock skew S3 tolerates.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// A parsed SigV4 request, before its signature is checked.
#[derive(Debug, Clone)]
pub struct V4Request {
    pub access_key: String,
    /// `YYYYMMDD/region/s3/aws4_request`.
    pub scope: String,
    pub region: String,
    pub service: String,
    pub amz_date: String,
    pub time: SystemTime,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// Presigned: valid for this long after `time`.
    pub expires: Option<u64>,
    /// The value the payload hash line holds.
    pub payload_hash: String,
}

fn malformed(msg: &str) -> S3Error {
    S3Error::msg(
        Code::AuthorizationHeaderMalformed,
        format!("The authorization header is malformed; {msg}"),
    )
}

pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let dt = time::PrimitiveDateTime::parse(s, &fmt).ok()?.assume_utc();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(dt.unix_timestamp()).ok()?))
}

/// Splits `AK/date/region/service/aws4_request`.
pub(super) fn credential(
    cred: &str,
    amz_date: &str,
    on_err: fn(&str) -> S3Error,
) -> S3Result<(String, String, String, String)> {
    let parts: Vec<&str> = cred.split('/').collect();
    if parts.len() != 5 || parts[4] != "aws4_request" {
        return Err(on_err("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."));
    }
    if !amz_date.starts_with(parts[1]) {
        return Err(on_err(
            "the credential date does not match the request date.",
        ));
    }
    Ok((
        parts[0].to_owned(),
        parts[1..].join("/"),
        parts[2].to_owned(),
        parts[3].to_owned(),
    ))
}

/// Parses `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
pub fn parse_header(parts: &Parts, value: &str) -> S3Result<V4Request> {
    let rest = value
        .strip_prefix(V4_ALGORITHM)
        .ok_or_else(|| malformed("unsupported algorithm."))?;
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for item in rest.split(',') {
        let item = item.trim();
        if let Some(v) = item.strip_prefix("Credential=") {
            cred = Some(v);
        } else if let Some(v) = item.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = item.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let (Some(cred), Some(signed), Some(sig)) = (cred, signed, sig) else {
        return Err(malformed("missing Credential, SignedHeaders or Signature."));
    };
    let amz_date = header(parts, "x-amz-date").ok_or_else(|| {
        S3Error::msg(
            Code::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    })?;
    let time = parse_amz_date(amz_date).ok_or_else(|| {
        S3Error::msg(
            Code::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    })?;
    let (access_key, scope, region, service) = credential(cred, amz_date, malformed)?;
    let payload_hash = header(parts, "x-amz-content-sha256")
        .ok_or_else(|| {
            S3Error::msg(
                Code::InvalidRequest,
                "Missing required header for this request: x-amz-content-sha256",
            )
        })?
        .to_owned();
    Ok(V4Request {
        access_key,
        scope,
        region,
        service,
        amz_date: amz_date.to_owned(),
        time,
        signed_headers: signed.split(';').map(str::to_owned).collect(),
        signature: sig.to_owned(),
        expires: None,
        payload_hash,
    })
}

/// Parses a presigned URL's `X-Amz-*` query parameters.
pub fn parse_query(pairs: &[(String, String)]) -> S3Result<V4Request> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let bad = |m: &str| S3Error::msg(Code::AuthorizationQueryParametersError, m.to_owned());
    if get("X-Amz-Algorithm") != Some(V4_ALGORITHM) {
        return Err(bad("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
    }
    let (Some(cred), Some(amz_date), Some(signed), Some(sig)) = (
        get("X-Amz-Credential"),
        get("X-Amz-Date"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Signature"),
    ) else {
        return Err(bad("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."));
    };
    let time = parse_amz_date(amz_date).ok_or_else(|| {
        bad("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    let expires: i64 = get("X-Amz-Expires")
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| bad("X-Amz-Expires should be a number"))?;
    // Out of range is a refusal of access, as S3 answers it (403).
    let expires = u64::try_from(expires)
        .map_err(|_| S3Error::msg(Code::AccessDenied, "X-Amz-Expires must be non-negative"))?;
    if expires > MAX_PRESIGN {
        return Err(S3Error::msg(
            Code::AccessDenied,
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    let (access_key, scope, region, service) = credential(cred, amz_date, |m| {
        S3Error::msg(
            Code::AuthorizationQueryParametersError,
            format!("Error parsing the X-Amz-Credential parameter; {m}"),
        )
    })?;
    Ok(V4Request {
        access_key,
        scope,
        region,
        service,
        amz_date: amz_date.to_owned(),
        time,
        signed_headers: signed.split(';').map(str::to_owned).collect(),
        signature: sig.to_owned(),
        expires: Some(expires),
        payload_hash: get("X-Amz-Content-Sha256")
            .unwrap_or("UNSIGNED-PAYLOAD")
            .to_owned(),
    })
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// `name:value` lines for the signed headers, values trimmed and inner runs
/// of spaces folded, repeated headers joined with commas.
fn canonical_headers(parts: &Parts, signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = parts
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                let s = String::from_utf8_lossy(v.as_bytes());
                s.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        // A signed header that is absent canonicalizes as empty; the
        // signature then fails to match, as in S3.
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// Sorted, strictly encoded query string, without the signature itself.
fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut enc: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (encode::strict(k), encode::strict(v)))
        .collect();
    enc.sort();
    enc.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

impl V4Request {
    /// Checks time, region, service and signature; returns how the body is
    /// to be read. `region`: the one signatures must name (`None`: any).
    pub fn verify(
        &self,
        parts: &Parts,
        secret: &str,
        region: Option<&str>,
        now: SystemTime,
    ) -> S3Result<Payload> {
        check_scope(&self.service, &self.region, region)?;
        match self.expires {
            Some(expires) => {
                if now > self.time + Duration::from_secs(expires) {
                    return Err(S3Error::msg(Code::AccessDenied, "Request has expired")
                        .with("X-Amz-Expires", expires.to_string()));
                }
                if self.time > now + MAX_SKEW {
                    return Err(S3Error::msg(Code::AccessDenied, "Request is not valid yet"));
                }
            }
            None => {
                let skew = now
                    .duration_since(self.time)
                    .unwrap_or_else(|e| e.duration());
                if skew > MAX_SKEW {
                    return Err(S3Error::new(Code::RequestTimeTooSkewed));
                }
            }
        }
        if !self.signed_headers.iter().any(|h| h == "host") {
            return Err(malformed("the host header must be signed."));
        }
        let key = aws_sigv4::sign::v4::generate_signing_key(
            secret,
            self.time,
            &self.region,
            &self.service,
        );
        let key = key.as_ref().to_vec();
        let raw_path = parts.uri.path();
        let pairs = encode::query_pairs(parts.uri.query().unwrap_or(""));
        let headers = canonical_headers(parts, &self.signed_headers);
        // Clients sign the path as they send it; a few encode it differently
        // on the wire than in the signature, so try the canonical form too.
        let candidates = [raw_path.to_owned(), encode::path(&encode::decode(raw_path))];
        let matched = candidates.iter().any(|path| {
            let creq = format!(
                "{}\n{}\n{}\n{}\n{}\n{}",
                parts.method.as_str(),
                path,
                canonical_query(&pairs),
                headers,
                self.signed_headers.join(";"),
                self.payload_hash
            );
            let sts = format!(
                "{V4_ALGORITHM}\n{}\n{}\n{}",
                self.amz_date,
                self.scope,
                hex::encode(Sha256::digest(creq.as_bytes()))
            );
            let sig = aws_sigv4::sign::v4::calculate_signature(&key, sts.as_bytes());
            constant_time_eq(sig.as_bytes(), self.signature.as_bytes())
        });
        if !matched {
            return Err(
                S3Error::new(Code::SignatureDoesNotMatch).with("AWSAccessKeyId", &self.access_key)
            );
        }
        let chunk_signer = || ChunkSigner {
            key: key.clone(),
            amz_date: self.amz_date.clone(),
            scope: self.scope.clone(),
            previous: self.signature.clone(),
        };
        Ok(match self.payload_hash.as_str() {
            "UNSIGNED-PAYLOAD" => Payload::Unsigned,
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Payload::Chunked { signer: None, trailer: true },
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Payload::Chunked { signer: Some(chunk_signer()), trailer: false },
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Payload::Chunked { signer: Some(chunk_signer()), trailer: true },
            h => match hex::decode(h).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                Some(hash) => Payload::Sha256(hash),
                None => {
                    return Err(S3Error::msg(Code::InvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."))
                }
            },
        })
    }
}

/// A credential scope must be for S3, and in `region` when one is required.
pub(super) fn check_scope(
    service: &str,
    signed_region: &str,
    region: Option<&str>,
) -> S3Result<()> {
    if service != "s3" {
        return Err(S3Error::msg(
            Code::InvalidRequest,
            format!(
                "This endpoint serves only the S3 API; the request was signed for '{service}'."
            ),
        ));
    }
    let Some(region) = region else {
        return Ok(());
    };
    if signed_region != region {
        return Err(malformed(&format!(
            "the region '{signed_region}' is wrong; expecting '{region}'"
        ))
        .with("Region", region));
    }
    Ok(())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example: "GET Object" from the S3 SigV4 documentation
    /// (examplebucket, a Range header, key AKIAIOSFODNN7EXAMPLE).
    #[test]
    fn aws_documented_get_object_example() {
        let req = http::Request::get("/test.txt")
            .header("host", "examplebucket.s3.amazonaws.com")
            .header("range", "bytes=0-9")
            .header("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .header("x-amz-date", "20130524T000000Z")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            )
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        let auth = parts.headers["authorization"].to_str().unwrap().to_owned();
        let v4 = parse_header(&parts, &auth).unwrap();
        let now = parse_amz_date("20130524T000100Z").unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert!(matches!(
            v4.verify(&parts, secret, Some("us-east-1"), now),
            Ok(Payload::Sha256(_))
        ));
        let wrong = v4
            .verify(&parts, "not-the-secret", Some("us-east-1"), now)
            .unwrap_err();
        assert_eq!(wrong.code, Code::SignatureDoesNotMatch);
        let region = v4
            .verify(&parts, secret, Some("eu-west-1"), now)
            .unwrap_err();
        assert_eq!(region.code, Code::AuthorizationHeaderMalformed);
        let skewed = v4
            .verify(
                &parts,
                secret,
                Some("us-east-1"),
                now + Duration::from_secs(3600),
            )
            .unwrap_err();
        assert_eq!(skewed.code, Code::RequestTimeTooSkewed);
    }

    /// AWS's published presigned URL example (GET test.txt, 86400 s).
    #[test]
    fn aws_documented_presigned_example() {
        let uri = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let req = http::Request::get(uri)
            .header("host", "examplebucket.s3.amazonaws.com")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        let pairs = encode::query_pairs(parts.uri.query().unwrap());
        let v4 = parse_query(&pairs).unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let now = parse_amz_date("20130524T010000Z").unwrap();
        assert!(matches!(
            v4.verify(&parts, secret, Some("us-east-1"), now),
            Ok(Payload::Unsigned)
        ));
        let late = parse_amz_date("20130525T000001Z").unwrap();
        let err = v4
            .verify(&parts, secret, Some("us-east-1"), late)
            .unwrap_err();
        assert_eq!(
            (err.code, &*err.message),
            (Code::AccessDenied, "Request has expired")
        );
    }
}
