//! Storage of event notifications (`crate::notify`): each bucket's rules,
//! each webhook target's position in the change feed, and the feed rows
//! as deliveries read them.

use rusqlite::{params, Connection, OptionalExtension};

use crate::notify::Rule;
use crate::store::error::{Result, StoreError};

/// A change as a notification needs it.
#[derive(Debug, Clone)]
pub struct FeedChange {
    pub seq: i64,
    pub bucket: String,
    pub key: Option<String>,
    /// The written object's ETag; `None` for a removal.
    pub etag: Option<String>,
    pub version: Option<String>,
    pub size: Option<u64>,
    pub created_ms: i64,
}

/// Changes after `after`, oldest first, at most `limit`.
pub fn feed_after(conn: &Connection, after: i64, limit: usize) -> Result<Vec<FeedChange>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, bucket, key, etag, version, size, created_ms FROM changes
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        let key: Option<Vec<u8>> = r.get(2)?;
        let size: Option<i64> = r.get(5)?;
        Ok(FeedChange {
            seq: r.get(0)?,
            bucket: r.get(1)?,
            key: key.map(|k| String::from_utf8_lossy(&k).into_owned()),
            etag: r.get(3)?,
            version: r.get(4)?,
            size: size.and_then(|s| u64::try_from(s).ok()),
            created_ms: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A bucket's rules (none when it has no configuration).
pub fn rules(conn: &Connection, bucket: &str) -> Result<Vec<Rule>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT rules FROM bucket_notifications WHERE bucket = ?1")?
        .query_row([bucket], |r| r.get(0))
        .optional()?;
    match text {
        // Stored by `set_rules`, so it parses; a row that does not sends
        // nothing rather than failing every delivery.
        Some(t) => Ok(serde_json::from_str(&t).unwrap_or_default()),
        None => Ok(Vec::new()),
    }
}

/// Replaces a bucket's rules (an empty list removes them).
pub fn set_rules(conn: &Connection, bucket: &str, rules: &[Rule]) -> Result<()> {
    if rules.is_empty() {
        conn.execute(
            "DELETE FROM bucket_notifications WHERE bucket = ?1",
            [bucket],
        )?;
        return Ok(());
    }
    let text = serde_json::to_string(rules).map_err(StoreError::internal)?;
    conn.execute(
        "INSERT INTO bucket_notifications (bucket, rules) VALUES (?1, ?2)
         ON CONFLICT (bucket) DO UPDATE SET rules = excluded.rules",
        params![bucket, text],
    )?;
    Ok(())
}

/// A target's cursor; a new target starts at the feed's head (it is sent
/// what changes from now on).
pub fn cursor_or_head(conn: &Connection, target: &str) -> Result<i64> {
    if let Some(seq) = cursor(conn, target)? {
        return Ok(seq);
    }
    let head = super::changes::bounds(conn)?.1;
    set_cursor(conn, target, head)?;
    Ok(head)
}

/// A target's cursor, if it has one.
pub fn cursor(conn: &Connection, target: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT seq FROM notify_cursors WHERE target = ?1",
            [target],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn set_cursor(conn: &Connection, target: &str, seq: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO notify_cursors (target, seq) VALUES (?1, ?2)
         ON CONFLICT (target) DO UPDATE SET seq = excluded.seq",
    )?
    .execute(params![target, seq])?;
    Ok(())
}

/// Forgets the cursors of targets no longer configured (so they hold no
/// changes back from trimming).
pub fn keep_cursors(conn: &Connection, targets: &[String]) -> Result<()> {
    let known: Vec<String> = {
        let mut stmt = conn.prepare("SELECT target FROM notify_cursors")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for t in known.iter().filter(|t| !targets.contains(t)) {
        conn.execute("DELETE FROM notify_cursors WHERE target = ?1", [t])?;
    }
    Ok(())
}

/// Every target's cursor, by name.
pub fn cursors(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare("SELECT target, seq FROM notify_cursors ORDER BY target")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The lowest cursor of any target, if there is one.
pub fn min_cursor(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row("SELECT min(seq) FROM notify_cursors", [], |r| r.get(0))?)
}

/// Forgets a deleted bucket's rules.
pub fn remove(conn: &Connection, bucket: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM bucket_notifications WHERE bucket = ?1",
        [bucket],
    )?;
    Ok(())
}
