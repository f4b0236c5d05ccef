//! Content-addressed blob files: `blobs/ab/cd/<64 hex BLAKE3>`.
//!
//! A blob is written to `tmp/` while its hashes are computed, fsync'd, then
//! renamed to its final name and the directory fsync'd. A name is therefore
//! always a promise about the bytes: a reader can verify them, and two
//! writers of the same bytes produce the same file.

mod write;

pub use write::{BlobWriter, Digests};

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A BLAKE3 hash naming a blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Some(Self(b.try_into().ok()?))
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The blob directory. Cheap to clone.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

/// A written, fsync'd temp file not yet named by its hash. Dropping it
/// removes the file, so a refused or failed upload leaves nothing behind.
#[derive(Debug)]
pub struct TempBlob {
    path: PathBuf,
    hash: BlobHash,
    /// Bytes in the file (more than the plaintext when sealed).
    stored: u64,
    persisted: bool,
}

impl TempBlob {
    pub fn hash(&self) -> BlobHash {
        self.hash
    }

    pub fn stored_len(&self) -> u64 {
        self.stored
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl BlobStore {
    /// Opens the store for the server, creating its directories and
    /// emptying `tmp/` of whatever a crash left there. Only the process
    /// holding the data dir's lock may do this.
    pub fn open(root: &Path) -> io::Result<Self> {
        let store = Self::attach(root);
        fs::create_dir_all(store.blobs_dir())?;
        let tmp = store.tmp_dir();
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(store)
    }

    /// The store as admin commands see it while a server may be running:
    /// nothing is created or cleaned.
    pub fn attach(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn path(&self, hash: &BlobHash) -> PathBuf {
        let h = hash.to_hex();
        self.blobs_dir().join(&h[0..2]).join(&h[2..4]).join(h)
    }

    fn temp_path(&self) -> PathBuf {
        self.tmp_dir()
            .join(format!("{:032x}.tmp", rand::random::<u128>()))
    }

    /// Names a temp blob by its hash: rename into place, then fsync the
    /// directory so the rename itself survives a crash.
    pub fn persist(&self, mut temp: TempBlob) -> io::Result<()> {
        let dest = self.path(&temp.hash);
        let dir = dest.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir)?;
        fs::rename(&temp.path, &dest)?;
        temp.persisted = true;
        fs::File::open(dir)?.sync_all()
    }

    /// Reads `len` bytes at `start` of a small blob in one blocking call and,
    /// for a whole-blob read, checks them against the hash.
    pub fn read_small(
        &self,
        hash: &BlobHash,
        start: u64,
        len: usize,
        whole: bool,
    ) -> io::Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let mut f = fs::File::open(self.path(hash))?;
        if start > 0 {
            f.seek(io::SeekFrom::Start(start))?;
        }
        let mut buf = vec![0u8; len];
        f.read_exact(&mut buf)?;
        if whole && blake3::hash(&buf).as_bytes() != hash.as_bytes() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob {} does not match its hash", hash.to_hex()),
            ));
        }
        Ok(buf)
    }

    /// Removes a blob file that no row references any more.
    pub fn remove(&self, hash: &BlobHash) {
        if let Err(e) = fs::remove_file(self.path(hash)) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(blob = %hash.to_hex(), error = %e, "cannot remove blob");
            }
        }
    }

    /// Deletes a blob file and returns how many bytes it held (`gc`).
    pub fn delete(&self, hash: &BlobHash) -> io::Result<u64> {
        let path = self.path(hash);
        let len = fs::metadata(&path)?.len();
        fs::remove_file(&path)?;
        Ok(len)
    }

    /// Reads a whole blob and reports whether its bytes hash to its name;
    /// `read` is told how many bytes each step read (for progress).
    pub fn verify(&self, hash: &BlobHash, mut read: impl FnMut(u64)) -> io::Result<(bool, u64)> {
        use std::io::Read;
        let mut f = fs::File::open(self.path(hash))?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
            read(n as u64);
        }
        Ok((hasher.finalize().as_bytes() == hash.as_bytes(), total))
    }

    /// Every blob file on disk, for the orphan sweep and `check`.
    pub fn all(&self) -> io::Result<Vec<BlobHash>> {
        let mut out = Vec::new();
        for a in fs::read_dir(self.blobs_dir())? {
            for b in fs::read_dir(a?.path())? {
                for f in fs::read_dir(b?.path())? {
                    let name = f?.file_name();
                    if let Some(h) = name
                        .to_str()
                        .and_then(|n| hex::decode(n).ok())
                        .and_then(|b| BlobHash::from_slice(&b))
                    {
                        out.push(h);
                    }
                }
            }
        }
        Ok(out)
    }
}
