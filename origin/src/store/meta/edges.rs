//! Edges that follow the change feed, as last seen: written by the
//! server's housekeeping from what it observed in memory, read by
//! `cairn-origin edges` from another process.

use rusqlite::{params, Connection};

use crate::error::S3Result;

#[derive(Debug, Clone)]
pub struct EdgeRow {
    pub access_key: String,
    pub name: String,
    pub region: String,
    pub position: i64,
    pub seen_ms: i64,
}

pub fn upsert(conn: &Connection, e: &EdgeRow) -> S3Result<()> {
    conn.prepare_cached(
        "INSERT INTO edges (access_key, name, region, position, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (access_key, region) DO UPDATE SET name = ?2, position = ?4, seen_ms = ?5",
    )?
    .execute(params![e.access_key, e.name, e.region, e.position, e.seen_ms])?;
    Ok(())
}

pub fn list(conn: &Connection) -> S3Result<Vec<EdgeRow>> {
    let mut stmt = conn.prepare(
        "SELECT access_key, name, region, position, seen_ms FROM edges ORDER BY region, name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(EdgeRow {
            access_key: r.get(0)?,
            name: r.get(1)?,
            region: r.get(2)?,
            position: r.get(3)?,
            seen_ms: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
