//! Signatures of POST form uploads: the browser form carries a base64
//! policy document signed with SigV4 (`x-amz-credential`, `x-amz-date`,
//! `x-amz-signature`) or SigV2 (`AWSAccessKeyId`, `signature`).
//!
//! Parsed without secrets, then verified against the key the caller looked
//! up, like header and query signatures: the credential scope gets the
//! same checks (`aws4_request`, service `s3`, this origin's region, a date
//! that matches `x-amz-date`), by the same functions.

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};

use super::sigv4::{check_scope, constant_time_eq, credential, parse_amz_date};
use super::{Principal, V4_ALGORITHM};
use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::keys::AccessKey;

/// A form's signature, not yet checked.
#[derive(Debug, Clone)]
pub enum PolicyCredentials {
    V4 {
        access_key: String,
        region: String,
        service: String,
        time: SystemTime,
        signature: String,
    },
    V2 {
        access_key: String,
        signature: String,
    },
}

fn invalid(msg: &str) -> S3Error {
    S3Error::msg(Code::InvalidArgument, msg.to_owned())
}

impl PolicyCredentials {
    /// Reads the signature fields; `field(name)` gives a form field by its
    /// lowercase name. `None`: the form is not signed.
    pub fn parse<'a>(field: impl Fn(&str) -> Option<&'a str>) -> S3Result<Option<Self>> {
        if let Some(signature) = field("x-amz-signature") {
            if field("x-amz-algorithm") != Some(V4_ALGORITHM) {
                return Err(invalid("x-amz-algorithm must be AWS4-HMAC-SHA256"));
            }
            let (Some(cred), Some(amz_date)) = (field("x-amz-credential"), field("x-amz-date"))
            else {
                return Err(invalid("x-amz-credential and x-amz-date are required"));
            };
            let time = parse_amz_date(amz_date)
                .ok_or_else(|| invalid("x-amz-date must be YYYYMMDDTHHMMSSZ"))?;
            let (access_key, _scope, region, service) = credential(cred, amz_date, |m| {
                invalid(&format!("x-amz-credential: {m}"))
            })?;
            return Ok(Some(Self::V4 {
                access_key,
                region,
                service,
                time,
                signature: signature.to_owned(),
            }));
        }
        match (field("awsaccesskeyid"), field("signature")) {
            (Some(ak), Some(sig)) => Ok(Some(Self::V2 {
                access_key: ak.to_owned(),
                signature: sig.to_owned(),
            })),
            (Some(_), None) => Err(invalid("a form with AWSAccessKeyId needs its Signature")),
            _ => Ok(None),
        }
    }

    pub fn access_key(&self) -> &str {
        match self {
            Self::V4 { access_key, .. } | Self::V2 { access_key, .. } => access_key,
        }
    }

    /// Checks the signature over `policy_b64` with `key` (`None`: the
    /// access key is unknown) and returns who signed it.
    pub fn verify(
        &self,
        policy_b64: &str,
        key: Option<&AccessKey>,
        region: Option<&str>,
    ) -> S3Result<Principal> {
        let key = key.ok_or_else(|| {
            S3Error::new(Code::InvalidAccessKeyId).with("AWSAccessKeyId", self.access_key())
        })?;
        let matched = match self {
            Self::V4 {
                region: signed_region,
                service,
                time,
                signature,
                ..
            } => {
                check_scope(service, signed_region, region)?;
                let signing = aws_sigv4::sign::v4::generate_signing_key(
                    &key.secret_key,
                    *time,
                    signed_region,
                    service,
                );
                let expected =
                    aws_sigv4::sign::v4::calculate_signature(signing, policy_b64.as_bytes());
                constant_time_eq(expected.as_bytes(), signature.as_bytes())
            }
            Self::V2 { signature, .. } => {
                let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.secret_key.as_bytes())
                    .map_err(S3Error::internal)?;
                mac.update(policy_b64.as_bytes());
                let expected = B64.encode(mac.finalize().into_bytes());
                constant_time_eq(expected.as_bytes(), signature.as_bytes())
            }
        };
        if !matched {
            return Err(S3Error::new(Code::SignatureDoesNotMatch));
        }
        super::check_expiry(key, std::time::SystemTime::now())?;
        Ok(Principal::Key {
            access_key: key.access_key.clone(),
            name: key.name.clone(),
            role: key.role,
            read_only: key.read_only,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form<'a>(fields: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |n| fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
    }

    fn key() -> AccessKey {
        AccessKey::new(
            "AK".into(),
            "SK".into(),
            "n",
            crate::store::meta::keys::Role::User,
        )
    }

    #[test]
    fn the_scope_is_checked_as_for_any_signature() {
        let cases: &[(&[(&str, &str)], Code)] = &[
            // Not aws4_request.
            (
                &[
                    ("x-amz-signature", "00"),
                    ("x-amz-algorithm", V4_ALGORITHM),
                    ("x-amz-credential", "AK/20260101/us-east-1/s3/aws4_whatever"),
                    ("x-amz-date", "20260101T000000Z"),
                ],
                Code::InvalidArgument,
            ),
            // A credential date that is not the request's.
            (
                &[
                    ("x-amz-signature", "00"),
                    ("x-amz-algorithm", V4_ALGORITHM),
                    ("x-amz-credential", "AK/20250101/us-east-1/s3/aws4_request"),
                    ("x-amz-date", "20260101T000000Z"),
                ],
                Code::InvalidArgument,
            ),
            (
                &[
                    ("x-amz-signature", "00"),
                    ("x-amz-algorithm", "AWS4-HMAC-SHA1"),
                    ("x-amz-credential", "AK/20260101/us-east-1/s3/aws4_request"),
                    ("x-amz-date", "20260101T000000Z"),
                ],
                Code::InvalidArgument,
            ),
        ];
        for (fields, code) in cases {
            let err = PolicyCredentials::parse(form(fields)).unwrap_err();
            assert_eq!(err.code, *code, "{fields:?}");
        }
        let parsed = |service: &str, region: &str| {
            let cred = format!("AK/20260101/{region}/{service}/aws4_request");
            let fields = [
                ("x-amz-signature", "00"),
                ("x-amz-algorithm", V4_ALGORITHM),
                ("x-amz-credential", cred.as_str()),
                ("x-amz-date", "20260101T000000Z"),
            ];
            PolicyCredentials::parse(form(&fields)).unwrap().unwrap()
        };
        let err = parsed("iam", "us-east-1")
            .verify("cG9saWN5", Some(&key()), Some("us-east-1"))
            .unwrap_err();
        assert_eq!(err.code, Code::InvalidRequest);
        let err = parsed("s3", "eu-west-1")
            .verify("cG9saWN5", Some(&key()), Some("us-east-1"))
            .unwrap_err();
        assert_eq!(err.code, Code::AuthorizationHeaderMalformed);
        // Any region, unless one is required: then only the signature fails.
        let err = parsed("s3", "auto")
            .verify("cG9saWN5", Some(&key()), None)
            .unwrap_err();
        assert_eq!(err.code, Code::SignatureDoesNotMatch);
        let err = parsed("s3", "us-east-1")
            .verify("cG9saWN5", Some(&key()), Some("us-east-1"))
            .unwrap_err();
        assert_eq!(err.code, Code::SignatureDoesNotMatch);
        let err = parsed("s3", "us-east-1")
            .verify("cG9saWN5", None, Some("us-east-1"))
            .unwrap_err();
        assert_eq!(err.code, Code::InvalidAccessKeyId);
        assert!(PolicyCredentials::parse(form(&[])).unwrap().is_none());
    }
}
