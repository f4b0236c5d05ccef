//! PutObject: stream the body into a temp blob while hashing it, check
//! every digest the client sent, then commit blob and row together.
//!
//! Nothing is visible until the metadata transaction commits, and that
//! happens only after the bytes are fsync'd; a refused or cut-off upload
//! drops its temp file and leaves no trace.

use axum::body::Body;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::body::BodyReader;
use super::{empty, now_ms, Ctx};
use crate::auth::Payload;
use crate::checksum::{self, ChecksumAlgo};
use crate::error::{Code, S3Error, S3Result};
use crate::store::blob::{BlobWriter, Digests, TempBlob};
use crate::store::meta::{buckets, objects, objects::ObjectRow};
use cairn_shared::etag;
use cairn_shared::names::ObjectKey;

/// Headers stored with an object and returned on GET/HEAD as sent.
pub const STORED_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "x-amz-website-redirect-location",
];

/// S3's limit on user metadata (`x-amz-meta-*` names plus values).
const MAX_USER_METADATA: usize = 2048;

/// The headers a PUT stores: the standard ones and `x-amz-meta-*`.
/// `aws-chunked` is transport framing, never part of Content-Encoding.
pub fn stored_headers(headers: &HeaderMap) -> S3Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut user_bytes = 0;
    for name in STORED_HEADERS {
        if let Some(v) = headers.get(*name) {
            let mut value = v.as_bytes().to_vec();
            if *name == "content-encoding" {
                let kept: Vec<&str> = std::str::from_utf8(&value)
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
                    .collect();
                if kept.is_empty() {
                    continue;
                }
                value = kept.join(", ").into_bytes();
            }
            out.push((name.to_string(), value));
        }
    }
    for (name, value) in headers {
        if name.as_str().starts_with("x-amz-meta-") {
            user_bytes += name.as_str().len() - "x-amz-meta-".len() + value.len();
            out.push((name.as_str().to_owned(), value.as_bytes().to_vec()));
        }
    }
    if user_bytes > MAX_USER_METADATA {
        return Err(S3Error::new(Code::MetadataTooLarge)
            .with("MaxSizeAllowed", MAX_USER_METADATA.to_string()));
    }
    Ok(out)
}

/// The Content-MD5 a client sent, decoded (InvalidDigest if malformed).
pub fn content_md5(headers: &HeaderMap) -> S3Result<Option<[u8; 16]>> {
    let Some(v) = headers.get("content-md5") else {
        return Ok(None);
    };
    let raw = v.to_str().ok().and_then(|s| B64.decode(s.trim()).ok());
    match raw.and_then(|r| <[u8; 16]>::try_from(r).ok()) {
        Some(md5) => Ok(Some(md5)),
        None => Err(S3Error::new(Code::InvalidDigest)),
    }
}

/// Conditional-write headers: `If-None-Match` (`*`: the key must not
/// exist; ETags: the current version must not have one of them) and
/// `If-Match` (the current version must have one of the ETags).
#[derive(Clone, Default)]
pub struct WriteConditions {
    if_none_match: Option<String>,
    if_match: Option<String>,
}

impl WriteConditions {
    pub fn from_headers(headers: &HeaderMap) -> S3Result<Self> {
        let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
        Ok(Self {
            if_none_match: h("if-none-match").map(str::to_owned),
            if_match: h("if-match").map(str::to_owned),
        })
    }

    /// Checks against the current row, inside the write transaction.
    pub fn check(&self, current: Option<&ObjectRow>, key: &str) -> S3Result<()> {
        match (current, &self.if_match) {
            (None, Some(_)) => return Err(S3Error::new(Code::NoSuchKey).with("Key", key)),
            (Some(cur), Some(want)) if !etag::list_matches(want, &cur.etag) => {
                return Err(S3Error::new(Code::PreconditionFailed).with("Condition", "If-Match"))
            }
            _ => {}
        }
        if let (Some(cur), Some(none)) = (current, &self.if_none_match) {
            if etag::list_matches(none, &cur.etag) {
                return Err(
                    S3Error::new(Code::PreconditionFailed).with("Condition", "If-None-Match")
                );
            }
        }
        Ok(())
    }
}

