//! Noncurrent versions and delete markers of versioned buckets.
//!
//! A key's current version stays in `objects`, so GET and the plain
//! listings cost what they cost before versioning. Every older version and
//! every delete marker lives here, ordered by `seq` (the newest highest).
//! A version keeps its blob references and its parts when it moves here;
//! only removing it for good (a DELETE naming its id, or a new `null`
//! version replacing an old one) releases them.
//!
//! When the current version is removed by id, the newest noncurrent one
//! takes its place, unless that is a delete marker: then the key has no
//! current version and GET answers NoSuchKey with `x-amz-delete-marker`.

use rusqlite::{params, Connection, OptionalExtension};

use super::objects::{
    encode_headers, object_row, release_row, remove_current, write_current, Deleted, ObjectRow,
    ROW_COLUMNS,
};
use super::AfterCommit;
use crate::store::blob::{BlobHash, BlobStore};
use crate::store::error::{Result, StoreError};

/// A new version id: 32 characters, URL- and XML-safe, never `null`.
pub fn new_id() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

/// One version of a key as GET, DELETE and listings see it. Markers are
/// the rarer variant and values live only for one request, so the size
/// difference is not worth a box on every object version.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Version {
    Object(ObjectRow),
    Marker(Marker),
}

/// A delete marker: a version without content.
#[derive(Debug, Clone)]
pub struct Marker {
    pub key: String,
    pub version_id: Option<String>,
    pub modified_ms: i64,
}

impl Version {
    pub fn version_id(&self) -> Option<&str> {
        match self {
            Version::Object(r) => r.version_id.as_deref(),
            Version::Marker(m) => m.version_id.as_deref(),
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Version::Object(r) => &r.key,
            Version::Marker(m) => &m.key,
        }
    }
}

/// `version_id IS ?` matches NULL to NULL: the `null` version.
const MATCH_ID: &str = "version_id IS ?3";

fn next_seq(conn: &Connection, bucket: &str, key: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(max(seq), 0) + 1 FROM versions WHERE bucket = ?1 AND key = ?2",
        )?
        .query_row(params![bucket, key.as_bytes()], |r| r.get(0))?)
}

/// Makes `row` (the key's current version until now) the newest
/// noncurrent one. Its references and parts move with it.
pub fn push(conn: &Connection, bucket: &str, row: &ObjectRow) -> Result<()> {
    let seq = next_seq(conn, bucket, &row.key)?;
    let (algo, sum) = match &row.checksum {
        Some((a, s)) => (Some(a.as_str()), Some(s.as_str())),
        None => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO versions (bucket, key, seq, version_id, marker, blob, size, etag, modified_ms, headers, checksum_algo, checksum, parts, tags, acl, lock_mode, lock_until_ms, legal_hold, sse, owner)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
        bucket,
        row.key.as_bytes(),
        seq,
        row.version_id,
        row.blob.as_bytes(),
        row.size as i64,
        row.etag,
        row.modified_ms,
        encode_headers(&row.headers),
        algo,
        sum,
        row.parts as i64,
        row.tags,
        row.acl,
        row.lock.mode.map(|m| m.as_str()),
        row.lock.until_ms,
        row.lock.legal_hold,
        row.sse.as_ref().map(|e| e.to_json()),
        row.owner,
    ])?;
    Ok(())
}

/// Adds a delete marker as the key's newest version.
pub fn push_marker(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    modified_ms: i64,
) -> Result<()> {
    let seq = next_seq(conn, bucket, key)?;
    conn.prepare_cached(
        "INSERT INTO versions (bucket, key, seq, version_id, marker, blob, size, etag, modified_ms, headers, parts)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, 0, '', ?6, x'', 0)",
    )?
    .execute(params![
        bucket,
        key.as_bytes(),
        seq,
        version_id,
        BlobHash::default().as_bytes(),
        modified_ms
    ])?;
    Ok(())
}

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Version)> {
    let seq: i64 = r.get(17)?;
    let marker: bool = r.get(18)?;
    let row = object_row(r)?;
    Ok((
        seq,
        if marker {
            Version::Marker(Marker {
                key: row.key,
                version_id: row.version_id,
                modified_ms: row.modified_ms,
            })
        } else {
            Version::Object(row)
        },
    ))
}

