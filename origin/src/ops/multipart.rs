//! Multipart uploads: create, upload part (and part copy), complete, abort,
//! list parts, list uploads, and the sweep of abandoned uploads.
//!
//! Parts are ordinary blobs. Completing an upload writes no bytes: the
//! object row becomes a manifest of the named parts' blobs, its ETag is
//! S3's `md5-of-part-md5s-N`, and its BLAKE3 (for `x-cairn-blake3` and end
//! to end verification) is computed once over the parts.

use std::io::Read;

use axum::body::Body;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::{HeaderValue, StatusCode};
use md5::{Digest, Md5};
use serde::Deserialize;

use super::body::BodyReader;
use super::put::{receive, stored_headers, WriteConditions};
use super::{empty, iso8601, now_ms, write_owner, xml_response, Ctx};
use crate::checksum::ChecksumAlgo;
use crate::error::{Code, S3Error, S3Result};
use crate::sse::{self, Role};
use crate::store::blob::{BlobHash, BlobStore};
use crate::store::meta::objects::{self, decode_headers, ObjectRow, PartRef};
use crate::store::meta::uploads::{self, PartRow, UploadRow};
use crate::store::meta::{buckets, usage, Meta};
use crate::xml::{self, XmlWriter};
use cairn_shared::etag;
use cairn_shared::names::ObjectKey;

/// Every part but the last must be at least this large (S3's rule).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_COMPLETE_BODY: u64 = 4 * 1024 * 1024;

/// The upload a request names (`uploadId`), and the bucket and key the
/// request addresses, which the upload must belong to.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub id: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
}

fn no_such_upload(id: &str) -> S3Error {
    S3Error::new(Code::NoSuchUpload).with("UploadId", id)
}

/// Loads an upload and checks that it belongs to this bucket and key.
async fn load_upload(ctx: &Ctx, upload: Upload<'_>) -> S3Result<UploadRow> {
    ctx.owned_bucket(upload.bucket).await?;
    let id = upload.id.to_owned();
    let row = ctx.state.meta.read(move |c| uploads::get(c, &id)).await?;
    match row {
        Some(u) if u.bucket == upload.bucket && u.key == upload.key => Ok(u),
        _ => Err(no_such_upload(upload.id)),
    }
}

pub async fn create(ctx: &Ctx, bucket: &str, key: &str) -> S3Result<Response> {
    let bucket_row = ctx.owned_bucket(bucket).await?;
    let lock = super::object_lock::from_headers(&ctx.parts.headers, &bucket_row)?;
    let key = ObjectKey::parse(key)?;
    let headers = stored_headers(&ctx.parts.headers)?;
    let algo = match ctx.header("x-amz-checksum-algorithm") {
        None => None,
        Some(name) => Some(ChecksumAlgo::from_name(name).ok_or_else(|| {
            S3Error::msg(
                Code::InvalidRequest,
                "Checksum algorithm provided is unsupported.",
            )
        })?),
    };
    let writer = super::settings::writer(ctx, &bucket_row);
    let row = UploadRow {
        upload_id: format!("{:032x}", rand::random::<u128>()),
        bucket: bucket.to_owned(),
        key: key.as_str().to_owned(),
        created_ms: now_ms(),
        headers: Vec::new(),
        checksum_algo: algo.map(|a| a.name().to_owned()),
        full_object_checksum: checksum_type(ctx, algo)?,
        tags: super::tagging::from_header(ctx)?,
        acl: super::settings::object_acl(ctx, &bucket_row, writer.as_deref())?,
        owner: writer.clone(),
        lock,
        sse: sse::requested(&ctx.parts.headers, bucket_row.encryption.as_ref())?
            .map(|r| r.seal(&ctx.state.sse_keys))
            .transpose()?
            .map(|(e, _)| e),
    };
    let r = row.clone();
    ctx.state
        .meta
        .write(move |c, _| uploads::create(c, &r, &headers))
        .await?;
    let mut w = XmlWriter::new();
    w.root("InitiateMultipartUploadResult");
    w.elem("Bucket", bucket);
    w.elem("Key", key.as_str());
    w.elem("UploadId", &row.upload_id);
    w.close("InitiateMultipartUploadResult");
    let mut resp = xml_response(w.finish());
    if let Some(e) = &row.sse {
        e.write_headers(resp.headers_mut());
    }
    if let Some(a) = algo {
        resp.headers_mut().insert(
            "x-amz-checksum-algorithm",
            HeaderValue::from_static(a.name()),
        );
        let kind = if row.full_object_checksum {
            "FULL_OBJECT"
        } else {
            "COMPOSITE"
        };
        resp.headers_mut()
            .insert("x-amz-checksum-type", HeaderValue::from_static(kind));
    }
    Ok(resp)
}

