//! What each bucket holds and may hold: usage kept by SQLite triggers on
//! `objects` and `versions` (migration 11), so reading it costs one row
//! however many objects a bucket has, and the quotas (on the bucket row)
//! checked against it.

use rusqlite::{params, Connection, OptionalExtension};

use super::buckets::BucketRow;
use crate::store::error::{Result, StoreError};

/// A bucket's usage and limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Current objects (delete markers are not objects).
    pub objects: i64,
    /// Their bytes.
    pub bytes: i64,
    /// Noncurrent versions and delete markers.
    pub versions: i64,
    pub version_bytes: i64,
    /// Bytes written to the bucket whose content was already stored, so
    /// nothing reached the disk for them (a running total).
    pub dedup_bytes: i64,
}

impl Usage {
    /// Every byte the bucket's versions hold, current or not: what a
    /// byte quota limits.
    pub fn stored_bytes(&self) -> i64 {
        self.bytes.saturating_add(self.version_bytes)
    }
}

pub fn get(conn: &Connection, bucket: &str) -> Result<Usage> {
    Ok(conn
        .prepare_cached(
            "SELECT objects, bytes, versions, version_bytes, dedup_bytes
             FROM bucket_usage WHERE bucket = ?1",
        )?
        .query_row([bucket], |r| {
            Ok(Usage {
                objects: r.get(0)?,
                bytes: r.get(1)?,
                versions: r.get(2)?,
                version_bytes: r.get(3)?,
                dedup_bytes: r.get(4)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Sets (or with `None` lifts) a bucket's quotas.
pub fn set_quota(
    conn: &Connection,
    bucket: &str,
    max_objects: Option<i64>,
    max_bytes: Option<i64>,
) -> Result<()> {
    if super::buckets::get(conn, bucket)?.is_none() {
        return Err(StoreError::NoSuchBucket(bucket.to_owned()));
    }
    conn.execute(
        "UPDATE buckets SET max_objects = ?2, max_bytes = ?3 WHERE name = ?1",
        params![bucket, max_objects, max_bytes],
    )?;
    Ok(())
}

/// Counts `bytes` written to `bucket` that were already stored.
pub fn deduplicated(conn: &Connection, bucket: &str, bytes: u64) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO bucket_usage (bucket) VALUES (?1)")?
        .execute([bucket])?;
    conn.prepare_cached(
        "UPDATE bucket_usage SET dedup_bytes = dedup_bytes + ?2 WHERE bucket = ?1",
    )?
    .execute(params![bucket, i64::try_from(bytes).unwrap_or(i64::MAX)])?;
    Ok(())
}

/// Refuses a write that would take the bucket past a quota: `objects`
/// and `bytes` are what the write adds (negative when it frees). Checked
/// inside the write, before any byte or row of it is committed; a bucket
/// without quotas costs nothing here.
pub fn check(conn: &Connection, row: &BucketRow, objects: i64, bytes: i64) -> Result<()> {
    if row.max_objects.is_none() && row.max_bytes.is_none() {
        return Ok(());
    }
    let u = get(conn, &row.name)?;
    let over_objects = row
        .max_objects
        .is_some_and(|max| objects > 0 && u.objects.saturating_add(objects) > max);
    let over_bytes = row
        .max_bytes
        .is_some_and(|max| bytes > 0 && u.stored_bytes().saturating_add(bytes) > max);
    if over_objects || over_bytes {
        let what = if over_objects { "objects" } else { "bytes" };
        return Err(StoreError::QuotaExceeded {
            bucket: row.name.clone(),
            what,
        });
    }
    Ok(())
}

/// Forgets a deleted bucket's usage and quotas.
pub fn remove(conn: &Connection, bucket: &str) -> Result<()> {
    conn.execute("DELETE FROM bucket_usage WHERE bucket = ?1", [bucket])?;
    Ok(())
}

/// The `limit` buckets storing the most bytes with their usage, and the
/// rest summed (for `/metrics`, whose series per bucket are capped).
pub fn top(conn: &Connection, limit: usize) -> Result<(Vec<(String, Usage)>, Usage)> {
    let mut stmt = conn.prepare_cached(
        "SELECT bucket, objects, bytes, versions, version_bytes, dedup_bytes
         FROM bucket_usage ORDER BY bytes + version_bytes DESC, bucket",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Usage {
                objects: r.get(1)?,
                bytes: r.get(2)?,
                versions: r.get(3)?,
                version_bytes: r.get(4)?,
                dedup_bytes: r.get(5)?,
            },
        ))
    })?;
    let (mut top, mut rest) = (Vec::new(), Usage::default());
    for row in rows {
        let (name, u) = row?;
        if top.len() < limit {
            top.push((name, u));
        } else {
            rest.objects += u.objects;
            rest.bytes += u.bytes;
            rest.versions += u.versions;
            rest.version_bytes += u.version_bytes;
            rest.dedup_bytes += u.dedup_bytes;
        }
    }
    Ok((top, rest))
}
