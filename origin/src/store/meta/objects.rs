//! Object rows and the blob reference counts they hold.
//!
//! Every function that adds or removes an object row adjusts the blob's
//! reference count in the same transaction; a blob whose count reaches zero
//! loses its row here and its file after the commit (see [`release_blob`]).

use rusqlite::{params, Connection, OptionalExtension};

use super::AfterCommit;
use crate::error::S3Result;
use crate::store::blob::{BlobHash, BlobStore, TempBlob};

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
        h.finalize().to_hex()[..32].to_owned()
    }
}

/// One part of a multipart object, in order.
#[derive(Debug, Clone)]
pub struct PartRef {
    pub blob: BlobHash,
    pub size: u64,
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

fn object_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRow> {
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
    })
}

pub fn get(conn: &Connection, bucket: &str, key: &str) -> S3Result<Option<ObjectRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT key, blob, size, etag, modified_ms, headers, checksum_algo, checksum, parts
             FROM objects WHERE bucket = ?1 AND key = ?2",
        )?
        .query_row(params![bucket, key.as_bytes()], object_row)
        .optional()?)
}

/// Takes a reference on `hash`: if the blob is new, moves the temp file into
/// place first (inside the writer, so it cannot race a deletion).
pub fn acquire_blob(
    conn: &Connection,
    store: &BlobStore,
    temp: TempBlob,
    size: u64,
) -> S3Result<BlobHash> {
    let hash = temp.hash();
    let updated = conn
        .prepare_cached("UPDATE blobs SET refcount = refcount + 1 WHERE hash = ?1")?
        .execute([hash.as_bytes()])?;
    if updated == 0 {
        store.persist(temp)?;
        conn.prepare_cached("INSERT INTO blobs (hash, size, refcount) VALUES (?1, ?2, 1)")?
            .execute(params![hash.as_bytes(), size as i64])?;
    }
    // Otherwise the temp file drops here and is removed: the bytes exist.
    Ok(hash)
}

/// Takes one more reference on a blob that already has a row (copies).
pub fn add_ref(conn: &Connection, hash: &BlobHash) -> S3Result<()> {
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
) -> S3Result<()> {
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

/// Inserts or replaces an object row; releases the blob it replaced.
pub fn upsert(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    row: &ObjectRow,
    after: &mut Vec<AfterCommit>,
) -> S3Result<()> {
    let old = get(conn, bucket, &row.key)?;
    let (algo, sum) = match &row.checksum {
        Some((a, s)) => (Some(a.as_str()), Some(s.as_str())),
        None => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO objects (bucket, key, blob, size, etag, modified_ms, headers, checksum_algo, checksum, parts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(bucket, key) DO UPDATE SET blob = excluded.blob, size = excluded.size,
           etag = excluded.etag, modified_ms = excluded.modified_ms, headers = excluded.headers,
           checksum_algo = excluded.checksum_algo, checksum = excluded.checksum, parts = excluded.parts",
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
        row.parts as i64
    ])?;
    super::changes::record(
        conn,
        bucket,
        Some(&row.key),
        Some(super::changes::Written {
            etag: &row.etag,
            version: &row.version(),
        }),
        row.modified_ms,
    )?;
    if let Some(old) = old {
        release_row(conn, store, bucket, &old, after)?;
    }
    Ok(())
}

/// Drops the blob references an object row held: its blob, or its parts.
fn release_row(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    old: &ObjectRow,
    after: &mut Vec<AfterCommit>,
) -> S3Result<()> {
    if old.parts == 0 {
        return release_blob(conn, store, old.blob, after);
    }
    for part in parts(conn, bucket, &old.key)? {
        release_blob(conn, store, part.blob, after)?;
    }
    conn.prepare_cached("DELETE FROM object_parts WHERE bucket = ?1 AND key = ?2")?
        .execute(params![bucket, old.key.as_bytes()])?;
    Ok(())
}

/// The parts of a multipart object, in order.
pub fn parts(conn: &Connection, bucket: &str, key: &str) -> S3Result<Vec<PartRef>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blob, size FROM object_parts WHERE bucket = ?1 AND key = ?2 ORDER BY part_number",
    )?;
    let rows = stmt.query_map(params![bucket, key.as_bytes()], |r| {
        let blob: Vec<u8> = r.get(0)?;
        Ok(PartRef {
            blob: BlobHash::from_slice(&blob).unwrap_or_default(),
            size: r.get::<_, i64>(1)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records the parts of a multipart object whose row was just upserted.
/// The caller has already taken one reference on each part's blob.
pub fn insert_parts(conn: &Connection, bucket: &str, key: &str, parts: &[PartRef]) -> S3Result<()> {
    let mut stmt = conn.prepare_cached("INSERT INTO object_parts (bucket, key, part_number, blob, size) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (i, p) in parts.iter().enumerate() {
        stmt.execute(params![
            bucket,
            key.as_bytes(),
            i as i64 + 1,
            p.blob.as_bytes(),
            p.size as i64
        ])?;
    }
    Ok(())
}

/// Deletes an object row if present; returns whether it existed.
pub fn delete(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    key: &str,
    after: &mut Vec<AfterCommit>,
) -> S3Result<bool> {
    let Some(old) = get(conn, bucket, key)? else {
        return Ok(false);
    };
    conn.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")?
        .execute(params![bucket, key.as_bytes()])?;
    super::changes::record(conn, bucket, Some(key), None, old.modified_ms)?;
    release_row(conn, store, bucket, &old, after)?;
    Ok(true)
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
) -> S3Result<Vec<ListRow>> {
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
pub fn blob_exists(conn: &Connection, hash: &BlobHash) -> S3Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?
        .query_row([hash.as_bytes()], |_| Ok(()))
        .optional()?
        .is_some())
}