/// `x-amz-checksum-type`: whether the object's checksum covers its whole
/// content (FULL_OBJECT, CRCs only, and CRC64NVME's default) or the
/// parts' checksums (COMPOSITE, the default of the others).
fn checksum_type(ctx: &Ctx, algo: Option<ChecksumAlgo>) -> S3Result<bool> {
    let crc = matches!(
        algo,
        Some(ChecksumAlgo::Crc32 | ChecksumAlgo::Crc32c | ChecksumAlgo::Crc64Nvme)
    );
    let invalid = || {
        S3Error::msg(
            Code::InvalidRequest,
            "The checksum type is not valid for this checksum algorithm.",
        )
    };
    match ctx.header("x-amz-checksum-type").map(str::trim) {
        None => Ok(algo == Some(ChecksumAlgo::Crc64Nvme)),
        Some("FULL_OBJECT") if crc => Ok(true),
        Some("COMPOSITE") if algo != Some(ChecksumAlgo::Crc64Nvme) => Ok(false),
        Some(_) => Err(invalid()),
    }
}

/// Stores a part's blob and row; the upload must still exist at commit.
async fn commit_part(
    ctx: &Ctx,
    upload: &UploadRow,
    part: PartRow,
    temp: Option<crate::store::blob::TempBlob>,
) -> S3Result<()> {
    let (id, blobs) = (upload.upload_id.clone(), ctx.state.blobs.clone());
    ctx.state
        .meta
        .write(move |c, after| {
            let Some(upload) = uploads::get(c, &id)? else {
                return Err(no_such_upload(&id));
            };
            // Parts are not the bucket's objects yet, but a part that
            // alone would exceed its byte quota is refused now.
            if let Some(bucket_row) = buckets::get(c, &upload.bucket)? {
                let size = i64::try_from(part.size).unwrap_or(i64::MAX);
                usage::check(c, &bucket_row, 0, size)?;
            }
            match temp {
                Some(temp) => {
                    objects::acquire_blob(c, &blobs, &upload.bucket, temp)?;
                }
                None => {
                    objects::add_ref(c, &part.blob)?;
                    usage::deduplicated(c, &upload.bucket, part.size)?;
                }
            }
            Ok(uploads::put_part(c, &blobs, &id, &part, after)?)
        })
        .await
}

