//! Object rows and the blob reference counts they hold.
//!
//! Every function that adds or removes an object row adjusts the blob's
//! reference count in the same transaction; a blob whose count reaches zero
//! loses its row here and its file after the commit (see [`release_blob`]).

use rusqlite::{params, Connection, OptionalExtension};

use super::buckets::Versioning;
use super::AfterCommit;
use crate::store::blob::{BlobHash, BlobStore, TempBlob};
use crate::store::error::Result;

/// An object as stored: where its bytes are and what to answer about it.
#[derive(Debug, Clone)]
pub struct ObjectRow {
    pub key: String,
    pub blob: BlobHash,
    pub size: u64,
    /// Hex MD5 of the bytes (unquoted).
    pub etag: String,
    pub modified_ms: i64,
    /// Stored response headers: lowercase names, raw values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Flexible checksum the client sent, as (algorithm, base64 value).
    pub checksum: Option<(String, String)>,
    /// 0 for a single-blob object; otherwise the number of parts, whose
    /// blobs hold the bytes (and `blob` is the whole content's BLAKE3).
    pub parts: u32,
    /// The version's id; `None` is S3's `null` version (every object of a
    /// bucket that never had versioning, and writes while it is suspended).
    /// Chosen by [`upsert`], never by the caller.
    pub version_id: Option<String>,
    /// The object's tag set, as `x-amz-tagging` spells it (URL-encoded
    /// `k=v&k=v`, in the order given); `None` when it has no tags.
    pub tags: Option<String>,
    /// The object's canned ACL when it grants more than the bucket's
    /// owner has (`public-read`); `None` is private.
    pub acl: Option<String>,
    /// Object Lock: retention and legal hold of this version.
    pub lock: super::locks::ObjectLock,
    /// How the bytes are encrypted at rest; `None` for plain bytes.
    pub sse: Option<crate::sse::Encryption>,
    /// The access key that owns this version when it is not the bucket's
    /// owner (ObjectWriter); `None` is the bucket's owner.
    pub owner: Option<String>,
}

impl ObjectRow {
    /// Names this version of the object as a reader sees it (bytes,
    /// stored headers, modification time): an opaque tag that changes with
    /// every write, even one that keeps the bytes and so the ETag. GET and
    /// HEAD send it (`x-cairn-version`) and the change feed carries it, so
    /// an edge can tell that a copy it holds is the version a change wrote.
    pub fn version(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(self.etag.as_bytes());
        h.update(&self.modified_ms.to_le_bytes());
        h.update(&self.size.to_le_bytes());
        h.update(&encode_headers(&self.headers));
        h.update(self.version_id.as_deref().unwrap_or("null").as_bytes());
        h.finalize().to_hex()[..32].to_owned()
    }

    /// The version id as S3 prints it.
    pub fn version_label(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }

    /// How many tags the object has (`x-amz-tagging-count`).
    pub fn tag_count(&self) -> usize {
        self.tags
            .as_deref()
            .map_or(0, |t| t.split('&').filter(|p| !p.is_empty()).count())
    }
}

/// One part of a multipart object, in order.
#[derive(Debug, Clone)]
pub struct PartRef {
    pub blob: BlobHash,
    pub size: u64,
    /// The part's own checksum (base64, the upload's algorithm), when the
    /// client sent one: GET by `partNumber` answers with it.
    pub checksum: Option<String>,
}

/// A listing entry: only what listings print.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub modified_ms: i64,
}

pub fn encode_headers(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

pub fn decode_headers(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    raw.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|line| {
            let i = line.iter().position(|b| *b == b':')?;
            let name = String::from_utf8(line[..i].to_vec()).ok()?;
            Some((name, line[i + 1..].to_vec()))
        })
        .collect()
}

/// The columns [`object_row`] reads, in order (`objects` and `versions`
/// share them).
pub(super) const ROW_COLUMNS: &str =
    "key, blob, size, etag, modified_ms, headers, checksum_algo, checksum, parts, version_id, tags, acl, lock_mode, lock_until_ms, legal_hold, sse, owner";

