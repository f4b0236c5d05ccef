//! Edges that follow the change feed, as last seen: written by the
//! server's housekeeping from what it observed in memory, read by
//! `cairn-origin edges` from another process.

use rusqlite::{params, Connection};

use crate::store::error::Result;

#[derive(Debug, Clone)]
pub struct EdgeRow {
    pub access_key: String,
    pub name: String,
    pub region: String,
    pub position: i64,
    pub seen_ms: i64,
    /// Its key was deleted: the origin refuses it now (read, not written).
    pub revoked: bool,
}

pub fn upsert(conn: &Connection, e: &EdgeRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO edges (access_key, name, region, position, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (access_key, region) DO UPDATE SET name = ?2, position = ?4, seen_ms = ?5",
    )?
    .execute(params![e.access_key, e.name, e.region, e.position, e.seen_ms])?;
    Ok(())
}

pub fn list(conn: &Connection) -> Result<Vec<EdgeRow>> {
    let mut stmt = conn.prepare(
        "SELECT e.access_key, e.name, e.region, e.position, e.seen_ms, k.access_key IS NULL
         FROM edges e LEFT JOIN access_keys k ON k.access_key = e.access_key
         ORDER BY e.region, e.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(EdgeRow {
            access_key: r.get(0)?,
            name: r.get(1)?,
            region: r.get(2)?,
            position: r.get(3)?,
            seen_ms: r.get(4)?,
            revoked: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Forgets edges last seen before `before_ms`; returns how many.
pub fn forget(conn: &Connection, before_ms: i64) -> Result<usize> {
    Ok(conn.execute("DELETE FROM edges WHERE seen_ms < ?1", [before_ms])?)
}