pub async fn upload_part(
    ctx: &Ctx,
    upload: Upload<'_>,
    number: u32,
    body: Body,
) -> S3Result<Response> {
    let upload = load_upload(ctx, upload).await?;
    let algo = upload
        .checksum_algo
        .as_deref()
        .and_then(ChecksumAlgo::from_name);
    let seal = sse::read_key(
        upload.sse.as_ref(),
        &ctx.parts.headers,
        Role::Object,
        &ctx.state.sse_keys,
    )?;
    let (temp, digests) = receive(ctx, body, algo, seal.as_ref()).await?;
    let part = PartRow {
        part_number: number,
        blob: digests.blake3,
        size: digests.size,
        etag: sse::etag(upload.sse.as_ref(), seal.as_ref(), &digests.md5),
        checksum: digests.checksum.as_ref().map(|c| c.base64.clone()),
        modified_ms: now_ms(),
    };
    let mut resp = empty(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&etag::quoted(&part.etag)) {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    if let Some(e) = &upload.sse {
        e.write_headers(resp.headers_mut());
    }
    if let Some(c) = &digests.checksum {
        if let Ok(v) = HeaderValue::from_str(&c.base64) {
            resp.headers_mut().insert(c.algo.header(), v);
        }
    }
    commit_part(ctx, &upload, part, Some(temp)).await?;
    Ok(resp)
}

/// UploadPartCopy: a whole single-blob source is shared, not copied; a
/// range (or a multipart source) is read and written as a new blob.
pub async fn upload_part_copy(ctx: &Ctx, upload: Upload<'_>, number: u32) -> S3Result<Response> {
    let upload = load_upload(ctx, upload).await?;
    let src = super::copy::parse_source(ctx.header("x-amz-copy-source").unwrap_or(""))?;
    let s = src.clone();
    let (src_row, found) = ctx
        .state
        .meta
        .read(move |c| -> S3Result<_> { Ok((buckets::get(c, &s.bucket)?, s.read(c)?)) })
        .await?;
    ctx.authorize_source(
        &src.bucket,
        src_row,
        &src.key,
        found.as_ref().map(|(r, _)| r),
    )?;
    let (source, src_parts) =
        found.ok_or_else(|| S3Error::new(Code::NoSuchKey).with("Key", src.key.as_str()))?;
    super::copy::check_source_conditions(ctx, &source)?;
    let ring = &ctx.state.sse_keys;
    let headers = &ctx.parts.headers;
    let open = sse::read_key(source.sse.as_ref(), headers, Role::CopySource, ring)?;
    let seal = sse::read_key(upload.sse.as_ref(), headers, Role::Object, ring)?;
    let span = match ctx.header("x-amz-copy-source-range") {
        None => None,
        Some(r) => {
            let bad = || {
                S3Error::msg(Code::InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy").with("ArgumentName", "x-amz-copy-source-range")
            };
            match cairn_shared::range::parse(r).ok_or_else(bad)? {
                cairn_shared::range::ByteRange::FromTo(a, b) => Some(
                    cairn_shared::range::ByteRange::FromTo(a, b)
                        .resolve(source.size)
                        .filter(|s| s.end == b)
                        .ok_or_else(|| S3Error::new(Code::InvalidRange))?,
                ),
                _ => return Err(bad()),
            }
        }
    };
    let algo = upload
        .checksum_algo
        .as_deref()
        .and_then(ChecksumAlgo::from_name);
    let shared = span.is_none() && source.parts == 0 && algo.is_none();
    let (part, temp) = if shared && open.is_none() && seal.is_none() {
        let part = PartRow {
            part_number: number,
            blob: source.blob,
            size: source.size,
            etag: source.etag.clone(),
            checksum: None,
            modified_ms: now_ms(),
        };
        (part, None)
    } else {
        let (start, len) = span.map(|s| (s.start, s.len())).unwrap_or((0, source.size));
        let segments = segments(&source, &src_parts, start, len);
        let blobs = ctx.state.blobs.clone();
        let mut writer = crate::store::blob::BlobWriter::start(&blobs, false, algo, seal.as_ref())?;
        let mut reader = super::get::segment_stream(blobs.clone(), segments, open);
        while let Some(chunk) = futures_util::StreamExt::next(&mut reader).await {
            writer.write(chunk?).await?;
        }
        let (temp, d) = writer.finish().await?;
        let part = PartRow {
            part_number: number,
            blob: d.blake3,
            size: d.size,
            etag: sse::etag(upload.sse.as_ref(), seal.as_ref(), &d.md5),
            checksum: d.checksum.map(|c| c.base64),
            modified_ms: now_ms(),
        };
        (part, Some(temp))
    };
    let (etag_value, modified) = (part.etag.clone(), part.modified_ms);
    commit_part(ctx, &upload, part, temp).await?;
    let mut w = XmlWriter::new();
    w.root("CopyPartResult");
    w.elem("LastModified", &iso8601(modified));
    w.elem("ETag", &etag::quoted(&etag_value));
    w.close("CopyPartResult");
    let mut resp = xml_response(w.finish());
    if let Some(e) = &upload.sse {
        e.write_headers(resp.headers_mut());
    }
    Ok(resp)
}

/// Part of an object's content: `len` bytes at `start` of a blob that
/// holds `size` bytes of plaintext.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub blob: BlobHash,
    pub size: u64,
    pub start: u64,
    pub len: u64,
}

/// The (blob, offset, length) pieces that hold `len` bytes at `start`.
pub fn segments(row: &ObjectRow, parts: &[PartRef], start: u64, len: u64) -> Vec<Segment> {
    if row.parts == 0 {
        return vec![Segment {
            blob: row.blob,
            size: row.size,
            start,
            len,
        }];
    }
    let mut out = Vec::new();
    let (mut offset, end) = (0u64, start + len);
    for p in parts {
        let (p_start, p_end) = (offset, offset + p.size);
        if p_end > start && p_start < end {
            let from = start.max(p_start) - p_start;
            let to = end.min(p_end) - p_start;
            out.push(Segment {
                blob: p.blob,
                size: p.size,
                start: from,
                len: to - from,
            });
        }
        offset = p_end;
    }
    out
}

#[derive(Deserialize)]
struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
struct CompletePart {
    #[serde(rename = "PartNumber")]
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

/// A name for an encrypted multipart object's content: the BLAKE3 of its
/// parts' names (their sealed bytes), so it changes with the content.
fn opaque_hash(parts: &[PartRef]) -> BlobHash {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.blob.as_bytes());
    }
    BlobHash::from_slice(h.finalize().as_bytes()).unwrap_or_default()
}

