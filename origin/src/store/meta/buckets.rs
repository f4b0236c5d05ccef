//! Buckets and who owns them.

use rusqlite::{params, Connection, OptionalExtension};

use super::locks::DefaultRetention;
use super::AfterCommit;
use crate::store::blob::BlobStore;
use crate::store::error::{Result, StoreError};

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
    pub versioning: Versioning,
    /// Bucket tags, in `ops::tagging`'s canonical form.
    pub tags: Option<String>,
    /// Object Lock is on: versions may carry retentions and legal holds,
    /// and versioning cannot be suspended.
    pub lock_enabled: bool,
    /// The default retention new versions get.
    pub default_retention: Option<DefaultRetention>,
    /// Lifecycle rules, as JSON of `lifecycle::Rule`s (validated on the
    /// way in; parsed only where rules are applied).
    pub lifecycle: Option<String>,
    /// The PublicAccessBlock configuration, if one was set.
    pub public_block: Option<PublicBlock>,
    /// ObjectOwnership (`BucketOwnerEnforced`, `BucketOwnerPreferred`,
    /// `ObjectWriter`), if set. `BucketOwnerEnforced` turns ACLs off.
    pub ownership: Option<String>,
    /// Default encryption of new objects (PutBucketEncryption).
    pub encryption: Option<crate::sse::BucketDefault>,
    /// Quotas: most current objects, most bytes of all versions.
    pub max_objects: Option<i64>,
    pub max_bytes: Option<i64>,
}

/// S3's PublicAccessBlock: four switches that override what ACLs and
/// policies would make public.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublicBlock {
    /// Refuse requests that set a public ACL.
    pub block_public_acls: bool,
    /// Let no ACL make anything public.
    pub ignore_public_acls: bool,
    /// Refuse bucket policies that grant public access.
    pub block_public_policy: bool,
    /// Let no bucket policy make anything public.
    pub restrict_public_buckets: bool,
}

impl PublicBlock {
    /// As stored: four `0`/`1` characters in the order above.
    pub fn encode(&self) -> String {
        [
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        ]
        .iter()
        .map(|b| if *b { '1' } else { '0' })
        .collect()
    }

    pub fn decode(s: &str) -> Option<Self> {
        let b: Vec<bool> = s.chars().map(|c| c == '1').collect();
        (b.len() == 4).then(|| PublicBlock {
            block_public_acls: b[0],
            ignore_public_acls: b[1],
            block_public_policy: b[2],
            restrict_public_buckets: b[3],
        })
    }
}

impl BucketRow {
    /// The switches in force (all off without a configuration).
    pub fn block(&self) -> PublicBlock {
        self.public_block.unwrap_or_default()
    }
}

/// A bucket's versioning state. A bucket that had versioning once can
/// suspend it but never returns to `Unversioned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

impl Versioning {
    fn from_column(v: Option<String>) -> Self {
        match v.as_deref() {
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            _ => Versioning::Unversioned,
        }
    }

    /// As GetBucketVersioning prints it; `None` for a bucket that never
    /// had versioning.
    pub fn status(self) -> Option<&'static str> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        }
    }
}

const COLUMNS: &str =
    "name, owner, created_ms, acl, policy, cors, versioning, tags, lock_enabled, lock_config, lifecycle, public_block, ownership, encryption, max_objects, max_bytes";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BucketRow> {
    Ok(BucketRow {
        name: r.get(0)?,
        owner: r.get(1)?,
        created_ms: r.get(2)?,
        acl: r.get(3)?,
        policy: r.get(4)?,
        cors: r.get(5)?,
        versioning: Versioning::from_column(r.get(6)?),
        tags: r.get(7)?,
        lock_enabled: r.get(8)?,
        default_retention: r
            .get::<_, Option<String>>(9)?
            .and_then(|c| DefaultRetention::decode(&c)),
        lifecycle: r.get(10)?,
        public_block: r
            .get::<_, Option<String>>(11)?
            .and_then(|s| PublicBlock::decode(&s)),
        ownership: r.get(12)?,
        encryption: r
            .get::<_, Option<String>>(13)?
            .and_then(|s| serde_json::from_str(&s).ok()),
        max_objects: r.get(14)?,
        max_bytes: r.get(15)?,
    })
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<BucketRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM buckets WHERE name = ?1"))?
        .query_row([name], row)
        .optional()?)
}