/// Noncurrent versions of `key` older than `below` (a seq; `None` for
/// all), newest first, at most `limit`.
pub fn older(
    conn: &Connection,
    bucket: &str,
    key: &str,
    below: Option<i64>,
    limit: usize,
) -> Result<Vec<(i64, Version)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS}, seq, marker FROM versions
         WHERE bucket = ?1 AND key = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![
            bucket,
            key.as_bytes(),
            below.unwrap_or(i64::MAX),
            limit as i64
        ],
        version_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A noncurrent version by id (`None` is the `null` version), with its seq.
pub fn find_noncurrent(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<(i64, Version)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ROW_COLUMNS}, seq, marker FROM versions
             WHERE bucket = ?1 AND key = ?2 AND {MATCH_ID} LIMIT 1"
        ))?
        .query_row(params![bucket, key.as_bytes(), version_id], version_row)
        .optional()?)
}

/// Any version of `key` by id, current or not.
pub fn find(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<Version>> {
    if let Some(cur) = super::objects::get(conn, bucket, key)? {
        if cur.version_id.as_deref() == version_id {
            return Ok(Some(Version::Object(cur)));
        }
    }
    Ok(find_noncurrent(conn, bucket, key, version_id)?.map(|(_, v)| v))
}

/// The newest noncurrent version of a key without a current one: a delete
/// marker, when GET should say so.
pub fn newest_marker(conn: &Connection, bucket: &str, key: &str) -> Result<Option<Marker>> {
    Ok(older(conn, bucket, key, None, 1)?
        .into_iter()
        .find_map(|(_, v)| match v {
            Version::Marker(m) => Some(m),
            Version::Object(_) => None,
        }))
}

/// Removes a noncurrent version for good, releasing what it held.
fn remove_noncurrent(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    seq: i64,
    version: &Version,
    after: &mut Vec<AfterCommit>,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM versions WHERE bucket = ?1 AND key = ?2 AND seq = ?3")?
        .execute(params![bucket, version.key().as_bytes(), seq])?;
    if let Version::Object(row) = version {
        release_row(conn, store, bucket, row, after)?;
    }
    Ok(())
}

/// Removes the noncurrent `null` version of `key`, if there is one (a new
/// `null` version is about to replace it).
pub fn remove_null(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    key: &str,
    after: &mut Vec<AfterCommit>,
) -> Result<()> {
    if let Some((seq, v)) = find_noncurrent(conn, bucket, key, None)? {
        if let Version::Object(row) = &v {
            row.lock.check_removal(crate::store::now_ms(), false)?;
        }
        remove_noncurrent(conn, store, bucket, seq, &v, after)?;
    }
    Ok(())
}

/// DELETE with a version id: removes exactly that version, unless Object
/// Lock keeps it (AccessDenied, nothing changed). When it was the current
/// one, the newest noncurrent version that is not a delete marker becomes
/// current (a marker on top stays on top, and the key reads as deleted).
/// A version that does not exist is not an error, as in S3.
pub fn delete(
    conn: &Connection,
    store: &BlobStore,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    bypass_governance: bool,
    after: &mut Vec<AfterCommit>,
) -> Result<Deleted> {
    let label = Some(version_id.unwrap_or("null").to_owned());
    let now = crate::store::now_ms();
    if let Some(cur) = super::objects::get(conn, bucket, key)? {
        if cur.version_id.as_deref() == version_id {
            cur.lock.check_removal(now, bypass_governance)?;
            remove_current(conn, store, bucket, &cur, after)?;
            promote(conn, bucket, key)?;
            return Ok(Deleted {
                version_id: label,
                marker: false,
            });
        }
    }
    match find_noncurrent(conn, bucket, key, version_id)? {
        Some((seq, v)) => {
            if let Version::Object(row) = &v {
                row.lock.check_removal(now, bypass_governance)?;
            }
            let marker = matches!(v, Version::Marker(_));
            let newest = older(conn, bucket, key, None, 1)?.first().map(|(s, _)| *s);
            remove_noncurrent(conn, store, bucket, seq, &v, after)?;
            // Removing the marker that hid the key brings the key back.
            if marker && newest == Some(seq) && super::objects::get(conn, bucket, key)?.is_none() {
                promote(conn, bucket, key)?;
            }
            Ok(Deleted {
                version_id: label,
                marker,
            })
        }
        None => Ok(Deleted {
            version_id: label,
            marker: false,
        }),
    }
}

/// Makes the newest noncurrent version current, unless it is a marker.
fn promote(conn: &Connection, bucket: &str, key: &str) -> Result<()> {
    let Some((seq, Version::Object(row))) = older(conn, bucket, key, None, 1)?.pop() else {
        return Ok(());
    };
    conn.prepare_cached("DELETE FROM versions WHERE bucket = ?1 AND key = ?2 AND seq = ?3")?
        .execute(params![bucket, key.as_bytes(), seq])?;
    // The parts stay where they are: they are keyed by version id.
    write_current(conn, bucket, &row, &[])?;
    super::changes::record(
        conn,
        bucket,
        Some(key),
        Some(super::changes::Written {
            etag: &row.etag,
            version: &row.version(),
            size: row.size,
        }),
        row.modified_ms,
    )?;
    Ok(())
}

/// Keys that have any version (current or not) in `[from, upper)`, in
/// byte order, at most `limit`: what ListObjectVersions walks. Each key
/// costs two index seeks however many versions it has.
pub fn keys(
    conn: &Connection,
    bucket: &str,
    from: &super::objects::From,
    upper: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<String>> {
    let next = |table: &str, op: &str, after: &[u8]| -> Result<Option<Vec<u8>>> {
        let sql = format!(
            "SELECT key FROM {table} WHERE bucket = ?1 AND key {op} ?2 ORDER BY key LIMIT 1"
        );
        Ok(conn
            .prepare_cached(&sql)?
            .query_row(params![bucket, after], |r| r.get::<_, Vec<u8>>(0))
            .optional()?)
    };
    let (mut op, mut at) = match from {
        super::objects::From::Inclusive(s) => (">=", s.clone()),
        super::objects::From::Exclusive(s) => (">", s.clone()),
    };
    let mut out = Vec::new();
    while out.len() < limit {
        let found = match (next("objects", op, &at)?, next("versions", op, &at)?) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        if upper.is_some_and(|u| found.as_slice() >= u) {
            break;
        }
        out.push(String::from_utf8_lossy(&found).into_owned());
        (op, at) = (">", found);
    }
    Ok(out)
}

/// Whether the bucket holds any noncurrent version or marker (a bucket
/// with one is not empty).
pub fn any(conn: &Connection, bucket: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM versions WHERE bucket = ?1 LIMIT 1")?
        .query_row([bucket], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The object version a request names: the current one (`version` is
/// `None`) or the one with that id (`Some(None)` is `null`). A missing
/// key is NoSuchKey, a missing version NoSuchVersion, and a delete marker
/// is answered as S3 answers it.
pub fn object(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version: Option<&Option<String>>,
) -> Result<ObjectRow> {
    let found = match version {
        None => super::objects::get(conn, bucket, key)?.map(Version::Object),
        Some(v) => find(conn, bucket, key, v.as_deref())?,
    };
    match found {
        Some(Version::Object(row)) => Ok(row),
        Some(Version::Marker(m)) => Err(StoreError::DeleteMarker {
            version: m.version_id,
        }),
        None => Err(match version {
            Some(v) => StoreError::NoSuchVersion {
                key: key.to_owned(),
                version: v.clone(),
            },
            None => StoreError::NoSuchKey(key.to_owned()),
        }),
    }
}

/// Whether `row` is its key's current version (else it is in `versions`).
pub fn is_current(conn: &Connection, bucket: &str, row: &ObjectRow) -> Result<bool> {
    Ok(
        super::objects::get(conn, bucket, &row.key)?
            .is_some_and(|c| c.version_id == row.version_id),
    )
}

/// A per-version setting that changes no bytes and so makes no version.
#[derive(Debug, Clone, Copy)]
pub enum Attribute<'a> {
    /// The tag set, in `ops::tagging`'s canonical form.
    Tags(Option<&'a str>),
    /// The canned ACL (`None` is private). Who may read the current
    /// version changes with it, so edges are told.
    Acl(Option<&'a str>),
}

/// Replaces one attribute of the version a request names (see
/// [`object`]); returns the version's id.
pub fn set_attribute(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version: Option<&Option<String>>,
    attribute: Attribute<'_>,
) -> Result<Option<String>> {
    let row = object(conn, bucket, key, version)?;
    let current = is_current(conn, bucket, &row)?;
    let table = if current { "objects" } else { "versions" };
    let (column, value) = match attribute {
        Attribute::Tags(v) => ("tags", v),
        Attribute::Acl(v) => ("acl", v),
    };
    let sql = format!(
        "UPDATE {table} SET {column} = ?4 WHERE bucket = ?1 AND key = ?2 AND version_id IS ?3"
    );
    conn.prepare_cached(&sql)?
        .execute(params![bucket, key.as_bytes(), row.version_id, value])?;
    if current && matches!(attribute, Attribute::Acl(_)) {
        super::changes::record(conn, bucket, Some(key), None, row.modified_ms)?;
    }
    Ok(row.version_id)
}

/// Up to `limit` noncurrent versions and markers of `bucket` whose keys
/// start with `prefix`, after `(key, seq)`, in key then seq order (the
/// lifecycle worker's walk).
pub fn scan(
    conn: &Connection,
    bucket: &str,
    prefix: &str,
    after: (&[u8], i64),
    limit: usize,
) -> Result<Vec<(i64, Version)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS}, seq, marker FROM versions
         WHERE bucket = ?1 AND (key, seq) > (?2, ?3) AND substr(key, 1, length(?4)) = ?4
         ORDER BY key, seq LIMIT ?5"
    ))?;
    let rows = stmt.query_map(
        params![bucket, after.0, after.1, prefix.as_bytes(), limit as i64],
        version_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When the version at `seq` became noncurrent: when the next newer
/// version (noncurrent or current) was written.
pub fn superseded_ms(conn: &Connection, bucket: &str, key: &str, seq: i64) -> Result<Option<i64>> {
    let newer: Option<i64> = conn
        .prepare_cached(
            "SELECT modified_ms FROM versions WHERE bucket = ?1 AND key = ?2 AND seq > ?3
             ORDER BY seq LIMIT 1",
        )?
        .query_row(params![bucket, key.as_bytes(), seq], |r| r.get(0))
        .optional()?;
    match newer {
        Some(ms) => Ok(Some(ms)),
        None => Ok(super::objects::get(conn, bucket, key)?.map(|r| r.modified_ms)),
    }
}

/// Whether `key` is a lone delete marker: no current version and no other
/// version behind the marker.
pub fn lone_marker(conn: &Connection, bucket: &str, key: &str) -> Result<Option<Marker>> {
    if super::objects::get(conn, bucket, key)?.is_some() {
        return Ok(None);
    }
    let mut two = older(conn, bucket, key, None, 2)?;
    match (two.len(), two.pop()) {
        (1, Some((_, Version::Marker(m)))) => Ok(Some(m)),
        _ => Ok(None),
    }
}
