//! The closed set of S3 error codes the origin answers with, and the one
//! place that turns them into a status and an XML error document.
//!
//! Handlers return `S3Error`; nothing else formats an error body. Lower
//! layers' failures (I/O, SQLite) become `InternalError` through `From`
//! unless a handler maps them on purpose, and their detail goes to the log,
//! never to the client.

use std::borrow::Cow;

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode};

use crate::xml::XmlWriter;

macro_rules! codes {
    ($($code:ident => $status:ident, $msg:literal;)*) => {
        /// An S3 error code. Each has one HTTP status and a default message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($code,)* }

        impl Code {
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$code => stringify!($code),)* }
            }
            pub fn status(self) -> StatusCode {
                match self { $(Code::$code => StatusCode::$status,)* }
            }
            pub fn default_message(self) -> &'static str {
                match self { $(Code::$code => $msg,)* }
            }
        }
    };
}

codes! {
    AccessDenied => FORBIDDEN, "Access Denied";
    AccessControlListNotSupported => BAD_REQUEST, "The bucket does not allow ACLs";
    AccessForbidden => FORBIDDEN, "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";
    AuthorizationHeaderMalformed => BAD_REQUEST, "The authorization header is malformed.";
    AuthorizationQueryParametersError => BAD_REQUEST, "The query parameters that provide authentication information are not valid.";
    BadDigest => BAD_REQUEST, "The Content-MD5 or checksum you specified did not match what we received.";
    BucketAlreadyExists => CONFLICT, "The requested bucket name is not available.";
    BucketAlreadyOwnedByYou => CONFLICT, "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty => CONFLICT, "The bucket you tried to delete is not empty.";
    ConditionalRequestConflict => CONFLICT, "A conflicting operation occurred.";
    ExpiredToken => BAD_REQUEST, "The provided token has expired.";
    EntityTooSmall => BAD_REQUEST, "Your proposed upload is smaller than the minimum allowed object size.";
    EntityTooLarge => BAD_REQUEST, "Your proposed upload exceeds the maximum allowed size.";
    IncompleteBody => BAD_REQUEST, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InsufficientStorage => INSUFFICIENT_STORAGE, "There is not enough space left to store this object.";
    InternalError => INTERNAL_SERVER_ERROR, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => FORBIDDEN, "The AWS access key ID you provided does not exist in our records.";
    InvalidArgument => BAD_REQUEST, "Invalid Argument";
    InvalidBucketAclWithObjectOwnership => BAD_REQUEST, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting";
    InvalidBucketName => BAD_REQUEST, "The specified bucket is not valid.";
    InvalidBucketState => CONFLICT, "The request is not valid with the current state of the bucket.";
    InvalidRedirectLocation => BAD_REQUEST, "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.";
    InvalidRetentionPeriod => BAD_REQUEST, "The retention period must be a positive whole number of days or years.";
    InvalidDigest => BAD_REQUEST, "The Content-MD5 you specified is not valid.";
    InvalidLocationConstraint => BAD_REQUEST, "The specified location constraint is not valid.";
    InvalidPolicyDocument => BAD_REQUEST, "The content of the form does not meet the conditions specified in the policy document.";
    MalformedPOSTRequest => BAD_REQUEST, "The body of your POST request is not well-formed multipart/form-data.";
    InvalidPart => BAD_REQUEST, "One or more of the specified parts could not be found.";
    InvalidPartOrder => BAD_REQUEST, "The list of parts was not in ascending order.";
    InvalidRange => RANGE_NOT_SATISFIABLE, "The requested range is not satisfiable";
    InvalidRequest => BAD_REQUEST, "Invalid Request";
    InvalidTag => BAD_REQUEST, "The tag provided was not a valid tag.";
    InvalidStorageClass => BAD_REQUEST, "The storage class you specified is not valid.";
    InvalidURI => BAD_REQUEST, "Couldn't parse the specified URI.";
    KeyTooLongError => BAD_REQUEST, "Your key is too long.";
    MetadataTooLarge => BAD_REQUEST, "Your metadata headers exceed the maximum allowed metadata size.";
    MalformedPolicy => BAD_REQUEST, "Policies must be valid JSON and the first byte must be '{'";
    MalformedACLError => BAD_REQUEST, "The XML you provided was not well-formed or did not validate against our published schema.";
    MalformedXML => BAD_REQUEST, "The XML you provided was not well-formed or did not validate against our published schema.";
    MaxPostPreDataLengthExceededError => BAD_REQUEST, "Your POST request fields preceding the upload file were too large.";
    MethodNotAllowed => METHOD_NOT_ALLOWED, "The specified method is not allowed against this resource.";
    MissingContentLength => LENGTH_REQUIRED, "You must provide the Content-Length HTTP header.";
    NoSuchBucketPolicy => NOT_FOUND, "The bucket policy does not exist";
    NoSuchCORSConfiguration => NOT_FOUND, "The CORS configuration does not exist";
    NoSuchBucket => NOT_FOUND, "The specified bucket does not exist.";
    NoSuchKey => NOT_FOUND, "The specified key does not exist.";
    NoSuchVersion => NOT_FOUND, "The specified version does not exist.";
    NoSuchWebsiteConfiguration => NOT_FOUND, "The specified bucket does not have a website configuration";
    NoSuchLifecycleConfiguration => NOT_FOUND, "The lifecycle configuration does not exist";
    NoSuchObjectLockConfiguration => NOT_FOUND, "The specified object does not have an ObjectLock configuration.";
    ObjectLockConfigurationNotFoundError => NOT_FOUND, "Object Lock configuration does not exist for this bucket.";
    NoSuchPublicAccessBlockConfiguration => NOT_FOUND, "The public access block configuration was not found";
    OwnershipControlsNotFoundError => NOT_FOUND, "The bucket ownership controls were not found";
    UnresolvableGrantByEmailAddress => BAD_REQUEST, "The email address you provided does not match any account on record.";
    ServerSideEncryptionConfigurationNotFoundError => NOT_FOUND, "The server side encryption configuration was not found";
    NoSuchTagSet => NOT_FOUND, "The TagSet does not exist";
    NoSuchUpload => NOT_FOUND, "The specified upload does not exist.";
    NotImplemented => NOT_IMPLEMENTED, "A header or operation you provided implies functionality that is not implemented.";
    PreconditionFailed => PRECONDITION_FAILED, "At least one of the preconditions you specified did not hold.";
    QuotaExceeded => FORBIDDEN, "The bucket's quota would be exceeded.";
    RequestTimeout => BAD_REQUEST, "Your socket connection to the server was not read from or written to within the timeout period.";
    RequestTimeTooSkewed => FORBIDDEN, "The difference between the request time and the server's time is too large.";
    ServiceUnavailable => SERVICE_UNAVAILABLE, "Please reduce your request rate.";
    SlowDown => SERVICE_UNAVAILABLE, "Please reduce your request rate.";
    SignatureDoesNotMatch => FORBIDDEN, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    XAmzContentSHA256Mismatch => BAD_REQUEST, "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

/// An S3 error: a code, a message and the extra elements some codes carry
/// (`Region` for a wrong-region signature, `Key`, `BucketName`...).
#[derive(Debug, Clone)]
pub struct S3Error {
    pub code: Code,
    pub message: Cow<'static, str>,
    pub extra: Vec<(&'static str, String)>,
    /// Response headers the error carries (a delete marker's
    /// `x-amz-delete-marker` and `x-amz-version-id`).
    pub headers: Vec<(&'static str, String)>,
}

pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    pub fn new(code: Code) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.default_message()),
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn msg(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// Adds a response header to the error.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The answer for a version that is a delete marker: 404 NoSuchKey for
    /// the current version, 405 MethodNotAllowed when it was named by id.
    pub fn delete_marker(code: Code, version_id: &str) -> Self {
        S3Error::new(code)
            .header("x-amz-delete-marker", "true")
            .header("x-amz-version-id", version_id)
    }

    /// The internal error clients see for a fault of ours; the detail is
    /// logged here and not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(Code::InternalError)
    }

    /// Renders the error document. `resource` is the request path; a HEAD
    /// response carries no body, as HTTP requires.
    pub fn to_response(&self, request_id: &str, resource: &str, head: bool) -> Response<Body> {
        let body = if head {
            Body::empty()
        } else {
            let mut w = XmlWriter::new();
            w.open("Error");
            w.elem("Code", self.code.as_str());
            w.elem("Message", &self.message);
            for (name, value) in &self.extra {
                w.elem(name, value);
            }
            w.elem("Resource", resource);
            w.elem("RequestId", request_id);
            w.close("Error");
            Body::from(w.finish())
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = self.code.status();
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(*name, v);
            }
        }
        resp
    }
}