/// Compares what the client declared with what we computed.
fn check_digests(
    payload: &Payload,
    md5: Option<[u8; 16]>,
    sent: &checksum::Expected,
    trailers: &[(String, String)],
    d: &Digests,
) -> S3Result<()> {
    if let Some(md5) = md5 {
        if md5 != d.md5 {
            return Err(S3Error::new(Code::BadDigest));
        }
    }
    if let (Payload::Sha256(want), Some(got)) = (payload, d.sha256) {
        if *want != got {
            return Err(S3Error::new(Code::XAmzContentSHA256Mismatch)
                .with("ClientComputedContentSHA256", hex::encode(want))
                .with("S3ComputedContentSHA256", hex::encode(got)));
        }
    }
    let computed = d.checksum.as_ref();
    let sent_value = match &sent.value {
        Some(v) => Some(v.clone()),
        None => match sent.algo {
            Some(algo) => trailers
                .iter()
                .find(|(k, _)| k == algo.header())
                .map(|(_, v)| algo.check_value(v))
                .transpose()?,
            None => None,
        },
    };
    if let (Some(sent), Some(computed)) = (sent_value, computed) {
        checksum::verify(&sent, computed)?;
    }
    Ok(())
}

/// Streams `body` into a temp blob, checking every digest the client sent.
/// Used by PutObject and UploadPart: the blob is not yet visible. `algo`
/// is the checksum to compute when the request names none; `seal` the
/// data key to encrypt with.
pub async fn receive(
    ctx: &Ctx,
    body: Body,
    algo: Option<ChecksumAlgo>,
    seal: Option<&crate::sse::Key>,
) -> S3Result<(crate::store::blob::TempBlob, Digests)> {
    let headers = &ctx.parts.headers;
    let md5 = content_md5(headers)?;
    let sent = checksum::expected(headers)?;
    let algo = sent.algo.or(algo);
    let payload = &ctx.verified.payload;
    let mut reader = BodyReader::new(body, headers, payload, ctx.state.config.max_object_size)?
        .min_rate(ctx.state.config.min_body_rate);
    let _slot = super::upload_slot(&ctx.state)?;
    let mut writer = BlobWriter::start(
        &ctx.state.blobs,
        matches!(payload, Payload::Sha256(_)),
        algo,
        seal,
    )?;
    while let Some(chunk) = reader.next().await? {
        writer.write(chunk).await?;
    }
    let (temp, digests) = writer.finish().await?;
    check_digests(payload, md5, &sent, reader.trailers(), &digests)?;
    Ok((temp, digests))
}

pub async fn put_object(ctx: &Ctx, bucket: &str, key: &str, body: Body) -> S3Result<Response> {
    let bucket_row = ctx.owned_bucket(bucket).await?;
    let lock = super::object_lock::from_headers(&ctx.parts.headers, &bucket_row)?;
    let key = ObjectKey::parse(key)?;
    let headers = stored_headers(&ctx.parts.headers)?;
    let conditions = WriteConditions::from_headers(&ctx.parts.headers)?;
    let tags = super::tagging::from_header(ctx)?;
    let writer = super::settings::writer(ctx, &bucket_row);
    let acl = super::settings::object_acl(ctx, &bucket_row, writer.as_deref())?;
    let sealing = crate::sse::requested(&ctx.parts.headers, bucket_row.encryption.as_ref())?
        .map(|r| r.seal(&ctx.state.sse_keys))
        .transpose()?;
    // S3 computes CRC64NVME for objects uploaded without a checksum.
    let (temp, digests) = receive(
        ctx,
        body,
        Some(ChecksumAlgo::Crc64Nvme),
        sealing.as_ref().map(|(_, k)| k),
    )
    .await?;
    let mut row = single_blob_row(key.as_str(), &digests, headers);
    row.tags = tags;
    row.acl = acl;
    row.owner = writer;
    row.lock = lock;
    if let Some((info, dek)) = sealing {
        row.etag = crate::sse::etag(Some(&info), Some(&dek), &digests.md5);
        row.sse = Some(info);
    }
    let committed = row.clone();
    let version = commit(&ctx.state, bucket, row, temp, conditions).await?;
    let mut resp = empty(StatusCode::OK);
    super::lifecycle::expiration_header(resp.headers_mut(), &ctx.state, &bucket_row, &committed);
    version_header(resp.headers_mut(), version.as_deref());
    write_object_headers(
        resp.headers_mut(),
        &committed,
        ctx.header("x-amz-sdk-checksum-algorithm").is_some()
            || checksum::expected(&ctx.parts.headers)?.algo.is_some(),
    );
    Ok(resp)
}