/// BLAKE3 of the whole object, read part by part on a blocking thread.
/// The whole content's BLAKE3 and, when `full` names an algorithm, its
/// checksum over the whole content, in one read of the parts.
/// With a data key, the parts are decrypted on the way.
async fn whole_hash(
    blobs: BlobStore,
    parts: Vec<PartRef>,
    full: Option<ChecksumAlgo>,
    key: Option<sse::Key>,
) -> S3Result<(BlobHash, Option<crate::checksum::Checksum>)> {
    tokio::task::spawn_blocking(move || {
        let mut h = blake3::Hasher::new();
        let mut sum = full.map(ChecksumAlgo::hasher);
        let mut buf = vec![0u8; 1 << 20];
        for p in &parts {
            if let Some(key) = &key {
                sse::read::for_each_plain(&blobs.path(&p.blob), key, p.size, |b| {
                    h.update(b);
                    if let Some(s) = sum.as_mut() {
                        s.update(b);
                    }
                })?;
                continue;
            }
            let mut f = std::fs::File::open(blobs.path(&p.blob))?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                if let Some(s) = sum.as_mut() {
                    s.update(&buf[..n]);
                }
            }
        }
        let hash = BlobHash::from_slice(h.finalize().as_bytes()).unwrap_or_default();
        Ok::<_, std::io::Error>((hash, sum.map(|s| s.finish())))
    })
    .await
    .map_err(S3Error::internal)?
    .map_err(S3Error::from)
}

