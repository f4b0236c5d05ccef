//! Multipart uploads in progress and their parts.
//!
//! Each part row holds one reference on its blob. Completing an upload
//! moves the references of the parts it names to the object
//! (`object_parts`) and releases the rest; aborting releases them all.

use rusqlite::{params, Connection, OptionalExtension};

use super::objects::{encode_headers, release_blob};
use super::AfterCommit;
use crate::store::blob::{BlobHash, BlobStore};
use crate::store::error::Result;

#[derive(Debug, Clone)]
pub struct UploadRow {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub created_ms: i64,
    /// Headers to store on the object at completion (raw encoding).
    pub headers: Vec<u8>,
    /// Checksum algorithm chosen at creation (per-part checksums).
    pub checksum_algo: Option<String>,
    /// The object's checksum is over its whole content (a CRC, S3's
    /// FULL_OBJECT type) rather than over the parts' checksums (COMPOSITE).
    pub full_object_checksum: bool,
    /// Tags for the object (`x-amz-tagging` at creation).
    pub tags: Option<String>,
    /// The object's canned ACL (`x-amz-acl` at creation).
    pub acl: Option<String>,
    /// The object's Object Lock (`x-amz-object-lock-*` at creation).
    pub lock: super::locks::ObjectLock,
    /// The upload's encryption: its parts are sealed with its data key.
    pub sse: Option<crate::sse::Encryption>,
    /// The object's owner when not the bucket's (ObjectWriter).
    pub owner: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PartRow {
    pub part_number: u32,
    pub blob: BlobHash,
    pub size: u64,
    /// Hex MD5 of the part (unquoted).
    pub etag: String,
    pub checksum: Option<String>,
    pub modified_ms: i64,
}

fn upload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRow> {
    Ok(UploadRow {
        upload_id: r.get(0)?,
        bucket: r.get(1)?,
        key: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(2)?).into_owned(),
        created_ms: r.get(3)?,
        headers: r.get(4)?,
        checksum_algo: r.get(5)?,
        tags: r.get(6)?,
        acl: r.get(7)?,
        lock: super::locks::ObjectLock {
            mode: r
                .get::<_, Option<String>>(8)?
                .and_then(|m| super::locks::Mode::parse(&m)),
            until_ms: r.get(9)?,
            legal_hold: r.get(10)?,
        },
        full_object_checksum: r.get(11)?,
        sse: r
            .get::<_, Option<String>>(12)?
            .and_then(|s| crate::sse::Encryption::from_json(&s)),
        owner: r.get(13)?,
    })
}

const UPLOAD_COLUMNS: &str = "upload_id, bucket, key, created_ms, headers, checksum_algo, tags, acl, lock_mode, lock_until_ms, legal_hold, full_object_checksum, sse, owner";

pub fn create(conn: &Connection, u: &UploadRow, headers: &[(String, Vec<u8>)]) -> Result<()> {
    conn.execute(
        "INSERT INTO uploads (upload_id, bucket, key, created_ms, headers, checksum_algo, tags, acl, lock_mode, lock_until_ms, legal_hold, full_object_checksum, sse, owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            u.upload_id,
            u.bucket,
            u.key.as_bytes(),
            u.created_ms,
            encode_headers(headers),
            u.checksum_algo,
            u.tags,
            u.acl,
            u.lock.mode.map(|m| m.as_str()),
            u.lock.until_ms,
            u.lock.legal_hold,
            u.full_object_checksum,
            u.sse.as_ref().map(|e| e.to_json()),
            u.owner,
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, upload_id: &str) -> Result<Option<UploadRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?1"
        ))?
        .query_row([upload_id], upload_row)
        .optional()?)
}

/// Records a part, replacing (and releasing) an earlier upload of the same
/// number. The caller has already taken a reference on `part.blob`.
pub fn put_part(
    conn: &Connection,
    store: &BlobStore,
    upload_id: &str,
    part: &PartRow,
    after: &mut Vec<AfterCommit>,
) -> Result<()> {
    let old: Option<Vec<u8>> = conn
        .prepare_cached("SELECT blob FROM upload_parts WHERE upload_id = ?1 AND part_number = ?2")?
        .query_row(params![upload_id, part.part_number], |r| r.get(0))
        .optional()?;
    conn.prepare_cached(
        "INSERT INTO upload_parts (upload_id, part_number, blob, size, etag, checksum, modified_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(upload_id, part_number) DO UPDATE SET blob = excluded.blob, size = excluded.size,
           etag = excluded.etag, checksum = excluded.checksum, modified_ms = excluded.modified_ms",
    )?
    .execute(params![
        upload_id,
        part.part_number,
        part.blob.as_bytes(),
        part.size as i64,
        part.etag,
        part.checksum,
        part.modified_ms
    ])?;
    if let Some(old) = old.and_then(|b| BlobHash::from_slice(&b)) {
        release_blob(conn, store, old, after)?;
    }
    Ok(())
}

