//! Signed edge URLs for private objects, in two forms:
//!
//! - **Deployment URLs** (the default):
//!   `/{bucket}/{key}?expires=UNIX&kid=ID&sig=B64URL`, where `sig` is an
//!   Ed25519 signature of `"cairn edge url v1\n{bucket}/{key}\n{expires}"`
//!   by the origin's URL key `ID`. Every edge of a deployment learns the
//!   public halves from the change feed, so the URL works at whichever
//!   edge a user reaches (as CloudFront's key groups do); keys rotate by
//!   adding a new one and retiring the old.
//! - **Edge URLs**: `/{bucket}/{key}?expires=UNIX&sig=HEX`, where `sig` is
//!   HMAC-SHA256(edge secret, `"{bucket}/{key}\n{expires}"`): accepted
//!   only by edges that hold that edge key's secret.
//!
//! Edges check both without a round trip. The key is the decoded object
//! key, so any encoding of the same URL verifies and a tampered key does
//! not.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
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

/// What a deployment URL's signature covers.
fn keyed_message(bucket: &str, key: &str, expires: u64) -> Vec<u8> {
    format!("cairn edge url v1\n{bucket}/{key}\n{expires}").into_bytes()
}

/// An origin URL key: an Ed25519 key pair and its id.
pub struct UrlKey {
    pub id: String,
    pair: Ed25519KeyPair,
}

impl UrlKey {
    /// A new key pair, as PKCS#8 bytes to store.
    pub fn generate() -> Result<Vec<u8>, ring::error::Unspecified> {
        let rng = ring::rand::SystemRandom::new();
        Ok(Ed25519KeyPair::generate_pkcs8(&rng)?.as_ref().to_vec())
    }

    pub fn from_pkcs8(id: &str, pkcs8: &[u8]) -> Result<Self, ring::error::KeyRejected> {
        Ok(Self {
            id: id.to_owned(),
            pair: Ed25519KeyPair::from_pkcs8(pkcs8)?,
        })
    }

    /// The public half, base64url, as the feed carries it to edges.
    pub fn public(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())
    }

    /// The path and query of a deployment URL (see [`path`]).
    pub fn path(&self, bucket: &str, key: &str, expires: u64) -> Option<String> {
        let path = crate::target::object_path(bucket, key)?;
        let sig = self.pair.sign(&keyed_message(bucket, key, expires));
        let sig = URL_SAFE_NO_PAD.encode(sig.as_ref());
        Some(format!(
            "{path}?expires={expires}&kid={}&sig={sig}",
            self.id
        ))
    }
}

/// Checks a deployment URL's signature against the public key `public`
/// (base64url, as [`UrlKey::public`] gives it) and its expiry.
pub fn verify_keyed(
    public: &str,
    bucket: &str,
    key: &str,
    expires: u64,
    sig: &str,
    now: u64,
) -> Result<(), Invalid> {
    let public = URL_SAFE_NO_PAD
        .decode(public)
        .map_err(|_| Invalid::BadSignature)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| Invalid::BadSignature)?;
    UnparsedPublicKey::new(&ED25519, public)
        .verify(&keyed_message(bucket, key, expires), &sig)
        .map_err(|_| Invalid::BadSignature)?;
    unexpired(expires, now)
}

/// A signature that checked out is still refused after `expires`.
fn unexpired(expires: u64, now: u64) -> Result<(), Invalid> {
    if now > expires {
        return Err(Invalid::Expired);
    }
    Ok(())
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
    unexpired(expires, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_urls_verify_with_the_public_key_only() {
        let key = UrlKey::from_pkcs8("k1", &UrlKey::generate().unwrap()).unwrap();
        let other = UrlKey::from_pkcs8("k2", &UrlKey::generate().unwrap()).unwrap();
        let path = key.path("bkt", "dir/a b.png", 1000).unwrap();
        assert!(path.starts_with("/bkt/dir/a%20b.png?expires=1000&kid=k1&sig="));
        let sig = path.rsplit_once("sig=").unwrap().1;
        let public = key.public();
        assert_eq!(
            verify_keyed(&public, "bkt", "dir/a b.png", 1000, sig, 999),
            Ok(())
        );
        assert_eq!(
            verify_keyed(&public, "bkt", "dir/a b.png", 1000, sig, 1001),
            Err(Invalid::Expired)
        );
        for (b, k, e) in [
            ("bkt", "dir/other.png", 1000),
            ("bkc", "dir/a b.png", 1000),
            ("bkt", "dir/a b.png", 2000),
        ] {
            assert_eq!(
                verify_keyed(&public, b, k, e, sig, 999),
                Err(Invalid::BadSignature)
            );
        }
        assert_eq!(
            verify_keyed(&other.public(), "bkt", "dir/a b.png", 1000, sig, 999),
            Err(Invalid::BadSignature)
        );
        assert_eq!(
            verify_keyed(&public, "bkt", "dir/a b.png", 1000, "!!", 999),
            Err(Invalid::BadSignature)
        );
        assert_eq!(
            verify_keyed("not a key", "bkt", "dir/a b.png", 1000, sig, 999),
            Err(Invalid::BadSignature)
        );
    }

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
