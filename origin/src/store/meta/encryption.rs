//! Rows by how their bytes are encrypted: what `cairn-origin sse rotate`
//! walks to re-wrap data keys under the newest master key. Only the
//! wrapped key changes; no blob is read or written.

use rusqlite::{params, Connection};

use crate::sse::Encryption;
use crate::store::error::Result;

/// Every table whose rows carry an `sse` column.
const TABLES: &[&str] = &["objects", "versions", "uploads"];

/// The distinct encryption records of up to `limit` rows whose record
/// mentions `needle` (a key id), after `after` (a record, for paging).
pub fn find(conn: &Connection, needle: &str, after: &str, limit: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for table in TABLES {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT DISTINCT sse FROM {table} WHERE sse IS NOT NULL AND instr(sse, ?1) > 0 AND sse > ?2 ORDER BY sse LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![needle, after, limit as i64], |r| r.get(0))?;
        for r in rows {
            out.push(r?);
        }
    }
    out.sort();
    out.dedup();
    out.truncate(limit);
    Ok(out)
}

/// Replaces one encryption record with another wherever it appears (a
/// record holds its own random wrapped key, so it names one version or
/// upload). Returns how many rows changed.
pub fn replace(conn: &Connection, old: &str, new: &Encryption) -> Result<usize> {
    let new = new.to_json();
    let mut n = 0;
    for table in TABLES {
        n += conn
            .prepare_cached(&format!("UPDATE {table} SET sse = ?2 WHERE sse = ?1"))?
            .execute(params![old, new])?;
    }
    Ok(n)
}
