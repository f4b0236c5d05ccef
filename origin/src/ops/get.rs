//! GetObject and HeadObject: preconditions (RFC 9110 order), single
//! ranges, `response-*` overrides, and a body streamed from the blob file.
//!
//! A full read is hashed as it streams; if the bytes on disk no longer
//! match their BLAKE3 name the stream is cut with an error, so a client
//! never receives silently corrupted data as a complete response.

use std::io::SeekFrom;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::multipart::Segment;
use super::put::write_object_headers;
use super::{http_date, system_time, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::http::endpoint::VersionId;
use crate::store::blob::BlobHash;
use crate::store::meta::buckets::{self, Versioning};
use crate::store::meta::objects;
use crate::store::meta::versions::{self, Version};
use cairn_shared::conditional::{Outcome, Preconditions};
use cairn_shared::range;

/// Bodies up to this size are read whole instead of streamed.
const SMALL_OBJECT: u64 = 64 * 1024;

/// Read size from the blob file.
const READ_CHUNK: usize = 256 * 1024;

/// `response-*` query parameters and the header each overrides.
const OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// What a GET or HEAD asks for beyond the key.
pub struct Read {
    pub version: VersionId,
    /// One part of a multipart object (`partNumber`).
    pub part: Option<u32>,
    pub head: bool,
}

impl Read {
    /// A whole GET of the current version.
    pub fn current() -> Self {
        Read {
            version: None,
            part: None,
            head: false,
        }
    }
}

pub async fn get_object(ctx: &Ctx, bucket: &str, key: &str, read: Read) -> S3Result<Response> {
    let Read {
        version,
        part,
        head,
    } = read;
    crate::sse::refuse_on_read(&ctx.parts.headers)?;
    let range = ctx.header("range").and_then(range::parse);
    let blobs = &ctx.state.blobs;
    // Both rows and, for a small body, its bytes, read right here: GET is
    // the hot path, and these lookups by key take less than a trip to the
    // blocking pool (two thread switches; 20% more GETs per second without
    // it). The bytes are read before the caller is authorized or
    // preconditions are checked, and dropped unless both pass.
    let (bucket_row, found, small) = ctx.state.meta.read_now(|c| -> S3Result<_> {
        let found = match &version {
            None => match objects::get(c, bucket, key)? {
                Some(r) => Some(Version::Object(r)),
                None => versions::newest_marker(c, bucket, key)?.map(Version::Marker),
            },
            Some(v) => versions::find(c, bucket, key, v.as_deref())?,
        };
        let parts = match &found {
            Some(Version::Object(r)) if r.parts > 0 => {
                objects::parts(c, bucket, key, r.version_id.as_deref())?
            }
            _ => Vec::new(),
        };
        let small = match &found {
            Some(Version::Object(r)) if !head && r.sse.is_none() => {
                small_span(r.size, r.parts, range)
                    .map(|(start, len, whole)| blobs.read_small(&r.blob, start, len, whole))
            }
            _ => None,
        };
        Ok((buckets::get(c, bucket)?, found.map(|f| (f, parts)), small))
    })?;
    let object = match &found {
        Some((Version::Object(r), _)) => Some(r),
        _ => None,
    };
    let bucket_row = ctx.authorize_read(bucket, bucket_row, key, object)?;
    ctx.check_expected_owner(&bucket_row)?;
    if matches!(ctx.verified.principal, crate::auth::Principal::Anonymous) {
        // As S3: overrides need a signed request. Anonymous ones would let
        // anyone make a public text object render as HTML on our domain.
        if let Some((param, _)) = OVERRIDES.iter().find(|(p, _)| ctx.query(p).is_some()) {
            return Err(S3Error::msg(
                Code::InvalidRequest,
                format!("Request specific response headers cannot be used for anonymous GET requests ({param})."),
            ));
        }
    }
    let (row, parts) = match found {
        Some((Version::Object(row), parts)) => (row, parts),
        Some((Version::Marker(m), _)) => {
            let label = m.version_id.as_deref().unwrap_or("null");
            let code = match version {
                None => Code::NoSuchKey,
                Some(_) => Code::MethodNotAllowed,
            };
            return Err(S3Error::delete_marker(code, label).with("Key", key));
        }
        None => {
            return Err(match version {
                None => S3Error::new(Code::NoSuchKey)
                    .with("Key", key)
                    .header("x-amz-delete-marker", "false"),
                Some(v) => S3Error::new(Code::NoSuchVersion)
                    .with("Key", key)
                    .with("VersionId", v.as_deref().unwrap_or("null")),
            })
        }
    };

    // The part number is checked first, as S3 does; then an encrypted
    // object's key, before anything about the object is revealed.
    if let Some(n) = part {
        if n as usize > parts.len().max(1) {
            return Err(S3Error::new(Code::InvalidPart));
        }
    }
    let data_key = crate::sse::read_key(
        row.sse.as_ref(),
        &ctx.parts.headers,
        crate::sse::Role::Object,
        &ctx.state.sse_keys,
    )?;
    let h = |n: &str| ctx.header(n);
    let pre = Preconditions {
        if_match: h("if-match"),
        if_none_match: h("if-none-match"),
        if_modified_since: h("if-modified-since"),
        if_unmodified_since: h("if-unmodified-since"),
    };
    let mut resp = Response::new(Body::empty());
    let headers = resp.headers_mut();
    let checksum_mode = h("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
    // The checksum describes a full body: not a range, not a 304.
    write_object_headers(headers, &row, false);
    if row.version_id.is_some() || bucket_row.versioning != Versioning::Unversioned {
        super::put::version_header(headers, Some(row.version_label()));
    }
    super::object_lock::write_headers(headers, &row.lock);
    super::lifecycle::expiration_header(headers, &ctx.state, &bucket_row, &row);
    if row.tags.is_some() {
        headers.insert("x-amz-tagging-count", HeaderValue::from(row.tag_count()));
    }
    if let Ok(v) = HeaderValue::from_str(&row.version()) {
        headers.insert(cairn_shared::feed::VERSION_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(row.modified_ms)) {
        headers.insert(http::header::LAST_MODIFIED, v);
    }
    match pre.evaluate(
        &format!("\"{}\"", row.etag),
        system_time(row.modified_ms),
        true,
    ) {
        Outcome::Proceed => {}
        Outcome::NotModified => {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(resp);
        }
        Outcome::PreconditionFailed => return Err(S3Error::new(Code::PreconditionFailed)),
    }

    if checksum_mode && range.is_none() {
        write_object_headers(headers, &row, true);
    }
    headers.insert(
        http::header::ACCEPT_RANGES,
        HeaderValue::from_static("bytes"),
    );
    for (name, value) in &row.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            headers.insert(n, v);
        }
    }
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("binary/octet-stream"),
        );
    }
    for (param, header) in OVERRIDES {
        if let Some(v) = ctx.query(param).and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(*header, v);
        }
    }

    // `partNumber`: one part of a multipart object, answered as the range
    // it covers; part 1 of a single-blob object is the whole object.
    let range = match part {
        None => range,
        Some(n) if row.parts == 0 => {
            if n != 1 {
                return Err(S3Error::new(Code::InvalidPart));
            }
            range
        }
        Some(n) => {
            let i = usize::try_from(n - 1).unwrap_or(usize::MAX);
            let part = parts
                .get(i)
                .ok_or_else(|| S3Error::new(Code::InvalidPart))?;
            let start: u64 = parts[..i].iter().map(|p| p.size).sum();
            resp.headers_mut()
                .insert("x-amz-mp-parts-count", HeaderValue::from(parts.len()));
            // The part's own checksum, in the object's algorithm and type.
            let algo = row
                .checksum
                .as_ref()
                .and_then(|(a, v)| crate::checksum::ChecksumAlgo::from_name(a).map(|a| (a, v)));
            if let (Some((algo, whole)), Some(sum)) = (algo, &part.checksum) {
                if let Ok(v) = HeaderValue::from_str(sum) {
                    let h = resp.headers_mut();
                    h.insert(algo.header(), v);
                    h.insert(
                        "x-amz-checksum-type",
                        HeaderValue::from_static(crate::checksum::kind(whole)),
                    );
                }
            }
            if part.size == 0 {
                range
            } else {
                Some(range::ByteRange::FromTo(start, start + part.size - 1))
            }
        }
    };
    let span = match range {
        None => None,
        Some(r) => Some(r.resolve(row.size).ok_or_else(|| {
            S3Error::new(Code::InvalidRange)
                .with("RangeRequested", h("range").unwrap_or_default())
                .with("ActualObjectSize", row.size.to_string())
        })?),
    };
    let (start, len) = match span {
        Some(s) => {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&s.content_range(row.size)) {
                resp.headers_mut().insert(http::header::CONTENT_RANGE, v);
            }
            (s.start, s.len())
        }
        None => (0, row.size),
    };
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    if head || len == 0 {
        return Ok(resp);
    }
    if let Some(bytes) = small {
        // Small bodies were read with the row and go out with the headers
        // in one write; large ones stream.
        let bytes = bytes
            .map_err(|e| S3Error::internal(format!("blob of {bucket}/{key} unreadable: {e}")))?;
        *resp.body_mut() = Body::from(bytes);
        return Ok(resp);
    }
    let segments = super::multipart::segments(&row, &parts, start, len);
    // Encrypted records carry their own tags: no hash to check.
    let verify = (span.is_none() && data_key.is_none()).then_some(row.blob);
    let stream = segment_stream(ctx.state.blobs.clone(), segments, data_key);
    *resp.body_mut() = Body::from_stream(Verifying::new(stream, verify));
    Ok(resp)
}