pub async fn complete(ctx: &Ctx, named: Upload<'_>, body: Body) -> S3Result<Response> {
    let Upload { bucket, key, .. } = named;
    let upload = match load_upload(ctx, named).await {
        Ok(u) => u,
        Err(e) if e.code == Code::NoSuchUpload => return completed_again(ctx, named, e).await,
        Err(e) => return Err(e),
    };
    let conditions = WriteConditions::from_headers(&ctx.parts.headers)?;
    let (raw, _) = BodyReader::new(
        body,
        &ctx.parts.headers,
        &ctx.verified.payload,
        MAX_COMPLETE_BODY,
    )?
    .collect()
    .await?;
    let req: CompleteMultipartUpload = xml::parse(&raw)?;
    if req.parts.is_empty() {
        return Err(S3Error::msg(Code::MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: no parts."));
    }
    if req
        .parts
        .windows(2)
        .any(|w| w[0].part_number >= w[1].part_number)
    {
        return Err(S3Error::msg(Code::InvalidPartOrder, "The list of parts was not in ascending order. The parts list must be specified in order by part number."));
    }
    let id = upload.upload_id.clone();
    let stored = ctx
        .state
        .meta
        .read(move |c| uploads::parts(c, &id, 0, 10_000))
        .await?;
    let mut chosen: Vec<PartRow> = Vec::with_capacity(req.parts.len());
    for want in &req.parts {
        let found = stored
            .iter()
            .find(|p| p.part_number == want.part_number && etag::opaque(&want.etag) == p.etag)
            .ok_or_else(|| S3Error::msg(Code::InvalidPart, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.").with("PartNumber", want.part_number.to_string()))?;
        chosen.push(found.clone());
    }
    if let Some(small) = chosen[..chosen.len() - 1]
        .iter()
        .find(|p| p.size < MIN_PART_SIZE)
    {
        return Err(S3Error::new(Code::EntityTooSmall)
            .with("PartNumber", small.part_number.to_string())
            .with("ProposedSize", small.size.to_string())
            .with("MinSizeAllowed", MIN_PART_SIZE.to_string()));
    }
    // S3's multipart ETag: MD5 of the concatenated binary part MD5s, "-N".
    let mut md5 = Md5::new();
    for p in &chosen {
        md5.update(hex::decode(&p.etag).unwrap_or_default());
    }
    let etag_value = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
    let checksum = composite_checksum(&upload, &chosen);
    let part_refs: Vec<PartRef> = chosen
        .iter()
        .map(|p| PartRef {
            blob: p.blob,
            size: p.size,
            checksum: p.checksum.clone(),
        })
        .collect();
    let full = upload
        .full_object_checksum
        .then(|| ChecksumAlgo::from_name(upload.checksum_algo.as_deref()?))
        .flatten();
    // An encrypted object's content hash is never sent (it would name
    // nothing the client sees), so its parts are read only for a
    // full-object checksum, which needs the data key.
    // An SSE-C upload is completed only by whoever has its key, as S3
    // checks.
    let data_key = match (&upload.sse, full) {
        (None, _) => None,
        (Some(e), None) if e.kind != sse::Kind::Customer => Some(None),
        (Some(e), full) => {
            let key = sse::read_key(
                Some(e),
                &ctx.parts.headers,
                Role::Object,
                &ctx.state.sse_keys,
            )?;
            Some(key.filter(|_| full.is_some()))
        }
    };
    let (whole, full_sum) = match data_key {
        Some(None) => (opaque_hash(&part_refs), None),
        Some(Some(k)) => {
            whole_hash(ctx.state.blobs.clone(), part_refs.clone(), full, Some(k)).await?
        }
        None => whole_hash(ctx.state.blobs.clone(), part_refs.clone(), full, None).await?,
    };
    let checksum = match full_sum {
        Some(sum) => Some((sum.algo.name().to_owned(), sum.base64)),
        None => checksum,
    };
    let row = ObjectRow {
        key: upload.key.clone(),
        blob: whole,
        size: chosen.iter().map(|p| p.size).sum(),
        etag: etag_value.clone(),
        modified_ms: now_ms(),
        headers: decode_headers(&upload.headers),
        checksum: checksum.clone(),
        parts: chosen.len() as u32,
        version_id: None,
        tags: upload.tags.clone(),
        acl: upload.acl.clone(),
        lock: upload.lock,
        sse: upload.sse.clone(),
        owner: upload.owner.clone(),
    };
    let kept: Vec<u32> = chosen.iter().map(|p| p.part_number).collect();
    let (b, id, blobs) = (
        bucket.to_owned(),
        upload.upload_id.clone(),
        ctx.state.blobs.clone(),
    );
    let mut row = row;
    let version = ctx
        .state
        .meta
        .write(move |c, after| {
            // The parts must still be the ones we checked.
            let now = uploads::parts(c, &id, 0, 10_000)?;
            let same = chosen.iter().all(|p| {
                now.iter()
                    .any(|n| n.part_number == p.part_number && n.blob == p.blob)
            });
            if uploads::get(c, &id)?.is_none() || !same {
                return Err(no_such_upload(&id));
            }
            let current = objects::get(c, &b, &row.key)?;
            conditions.check(current.as_ref(), &row.key)?;
            let bucket_row = crate::store::meta::buckets::get(c, &b)?
                .ok_or_else(|| S3Error::new(Code::NoSuchBucket).with("BucketName", b.as_str()))?;
            objects::check_quota(c, &bucket_row, current.as_ref(), row.size)?;
            let version =
                objects::upsert(c, &blobs, &bucket_row, current, &mut row, &part_refs, after)?;
            uploads::finish(c, &blobs, &id, &kept, after)?;
            let done = uploads::Completed {
                bucket: b.clone(),
                key: row.key.clone(),
                etag: row.etag.clone(),
                version_id: version.clone(),
            };
            uploads::record_completed(c, &id, &done, now_ms())?;
            Ok(version)
        })
        .await?;
    let mut w = result_head(bucket, key, &etag_value);
    if let Some((algo, value)) = &checksum {
        if let Some(a) = ChecksumAlgo::from_name(algo) {
            w.elem(&format!("Checksum{}", a.name()), value);
            w.elem("ChecksumType", crate::checksum::kind(value));
        }
    }
    w.close("CompleteMultipartUploadResult");
    let mut resp = xml_response(w.finish());
    match &upload.sse {
        None => {
            if let Ok(v) = HeaderValue::from_str(&whole.to_hex()) {
                resp.headers_mut().insert("x-cairn-blake3", v);
            }
        }
        Some(e) => e.write_headers(resp.headers_mut()),
    }
    super::put::version_header(resp.headers_mut(), version.as_deref());
    Ok(resp)
}

/// `<CompleteMultipartUploadResult>` up to its ETag.
fn result_head(bucket: &str, key: &str, etag_value: &str) -> XmlWriter {
    let mut w = XmlWriter::new();
    w.root("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{bucket}/{key}"));
    w.elem("Bucket", bucket);
    w.elem("Key", key);
    w.elem("ETag", &etag::quoted(etag_value));
    w
}

/// A CompleteMultipartUpload for an upload that is gone: if it was
/// completed (lately, to this very key), the client retried after losing
/// the answer, and S3 answers it again; otherwise NoSuchUpload.
async fn completed_again(ctx: &Ctx, named: Upload<'_>, missing: S3Error) -> S3Result<Response> {
    let Upload { id, bucket, key } = named;
    let id = id.to_owned();
    let done = ctx
        .state
        .meta
        .read(move |c| uploads::completed(c, &id))
        .await?;
    let Some(done) = done.filter(|d| d.bucket == bucket && d.key == key) else {
        return Err(missing);
    };
    let mut w = result_head(bucket, key, &done.etag);
    w.close("CompleteMultipartUploadResult");
    let mut resp = xml_response(w.finish());
    super::put::version_header(resp.headers_mut(), done.version_id.as_deref());
    Ok(resp)
}

/// S3's composite checksum: the checksum of the concatenated binary part
/// checksums, with "-N". Only when the upload chose an algorithm and every
/// part carries one.
fn composite_checksum(upload: &UploadRow, parts: &[PartRow]) -> Option<(String, String)> {
    let algo = ChecksumAlgo::from_name(upload.checksum_algo.as_deref()?)?;
    let mut h = algo.hasher();
    for p in parts {
        h.update(&B64.decode(p.checksum.as_deref()?).ok()?);
    }
    Some((
        algo.name().to_owned(),
        format!("{}-{}", h.finish().base64, parts.len()),
    ))
}

pub async fn abort(ctx: &Ctx, named: Upload<'_>) -> S3Result<Response> {
    let upload = load_upload(ctx, named).await?;
    let (id, blobs) = (upload.upload_id, ctx.state.blobs.clone());
    ctx.state
        .meta
        .write(move |c, after| {
            if uploads::get(c, &id)?.is_none() {
                return Err(no_such_upload(&id));
            }
            Ok(uploads::finish(c, &blobs, &id, &[], after)?)
        })
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn list_parts(ctx: &Ctx, named: Upload<'_>) -> S3Result<Response> {
    let Upload { bucket, key, .. } = named;
    let upload = load_upload(ctx, named).await?;
    let marker: u32 = ctx
        .query("part-number-marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let max: usize = ctx
        .query("max-parts")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000)
        .min(1000);
    let id = upload.upload_id.clone();
    let mut parts = ctx
        .state
        .meta
        .read(move |c| uploads::parts(c, &id, marker, max + 1))
        .await?;
    let truncated = parts.len() > max;
    parts.truncate(max);
    let algo = upload
        .checksum_algo
        .as_deref()
        .and_then(ChecksumAlgo::from_name);
    let mut w = XmlWriter::new();
    w.root("ListPartsResult");
    w.elem("Bucket", bucket);
    w.elem("Key", key);
    w.elem("UploadId", &upload.upload_id);
    w.elem("PartNumberMarker", &marker.to_string());
    if let Some(last) = parts.last() {
        w.elem("NextPartNumberMarker", &last.part_number.to_string());
    }
    w.elem("MaxParts", &max.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for p in &parts {
        w.open("Part");
        w.elem("PartNumber", &p.part_number.to_string());
        w.elem("LastModified", &iso8601(p.modified_ms));
        w.elem("ETag", &etag::quoted(&p.etag));
        w.elem("Size", &p.size.to_string());
        if let (Some(a), Some(c)) = (algo, &p.checksum) {
            w.elem(&format!("Checksum{}", a.name()), c);
        }
        w.close("Part");
    }
    write_owner(&mut w, "Initiator", &ctx.verified.principal);
    write_owner(&mut w, "Owner", &ctx.verified.principal);
    w.elem("StorageClass", "STANDARD");
    if let Some(a) = algo {
        w.elem("ChecksumAlgorithm", a.name());
    }
    w.close("ListPartsResult");
    Ok(xml_response(w.finish()))
}

pub async fn list_uploads(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let prefix = ctx.query("prefix").unwrap_or("").to_owned();
    let delimiter = ctx
        .query("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let key_marker = ctx.query("key-marker").unwrap_or("").to_owned();
    let upload_marker = ctx.query("upload-id-marker").unwrap_or("").to_owned();
    let max: usize = ctx
        .query("max-uploads")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000)
        .min(1000);
    let (b, p, km, um) = (
        bucket.to_owned(),
        prefix.clone(),
        key_marker.clone(),
        upload_marker.clone(),
    );
    // Uploads in progress are few; roll up prefixes over a bounded read.
    let rows = ctx
        .state
        .meta
        .read(move |c| uploads::list(c, &b, &p, &km, &um, 10_000))
        .await?;
    let mut entries: Vec<UploadRow> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    for u in rows {
        let rolled = delimiter.as_deref().and_then(|d| {
            u.key[prefix.len()..]
                .find(d)
                .map(|i| u.key[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(cp) = &rolled {
            if prefixes.last() == Some(cp) || cp.as_str() <= key_marker.as_str() {
                continue;
            }
        }
        if entries.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        match rolled {
            Some(cp) => prefixes.push(cp),
            None => entries.push(u),
        }
    }
    let mut w = XmlWriter::new();
    w.root("ListMultipartUploadsResult");
    w.elem("Bucket", bucket);
    w.elem("KeyMarker", &key_marker);
    w.elem("UploadIdMarker", &upload_marker);
    if truncated {
        if let Some(last) = entries.last() {
            w.elem("NextKeyMarker", &last.key);
            w.elem("NextUploadIdMarker", &last.upload_id);
        }
    }
    w.elem("Prefix", &prefix);
    if let Some(d) = &delimiter {
        w.elem("Delimiter", d);
    }
    w.elem("MaxUploads", &max.to_string());
    w.elem("IsTruncated", if truncated { "true" } else { "false" });
    for u in &entries {
        w.open("Upload");
        w.elem("Key", &u.key);
        w.elem("UploadId", &u.upload_id);
        write_owner(&mut w, "Initiator", &ctx.verified.principal);
        write_owner(&mut w, "Owner", &ctx.verified.principal);
        w.elem("StorageClass", "STANDARD");
        w.elem("Initiated", &iso8601(u.created_ms));
        if let Some(a) = &u.checksum_algo {
            w.elem("ChecksumAlgorithm", a);
        }
        w.close("Upload");
    }
    for p in &prefixes {
        w.open("CommonPrefixes");
        w.elem("Prefix", p);
        w.close("CommonPrefixes");
    }
    w.close("ListMultipartUploadsResult");
    Ok(xml_response(w.finish()))
}

/// Aborts uploads older than `max_age_ms`; returns how many. Runs on a
/// timer in `lib.rs` so abandoned uploads never keep bytes forever.
pub async fn sweep_abandoned(meta: &Meta, blobs: &BlobStore, max_age_ms: i64) -> S3Result<usize> {
    let cutoff = now_ms() - max_age_ms;
    let ids = meta.read(move |c| uploads::older_than(c, cutoff)).await?;
    let n = ids.len();
    let blobs = blobs.clone();
    meta.write(move |c, after| -> S3Result<_> {
        for id in &ids {
            uploads::finish(c, &blobs, id, &[], after)?;
        }
        // Completions are remembered as long as uploads may stay open.
        uploads::forget_completed(c, cutoff)?;
        Ok(())
    })
    .await?;
    Ok(n)
}
