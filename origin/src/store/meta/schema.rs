//! The SQLite schema, as an ordered list of migrations.
//!
//! `PRAGMA user_version` records how many have been applied; a new version of
//! the schema is a new entry at the end, never an edit of an old one.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: keys, buckets, blobs and single-blob objects.
    "CREATE TABLE access_keys (
        access_key TEXT PRIMARY KEY,
        secret_key TEXT NOT NULL,
        name TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE buckets (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE blobs (
        hash BLOB PRIMARY KEY,
        size INTEGER NOT NULL,
        refcount INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE objects (
        bucket TEXT NOT NULL,
        key BLOB NOT NULL,
        blob BLOB NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        modified_ms INTEGER NOT NULL,
        headers BLOB NOT NULL,
        checksum_algo TEXT,
        checksum TEXT,
        PRIMARY KEY (bucket, key)
    ) WITHOUT ROWID;",
    // 2: multipart uploads. A multipart object's bytes are its parts'
    // blobs (`object_parts`); its `blob` column is then the BLAKE3 of the
    // whole content, not a blob reference.
    "CREATE TABLE uploads (
        upload_id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL,
        key BLOB NOT NULL,
        created_ms INTEGER NOT NULL,
        headers BLOB NOT NULL,
        checksum_algo TEXT
    );
    CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
    CREATE INDEX uploads_by_age ON uploads (created_ms);
    CREATE TABLE upload_parts (
        upload_id TEXT NOT NULL,
        part_number INTEGER NOT NULL,
        blob BLOB NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        checksum TEXT,
        modified_ms INTEGER NOT NULL,
        PRIMARY KEY (upload_id, part_number)
    ) WITHOUT ROWID;
    CREATE TABLE object_parts (
        bucket TEXT NOT NULL,
        key BLOB NOT NULL,
        part_number INTEGER NOT NULL,
        blob BLOB NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (bucket, key, part_number)
    ) WITHOUT ROWID;
    ALTER TABLE objects ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;",
    // 3: public reads (canned ACL, bucket policy) and CORS rules.
    "ALTER TABLE buckets ADD COLUMN acl TEXT NOT NULL DEFAULT 'private';
    ALTER TABLE buckets ADD COLUMN policy TEXT;
    ALTER TABLE buckets ADD COLUMN cors TEXT;",
    // 4: the change feed edges follow, and key roles (edge keys read the
    // feed and any object, for signed edge URLs).
    "CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        bucket TEXT NOT NULL,
        key BLOB,
        etag TEXT,
        created_ms INTEGER NOT NULL
    );
    ALTER TABLE access_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'user';",
    // 5: edges seen following the feed, for `cairn-origin edges`.
    "CREATE TABLE edges (
        access_key TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        seen_ms INTEGER NOT NULL,
        PRIMARY KEY (access_key, region)
    );",
    // 6: each change names the version it wrote (`ObjectRow::version`), so
    // an edge keeps a copy it already fetched of exactly that version.
    "ALTER TABLE changes ADD COLUMN version TEXT;",
    // 7: versioning, tags, object ACLs, object lock, lifecycle rules,
    // public access blocks, ownership controls, and the uploads completed
    // lately (a retried CompleteMultipartUpload gets the same answer). `objects` keeps each key's current version
    // (what GET and listings read, as fast as before); `versions` holds
    // every older version and every delete marker, newest with the highest
    // `seq`. A multipart object's parts are keyed by its version (`vid`,
    // '' for the null version), so versions of one key keep their own.
    "ALTER TABLE buckets ADD COLUMN versioning TEXT;
    ALTER TABLE buckets ADD COLUMN tags TEXT;
    ALTER TABLE buckets ADD COLUMN lock_enabled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE buckets ADD COLUMN lock_config TEXT;
    ALTER TABLE buckets ADD COLUMN lifecycle TEXT;
    ALTER TABLE buckets ADD COLUMN public_block TEXT;
    ALTER TABLE buckets ADD COLUMN ownership TEXT;
    CREATE TABLE completed_uploads (
        upload_id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL,
        key BLOB NOT NULL,
        etag TEXT NOT NULL,
        version_id TEXT,
        completed_ms INTEGER NOT NULL
    );
    ALTER TABLE objects ADD COLUMN lock_mode TEXT;
    ALTER TABLE objects ADD COLUMN lock_until_ms INTEGER;
    ALTER TABLE objects ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE uploads ADD COLUMN lock_mode TEXT;
    ALTER TABLE uploads ADD COLUMN lock_until_ms INTEGER;
    ALTER TABLE uploads ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE objects ADD COLUMN version_id TEXT;
    ALTER TABLE objects ADD COLUMN tags TEXT;
    ALTER TABLE objects ADD COLUMN acl TEXT;
    ALTER TABLE uploads ADD COLUMN tags TEXT;
    ALTER TABLE uploads ADD COLUMN acl TEXT;
    ALTER TABLE uploads ADD COLUMN full_object_checksum INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE versions (
        bucket TEXT NOT NULL,
        key BLOB NOT NULL,
        seq INTEGER NOT NULL,
        version_id TEXT,
        marker INTEGER NOT NULL,
        blob BLOB NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        modified_ms INTEGER NOT NULL,
        headers BLOB NOT NULL,
        checksum_algo TEXT,
        checksum TEXT,
        parts INTEGER NOT NULL,
        tags TEXT,
        acl TEXT,
        lock_mode TEXT,
        lock_until_ms INTEGER,
        legal_hold INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (bucket, key, seq)
    ) WITHOUT ROWID;
    CREATE INDEX versions_by_id ON versions (bucket, key, version_id);
    CREATE TABLE object_parts_v (
        bucket TEXT NOT NULL,
        key BLOB NOT NULL,
        vid TEXT NOT NULL,
        part_number INTEGER NOT NULL,
        blob BLOB NOT NULL,
        size INTEGER NOT NULL,
        checksum TEXT,
        PRIMARY KEY (bucket, key, vid, part_number)
    ) WITHOUT ROWID;
    INSERT INTO object_parts_v SELECT bucket, key, '', part_number, blob, size, NULL FROM object_parts;
    DROP TABLE object_parts;
    ALTER TABLE object_parts_v RENAME TO object_parts;",
    // 8: server-side encryption. A version's `sse` is how its bytes are
    // encrypted (JSON: kind, key id, wrapped data key; see `crate::sse`);
    // an upload's is what its parts and object get; a bucket's
    // `encryption` is its default (PutBucketEncryption).
    "ALTER TABLE objects ADD COLUMN sse TEXT;
    ALTER TABLE versions ADD COLUMN sse TEXT;
    ALTER TABLE uploads ADD COLUMN sse TEXT;
    ALTER TABLE buckets ADD COLUMN encryption TEXT;",
    // 9: who owns a version or upload when it is not the bucket's owner
    // (another key writing under ObjectOwnership ObjectWriter): NULL is
    // the bucket's owner.
    "ALTER TABLE objects ADD COLUMN owner TEXT;
    ALTER TABLE versions ADD COLUMN owner TEXT;
    ALTER TABLE uploads ADD COLUMN owner TEXT;",
    // 10: read-only and expiring keys, and bucket grants (a key allowed
    // to read, write or own a bucket another key created).
    "ALTER TABLE access_keys ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE access_keys ADD COLUMN expires_ms INTEGER;
    CREATE TABLE bucket_grants (
        bucket TEXT NOT NULL,
        access_key TEXT NOT NULL,
        read INTEGER NOT NULL,
        write INTEGER NOT NULL,
        owner INTEGER NOT NULL,
        PRIMARY KEY (bucket, access_key)
    ) WITHOUT ROWID;
    CREATE INDEX bucket_grants_by_key ON bucket_grants (access_key);",
    // 11: usage per bucket, kept by triggers on every change to `objects`
    // and `versions` (whatever path writes them), and the bucket's quotas.
    // `objects`/`bytes` are current objects; `versions`/`version_bytes`
    // noncurrent versions and delete markers; `dedup_bytes` counts bytes
    // written whose content was already stored. The REPLACE in
    // `objects::write_current` fires the delete trigger because every
    // connection runs with recursive_triggers on (`configure`). Triggers
    // only UPDATE: an INSERT in a trigger would take the outer statement's
    // OR REPLACE and wipe the row, so `buckets::create` makes it.
    "CREATE TABLE bucket_usage (
        bucket TEXT PRIMARY KEY,
        objects INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        versions INTEGER NOT NULL DEFAULT 0,
        version_bytes INTEGER NOT NULL DEFAULT 0,
        dedup_bytes INTEGER NOT NULL DEFAULT 0,
        max_objects INTEGER,
        max_bytes INTEGER
    ) WITHOUT ROWID;
    INSERT INTO bucket_usage (bucket, objects, bytes, versions, version_bytes)
        SELECT b.name,
            (SELECT count(*) FROM objects o WHERE o.bucket = b.name),
            (SELECT coalesce(sum(size), 0) FROM objects o WHERE o.bucket = b.name),
            (SELECT count(*) FROM versions v WHERE v.bucket = b.name),
            (SELECT coalesce(sum(size), 0) FROM versions v WHERE v.bucket = b.name)
        FROM buckets b;
    CREATE TRIGGER usage_object_in AFTER INSERT ON objects BEGIN
        UPDATE bucket_usage SET objects = objects + 1, bytes = bytes + NEW.size WHERE bucket = NEW.bucket;
    END;
    CREATE TRIGGER usage_object_out AFTER DELETE ON objects BEGIN
        UPDATE bucket_usage SET objects = objects - 1, bytes = bytes - OLD.size WHERE bucket = OLD.bucket;
    END;
    CREATE TRIGGER usage_object_size AFTER UPDATE OF size ON objects BEGIN
        UPDATE bucket_usage SET bytes = bytes - OLD.size WHERE bucket = OLD.bucket;
        UPDATE bucket_usage SET bytes = bytes + NEW.size WHERE bucket = NEW.bucket;
    END;
    CREATE TRIGGER usage_version_in AFTER INSERT ON versions BEGIN
        UPDATE bucket_usage SET versions = versions + 1, version_bytes = version_bytes + NEW.size WHERE bucket = NEW.bucket;
    END;
    CREATE TRIGGER usage_version_out AFTER DELETE ON versions BEGIN
        UPDATE bucket_usage SET versions = versions - 1, version_bytes = version_bytes - OLD.size WHERE bucket = OLD.bucket;
    END;
    CREATE TRIGGER usage_version_size AFTER UPDATE OF size ON versions BEGIN
        UPDATE bucket_usage SET version_bytes = version_bytes - OLD.size WHERE bucket = OLD.bucket;
        UPDATE bucket_usage SET version_bytes = version_bytes + NEW.size WHERE bucket = NEW.bucket;
    END;",
    // 12: event notifications: a change's object size (for the event),
    // each bucket's rules (JSON of `notify::Rule`s) and each webhook
    // target's position in the feed.
    "ALTER TABLE changes ADD COLUMN size INTEGER;
    CREATE TABLE bucket_notifications (
        bucket TEXT PRIMARY KEY,
        rules TEXT NOT NULL
    );
    CREATE TABLE notify_cursors (
        target TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    );",
    // 13: bucket websites (JSON of `cairn_shared::website::Website`).
    "CREATE TABLE bucket_websites (
        bucket TEXT PRIMARY KEY,
        config TEXT NOT NULL
    );",
    // 14: quotas move to the bucket row, which every write reads anyway:
    // a bucket without one then costs no usage read per write.
    "ALTER TABLE buckets ADD COLUMN max_objects INTEGER;
    ALTER TABLE buckets ADD COLUMN max_bytes INTEGER;
    UPDATE buckets SET
        max_objects = (SELECT u.max_objects FROM bucket_usage u WHERE u.bucket = buckets.name),
        max_bytes = (SELECT u.max_bytes FROM bucket_usage u WHERE u.bucket = buckets.name);
    ALTER TABLE bucket_usage DROP COLUMN max_objects;
    ALTER TABLE bucket_usage DROP COLUMN max_bytes;",
    // 15: the deployment's URL keys (Ed25519, PKCS#8): the newest one not
    // retired signs edge URLs; every one not retired verifies them.
    "CREATE TABLE url_keys (
        id TEXT PRIMARY KEY,
        pkcs8 BLOB NOT NULL,
        created_ms INTEGER NOT NULL,
        retired_ms INTEGER
    );",
];

/// Opens a connection with the settings every connection shares.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A REPLACE fires delete triggers only with this on: the usage
    // triggers (migration 11) must see the row it replaces.
    conn.pragma_update(None, "recursive_triggers", "ON")?;
    Ok(())
}

/// Brings the schema up to date. Runs on the writer connection at start.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk before the client hears success, so an
    // acknowledged object survives power loss, not only a killed process.
    conn.pragma_update(None, "synchronous", "FULL")?;
    let applied: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}
