//! Who sent a request, and how to read its body.
//!
//! [`parse`] reads the credentials a request carries (SigV4 header or query,
//! SigV2 header or query, or none) without any secret; the caller looks the
//! access key up and [`Credentials::verify`] checks the signature. Handlers
//! take the resulting [`Verified`], so no operation can run on a request
//! whose signature was not checked. Both steps are pure functions of the
//! request, the key and the clock.

pub mod chunked;
pub mod encode;
pub mod post_policy;
pub mod sigv2;
pub mod sigv4;

use std::time::SystemTime;

use http::request::Parts;

use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::keys::{AccessKey, Role};

pub const V4_ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The state needed to verify aws-chunked chunk signatures: each chunk is
/// signed over the previous signature, starting from the request's own.
#[derive(Clone)]
pub struct ChunkSigner {
    /// The derived signing key (never printed).
    pub key: Vec<u8>,
    pub amz_date: String,
    pub scope: String,
    pub previous: String,
}

/// How the request body must be read and checked.
#[derive(Debug)]
pub enum Payload {
    /// Not covered by the signature (UNSIGNED-PAYLOAD, presigned, SigV2,
    /// anonymous).
    Unsigned,
    /// The body's SHA-256 was signed; check it once the body is read.
    Sha256([u8; 32]),
    /// aws-chunked framing; with a signer, every chunk is signed.
    Chunked {
        signer: Option<ChunkSigner>,
        trailer: bool,
    },
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    Key {
        access_key: String,
        name: String,
        role: Role,
        /// May only read (`ops::access` refuses everything else).
        read_only: bool,
    },
}

impl Principal {
    pub fn access_key(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::Key { access_key, .. } => Some(access_key),
        }
    }

    /// Edge keys (and the root key) may follow the change feed and read
    /// any object, so edges can serve signed URLs for private objects.
    pub fn is_edge(&self) -> bool {
        matches!(self, Principal::Key { role, .. } if matches!(role, Role::Edge | Role::Admin))
    }

    /// A key that may only read.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Principal::Key {
                read_only: true,
                ..
            }
        )
    }
}

/// A request whose credentials were checked.
pub struct Verified {
    pub principal: Principal,
    pub payload: Payload,
}

/// Credentials as the request carries them, not yet checked.
pub enum Credentials {
    Anonymous,
    V4(sigv4::V4Request),
    V2(sigv2::V2Request),
}

/// Reads the credentials from the `Authorization` header or the query.
pub fn parse(parts: &Parts, pairs: &[(String, String)]) -> S3Result<Credentials> {
    if let Some(auth) = parts.headers.get(http::header::AUTHORIZATION) {
        let auth = auth
            .to_str()
            .map_err(|_| S3Error::new(Code::AuthorizationHeaderMalformed))?;
        return if auth.starts_with(V4_ALGORITHM) {
            Ok(Credentials::V4(sigv4::parse_header(parts, auth)?))
        } else if auth.starts_with("AWS ") {
            Ok(Credentials::V2(sigv2::parse_header(auth)?))
        } else {
            Err(S3Error::msg(
                Code::InvalidArgument,
                "Unsupported Authorization Type",
            ))
        };
    }
    let has = |n: &str| pairs.iter().any(|(k, _)| k == n);
    if has("X-Amz-Algorithm") || has("X-Amz-Credential") || has("X-Amz-Signature") {
        Ok(Credentials::V4(sigv4::parse_query(pairs)?))
    } else if has("AWSAccessKeyId") || has("Signature") {
        Ok(Credentials::V2(sigv2::parse_query(pairs)?))
    } else {
        Ok(Credentials::Anonymous)
    }
}

impl Credentials {
    pub fn access_key(&self) -> Option<&str> {
        match self {
            Credentials::Anonymous => None,
            Credentials::V4(r) => Some(&r.access_key),
            Credentials::V2(r) => Some(&r.access_key),
        }
    }

    /// Checks the signature with the key the caller looked up (`None` if the
    /// access key is unknown). `region` is the origin's configured region.
    pub fn verify(
        &self,
        parts: &Parts,
        pairs: &[(String, String)],
        vhost_bucket: Option<&str>,
        key: Option<&AccessKey>,
        region: Option<&str>,
        now: SystemTime,
    ) -> S3Result<Verified> {
        let principal = |k: &AccessKey| Principal::Key {
            access_key: k.access_key.clone(),
            name: k.name.clone(),
            role: k.role,
            read_only: k.read_only,
        };
        let unknown = || {
            S3Error::new(Code::InvalidAccessKeyId)
                .with("AWSAccessKeyId", self.access_key().unwrap_or_default())
        };
        match self {
            Credentials::Anonymous => Ok(Verified {
                principal: Principal::Anonymous,
                payload: Payload::Unsigned,
            }),
            Credentials::V4(req) => {
                let key = key.ok_or_else(unknown)?;
                let payload = req.verify(parts, &key.secret_key, region, now)?;
                check_expiry(key, now)?;
                Ok(Verified {
                    principal: principal(key),
                    payload,
                })
            }
            Credentials::V2(req) => {
                let key = key.ok_or_else(unknown)?;
                req.verify(parts, pairs, vhost_bucket, &key.secret_key, now)?;
                check_expiry(key, now)?;
                Ok(Verified {
                    principal: principal(key),
                    payload: Payload::Unsigned,
                })
            }
        }
    }
}

/// An expired key signs nothing (S3's answer to an expired token). Checked
/// after the signature, so only the key's holder learns that it expired.
pub fn check_expiry(key: &AccessKey, now: SystemTime) -> S3Result<()> {
    let Some(expires) = key.expires_ms else {
        return Ok(());
    };
    let now_ms = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    if now_ms >= expires {
        return Err(S3Error::msg(
            Code::ExpiredToken,
            "The access key has expired.",
        ));
    }
    Ok(())
}