impl From<std::io::Error> for S3Error {
    fn from(e: std::io::Error) -> Self {
        if is_disk_full(&e) {
            tracing::error!(error = %e, "disk full");
            return S3Error::new(Code::InsufficientStorage);
        }
        S3Error::internal(e)
    }
}

impl From<rusqlite::Error> for S3Error {
    fn from(e: rusqlite::Error) -> Self {
        S3Error::internal(e)
    }
}

/// ENOSPC and EDQUOT: the client should hear 507, not a generic 500.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(28) | Some(122))
}

impl From<cairn_shared::names::NameError> for S3Error {
    fn from(e: cairn_shared::names::NameError) -> Self {
        use cairn_shared::names::NameError::*;
        match e {
            InvalidBucketName => S3Error::new(Code::InvalidBucketName),
            KeyTooLong => S3Error::new(Code::KeyTooLongError),
            EmptyKey => S3Error::msg(Code::InvalidArgument, "Object key must not be empty"),
        }
    }
}

/// A website configuration S3 would refuse.
impl From<cairn_shared::website::Invalid> for S3Error {
    fn from(e: cairn_shared::website::Invalid) -> Self {
        match e {
            cairn_shared::website::Invalid::Malformed => S3Error::new(Code::MalformedXML),
            cairn_shared::website::Invalid::Argument(m) => S3Error::msg(Code::InvalidArgument, m),
        }
    }
}