/// The row for an object made of one freshly received blob.
pub fn single_blob_row(key: &str, digests: &Digests, headers: Vec<(String, Vec<u8>)>) -> ObjectRow {
    ObjectRow {
        key: key.to_owned(),
        blob: digests.blake3,
        size: digests.size,
        etag: hex::encode(digests.md5),
        modified_ms: now_ms(),
        headers,
        checksum: digests
            .checksum
            .as_ref()
            .map(|c| (c.algo.name().to_owned(), c.base64.clone())),
        parts: 0,
        version_id: None,
        tags: None,
        acl: None,
        owner: None,
        lock: Default::default(),
        sse: None,
    }
}

/// `x-amz-version-id`, for buckets that have (or had) versioning.
pub fn version_header(h: &mut HeaderMap, version: Option<&str>) {
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert("x-amz-version-id", v);
    }
}

/// Makes a received blob visible as `row`: inside one write, checks that
/// the bucket still exists and the write conditions hold, takes the blob
/// reference and replaces any earlier object (or, with versioning, puts
/// it behind the new one). Returns the version id to report.
pub async fn commit(
    state: &crate::state::AppState,
    bucket: &str,
    mut row: ObjectRow,
    temp: TempBlob,
    conditions: WriteConditions,
) -> S3Result<Option<String>> {
    let (bucket, blobs) = (bucket.to_owned(), state.blobs.clone());
    state
        .meta
        .write(move |c, after| {
            // The bucket may have been deleted while the body streamed.
            let Some(bucket_row) = buckets::get(c, &bucket)? else {
                return Err(S3Error::new(Code::NoSuchBucket).with("BucketName", bucket.as_str()));
            };
            let current = objects::get(c, &bucket, &row.key)?;
            conditions.check(current.as_ref(), &row.key)?;
            // Before the blob is moved into place, so a refusal leaves
            // nothing behind.
            objects::check_quota(c, &bucket_row, current.as_ref(), row.size)?;
            objects::acquire_blob(c, &blobs, &bucket, temp)?;
            Ok(objects::upsert(
                c,
                &blobs,
                &bucket_row,
                current,
                &mut row,
                &[],
                after,
            )?)
        })
        .await
}

/// ETag, the BLAKE3 name (of plain bytes only: an encrypted object's
/// blob names ciphertext), encryption, and (when the client asked) the
/// checksum.
pub fn write_object_headers(h: &mut HeaderMap, row: &ObjectRow, with_checksum: bool) {
    if let Ok(v) = HeaderValue::from_str(&etag::quoted(&row.etag)) {
        h.insert(http::header::ETAG, v);
    }
    match &row.sse {
        None => {
            if let Ok(v) = HeaderValue::from_str(&row.blob.to_hex()) {
                h.insert("x-cairn-blake3", v);
            }
        }
        Some(e) => e.write_headers(h),
    }
    if with_checksum {
        if let Some((algo, value)) = &row.checksum {
            if let (Some(a), Ok(v)) = (ChecksumAlgo::from_name(algo), HeaderValue::from_str(value))
            {
                h.insert(a.header(), v);
                h.insert(
                    "x-amz-checksum-type",
                    HeaderValue::from_static(checksum::kind(value)),
                );
            }
        }
    }
}
