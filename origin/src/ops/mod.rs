//! S3 operations, one module per family. Each handler takes a [`Ctx`]
//! (which holds the verified caller) and returns a response or an
//! `S3Error`; none formats an error itself.

pub mod access;
pub mod attributes;
pub mod body;
pub mod bucket;
pub mod copy;
pub mod cors;
pub mod delete;
pub mod encryption;
pub mod feed;
pub mod get;
pub mod lifecycle;
pub mod list;
pub mod list_versions;
pub mod multipart;
pub mod notification;
pub mod object_lock;
pub mod ownership;
pub mod post;
pub mod public_access;
pub mod put;
pub mod settings;
pub mod tagging;
pub mod unsupported;
pub mod url_keys;
pub mod versioning;
pub mod website;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::auth::{Principal, Verified};
use crate::error::{Code, S3Error, S3Result};
use crate::state::AppState;
use crate::store::meta::buckets::{self, BucketRow};
use crate::xml::XmlWriter;

/// One authenticated request on its way to a handler.
pub struct Ctx {
    pub state: AppState,
    pub verified: Verified,
    pub parts: http::request::Parts,
    /// Decoded query parameters, in order.
    pub pairs: Vec<(String, String)>,
    /// The IAM action the request is (`Endpoint::action`), for access
    /// decisions (`access.rs`).
    pub action: &'static str,
    /// The object key the request names, if any.
    pub object_key: Option<String>,
    /// Set once the bucket the request names was found (by `access`): only
    /// then is its traffic counted, so made-up names fill no counters.
    pub bucket_found: std::sync::atomic::AtomicBool,
}

impl Ctx {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every key's canonical id and name: the ids grants may name, and the
    /// display names ACLs show.
    pub fn known_ids(&self) -> S3Result<Vec<(String, String)>> {
        let keys = self.state.meta.read_now(crate::store::meta::keys::list)?;
        Ok(keys
            .into_iter()
            .map(|k| (owner_id(&k.access_key), k.name))
            .collect())
    }

    /// The connection the request came on (address, TLS).
    pub fn peer(&self) -> Option<cairn_shared::listen::Peer> {
        self.parts.extensions.get().copied()
    }

    /// The caller's access key; anonymous callers are refused.
    pub fn caller(&self) -> S3Result<&str> {
        self.verified
            .principal
            .access_key()
            .ok_or_else(|| S3Error::new(Code::AccessDenied))
    }

    /// Loads a bucket whose keys the caller may list: its own, or one whose
    /// ACL is `public-read` (S3's READ grant to everyone lists the bucket).
    pub async fn listable_bucket(&self, name: &str) -> S3Result<BucketRow> {
        let n = name.to_owned();
        let row = self.state.meta.read(move |c| buckets::get(c, &n)).await?;
        let row = self.authorize_list(name, row)?;
        self.check_expected_owner(&row)?;
        Ok(row)
    }

    /// `x-amz-expected-bucket-owner`: the request is refused unless the
    /// bucket belongs to that canonical id (a guard against writing into
    /// a bucket someone else created under the expected name).
    pub fn check_expected_owner(&self, row: &BucketRow) -> S3Result<()> {
        match self.header("x-amz-expected-bucket-owner") {
            Some(want) if want.trim() != owner_id(&row.owner) => {
                Err(S3Error::new(Code::AccessDenied))
            }
            _ => Ok(()),
        }
    }

    /// Loads a bucket whose configuration an edge reads to serve it (CORS
    /// rules, website): edge keys may read any bucket's; everyone else as
    /// [`Self::owned_bucket`] allows.
    pub async fn edge_or_owned_bucket(&self, name: &str) -> S3Result<BucketRow> {
        if !self.verified.principal.is_edge() {
            return self.owned_bucket(name).await;
        }
        let n = name.to_owned();
        self.state
            .meta
            .read(move |c| buckets::get(c, &n))
            .await?
            .ok_or_else(|| S3Error::new(Code::NoSuchBucket).with("BucketName", name))
    }

    /// Loads a bucket the caller may run this request on (its owner, or
    /// as the bucket's policy allows): NoSuchBucket if absent, otherwise
    /// AccessDenied.
    pub async fn owned_bucket(&self, name: &str) -> S3Result<BucketRow> {
        let n = name.to_owned();
        let row = self.state.meta.read(move |c| buckets::get(c, &n)).await?;
        let row = self.authorize(name, row)?;
        self.check_expected_owner(&row)?;
        Ok(row)
    }
}

/// A place for one more upload in progress, held while its body is read;
/// SlowDown when `max_uploads` are running.
pub fn upload_slot(state: &AppState) -> S3Result<tokio::sync::OwnedSemaphorePermit> {
    state.uploads.clone().try_acquire_owned().map_err(|_| {
        S3Error::msg(
            Code::SlowDown,
            "Too many uploads are in progress; please retry.",
        )
    })
}

/// A canonical user ID for an access key: stable, and not the key itself.
pub fn owner_id(access_key: &str) -> String {
    hex::encode(Sha256::digest(
        format!("cairn-owner:{access_key}").as_bytes(),
    ))
}

/// Writes `<Owner><ID/><DisplayName/></Owner>` for the caller.
pub fn write_owner(w: &mut XmlWriter, tag: &str, principal: &Principal) {
    if let Principal::Key {
        access_key, name, ..
    } = principal
    {
        w.open(tag);
        w.elem("ID", &owner_id(access_key));
        w.elem("DisplayName", name);
        w.close(tag);
    }
}

pub use crate::store::now_ms;

pub fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// `2009-10-12T17:50:30.000Z`, as S3 XML documents print times.
pub fn iso8601(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

/// An ISO 8601 (RFC 3339) time, as S3 documents carry them, in ms since
/// the epoch; `None` if it is not one.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

pub fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(system_time(ms))
}

/// An XML document response with status 200.
pub fn xml_response(body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

pub fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}
