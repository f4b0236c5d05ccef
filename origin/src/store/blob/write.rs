//! Streaming a body into a temp blob while hashing it.
//!
//! Hashing (BLAKE3, MD5, and the optional SHA-256 and flexible checksum)
//! and writing run on the blocking pool, in short steps of at most
//! [`BATCH`] bytes, never on the async threads. No upload holds a blocking
//! thread while it waits for the client: the chunks a slow client sends
//! gather in memory until a batch is full, and only then does one step
//! run. With one step in flight at a time, a slow disk pushes back on the
//! client instead of filling memory, and a fast client's next batch is
//! read while the last one is written.
//!
//! With a data key, the bytes are sealed (`crate::sse::cipher`) before
//! they reach the file: MD5, SHA-256 and the checksum describe the
//! plaintext the client sent, BLAKE3 the sealed bytes that name the file.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use bytes::Bytes;
use md5::{Digest, Md5};
use sha2::Sha256;
use tokio::task::JoinHandle;

use super::{BlobHash, BlobStore, TempBlob};
use crate::checksum::{Checksum, ChecksumAlgo, ChecksumHasher};
use crate::sse::cipher::{Key, Sealer};

/// Everything computed over a body while it was written.
#[derive(Debug, Clone)]
pub struct Digests {
    /// Plaintext bytes received.
    pub size: u64,
    pub blake3: BlobHash,
    pub md5: [u8; 16],
    pub sha256: Option<[u8; 32]>,
    pub checksum: Option<Checksum>,
}

/// Bytes gathered before a blocking step hashes and writes them.
const BATCH: usize = 256 * 1024;

/// The hashers and the file, owned by whichever side runs a step.
struct State {
    /// Removes the file on any exit until persisted.
    temp: TempBlob,
    out: BufWriter<File>,
    b3: blake3::Hasher,
    md5: Md5,
    sha: Option<Sha256>,
    sum: Option<ChecksumHasher>,
    size: u64,
    /// Seals the bytes on their way to the file, when encrypting.
    sealer: Option<Sealer>,
    /// Sealed bytes between the sealer and the file.
    sealed: Vec<u8>,
}

impl State {
    fn absorb(&mut self, chunks: &[Bytes]) -> io::Result<()> {
        for chunk in chunks {
            self.md5.update(chunk);
            if let Some(s) = self.sha.as_mut() {
                s.update(chunk);
            }
            if let Some(s) = self.sum.as_mut() {
                s.update(chunk);
            }
            self.size += chunk.len() as u64;
            match self.sealer.as_mut() {
                None => {
                    self.b3.update(chunk);
                    self.out.write_all(chunk)?;
                }
                Some(sealer) => {
                    sealer.update(chunk, &mut self.sealed)?;
                    self.write_sealed()?;
                }
            }
        }
        Ok(())
    }

    fn write_sealed(&mut self) -> io::Result<()> {
        self.b3.update(&self.sealed);
        self.out.write_all(&self.sealed)?;
        self.temp.stored += self.sealed.len() as u64;
        self.sealed.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<(TempBlob, Digests)> {
        if let Some(sealer) = self.sealer.take() {
            sealer.finish(&mut self.sealed)?;
            self.write_sealed()?;
        } else {
            self.temp.stored = self.size;
        }
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        self.temp.hash = BlobHash(*self.b3.finalize().as_bytes());
        let digests = Digests {
            size: self.size,
            blake3: self.temp.hash,
            md5: self.md5.finalize().into(),
            sha256: self.sha.map(|s| s.finalize().into()),
            checksum: self.sum.map(|s| s.finish()),
        };
        Ok((self.temp, digests))
    }
}

type Step = JoinHandle<io::Result<Box<State>>>;

pub struct BlobWriter {
    /// The state while no step runs.
    idle: Option<Box<State>>,
    /// The step running, which hands the state back.
    running: Option<Step>,
    /// Chunks gathered for the next step.
    batch: Vec<Bytes>,
    batch_len: usize,
}

impl BlobWriter {
    pub fn start(
        store: &BlobStore,
        want_sha256: bool,
        checksum: Option<ChecksumAlgo>,
        seal: Option<&Key>,
    ) -> io::Result<Self> {
        let path = store.temp_path();
        let file = File::create(&path)?;
        let state = State {
            temp: TempBlob {
                path,
                hash: BlobHash::default(),
                stored: 0,
                persisted: false,
            },
            out: BufWriter::with_capacity(BATCH, file),
            b3: blake3::Hasher::new(),
            md5: Md5::new(),
            sha: want_sha256.then(Sha256::new),
            sum: checksum.map(ChecksumAlgo::hasher),
            size: 0,
            sealer: seal.map(Sealer::new),
            sealed: Vec::new(),
        };
        Ok(Self {
            idle: Some(Box::new(state)),
            running: None,
            batch: Vec::new(),
            batch_len: 0,
        })
    }

    /// Takes a chunk; once a batch is full, hands it to a blocking step
    /// (after the previous step, whose error it returns, has finished).
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.batch_len += chunk.len();
        self.batch.push(chunk);
        if self.batch_len >= BATCH {
            let mut state = self.settle().await?;
            let batch = std::mem::take(&mut self.batch);
            self.batch_len = 0;
            self.running = Some(tokio::task::spawn_blocking(move || {
                state.absorb(&batch)?;
                Ok(state)
            }));
        }
        Ok(())
    }

    /// Waits for the running step, if any, and takes the state back.
    async fn settle(&mut self) -> io::Result<Box<State>> {
        if let Some(step) = self.running.take() {
            return step.await.map_err(io::Error::other)?;
        }
        self.idle
            .take()
            .ok_or_else(|| io::Error::other("blob writer failed earlier"))
    }

    /// Ends the body: waits for the bytes to be on disk and returns them
    /// as a temp blob with their digests.
    pub async fn finish(mut self) -> io::Result<(TempBlob, Digests)> {
        let mut state = self.settle().await?;
        let batch = std::mem::take(&mut self.batch);
        tokio::task::spawn_blocking(move || {
            state.absorb(&batch)?;
            state.finish()
        })
        .await
        .map_err(io::Error::other)?
    }
}