pub(super) fn object_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRow> {
    let blob: Vec<u8> = r.get(1)?;
    let headers: Vec<u8> = r.get(5)?;
    let algo: Option<String> = r.get(6)?;
    let sum: Option<String> = r.get(7)?;
    Ok(ObjectRow {
        key: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(0)?).into_owned(),
        blob: BlobHash::from_slice(&blob).unwrap_or_default(),
        size: r.get::<_, i64>(2)? as u64,
        etag: r.get(3)?,
        modified_ms: r.get(4)?,
        headers: decode_headers(&headers),
        checksum: algo.zip(sum),
        parts: r.get::<_, i64>(8)? as u32,
        version_id: r.get(9)?,
        tags: r.get(10)?,
        acl: r.get(11)?,
        lock: super::locks::ObjectLock {
            mode: r
                .get::<_, Option<String>>(12)?
                .and_then(|m| super::locks::Mode::parse(&m)),
            until_ms: r.get(13)?,
            legal_hold: r.get(14)?,
        },
        sse: r
            .get::<_, Option<String>>(15)?
            .and_then(|s| crate::sse::Encryption::from_json(&s)),
        owner: r.get(16)?,
    })
}

/// The current version of `key`, if it has one (a key whose newest version
/// is a delete marker has none).
pub fn get(conn: &Connection, bucket: &str, key: &str) -> Result<Option<ObjectRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2"
        ))?
        .query_row(params![bucket, key.as_bytes()], object_row)
        .optional()?)
}

/// Takes a reference on `hash`: if the blob is new, moves the temp file into
/// place first (inside the writer, so it cannot race a deletion); if it was
/// stored already, counts its bytes as deduplicated in `bucket`.
pub fn acquire_blob(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    temp: TempBlob,
) -> Result<BlobHash> {
    let (hash, size) = (temp.hash(), temp.stored_len());
    let updated = conn
        .prepare_cached("UPDATE blobs SET refcount = refcount + 1 WHERE hash = ?1")?
        .execute([hash.as_bytes()])?;
    if updated > 0 {
        super::usage::deduplicated(conn, bucket, size)?;
    } else {
        store.persist(temp)?;
        conn.prepare_cached("INSERT INTO blobs (hash, size, refcount) VALUES (?1, ?2, 1)")?
            .execute(params![hash.as_bytes(), size as i64])?;
    }
    // Otherwise the temp file drops here and is removed: the bytes exist.
    Ok(hash)
}

/// Takes one more reference on a blob that already has a row (copies).
pub fn add_ref(conn: &Connection, hash: &BlobHash) -> Result<()> {
    conn.prepare_cached("UPDATE blobs SET refcount = refcount + 1 WHERE hash = ?1")?
        .execute([hash.as_bytes()])?;
    Ok(())
}

/// Drops one reference; at zero the row goes now and the file after commit,
/// unless a later write in the same batch took the blob again.
pub fn release_blob(
    conn: &Connection,
    store: &BlobStore,
    hash: BlobHash,
    after: &mut Vec<AfterCommit>,
) -> Result<()> {
    conn.prepare_cached("UPDATE blobs SET refcount = refcount - 1 WHERE hash = ?1")?
        .execute([hash.as_bytes()])?;
    let gone = conn
        .prepare_cached("DELETE FROM blobs WHERE hash = ?1 AND refcount <= 0")?
        .execute([hash.as_bytes()])?;
    if gone > 0 {
        let store = store.clone();
        after.push(Box::new(move |conn: &Connection| {
            let still_referenced = conn
                .query_row(
                    "SELECT 1 FROM blobs WHERE hash = ?1",
                    [hash.as_bytes()],
                    |_| Ok(()),
                )
                .optional()
                .map(|r| r.is_some())
                .unwrap_or(true);
            if !still_referenced {
                store.remove(&hash);
            }
        }));
    }
    Ok(())
}

/// Makes `row` the key's current version, with `parts` as its parts when
/// it is a multipart object (the caller took one reference on each part's
/// blob, or on `row.blob` for a single-blob object). What happens to the
/// version it replaces depends on the bucket's versioning: without it, or
/// when both are `null` versions, the old one is released; otherwise it
/// becomes noncurrent. Sets `row.version_id` and returns the version id to
/// report (`None` unless versioning is enabled).
///
/// `bucket_row` and `current` (the key's current version) are what the
/// caller read inside this same write, to check that the bucket still
/// exists and the write's conditions hold, so each is looked up once.
pub fn upsert(
    conn: &Connection,
    store: &BlobStore,
    bucket_row: &super::buckets::BucketRow,
    current: Option<ObjectRow>,
    row: &mut ObjectRow,
    parts: &[PartRef],
    after: &mut Vec<AfterCommit>,
) -> Result<Option<String>> {
    let bucket = bucket_row.name.as_str();
    let state = bucket_row.versioning;
    if bucket_row.lock_enabled && row.lock.mode.is_none() {
        if let Some(default) = bucket_row.default_retention {
            let legal_hold = row.lock.legal_hold;
            row.lock = default.apply(row.modified_ms);
            row.lock.legal_hold = legal_hold;
        }
    }
    row.version_id = match state {
        Versioning::Enabled => Some(super::versions::new_id()),
        Versioning::Unversioned | Versioning::Suspended => None,
    };
    let old = current;
    if state != Versioning::Unversioned {
        // A new null version replaces the old null one wherever it is.
        if row.version_id.is_none() {
            super::versions::remove_null(conn, store, bucket, &row.key, after)?;
        }
    }
    if let Some(old) = &old {
        if old.version_id.is_none() && row.version_id.is_none() {
            release_row(conn, store, bucket, old, after)?;
        } else {
            super::versions::push(conn, bucket, old)?;
        }
    }
    write_current(conn, bucket, row, parts)?;
    super::changes::record(
        conn,
        bucket,
        Some(&row.key),
        Some(super::changes::Written {
            etag: &row.etag,
            version: &row.version(),
            size: row.size,
        }),
        row.modified_ms,
    )?;
    // S3 names the version only where versioning is on; a suspended
    // bucket's writes answer without one, though they make `null`.
    Ok(row.version_id.clone())
}

