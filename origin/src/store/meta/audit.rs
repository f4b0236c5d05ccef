//! Read-only questions `cairn-origin check` asks of the metadata: do the
//! reference counts match the rows that hold references, and does every
//! reference name a blob row?

use rusqlite::Connection;

use crate::store::blob::BlobHash;
use crate::store::error::Result;

/// Every row that holds a blob reference: single-blob objects (current or
/// older versions), parts of
/// multipart objects, and parts of uploads in progress.
const REFS: &str = "WITH refs(hash) AS (
        SELECT blob FROM objects WHERE parts = 0
        UNION ALL SELECT blob FROM versions WHERE parts = 0 AND marker = 0
        UNION ALL SELECT blob FROM object_parts
        UNION ALL SELECT blob FROM upload_parts)";

/// A blob row as stored.
#[derive(Debug, Clone)]
pub struct BlobRow {
    pub hash: BlobHash,
    pub size: u64,
    pub refcount: i64,
}

pub fn blob_rows(conn: &Connection) -> Result<Vec<BlobRow>> {
    let mut stmt = conn.prepare("SELECT hash, size, refcount FROM blobs")?;
    let rows = stmt.query_map([], |r| {
        Ok(BlobRow {
            hash: BlobHash::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or_default(),
            size: r.get::<_, i64>(1)? as u64,
            refcount: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Blob rows whose count differs from the references rows hold:
/// (hash, stored count, counted references).
pub fn refcount_mismatches(conn: &Connection) -> Result<Vec<(BlobHash, i64, i64)>> {
    let sql = format!(
        "{REFS}, counted(hash, n) AS (SELECT hash, count(*) FROM refs GROUP BY hash)
         SELECT b.hash, b.refcount, coalesce(c.n, 0) FROM blobs b
         LEFT JOIN counted c ON c.hash = b.hash
         WHERE b.refcount != coalesce(c.n, 0)"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            BlobHash::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or_default(),
            r.get(1)?,
            r.get(2)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// References to blobs that have no row (their bytes are unaccounted for):
/// (hash, how many rows refer to it).
pub fn dangling_refs(conn: &Connection) -> Result<Vec<(BlobHash, i64)>> {
    let sql = format!(
        "{REFS} SELECT r.hash, count(*) FROM refs r
         LEFT JOIN blobs b ON b.hash = r.hash
         WHERE b.hash IS NULL GROUP BY r.hash"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            BlobHash::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap_or_default(),
            r.get(1)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Objects and the bytes they hold, and the bytes stored once for them
/// (for `/metrics`): (objects, logical bytes, blobs, blob bytes, blob
/// references).
pub fn totals(conn: &Connection) -> Result<(u64, u64, u64, u64, u64)> {
    let (objects, logical): (i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(sum(size), 0) FROM objects",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (blobs, stored, refs): (i64, i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(refcount), 0) FROM blobs",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((
        objects as u64,
        logical as u64,
        blobs as u64,
        stored as u64,
        refs as u64,
    ))
}
