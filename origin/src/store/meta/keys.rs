//! Access keys: the credentials requests are signed with, what each may
//! do in general (its role, read-only), and until when.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::error::Result;

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Owns the buckets it creates, and uses those it is granted.
    User,
    /// The root key: a user that may also follow the change feed and read
    /// any object.
    Admin,
    /// An edge's key: follows the change feed and reads any object, to
    /// serve signed edge URLs.
    Edge,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::Edge => "edge",
        }
    }

    /// As stored; an unknown role (written by a newer version) is a plain
    /// user, which grants the least.
    pub fn parse(s: &str) -> Role {
        match s {
            "admin" => Role::Admin,
            "edge" => Role::Edge,
            _ => Role::User,
        }
    }
}

/// One access key pair and the human name an operator gave it.
#[derive(Debug, Clone)]
pub struct AccessKey {
    pub access_key: String,
    pub secret_key: String,
    pub name: String,
    pub role: Role,
    /// May only read (GET, HEAD, list), whatever its buckets and grants say.
    pub read_only: bool,
    /// After this (Unix ms) the key signs nothing.
    pub expires_ms: Option<i64>,
}

impl AccessKey {
    /// A key of `role` that may do what its role allows, for ever.
    pub fn new(access_key: String, secret_key: String, name: &str, role: Role) -> AccessKey {
        AccessKey {
            access_key,
            secret_key,
            name: name.to_owned(),
            role,
            read_only: false,
            expires_ms: None,
        }
    }
}

const COLUMNS: &str = "access_key, secret_key, name, role, read_only, expires_ms";

fn row(r: &Row<'_>) -> rusqlite::Result<AccessKey> {
    Ok(AccessKey {
        access_key: r.get(0)?,
        secret_key: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(&r.get::<_, String>(3)?),
        read_only: r.get(4)?,
        expires_ms: r.get(5)?,
    })
}

pub fn insert(conn: &Connection, key: &AccessKey, now_ms: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO access_keys (access_key, secret_key, name, created_ms, role, read_only, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(access_key) DO UPDATE SET secret_key = excluded.secret_key, name = excluded.name,
            role = excluded.role, read_only = excluded.read_only, expires_ms = excluded.expires_ms",
        params![
            key.access_key,
            key.secret_key,
            key.name,
            now_ms,
            key.role.as_str(),
            key.read_only,
            key.expires_ms
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, access_key: &str) -> Result<Option<AccessKey>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM access_keys WHERE access_key = ?1"
        ))?
        .query_row([access_key], row)
        .optional()?)
}

pub fn find_by_name(conn: &Connection, name: &str) -> Result<Option<AccessKey>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM access_keys WHERE name = ?1 ORDER BY created_ms LIMIT 1"
            ),
            [name],
            row,
        )
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<AccessKey>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM access_keys ORDER BY created_ms"
    ))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Changes what a key may do: read-only or not, and its expiry (`None`
/// leaves a field as it is).
pub fn update(
    conn: &Connection,
    access_key: &str,
    read_only: Option<bool>,
    expires_ms: Option<Option<i64>>,
) -> Result<bool> {
    let mut changed = false;
    if let Some(ro) = read_only {
        changed |= conn.execute(
            "UPDATE access_keys SET read_only = ?2 WHERE access_key = ?1",
            params![access_key, ro],
        )? > 0;
    }
    if let Some(exp) = expires_ms {
        changed |= conn.execute(
            "UPDATE access_keys SET expires_ms = ?2 WHERE access_key = ?1",
            params![access_key, exp],
        )? > 0;
    }
    Ok(changed || get(conn, access_key)?.is_some())
}

/// Deletes a key and its bucket grants (the buckets it owns stay).
pub fn delete(conn: &Connection, access_key: &str) -> Result<bool> {
    conn.execute(
        "DELETE FROM bucket_grants WHERE access_key = ?1",
        [access_key],
    )?;
    Ok(conn.execute(
        "DELETE FROM access_keys WHERE access_key = ?1",
        [access_key],
    )? > 0)
}
