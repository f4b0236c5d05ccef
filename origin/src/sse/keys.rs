//! The key ring: master keys for SSE-S3 and named keys for SSE-KMS.
//!
//! One file (`sse_key_file`, by default `sse-keys` in the data dir, mode
//! 0600) holds lines `ID BASE64KEY`. Ids `master-N` are master keys, the
//! highest N being the one new objects use; any other id is a key that
//! `x-amz-server-side-encryption-aws-kms-key-id` can name. Keys are never
//! removed: an object wrapped under an old master stays readable until
//! `cairn-origin sse rotate` re-wraps it under the newest one. Keep the
//! file off the data disk (and back it up apart from it) when encryption
//! at rest is meant to protect a stolen disk.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::cipher::Key;

const MASTER: &str = "master-";

/// The key ring, read from its file and re-read when an id is unknown and
/// the file changed since (a key added or rotated by a command while the
/// server runs); a request naming a key that does not exist costs a
/// `stat`, not a read.
#[derive(Debug)]
pub struct KeyRing {
    path: PathBuf,
    keys: RwLock<BTreeMap<String, Key>>,
    /// The file's modification time and length when it was last read.
    read_as: RwLock<Option<(std::time::SystemTime, u64)>>,
}

impl KeyRing {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let ring = Self {
            path: path.to_owned(),
            keys: RwLock::new(BTreeMap::new()),
            read_as: RwLock::new(None),
        };
        ring.reload()?;
        Ok(ring)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's modification time and length now (`None`: no file).
    fn stamp(&self) -> Option<(std::time::SystemTime, u64)> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    fn reload(&self) -> std::io::Result<()> {
        let stamp = self.stamp();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let keys = parse(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", self.path.display()),
            )
        })?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        *self.read_as.write().unwrap_or_else(|e| e.into_inner()) = stamp;
        Ok(())
    }

    /// The key named `id`, re-reading the file if it is not known and the
    /// file changed.
    pub fn get(&self, id: &str) -> Option<Key> {
        if let Some(k) = self.read().get(id) {
            return Some(k.clone());
        }
        let unchanged = *self.read_as.read().unwrap_or_else(|e| e.into_inner()) == self.stamp();
        if unchanged {
            return None;
        }
        if let Err(e) = self.reload() {
            tracing::warn!(error = %e, "cannot re-read the SSE key ring");
        }
        self.read().get(id).cloned()
    }

    /// The master key new SSE-S3 objects are wrapped under, made (and
    /// written to the file) on first use.
    pub fn master(&self) -> std::io::Result<(String, Key)> {
        if let Some(m) = newest_master(&self.read()) {
            return Ok(m);
        }
        self.reload()?;
        if let Some(m) = newest_master(&self.read()) {
            return Ok(m);
        }
        self.add(&format!("{MASTER}1"))?;
        newest_master(&self.read()).ok_or_else(|| std::io::Error::other("no master key"))
    }

    /// Every key id, as the file has them now.
    pub fn ids(&self) -> std::io::Result<Vec<String>> {
        self.reload()?;
        Ok(self.read().keys().cloned().collect())
    }

    /// Adds the next master key; returns its id.
    pub fn rotate(&self) -> std::io::Result<String> {
        self.reload()?;
        let next = self
            .read()
            .keys()
            .filter_map(|id| master_number(id))
            .max()
            .unwrap_or(0)
            + 1;
        let id = format!("{MASTER}{next}");
        self.add(&id)?;
        Ok(id)
    }

    /// Adds a new random key under `id` (which must be new).
    pub fn add(&self, id: &str) -> std::io::Result<()> {
        if !valid_id(id) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("key id {id:?}: use 1 to 64 of A-Z a-z 0-9 - _ . / :"),
            ));
        }
        self.reload()?;
        if self.read().contains_key(id) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("key {id} exists"),
            ));
        }
        let key = Key::random();
        let mut file = open_append(&self.path)?;
        writeln!(file, "{id} {}", B64.encode(key.bytes()))?;
        file.sync_all()?;
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), key);
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Key>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(unix)]
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

fn master_number(id: &str) -> Option<u64> {
    id.strip_prefix(MASTER)?.parse().ok()
}

fn newest_master(keys: &BTreeMap<String, Key>) -> Option<(String, Key)> {
    keys.iter()
        .filter_map(|(id, k)| master_number(id).map(|n| (n, id, k)))
        .max_by_key(|(n, _, _)| *n)
        .map(|(_, id, k)| (id.clone(), k.clone()))
}

pub fn is_master(id: &str) -> bool {
    master_number(id).is_some()
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b))
}

fn parse(text: &str) -> Result<BTreeMap<String, Key>, String> {
    let mut keys = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}", n + 1);
        let (id, key) = line
            .split_once(' ')
            .ok_or_else(|| bad("want `ID BASE64KEY`"))?;
        let key = B64
            .decode(key.trim())
            .ok()
            .and_then(|b| Key::from_bytes(&b))
            .ok_or_else(|| bad("the key is not 32 bytes of base64"))?;
        if !valid_id(id) || keys.insert(id.to_owned(), key).is_some() {
            return Err(bad("invalid or repeated key id"));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masters_are_made_on_first_use_and_rotation_keeps_the_old_ones() {
        let dir = std::env::temp_dir().join(format!("cairn-ring-{}", rand::random::<u64>()));
        let ring = KeyRing::open(&dir.join("sse-keys")).unwrap();
        let (id, first) = ring.master().unwrap();
        assert_eq!(id, "master-1");
        assert_eq!(ring.rotate().unwrap(), "master-2");
        let again = KeyRing::open(ring.path()).unwrap();
        assert_eq!(again.master().unwrap().0, "master-2");
        assert_eq!(again.get("master-1").unwrap().bytes(), first.bytes());
        again.add("testkey-1").unwrap();
        assert!(ring.get("testkey-1").is_some(), "re-read on a miss");
        assert!(again.add("testkey-1").is_err());
        assert!(again.add("bad id").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_line() {
        let err = parse("master-1 AAAA\n").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }
}
