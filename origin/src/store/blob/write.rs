//! Streaming a body into a temp blob while hashing it.
//!
//! The async side only moves `Bytes` into a small bounded channel; a
//! blocking thread hashes (BLAKE3, MD5, and the optional SHA-256 and flexible
//! checksum) and writes, so hashing never stalls the runtime and a slow disk
//! pushes back on the client instead of filling memory.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use bytes::Bytes;
use md5::{Digest, Md5};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{BlobHash, BlobStore, TempBlob};
use crate::checksum::{Checksum, ChecksumAlgo};

/// Everything computed over a body while it was written.
#[derive(Debug, Clone)]
pub struct Digests {
    pub size: u64,
    pub blake3: BlobHash,
    pub md5: [u8; 16],
    pub sha256: Option<[u8; 32]>,
    pub checksum: Option<Checksum>,
}

/// Chunks in flight between the request and the hashing thread.
const CHANNEL_DEPTH: usize = 8;

pub struct BlobWriter {
    tx: Option<mpsc::Sender<Bytes>>,
    task: JoinHandle<io::Result<(TempBlob, Digests)>>,
}

impl BlobWriter {
    pub fn start(
        store: &BlobStore,
        want_sha256: bool,
        checksum: Option<ChecksumAlgo>,
    ) -> io::Result<Self> {
        let path = store.temp_path();
        let file = File::create(&path)?;
        let (tx, mut rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
        let task = tokio::task::spawn_blocking(move || {
            // Until persisted, this guard removes the file on any exit.
            let mut temp = TempBlob {
                path,
                hash: BlobHash::default(),
                persisted: false,
            };
            let mut out = BufWriter::with_capacity(256 * 1024, file);
            let mut b3 = blake3::Hasher::new();
            let mut md5 = Md5::new();
            let mut sha = want_sha256.then(Sha256::new);
            let mut sum = checksum.map(ChecksumAlgo::hasher);
            let mut size = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                b3.update(&chunk);
                md5.update(&chunk);
                if let Some(s) = sha.as_mut() {
                    s.update(&chunk);
                }
                if let Some(s) = sum.as_mut() {
                    s.update(&chunk);
                }
                out.write_all(&chunk)?;
                size += chunk.len() as u64;
            }
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            temp.hash = BlobHash(*b3.finalize().as_bytes());
            let digests = Digests {
                size,
                blake3: temp.hash,
                md5: md5.finalize().into(),
                sha256: sha.map(|s| s.finalize().into()),
                checksum: sum.map(|s| s.finish()),
            };
            Ok((temp, digests))
        });
        Ok(Self { tx: Some(tx), task })
    }

    /// Queues a chunk. If the writer thread failed, returns its error.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let tx = self.tx.as_ref().expect("write after finish");
        if tx.send(chunk).await.is_err() {
            // The thread ended early: it failed. Collect its error.
            self.tx = None;
            return match (&mut self.task).await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Err(io::Error::other("blob writer ended early")),
                Err(e) => Err(io::Error::other(e)),
            };
        }
        Ok(())
    }

    /// Ends the body: waits for the bytes to be on disk and returns them
    /// as a temp blob with their digests.
    pub async fn finish(mut self) -> io::Result<(TempBlob, Digests)> {
        self.tx = None;
        (&mut self.task).await.map_err(io::Error::other)?
    }
}
