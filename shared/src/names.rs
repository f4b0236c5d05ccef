//! Validated bucket names and object keys.
//!
//! Names arrive from untrusted clients; these newtypes are the only way to
//! get one, so code that holds a `BucketName` knows it passed S3's rules.

use std::fmt;

/// Longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// A bucket name that follows S3's general-purpose bucket naming rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("The specified bucket is not valid.")]
    InvalidBucketName,
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("Object key must not be empty")]
    EmptyKey,
}

impl BucketName {
    /// Checks S3's rules: 3–63 characters of `a-z 0-9 . -`, starting and
    /// ending with a letter or digit, no `..`, not shaped like an IPv4
    /// address, and none of the reserved prefixes and suffixes.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let b = name.as_bytes();
        let ok_char =
            |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-';
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let valid = (3..=63).contains(&b.len())
            && b.iter().all(ok_char)
            && alnum(b[0])
            && alnum(b[b.len() - 1])
            && !name.contains("..")
            && !name.contains(".-")
            && !name.contains("-.")
            && name.parse::<std::net::Ipv4Addr>().is_err()
            && !["xn--", "sthree-", "amzn-s3-demo-"]
                .iter()
                .any(|p| name.starts_with(p))
            && !["-s3alias", "--ol-s3", ".mrap", "--x-s3"]
                .iter()
                .any(|s| name.ends_with(s));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(NameError::InvalidBucketName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object key: 1 to 1024 bytes of UTF-8, any characters S3 allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(key: &str) -> Result<Self, NameError> {
        if key.is_empty() {
            Err(NameError::EmptyKey)
        } else if key.len() > MAX_KEY_BYTES {
            Err(NameError::KeyTooLong)
        } else {
            Ok(Self(key.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        let good = ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)];
        let bad = [
            "ab",
            "ABC",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "my_bucket",
            "",
            &"a".repeat(64),
            "abc.",
        ];
        for n in good {
            assert!(BucketName::parse(n).is_ok(), "{n} should be valid");
        }
        for n in bad {
            assert!(BucketName::parse(n).is_err(), "{n} should be invalid");
        }
    }

    #[test]
    fn keys() {
        assert!(ObjectKey::parse("/leading//double slash + % ? # ünï").is_ok());
        assert!(ObjectKey::parse(&"k".repeat(1024)).is_ok());
        assert_eq!(
            ObjectKey::parse(&"k".repeat(1025)),
            Err(NameError::KeyTooLong)
        );
        assert_eq!(ObjectKey::parse(""), Err(NameError::EmptyKey));
    }
}
