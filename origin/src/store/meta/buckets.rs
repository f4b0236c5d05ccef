//! Buckets and who owns them.

use rusqlite::{params, Connection, OptionalExtension};

use super::AfterCommit;
use crate::error::{Code, S3Error, S3Result};
use crate::store::blob::BlobStore;

#[derive(Debug, Clone)]
pub struct BucketRow {
    pub name: String,
    /// The access key that created the bucket; only it may use the bucket.
    pub owner: String,
    pub created_ms: i64,
    /// Canned ACL: `private` or `public-read`.
    pub acl: String,
    /// Bucket policy JSON as the owner sent it (validated on the way in).
    pub policy: Option<String>,
    /// CORS configuration XML (validated on the way in).
    pub cors: Option<String>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BucketRow> {
    Ok(BucketRow {
        name: r.get(0)?,
        owner: r.get(1)?,
        created_ms: r.get(2)?,
        acl: r.get(3)?,
        policy: r.get(4)?,
        cors: r.get(5)?,
    })
}

pub fn get(conn: &Connection, name: &str) -> S3Result<Option<BucketRow>> {
    Ok(conn
        .query_row(
            "SELECT name, owner, created_ms, acl, policy, cors FROM buckets WHERE name = ?1",
            [name],
            row,
        )
        .optional()?)
}

/// Creates a bucket. S3 answers a repeat by the owner with
/// BucketAlreadyOwnedByYou and anyone else with BucketAlreadyExists.
pub fn create(conn: &Connection, name: &str, owner: &str, acl: &str, now_ms: i64) -> S3Result<()> {
    if let Some(existing) = get(conn, name)? {
        let code = if existing.owner == owner {
            Code::BucketAlreadyOwnedByYou
        } else {
            Code::BucketAlreadyExists
        };
        return Err(S3Error::new(code).with("BucketName", name));
    }
    conn.execute(
        "INSERT INTO buckets (name, owner, created_ms, acl) VALUES (?1, ?2, ?3, ?4)",
        params![name, owner, now_ms, acl],
    )?;
    Ok(())
}

pub fn list_owned(conn: &Connection, owner: &str) -> S3Result<Vec<BucketRow>> {
    let mut stmt =
        conn.prepare("SELECT name, owner, created_ms, acl, policy, cors FROM buckets WHERE owner = ?1 ORDER BY name")?;
    let rows = stmt.query_map([owner], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes an empty bucket. Multipart uploads in progress do not keep it:
/// they are aborted with it, their parts' references released (S3 does
/// the same, and clients rely on it after failed uploads).
pub fn delete(
    conn: &Connection,
    store: &BlobStore,
    name: &str,
    after: &mut Vec<AfterCommit>,
) -> S3Result<()> {
    let has_objects: bool = conn
        .query_row(
            "SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1",
            [name],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if has_objects {
        return Err(S3Error::new(Code::BucketNotEmpty).with("BucketName", name));
    }
    for upload in super::uploads::in_bucket(conn, name)? {
        super::uploads::finish(conn, store, &upload, &[], after)?;
    }
    if conn.execute("DELETE FROM buckets WHERE name = ?1", [name])? == 0 {
        return Err(S3Error::new(Code::NoSuchBucket).with("BucketName", name));
    }
    Ok(())
}

/// Which bucket setting to change.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    Acl,
    Policy,
    Cors,
}

/// Sets (or with `None`, clears) one setting of a bucket.
pub fn set(conn: &Connection, name: &str, setting: Setting, value: Option<&str>) -> S3Result<()> {
    let sql = match setting {
        Setting::Acl => "UPDATE buckets SET acl = coalesce(?2, 'private') WHERE name = ?1",
        Setting::Policy => "UPDATE buckets SET policy = ?2 WHERE name = ?1",
        Setting::Cors => "UPDATE buckets SET cors = ?2 WHERE name = ?1",
    };
    if conn.execute(sql, params![name, value])? == 0 {
        return Err(S3Error::new(Code::NoSuchBucket).with("BucketName", name));
    }
    // Who may read (or from where) changed: edges drop the whole bucket.
    super::changes::record(conn, name, None, None, 0)?;
    Ok(())
}
