//! The change feed: every object write or delete and every bucket setting
//! that changes who may read appends a row here, in the same transaction as
//! the change itself, so a committed change is never missing from the feed.
//! Edges follow it by sequence number.

use rusqlite::{params, Connection};

use crate::store::error::Result;

/// One change, as edges receive it.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: i64,
    pub bucket: String,
    /// `None`: the whole bucket changed (policy, ACL, CORS).
    pub key: Option<String>,
    /// The new ETag, or `None` for a deletion.
    pub etag: Option<String>,
    /// The version written (`ObjectRow::version`), or `None` for a
    /// deletion or a change recorded before versions were.
    pub version: Option<String>,
    /// The new body's size, or `None` for a deletion (and older changes).
    pub size: Option<i64>,
}

/// How many changes the feed keeps; older ones are trimmed.
pub const RETAIN: i64 = 100_000;

/// What a change wrote: the object's ETag and version, or nothing (a
/// deletion, a bucket setting).
pub struct Written<'a> {
    pub etag: &'a str,
    pub version: &'a str,
    /// The object's size (for event notifications).
    pub size: u64,
}

pub fn record(
    conn: &Connection,
    bucket: &str,
    key: Option<&str>,
    written: Option<Written<'_>>,
    now_ms: i64,
) -> Result<()> {
    let (etag, version, size) = match &written {
        Some(w) => (Some(w.etag), Some(w.version), i64::try_from(w.size).ok()),
        None => (None, None, None),
    };
    conn.prepare_cached(
        "INSERT INTO changes (bucket, key, etag, version, created_ms, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        bucket,
        key.map(str::as_bytes),
        etag,
        version,
        now_ms,
        size
    ])?;
    Ok(())
}

/// Changes after `after`, oldest first, at most `limit`.
pub fn after(conn: &Connection, after: i64, limit: usize) -> Result<Vec<Change>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, bucket, key, etag, version, size FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        let key: Option<Vec<u8>> = r.get(2)?;
        Ok(Change {
            seq: r.get(0)?,
            bucket: r.get(1)?,
            key: key.map(|k| String::from_utf8_lossy(&k).into_owned()),
            etag: r.get(3)?,
            version: r.get(4)?,
            size: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The oldest and newest sequence numbers still held (0, 0 when empty).
pub fn bounds(conn: &Connection) -> Result<(i64, i64)> {
    Ok(conn.query_row(
        "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM changes",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Drops all but the newest `RETAIN` changes, keeping those a webhook
/// target has yet to be sent (up to `notify::MAX_BACKLOG` behind).
pub fn trim(conn: &Connection) -> Result<()> {
    let head = bounds(conn)?.1;
    let mut cutoff = head - RETAIN;
    if let Some(cursor) = super::notify::min_cursor(conn)? {
        cutoff = cutoff.min(cursor).max(head - crate::notify::MAX_BACKLOG);
    }
    conn.execute("DELETE FROM changes WHERE seq <= ?1", [cutoff])?;
    Ok(())
}
