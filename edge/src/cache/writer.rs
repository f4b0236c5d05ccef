//! The cache's disk bookkeeping, off the async threads: one thread writes
//! (and fsyncs) index files and removes index files and bodies, in the
//! order the index changed, so a key removed after it was written never
//! comes back after a restart.
//!
//! A body is removed only if, when its turn comes, no entry references it
//! (checked under the index's lock, which new references are taken under
//! too): a body dropped and fetched again meanwhile stays.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use super::disk::Layout;
use super::Index;
use crate::object::Entry;

/// Changes queued before callers wait for the thread (a disk far behind).
const QUEUE: usize = 65_536;

enum Op {
    WriteEntry(String, Arc<Entry>),
    RemoveEntry(String),
    RemoveBody(String),
    /// Answered once everything queued before it is done.
    Flush(SyncSender<()>),
}

pub(super) struct Writer {
    tx: SyncSender<Op>,
}

impl Writer {
    pub(super) fn start(disk: Layout, index: Arc<Mutex<Index>>) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("cache-writer".into())
            .spawn(move || run(disk, index, rx))?;
        Ok(Self { tx })
    }

    fn send(&self, op: Op) {
        // The thread only ends with the process.
        let _ = self.tx.send(op);
    }

    pub(super) fn write_entry(&self, key: &str, entry: &Arc<Entry>) {
        self.send(Op::WriteEntry(key.to_owned(), entry.clone()));
    }

    pub(super) fn remove_entry(&self, key: &str) {
        self.send(Op::RemoveEntry(key.to_owned()));
    }

    pub(super) fn remove_body(&self, hash: &str) {
        self.send(Op::RemoveBody(hash.to_owned()));
    }

    /// Waits until everything queued so far is on disk.
    pub(super) fn flush(&self) {
        let (done, wait) = sync_channel(1);
        self.send(Op::Flush(done));
        let _ = wait.recv();
    }
}

fn run(disk: Layout, index: Arc<Mutex<Index>>, rx: Receiver<Op>) {
    for op in rx {
        match op {
            Op::WriteEntry(key, entry) => {
                if let Err(e) = disk.write_entry(&key, &entry) {
                    tracing::warn!(key, error = %e, "cannot persist cache entry");
                }
            }
            Op::RemoveEntry(key) => disk.remove_entry(&key),
            Op::RemoveBody(hash) => {
                let index = index.lock().unwrap_or_else(|e| e.into_inner());
                if !index.refs.contains_key(&hash) {
                    disk.remove_body(&hash);
                }
            }
            Op::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
