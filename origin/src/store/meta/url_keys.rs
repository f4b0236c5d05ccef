//! The deployment's URL keys: Ed25519 key pairs that sign edge URLs every
//! edge accepts (`cairn_shared::signed_url`). The newest key not retired
//! signs; every key not retired verifies, so a rotation adds a key first
//! and retires the old one once the URLs it signed have expired. Edges
//! learn the public halves from the change feed.

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::error::{Result, StoreError};
use cairn_shared::signed_url::UrlKey;

#[derive(Debug, Clone)]
pub struct UrlKeyRow {
    pub id: String,
    pub pkcs8: Vec<u8>,
    pub created_ms: i64,
    pub retired_ms: Option<i64>,
}

impl UrlKeyRow {
    pub fn key(&self) -> Result<UrlKey> {
        UrlKey::from_pkcs8(&self.id, &self.pkcs8)
            .map_err(|e| StoreError::internal(format!("URL key {}: {e}", self.id)))
    }
}

/// Adds a key, which signs from now on; returns its id.
pub fn create(conn: &Connection, now_ms: i64) -> Result<String> {
    let pkcs8 =
        UrlKey::generate().map_err(|_| StoreError::internal("cannot generate a URL key"))?;
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM url_keys", [], |r| r.get(0))?;
    // Short ids keep URLs short; the count makes them unique and ordered.
    let id = format!("k{}", n + 1);
    conn.execute(
        "INSERT INTO url_keys (id, pkcs8, created_ms) VALUES (?1, ?2, ?3)",
        params![id, pkcs8, now_ms],
    )?;
    Ok(id)
}

/// The key that signs: the newest not retired.
pub fn signer(conn: &Connection) -> Result<Option<UrlKeyRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, pkcs8, created_ms, retired_ms FROM url_keys
             WHERE retired_ms IS NULL ORDER BY created_ms DESC, rowid DESC LIMIT 1",
        )?
        .query_row([], row)
        .optional()?)
}

/// Every key, newest first.
pub fn list(conn: &Connection) -> Result<Vec<UrlKeyRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, pkcs8, created_ms, retired_ms FROM url_keys ORDER BY created_ms DESC, rowid DESC",
    )?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Retires `id`: URLs it signed stop working at every edge. Returns
/// whether such a key was in use.
pub fn retire(conn: &Connection, id: &str, now_ms: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE url_keys SET retired_ms = ?2 WHERE id = ?1 AND retired_ms IS NULL",
        params![id, now_ms],
    )? == 1)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UrlKeyRow> {
    Ok(UrlKeyRow {
        id: r.get(0)?,
        pkcs8: r.get(1)?,
        created_ms: r.get(2)?,
        retired_ms: r.get(3)?,
    })
}