/// Where a small body's bytes are: `(start, len, whole)` when the (ranged)
/// body is non-empty, at most [`SMALL_OBJECT`] and in one blob, else `None`
/// (it streams; an unsatisfiable range is answered without bytes).
fn small_span(
    size: u64,
    parts: u32,
    range: Option<range::ByteRange>,
) -> Option<(u64, usize, bool)> {
    let (start, len, whole) = match range {
        None => (0, size, true),
        Some(r) => {
            let s = r.resolve(size)?;
            (s.start, s.len(), false)
        }
    };
    (parts == 0 && len > 0 && len <= SMALL_OBJECT).then_some((start, len as usize, whole))
}

/// Streams the given pieces one after another, opening each file only
/// when the previous one is done; with a data key, decrypting them.
pub fn segment_stream(
    blobs: crate::store::blob::BlobStore,
    segments: Vec<Segment>,
    key: Option<crate::sse::Key>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static {
    use futures_util::StreamExt;
    type Piece = futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;
    let segments = segments.into_iter().filter(|s| s.len > 0);
    let opened = futures_util::stream::iter(segments).then(move |s| {
        let path = blobs.path(&s.blob);
        let key = key.clone();
        async move {
            if let Some(key) = key {
                let piece: Piece =
                    crate::sse::read::range_stream(path, key, s.size, s.start, s.len).boxed();
                return Ok(piece);
            }
            let mut file = tokio::fs::File::open(&path).await?;
            if s.start > 0 {
                file.seek(SeekFrom::Start(s.start)).await?;
            }
            let piece: Piece = ReaderStream::with_capacity(file.take(s.len), READ_CHUNK).boxed();
            Ok::<_, std::io::Error>(piece)
        }
    });
    Box::pin(futures_util::TryStreamExt::try_flatten(opened))
}

/// Passes a blob's bytes through, hashing them when `expected` is set, and
/// ends with an error instead of a clean end if the hash does not match.
struct Verifying<S> {
    inner: S,
    hasher: Option<(blake3::Hasher, BlobHash)>,
}

impl<S> Verifying<S> {
    fn new(inner: S, expected: Option<BlobHash>) -> Self {
        Self {
            inner,
            hasher: expected.map(|e| (blake3::Hasher::new(), e)),
        }
    }
}

impl<S> Stream for Verifying<S>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                if let Some((h, _)) = this.hasher.as_mut() {
                    h.update(&b);
                }
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(None) => match this.hasher.take() {
                Some((h, want)) if h.finalize().as_bytes() != want.as_bytes() => {
                    tracing::error!(blob = %want.to_hex(), "blob content does not match its hash");
                    Poll::Ready(Some(Err(std::io::Error::other("blob corrupted on disk"))))
                }
                _ => Poll::Ready(None),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_shared::range::ByteRange;

    #[test]
    fn small_bodies_are_read_with_the_row_and_large_or_multipart_ones_stream() {
        assert_eq!(small_span(4096, 0, None), Some((0, 4096, true)));
        assert_eq!(small_span(0, 0, None), None);
        assert_eq!(small_span(SMALL_OBJECT + 1, 0, None), None);
        assert_eq!(small_span(4096, 2, None), None);
        let r = ByteRange::FromTo(10, 19);
        assert_eq!(small_span(1 << 30, 0, Some(r)), Some((10, 10, false)));
        assert_eq!(small_span(5, 0, Some(r)), None, "unsatisfiable");
    }
}