/// The one place a store failure becomes an S3 error.
impl From<crate::store::error::StoreError> for S3Error {
    fn from(e: crate::store::error::StoreError) -> Self {
        use crate::store::error::StoreError::*;
        match e {
            NoSuchBucket(b) => S3Error::new(Code::NoSuchBucket).with("BucketName", b),
            BucketExists { name, by_you } => {
                let code = match by_you {
                    true => Code::BucketAlreadyOwnedByYou,
                    false => Code::BucketAlreadyExists,
                };
                S3Error::new(code).with("BucketName", name)
            }
            BucketNotEmpty(b) => S3Error::new(Code::BucketNotEmpty).with("BucketName", b),
            BucketState(m) => S3Error::msg(Code::InvalidBucketState, m),
            NoSuchKey(k) => S3Error::new(Code::NoSuchKey).with("Key", k),
            NoSuchVersion { key, version } => S3Error::new(Code::NoSuchVersion)
                .with("Key", key)
                .with("VersionId", version.as_deref().unwrap_or("null")),
            DeleteMarker { version } => {
                S3Error::delete_marker(Code::MethodNotAllowed, version.as_deref().unwrap_or("null"))
            }
            Locked(m) => S3Error::msg(Code::AccessDenied, m),
            QuotaExceeded { bucket, what } => S3Error::msg(
                Code::QuotaExceeded,
                format!("The bucket's quota of {what} would be exceeded by this write."),
            )
            .with("BucketName", bucket),
            UnknownAccessKey(k) => S3Error::new(Code::InvalidAccessKeyId).with("AWSAccessKeyId", k),
            Db(e) if is_db_full(&e) => {
                tracing::error!(error = %e, "disk full (metadata)");
                S3Error::new(Code::InsufficientStorage)
            }
            Db(e) => S3Error::internal(e),
            Io(e) => e.into(),
            Internal(m) => S3Error::internal(m),
        }
    }
}

/// SQLite's SQLITE_FULL: the database could not grow on a full disk.
fn is_db_full(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::error::StoreError;

    #[test]
    fn each_store_failure_is_the_s3_error_s3_gives() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let cases: Vec<(StoreError, Code)> = vec![
            (StoreError::NoSuchBucket("b".into()), Code::NoSuchBucket),
            (
                StoreError::BucketExists {
                    name: "b".into(),
                    by_you: true,
                },
                Code::BucketAlreadyOwnedByYou,
            ),
            (
                StoreError::BucketExists {
                    name: "b".into(),
                    by_you: false,
                },
                Code::BucketAlreadyExists,
            ),
            (StoreError::BucketNotEmpty("b".into()), Code::BucketNotEmpty),
            (StoreError::BucketState("no"), Code::InvalidBucketState),
            (StoreError::Locked("held"), Code::AccessDenied),
            (
                StoreError::QuotaExceeded {
                    bucket: "b".into(),
                    what: "bytes",
                },
                Code::QuotaExceeded,
            ),
            (
                StoreError::UnknownAccessKey("k".into()),
                Code::InvalidAccessKeyId,
            ),
            (StoreError::Db(full), Code::InsufficientStorage),
            (
                StoreError::Db(rusqlite::Error::QueryReturnedNoRows),
                Code::InternalError,
            ),
            (StoreError::internal("broken"), Code::InternalError),
        ];
        for (store, code) in cases {
            let shown = store.to_string();
            assert_eq!(S3Error::from(store).code, code, "{shown}");
        }
        let marker = S3Error::from(StoreError::DeleteMarker {
            version: Some("v1".into()),
        });
        assert_eq!(marker.code, Code::MethodNotAllowed);
        assert!(marker.headers.contains(&("x-amz-version-id", "v1".into())));
        let missing = S3Error::from(StoreError::NoSuchVersion {
            key: "k".into(),
            version: None,
        });
        assert!(missing.extra.contains(&("VersionId", "null".into())));
    }
}
