//! Bucket grants: a key allowed to read, write or own a bucket it did not
//! create (`cairn-origin bucket allow`). `ops::access` says what each
//! permission admits and how grants combine with ACLs and policies.

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::error::{Result, StoreError};

/// What one key may do on one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    /// Read and list objects.
    pub read: bool,
    /// Write and delete objects, and run multipart uploads.
    pub write: bool,
    /// Everything the bucket's creator may do.
    pub owner: bool,
}

impl Grant {
    pub fn is_empty(&self) -> bool {
        !(self.read || self.write || self.owner)
    }
}

/// A key's grant on a bucket (empty when it has none).
pub fn get(conn: &Connection, bucket: &str, access_key: &str) -> Result<Grant> {
    Ok(conn
        .prepare_cached(
            "SELECT read, write, owner FROM bucket_grants WHERE bucket = ?1 AND access_key = ?2",
        )?
        .query_row([bucket, access_key], |r| {
            Ok(Grant {
                read: r.get(0)?,
                write: r.get(1)?,
                owner: r.get(2)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Every grant on a bucket, by access key.
pub fn list(conn: &Connection, bucket: &str) -> Result<Vec<(String, Grant)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT access_key, read, write, owner FROM bucket_grants WHERE bucket = ?1 ORDER BY access_key",
    )?;
    let rows = stmt.query_map([bucket], |r| {
        Ok((
            r.get(0)?,
            Grant {
                read: r.get(1)?,
                write: r.get(2)?,
                owner: r.get(3)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds (`allow`) or removes the permissions set in `change`; returns the
/// grant as it now stands. The bucket and the key must exist.
pub fn change(
    conn: &Connection,
    bucket: &str,
    access_key: &str,
    change: Grant,
    allow: bool,
) -> Result<Grant> {
    if super::buckets::get(conn, bucket)?.is_none() {
        return Err(StoreError::NoSuchBucket(bucket.to_owned()));
    }
    if super::keys::get(conn, access_key)?.is_none() {
        return Err(StoreError::UnknownAccessKey(access_key.to_owned()));
    }
    let old = get(conn, bucket, access_key)?;
    let new = if allow {
        Grant {
            read: old.read || change.read,
            write: old.write || change.write,
            owner: old.owner || change.owner,
        }
    } else {
        Grant {
            read: old.read && !change.read,
            write: old.write && !change.write,
            owner: old.owner && !change.owner,
        }
    };
    if new.is_empty() {
        conn.execute(
            "DELETE FROM bucket_grants WHERE bucket = ?1 AND access_key = ?2",
            [bucket, access_key],
        )?;
    } else {
        conn.execute(
            "INSERT INTO bucket_grants (bucket, access_key, read, write, owner) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(bucket, access_key) DO UPDATE SET read = excluded.read, write = excluded.write, owner = excluded.owner",
            params![bucket, access_key, new.read, new.write, new.owner],
        )?;
    }
    Ok(new)
}
