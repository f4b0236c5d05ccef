//! What the store reports when it cannot do what it was asked, in its own
//! terms. The store knows nothing of HTTP: `crate::error` alone decides
//! which S3 error (code, status, extra elements) each of these is.

use std::fmt;

/// A store failure: a state of the data that refuses the change, or a
/// fault of the database or the disk.
#[derive(Debug)]
pub enum StoreError {
    NoSuchBucket(String),
    /// The name is taken; `by_you` when by the caller's own key.
    BucketExists {
        name: String,
        by_you: bool,
    },
    /// The bucket still holds objects or versions.
    BucketNotEmpty(String),
    /// The bucket's settings forbid the change (Object Lock needs
    /// versioning, and keeps it on).
    BucketState(&'static str),
    NoSuchKey(String),
    /// No such version of the key (`None` is the `null` version).
    NoSuchVersion {
        key: String,
        version: Option<String>,
    },
    /// The version named by id is a delete marker.
    DeleteMarker {
        version: Option<String>,
    },
    /// A retention or legal hold refuses the change.
    Locked(&'static str),
    /// The write would take the bucket past its quota of `what`
    /// ("objects" or "bytes").
    QuotaExceeded {
        bucket: String,
        what: &'static str,
    },
    UnknownAccessKey(String),
    Db(rusqlite::Error),
    Io(std::io::Error),
    /// A stored value that cannot be read back, or a key that cannot be
    /// made: a fault of ours, never the client's.
    Internal(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub fn internal(detail: impl fmt::Display) -> Self {
        StoreError::Internal(detail.to_string())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use StoreError::*;
        match self {
            NoSuchBucket(b) => write!(f, "no bucket {b:?}"),
            BucketExists { name, .. } => write!(f, "bucket {name:?} exists"),
            BucketNotEmpty(b) => write!(f, "bucket {b:?} is not empty"),
            BucketState(m) | Locked(m) => f.write_str(m),
            NoSuchKey(k) => write!(f, "no key {k:?}"),
            NoSuchVersion { key, version } => {
                write!(f, "no version {version:?} of {key:?}")
            }
            DeleteMarker { version } => write!(f, "version {version:?} is a delete marker"),
            QuotaExceeded { bucket, what } => write!(f, "bucket {bucket:?}: quota of {what}"),
            UnknownAccessKey(k) => write!(f, "no access key {k:?}"),
            Db(e) => write!(f, "database: {e}"),
            Io(e) => write!(f, "disk: {e}"),
            Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e)
    }
}