/// Parts with numbers above `after_part`, in order, at most `limit`.
pub fn parts(
    conn: &Connection,
    upload_id: &str,
    after_part: u32,
    limit: usize,
) -> Result<Vec<PartRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT part_number, blob, size, etag, checksum, modified_ms FROM upload_parts
         WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![upload_id, after_part, limit as i64], |r| {
        let blob: Vec<u8> = r.get(1)?;
        Ok(PartRow {
            part_number: r.get(0)?,
            blob: BlobHash::from_slice(&blob).unwrap_or_default(),
            size: r.get::<_, i64>(2)? as u64,
            etag: r.get(3)?,
            checksum: r.get(4)?,
            modified_ms: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ends an upload: parts in `kept` keep their blob reference (the object
/// now holds it); every other part's reference is released.
pub fn finish(
    conn: &Connection,
    store: &BlobStore,
    upload_id: &str,
    kept: &[u32],
    after: &mut Vec<AfterCommit>,
) -> Result<()> {
    for part in parts(conn, upload_id, 0, 10_000)? {
        if !kept.contains(&part.part_number) {
            release_blob(conn, store, part.blob, after)?;
        }
    }
    conn.prepare_cached("DELETE FROM upload_parts WHERE upload_id = ?1")?
        .execute([upload_id])?;
    conn.prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")?
        .execute([upload_id])?;
    Ok(())
}

/// Uploads of a bucket in (key, upload id) order, after the markers.
pub fn list(
    conn: &Connection,
    bucket: &str,
    prefix: &str,
    key_marker: &str,
    upload_marker: &str,
    limit: usize,
) -> Result<Vec<UploadRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {UPLOAD_COLUMNS} FROM uploads
         WHERE bucket = ?1 AND substr(key, 1, length(?2)) = ?2 AND (key > ?3 OR (key = ?3 AND upload_id > ?4))
         ORDER BY key, upload_id LIMIT ?5"
    ))?;
    let rows = stmt.query_map(
        params![
            bucket,
            prefix.as_bytes(),
            key_marker.as_bytes(),
            upload_marker,
            limit as i64
        ],
        upload_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Uploads started before `cutoff_ms`: abandoned, to be swept.
pub fn older_than(conn: &Connection, cutoff_ms: i64) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT upload_id FROM uploads WHERE created_ms < ?1 LIMIT 1000")?;
    let rows = stmt.query_map([cutoff_ms], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every upload in progress in a bucket (DeleteBucket discards them, as
/// S3 does).
pub fn in_bucket(conn: &Connection, bucket: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT upload_id FROM uploads WHERE bucket = ?1")?;
    let rows = stmt.query_map([bucket], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What a completed upload made, kept for a while so that a retried
/// CompleteMultipartUpload (its answer lost on the way) gets the same
/// answer instead of NoSuchUpload.
#[derive(Debug, Clone)]
pub struct Completed {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub version_id: Option<String>,
}

pub fn record_completed(
    conn: &Connection,
    upload_id: &str,
    done: &Completed,
    now_ms: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO completed_uploads (upload_id, bucket, key, etag, version_id, completed_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        upload_id,
        done.bucket,
        done.key.as_bytes(),
        done.etag,
        done.version_id,
        now_ms
    ])?;
    Ok(())
}

pub fn completed(conn: &Connection, upload_id: &str) -> Result<Option<Completed>> {
    Ok(conn
        .prepare_cached(
            "SELECT bucket, key, etag, version_id FROM completed_uploads WHERE upload_id = ?1",
        )?
        .query_row([upload_id], |r| {
            Ok(Completed {
                bucket: r.get(0)?,
                key: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(1)?).into_owned(),
                etag: r.get(2)?,
                version_id: r.get(3)?,
            })
        })
        .optional()?)
}

/// Forgets completions older than `cutoff_ms`.
pub fn forget_completed(conn: &Connection, cutoff_ms: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM completed_uploads WHERE completed_ms < ?1")?
        .execute([cutoff_ms])?)
}