/// Refuses a write of `size` bytes over `current` that would take the
/// bucket past its quotas: a new key adds an object; an overwrite in a
/// bucket that never had versioning frees the old version's bytes. Every
/// caller of [`upsert`] that adds a version calls it first, inside the same
/// write and before any blob is moved into place or referenced.
pub fn check_quota(
    conn: &Connection,
    bucket_row: &super::buckets::BucketRow,
    current: Option<&ObjectRow>,
    size: u64,
) -> Result<()> {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let objects = i64::from(current.is_none());
    let freed = match current {
        Some(old) if bucket_row.versioning == Versioning::Unversioned => {
            i64::try_from(old.size).unwrap_or(0)
        }
        _ => 0,
    };
    super::usage::check(conn, bucket_row, objects, size - freed)
}

/// Writes `row` (and its parts) as the key's current version, replacing
/// any current row, whose references the caller has already dealt with.
pub(super) fn write_current(
    conn: &Connection,
    bucket: &str,
    row: &ObjectRow,
    parts: &[PartRef],
) -> Result<()> {
    let (algo, sum) = match &row.checksum {
        Some((a, s)) => (Some(a.as_str()), Some(s.as_str())),
        None => (None, None),
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO objects (bucket, key, blob, size, etag, modified_ms, headers, checksum_algo, checksum, parts, version_id, tags, acl, lock_mode, lock_until_ms, legal_hold, sse, owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        bucket,
        row.key.as_bytes(),
        row.blob.as_bytes(),
        row.size as i64,
        row.etag,
        row.modified_ms,
        encode_headers(&row.headers),
        algo,
        sum,
        row.parts as i64,
        row.version_id,
        row.tags,
        row.acl,
        row.lock.mode.map(|m| m.as_str()),
        row.lock.until_ms,
        row.lock.legal_hold,
        row.sse.as_ref().map(|e| e.to_json()),
        row.owner,
    ])?;
    if row.parts > 0 {
        insert_parts(conn, bucket, &row.key, row.version_id.as_deref(), parts)?;
    }
    Ok(())
}

/// Drops the blob references a version held: its blob, or its parts.
pub(super) fn release_row(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    old: &ObjectRow,
    after: &mut Vec<AfterCommit>,
) -> Result<()> {
    if old.parts == 0 {
        return release_blob(conn, store, old.blob, after);
    }
    let vid = old.version_id.as_deref();
    for part in parts(conn, bucket, &old.key, vid)? {
        release_blob(conn, store, part.blob, after)?;
    }
    conn.prepare_cached("DELETE FROM object_parts WHERE bucket = ?1 AND key = ?2 AND vid = ?3")?
        .execute(params![bucket, old.key.as_bytes(), vid.unwrap_or("")])?;
    Ok(())
}

