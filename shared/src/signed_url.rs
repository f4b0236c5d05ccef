//! Signed edge URLs for private objects:
//! `/{bucket}/{key}?expires=UNIX&sig=HEX`, where `sig` is
//! HMAC-SHA256(edge secret, "{bucket}/{key}\n{expires}").
//!
//! The origin issues them with the edge key's secret; edges check them
//! without a round trip. The key is the decoded object key, so any
//! encoding of the same URL verifies and a tampered key does not.

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn mac(secret: &str, bucket: &str, key: &str, expires: u64) -> Hmac<Sha256> {
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    m.update(format!("{bucket}/{key}\n{expires}").as_bytes());
    m
}

/// The `sig` for a URL that expires at `expires` (Unix seconds).
pub fn sign(secret: &str, bucket: &str, key: &str, expires: u64) -> String {
    hex::encode(mac(secret, bucket, key, expires).finalize().into_bytes())
}

/// The path and query of a signed URL for `key` in `bucket` (the caller
/// puts an edge's address in front), encoded so that browsers and URL
/// libraries deliver exactly that key ([`crate::target::object_path`]).
/// `None` for keys no URL can carry (`.` and `..`).
pub fn path(secret: &str, bucket: &str, key: &str, expires: u64) -> Option<String> {
    let path = crate::target::object_path(bucket, key)?;
    let sig = sign(secret, bucket, key, expires);
    Some(format!("{path}?expires={expires}&sig={sig}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Expired,
    BadSignature,
}

/// Checks a signature (in constant time) and its expiry against `now`.
pub fn verify(
    secret: &str,
    bucket: &str,
    key: &str,
    expires: u64,
    sig: &str,
    now: u64,
) -> Result<(), Invalid> {
    let raw = hex::decode(sig).map_err(|_| Invalid::BadSignature)?;
    mac(secret, bucket, key, expires)
        .verify_slice(&raw)
        .map_err(|_| Invalid::BadSignature)?;
    if now > expires {
        return Err(Invalid::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let sig = sign("s3cret", "b", "dir/a b.png", 1000);
        assert_eq!(
            verify("s3cret", "b", "dir/a b.png", 1000, &sig, 999),
            Ok(())
        );
        assert_eq!(
            verify("s3cret", "b", "dir/a b.png", 1000, &sig, 1001),
            Err(Invalid::Expired)
        );
        assert_eq!(
            verify("s3cret", "b", "dir/other.png", 1000, &sig, 999),
            Err(Invalid::BadSignature)
        );
        assert_eq!(
            verify("s3cret", "b", "dir/a b.png", 2000, &sig, 999),
            Err(Invalid::BadSignature)
        );
        assert_eq!(
            verify("other", "b", "dir/a b.png", 1000, &sig, 999),
            Err(Invalid::BadSignature)
        );
        assert_eq!(
            verify("s3cret", "b", "dir/a b.png", 1000, "zz", 999),
            Err(Invalid::BadSignature)
        );
    }
}
