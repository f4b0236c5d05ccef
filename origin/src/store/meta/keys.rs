//! Access keys: the credentials requests are signed with.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::S3Result;

/// One access key pair and the human name an operator gave it.
#[derive(Debug, Clone)]
pub struct AccessKey {
    pub access_key: String,
    pub secret_key: String,
    pub name: String,
    /// `user` (owns buckets), `admin` (the root key) or `edge` (reads the
    /// change feed and any object, to serve signed edge URLs).
    pub role: String,
}

pub fn insert(conn: &Connection, key: &AccessKey, now_ms: i64) -> S3Result<()> {
    conn.execute(
        "INSERT INTO access_keys (access_key, secret_key, name, created_ms, role) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(access_key) DO UPDATE SET secret_key = excluded.secret_key, name = excluded.name, role = excluded.role",
        params![key.access_key, key.secret_key, key.name, now_ms, key.role],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, access_key: &str) -> S3Result<Option<AccessKey>> {
    Ok(conn
        .query_row(
            "SELECT access_key, secret_key, name, role FROM access_keys WHERE access_key = ?1",
            [access_key],
            |r| {
                Ok(AccessKey {
                    access_key: r.get(0)?,
                    secret_key: r.get(1)?,
                    name: r.get(2)?,
                    role: r.get(3)?,
                })
            },
        )
        .optional()?)
}

pub fn find_by_name(conn: &Connection, name: &str) -> S3Result<Option<AccessKey>> {
    let ak: Option<String> = conn
        .query_row(
            "SELECT access_key FROM access_keys WHERE name = ?1 ORDER BY created_ms LIMIT 1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    match ak {
        Some(ak) => get(conn, &ak),
        None => Ok(None),
    }
}

pub fn list(conn: &Connection) -> S3Result<Vec<AccessKey>> {
    let mut stmt = conn.prepare(
        "SELECT access_key, secret_key, name, role FROM access_keys ORDER BY created_ms",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(AccessKey {
            access_key: r.get(0)?,
            secret_key: r.get(1)?,
            name: r.get(2)?,
            role: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn delete(conn: &Connection, access_key: &str) -> S3Result<bool> {
    Ok(conn.execute(
        "DELETE FROM access_keys WHERE access_key = ?1",
        [access_key],
    )? > 0)
}
