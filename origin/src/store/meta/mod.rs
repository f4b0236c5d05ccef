//! Metadata in SQLite: one writer thread, a small pool of readers.
//!
//! All writes go through [`Meta::write`], which hands a closure to a single
//! dedicated thread. That thread batches whatever jobs are queued into one
//! transaction (each job in its own savepoint, so one failure does not undo
//! the others) and commits once: with `synchronous=FULL` the fsync is shared
//! by every write in the batch. This is group commit, and it is what lets
//! small PUTs run at thousands per second while each one is durable when
//! acknowledged.
//!
//! Reads run on tokio's blocking pool with a pooled read-only connection.
//! No connection or lock guard is ever held across an `.await`.

mod schema;

pub mod audit;
pub mod buckets;
pub mod changes;
pub mod edges;
pub mod encryption;
pub mod grants;
pub mod keys;
pub mod locks;
pub mod notify;
pub mod objects;
pub mod uploads;
pub mod url_keys;
pub mod usage;
pub mod versions;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::store::error::{Result, StoreError};

/// Work the writer thread runs after a batch commits (deleting blob files
/// that lost their last reference). It runs on the writer thread, so it is
/// serialized with every other write.
pub type AfterCommit = Box<dyn FnOnce(&Connection) + Send>;

/// Tells a waiting caller how its write ended, once the batch committed.
type Reply = Box<dyn FnOnce(&rusqlite::Result<()>) + Send>;

/// One write: runs inside its savepoint, says whether it succeeded (so the
/// savepoint is kept or rolled back) and hands back its reply.
type Job = Box<dyn FnOnce(&Connection, &mut Vec<AfterCommit>) -> (bool, Reply) + Send>;

/// The writer connection's page cache, in KiB.
const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// WAL pages between automatic checkpoints.
const WAL_CHECKPOINT_PAGES: i64 = 8000;

/// Most jobs folded into one transaction.
const MAX_BATCH: usize = 256;

/// Handle to the metadata database. Cheap to clone.
#[derive(Clone)]
pub struct Meta {
    jobs: mpsc::SyncSender<Job>,
    readers: Arc<ReaderPool>,
    /// Woken after every committed batch: the change feed long-poll waits
    /// on it instead of polling.
    pub committed: Arc<tokio::sync::Notify>,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Meta {
    /// Opens (creating and migrating if needed) the database at `path` and
    /// starts the writer thread.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut conn = Connection::open(path)?;
        schema::configure(&conn)?;
        // The writer touches the hot pages of every table on each batch:
        // a larger page cache than SQLite's 2 MB default keeps them in
        // memory instead of re-reading them from the file.
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        // Checkpoint every 8000 WAL pages (32 MB; SQLite's default is 1000):
        // the hot pages that every batch rewrites are copied back into the
        // database once per checkpoint, not once per 4 MB of log.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        schema::migrate(&mut conn).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let (tx, rx) = mpsc::sync_channel::<Job>(4096);
        let committed = Arc::new(tokio::sync::Notify::new());
        let notify = committed.clone();
        std::thread::Builder::new()
            .name("cairn-meta-writer".into())
            .spawn(move || writer_loop(conn, rx, notify))?;
        Ok(Self {
            jobs: tx,
            committed,
            readers: Arc::new(ReaderPool {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `f` inside a write transaction and returns its result once the
    /// transaction is durably committed. If `f` fails, its changes are
    /// rolled back and nothing it queued in `after` runs. `f` fails with
    /// the store's error or with any error a store error turns into (the
    /// caller's own, an `S3Error` for an API handler).
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection, &mut Vec<AfterCommit>) -> Result<R, E> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn, after| {
            let result = f(conn, after);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit: &rusqlite::Result<()>| {
                let _ = tx.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(E::from(failed_commit(e))),
                });
            });
            (ok, reply)
        });
        let stopped = || E::from(StoreError::internal("metadata writer stopped"));
        // The channel is bounded: when the writer is saturated, wait for
        // room off the async threads.
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                tokio::task::spawn_blocking(move || jobs.send(job))
                    .await
                    .map_err(|e| E::from(StoreError::internal(e)))?
                    .map_err(|_| stopped())?
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        rx.await
            .map_err(|_| E::from(StoreError::internal("metadata writer dropped a job")))?
    }

    /// Runs `f` with a read-only connection on the blocking pool.
    pub async fn read<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn);
            pool.give(conn);
            result
        })
        .await
        .map_err(|e| E::from(StoreError::internal(e)))?
    }

    /// Runs `f` with a read-only connection on the calling thread: for
    /// command-line tools and start-up, and for the hot path's lookups by
    /// key (a GET's rows and small body), which take less time than the two
    /// thread switches of [`Self::read`]. Anything that scans belongs there.
    pub fn read_now<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, E>,
    ) -> Result<R, E> {
        let conn = self.readers.take()?;
        let result = f(&conn);
        self.readers.give(conn);
        result
    }
}

/// The error every job of a batch gets when the batch did not commit (a
/// full disk, most likely): SQLite's own code, for each of them.
fn failed_commit(e: &rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            StoreError::Db(rusqlite::Error::SqliteFailure(*code, msg.clone()))
        }
        other => StoreError::internal(other),
    }
}

impl ReaderPool {
    fn take(&self) -> Result<Connection> {
        if let Some(c) = self.idle.lock().map_err(StoreError::internal)?.pop() {
            return Ok(c);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        schema::configure(&conn)?;
        Ok(conn)
    }

    fn give(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < 16 {
                idle.push(conn);
            }
        }
    }
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Job>, committed: Arc<tokio::sync::Notify>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch);
        committed.notify_waiters();
    }
}

fn run_batch(conn: &mut Connection, batch: Vec<Job>) {
    // IMMEDIATE: take the write lock at BEGIN, so an admin command writing
    // from another process makes us wait (busy_timeout) instead of failing
    // a deferred transaction's upgrade with SQLITE_BUSY.
    let mut txn = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(t) => t,
        Err(e) => {
            // Dropping the jobs drops their reply senders: callers see the
            // writer "dropped a job" and answer InternalError.
            tracing::error!(error = %e, "cannot begin a metadata transaction");
            return;
        }
    };
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    let mut after: Vec<AfterCommit> = Vec::new();
    for job in batch {
        let sp = match txn.savepoint() {
            Ok(sp) => sp,
            Err(e) => {
                tracing::error!(error = %e, "cannot open a savepoint");
                continue;
            }
        };
        let mut job_after = Vec::new();
        let (ok, reply) = job(&sp, &mut job_after);
        let kept = ok && sp.commit().is_ok();
        if kept {
            after.extend(job_after);
        }
        // A savepoint not committed rolls back when dropped.
        replies.push(reply);
    }
    let committed = txn.commit();
    if committed.is_ok() {
        for f in after {
            f(conn);
        }
    }
    for reply in replies {
        reply(&committed);
    }
}