/// The bucket's versioning state (`Unversioned` for a missing bucket).
pub fn versioning(conn: &Connection, name: &str) -> Result<Versioning> {
    let v: Option<Option<String>> = conn
        .prepare_cached("SELECT versioning FROM buckets WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    Ok(Versioning::from_column(v.flatten()))
}

/// Turns versioning on or suspends it. A lock-enabled bucket cannot
/// suspend it (every version must stay).
pub fn set_versioning(conn: &Connection, name: &str, state: Versioning) -> Result<()> {
    let locked: Option<bool> = conn
        .query_row(
            "SELECT lock_enabled FROM buckets WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    if locked == Some(true) && state != Versioning::Enabled {
        return Err(StoreError::BucketState("An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."));
    }
    let n = conn.execute(
        "UPDATE buckets SET versioning = ?2 WHERE name = ?1",
        params![name, state.status()],
    )?;
    if n == 0 {
        return Err(StoreError::NoSuchBucket(name.to_owned()));
    }
    Ok(())
}

/// Creates a bucket. S3 answers a repeat by the owner with
/// BucketAlreadyOwnedByYou and anyone else with BucketAlreadyExists. A
/// bucket created with Object Lock has versioning enabled from the start.
pub fn create(
    conn: &Connection,
    name: &str,
    owner: &str,
    acl: &str,
    lock: bool,
    now_ms: i64,
) -> Result<()> {
    if let Some(existing) = get(conn, name)? {
        return Err(StoreError::BucketExists {
            name: name.to_owned(),
            by_you: existing.owner == owner,
        });
    }
    conn.execute(
        "INSERT INTO buckets (name, owner, created_ms, acl, lock_enabled, versioning)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name, owner, now_ms, acl, lock, lock.then_some("Enabled")],
    )?;
    // The usage triggers only update this row (see migration 11).
    conn.execute(
        "INSERT OR IGNORE INTO bucket_usage (bucket) VALUES (?1)",
        [name],
    )?;
    Ok(())
}

/// Up to `limit` buckets `owner` created or was granted, named after
/// `after` and starting with `prefix`, by name.
pub fn list_owned(
    conn: &Connection,
    owner: &str,
    after: &str,
    prefix: &str,
    limit: usize,
) -> Result<Vec<BucketRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM buckets
         WHERE (owner = ?1 OR name IN (SELECT bucket FROM bucket_grants WHERE access_key = ?1))
           AND name > ?2 AND substr(name, 1, length(?3)) = ?3
         ORDER BY name LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![owner, after, prefix, limit as i64], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Turns Object Lock on (versioning must be enabled) and sets or clears
/// the default retention.
pub fn set_lock(conn: &Connection, name: &str, default: Option<DefaultRetention>) -> Result<()> {
    let Some(row) = get(conn, name)? else {
        return Err(StoreError::NoSuchBucket(name.to_owned()));
    };
    if row.versioning != Versioning::Enabled {
        return Err(StoreError::BucketState(
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
        ));
    }
    conn.execute(
        "UPDATE buckets SET lock_enabled = 1, lock_config = ?2 WHERE name = ?1",
        params![name, default.map(|d| d.encode())],
    )?;
    Ok(())
}

/// Deletes an empty bucket. Multipart uploads in progress do not keep it:
/// they are aborted with it, their parts' references released (S3 does
/// the same, and clients rely on it after failed uploads).
pub fn delete(
    conn: &Connection,
    store: &BlobStore,
    name: &str,
    after: &mut Vec<AfterCommit>,
) -> Result<()> {
    let has_objects: bool = conn
        .query_row(
            "SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1",
            [name],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if has_objects || super::versions::any(conn, name)? {
        return Err(StoreError::BucketNotEmpty(name.to_owned()));
    }
    for upload in super::uploads::in_bucket(conn, name)? {
        super::uploads::finish(conn, store, &upload, &[], after)?;
    }
    conn.execute("DELETE FROM bucket_grants WHERE bucket = ?1", [name])?;
    super::usage::remove(conn, name)?;
    super::notify::remove(conn, name)?;
    conn.execute("DELETE FROM bucket_websites WHERE bucket = ?1", [name])?;
    if conn.execute("DELETE FROM buckets WHERE name = ?1", [name])? == 0 {
        return Err(StoreError::NoSuchBucket(name.to_owned()));
    }
    Ok(())
}

/// Which bucket setting to change.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    Acl,
    Policy,
    Cors,
    Tags,
    Lifecycle,
    PublicBlock,
    Ownership,
    Encryption,
}

/// Sets (or with `None`, clears) one setting of a bucket.
pub fn set(conn: &Connection, name: &str, setting: Setting, value: Option<&str>) -> Result<()> {
    let sql = match setting {
        Setting::Acl => "UPDATE buckets SET acl = coalesce(?2, 'private') WHERE name = ?1",
        Setting::Policy => "UPDATE buckets SET policy = ?2 WHERE name = ?1",
        Setting::Cors => "UPDATE buckets SET cors = ?2 WHERE name = ?1",
        Setting::Tags => "UPDATE buckets SET tags = ?2 WHERE name = ?1",
        Setting::Lifecycle => "UPDATE buckets SET lifecycle = ?2 WHERE name = ?1",
        Setting::PublicBlock => "UPDATE buckets SET public_block = ?2 WHERE name = ?1",
        Setting::Ownership => "UPDATE buckets SET ownership = ?2 WHERE name = ?1",
        Setting::Encryption => "UPDATE buckets SET encryption = ?2 WHERE name = ?1",
    };
    if conn.execute(sql, params![name, value])? == 0 {
        return Err(StoreError::NoSuchBucket(name.to_owned()));
    }
    // Who may read (or from where) changed: edges drop the whole bucket.
    if !matches!(
        setting,
        Setting::Tags | Setting::Lifecycle | Setting::Ownership | Setting::Encryption
    ) {
        super::changes::record(conn, name, None, None, 0)?;
    }
    Ok(())
}

/// Buckets that have lifecycle rules: (name, rules as JSON).
pub fn with_lifecycle(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, lifecycle FROM buckets WHERE lifecycle IS NOT NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every bucket's name, in order.
pub fn all_names(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM buckets ORDER BY name")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A bucket's website configuration, if it has one.
pub fn website(conn: &Connection, name: &str) -> Result<Option<cairn_shared::website::Website>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT config FROM bucket_websites WHERE bucket = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    // Checked when stored; one that no longer parses serves no site.
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Sets (or with `None` removes) a bucket's website configuration, and
/// tells edges through the feed (a bucket-level change).
pub fn set_website(
    conn: &Connection,
    name: &str,
    site: Option<&cairn_shared::website::Website>,
    now_ms: i64,
) -> Result<()> {
    match site {
        Some(w) => {
            let text = serde_json::to_string(w).map_err(StoreError::internal)?;
            conn.execute(
                "INSERT INTO bucket_websites (bucket, config) VALUES (?1, ?2)
                 ON CONFLICT (bucket) DO UPDATE SET config = excluded.config",
                params![name, text],
            )?;
        }
        None => {
            conn.execute("DELETE FROM bucket_websites WHERE bucket = ?1", [name])?;
        }
    }
    super::changes::record(conn, name, None, None, now_ms)
}
