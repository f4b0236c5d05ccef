//! The disk tier's layout: bodies under `blobs/<blake3>`, one JSON index
//! file per key under `meta/<sha256(key)>.json`, partial downloads under
//! `tmp/` (emptied at start).
//!
//! A body is renamed into `blobs/` only once complete and verified against
//! its BLAKE3, and its index file is written after that, so a crash leaves
//! at worst a body without an index (removed at start) and never an index
//! pointing at half a body.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::object::Entry;

#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    entry: Entry,
}

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn open(root: &Path) -> io::Result<Self> {
        let layout = Self {
            root: root.to_owned(),
        };
        fs::create_dir_all(layout.root.join("blobs"))?;
        fs::create_dir_all(layout.root.join("meta"))?;
        let tmp = layout.root.join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(layout)
    }

    /// The cache directory (for free-space checks).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn body(&self, blake3: &str) -> PathBuf {
        self.root.join("blobs").join(blake3)
    }

    fn meta(&self, key: &str) -> PathBuf {
        self.root.join("meta").join(format!(
            "{}.json",
            hex::encode(Sha256::digest(key.as_bytes()))
        ))
    }

    pub fn temp(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{:032x}", rand::random::<u128>()))
    }

    /// Moves a verified download into place under its hash.
    pub fn adopt(&self, temp: &Path, blake3: &str) -> io::Result<()> {
        fs::rename(temp, self.body(blake3))
    }

    pub fn write_entry(&self, key: &str, entry: &Entry) -> io::Result<()> {
        let tmp = self.temp();
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(&Stored {
            key: key.to_owned(),
            entry: entry.clone(),
        })?)?;
        f.sync_all()?;
        fs::rename(tmp, self.meta(key))
    }

    pub fn remove_entry(&self, key: &str) {
        let _ = fs::remove_file(self.meta(key));
    }

    pub fn remove_body(&self, blake3: &str) {
        let _ = fs::remove_file(self.body(blake3));
    }

    /// Every index entry whose body is present with the right size; index
    /// files that do not parse or lost their body are removed, and so are
    /// bodies no index names.
    pub fn load(&self) -> io::Result<Vec<(String, Entry)>> {
        let mut out = Vec::new();
        for f in fs::read_dir(self.root.join("meta"))? {
            let path = f?.path();
            let stored: Option<Stored> = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let ok = stored.as_ref().is_some_and(|s| match &s.entry.blake3 {
                Some(h) => fs::metadata(self.body(h)).is_ok_and(|m| m.len() == s.entry.size),
                None => true,
            });
            match stored {
                Some(s) if ok => out.push((s.key, s.entry)),
                _ => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        let named: std::collections::HashSet<&str> = out
            .iter()
            .filter_map(|(_, e)| e.blake3.as_deref())
            .collect();
        for f in fs::read_dir(self.root.join("blobs"))? {
            let f = f?;
            if !named.contains(f.file_name().to_string_lossy().as_ref()) {
                let _ = fs::remove_file(f.path());
            }
        }
        Ok(out)
    }
}