/// The parts of one version of a multipart object, in order.
pub fn parts(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Vec<PartRef>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blob, size, checksum FROM object_parts WHERE bucket = ?1 AND key = ?2 AND vid = ?3 ORDER BY part_number",
    )?;
    let vid = version_id.unwrap_or("");
    let rows = stmt.query_map(params![bucket, key.as_bytes(), vid], |r| {
        let blob: Vec<u8> = r.get(0)?;
        Ok(PartRef {
            blob: BlobHash::from_slice(&blob).unwrap_or_default(),
            size: r.get::<_, i64>(1)? as u64,
            checksum: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records the parts of one version of a multipart object.
fn insert_parts(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    parts: &[PartRef],
) -> Result<()> {
    let mut stmt = conn.prepare_cached("INSERT INTO object_parts (bucket, key, vid, part_number, blob, size, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
    for (i, p) in parts.iter().enumerate() {
        stmt.execute(params![
            bucket,
            key.as_bytes(),
            version_id.unwrap_or(""),
            i as i64 + 1,
            p.blob.as_bytes(),
            p.size as i64,
            p.checksum
        ])?;
    }
    Ok(())
}

/// What a delete did, for the response's `x-amz-version-id` and
/// `x-amz-delete-marker` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The version removed or the delete marker made; `None` in a bucket
    /// that never had versioning.
    pub version_id: Option<String>,
    /// A delete marker was made, or the version removed was one.
    pub marker: bool,
}

/// Deletes `key` as a DELETE without a version id does: removes the
/// current version in a bucket without versioning; otherwise the current
/// version becomes noncurrent (a `null` one is removed while versioning is
/// suspended) and a delete marker becomes the newest version.
pub fn delete(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    key: &str,
    after: &mut Vec<AfterCommit>,
) -> Result<Deleted> {
    let state = super::buckets::versioning(conn, bucket)?;
    let old = get(conn, bucket, key)?;
    if state == Versioning::Unversioned {
        if let Some(old) = old {
            remove_current(conn, store, bucket, &old, after)?;
        }
        return Ok(Deleted::default());
    }
    let marker_id = (state == Versioning::Enabled).then(super::versions::new_id);
    if marker_id.is_none() {
        super::versions::remove_null(conn, store, bucket, key, after)?;
    }
    if let Some(old) = old {
        conn.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")?
            .execute(params![bucket, key.as_bytes()])?;
        if old.version_id.is_none() && marker_id.is_none() {
            release_row(conn, store, bucket, &old, after)?;
        } else {
            super::versions::push(conn, bucket, &old)?;
        }
    }
    let now = crate::store::now_ms();
    super::versions::push_marker(conn, bucket, key, marker_id.as_deref(), now)?;
    super::changes::record(conn, bucket, Some(key), None, now)?;
    Ok(Deleted {
        version_id: Some(marker_id.unwrap_or_else(|| "null".into())),
        marker: true,
    })
}

/// Removes the current row and its references, and tells the feed.
pub(super) fn remove_current(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    old: &ObjectRow,
    after: &mut Vec<AfterCommit>,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")?
        .execute(params![bucket, old.key.as_bytes()])?;
    super::changes::record(conn, bucket, Some(&old.key), None, old.modified_ms)?;
    release_row(conn, store, bucket, old, after)
}

/// Where a listing scan starts.
#[derive(Debug, Clone)]
pub enum From {
    /// Keys `>=` these bytes.
    Inclusive(Vec<u8>),
    /// Keys `>` these bytes.
    Exclusive(Vec<u8>),
}

/// Up to `limit` keys of `bucket` in byte order, from `from`, below `upper`
/// (exclusive; `None` means no bound). Uses the primary key index, so the
/// cost depends on `limit`, not on the bucket's size.
pub fn scan(
    conn: &Connection,
    bucket: &str,
    from: &From,
    upper: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<ListRow>> {
    let (op, start) = match from {
        From::Inclusive(s) => (">=", s),
        From::Exclusive(s) => (">", s),
    };
    // Two statements, so SQLite sees a closed range on the primary key when
    // there is an upper bound and stops there instead of filtering onwards.
    let bound = if upper.is_some() { "AND key < ?4" } else { "" };
    let sql = format!(
        "SELECT key, size, etag, modified_ms FROM objects
         WHERE bucket = ?1 AND key {op} ?2 {bound}
         ORDER BY key LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let map = |r: &rusqlite::Row<'_>| {
        Ok(ListRow {
            key: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(0)?).into_owned(),
            size: r.get::<_, i64>(1)? as u64,
            etag: r.get(2)?,
            modified_ms: r.get(3)?,
        })
    };
    let rows = match upper {
        Some(u) => stmt.query_map(params![bucket, start, limit as i64, u], map)?,
        None => stmt.query_map(params![bucket, start, limit as i64], map)?,
    };
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether a blob row exists (the start-up orphan sweep asks).
pub fn blob_exists(conn: &Connection, hash: &BlobHash) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?
        .query_row([hash.as_bytes()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Up to `limit` current versions of `bucket` whose keys start with
/// `prefix` and sort after `after`, in key order (the lifecycle worker's
/// walk).
pub fn scan_rows(
    conn: &Connection,
    bucket: &str,
    prefix: &str,
    after: &[u8],
    limit: usize,
) -> Result<Vec<ObjectRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM objects
         WHERE bucket = ?1 AND key > ?2 AND substr(key, 1, length(?3)) = ?3
         ORDER BY key LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![bucket, after, prefix.as_bytes(), limit as i64],
        object_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}
