//! Collapsed upstream fetches. The first request for a missing or stale
//! key starts one fetch; every request that arrives while it runs joins it.
//! The fetch writes the body to a temp file and announces how much is
//! written, so every waiter streams the body as it arrives instead of
//! waiting for the whole object. The fetch runs in its own task: a client
//! that disconnects does not cancel it for the others.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;

use crate::cache::Entry;

/// What the upstream answered, known once its headers arrived.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    /// For 200: the entry describing the body (stored if cacheable).
    pub entry: Option<Entry>,
    /// For 200: where the body is being written.
    pub temp: Option<PathBuf>,
    /// For other statuses: the (small) body to pass on.
    pub body: Bytes,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub head: Option<Arc<Head>>,
    pub written: u64,
    /// `Some(Ok)` when complete, `Some(Err)` when it failed.
    pub done: Option<Result<(), String>>,
}

#[derive(Default)]
pub struct Flights {
    running: Mutex<HashMap<String, watch::Receiver<Progress>>>,
}

impl Flights {
    /// Joins the fetch for `key`, or registers a new one and returns its
    /// sender (the caller must then run the fetch and call [`finish`]).
    pub fn join(&self, key: &str) -> (watch::Receiver<Progress>, Option<watch::Sender<Progress>>) {
        // A panic elsewhere must not wedge every future fetch: recover the map.
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rx) = running.get(key) {
            return (rx.clone(), None);
        }
        let (tx, rx) = watch::channel(Progress::default());
        running.insert(key.to_owned(), rx.clone());
        (rx, Some(tx))
    }

    pub fn finish(&self, key: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(key);
        }
    }

    pub fn in_flight(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }
}

/// Waits for the fetch's headers (or its failure).
pub async fn head(rx: &mut watch::Receiver<Progress>) -> Result<Arc<Head>, String> {
    loop {
        {
            let p = rx.borrow_and_update();
            if let Some(h) = &p.head {
                return Ok(h.clone());
            }
            if let Some(Err(e)) = &p.done {
                return Err(e.clone());
            }
            if p.done.is_some() {
                return Err("fetch ended without a response".into());
            }
        }
        if rx.changed().await.is_err() {
            return Err("fetch abandoned".into());
        }
    }
}

/// Stream state after an error has been yielded: end the stream.
const FAILED: u64 = u64::MAX;

/// Streams `len` bytes from `start` of a body still being written.
pub fn body_stream(
    rx: watch::Receiver<Progress>,
    path: PathBuf,
    start: u64,
    len: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold(
        (rx, None::<tokio::fs::File>, start, start + len),
        move |(mut rx, file, pos, end)| {
            let path = path.clone();
            async move {
                if pos == FAILED {
                    return None;
                }
                if pos >= end {
                    // All bytes are out; end only when the fetch has verified
                    // them, so a corrupt transfer ends in an error, not a
                    // clean (wrong) response.
                    loop {
                        let done = rx.borrow_and_update().done.clone();
                        match done {
                            Some(Ok(())) => return None,
                            Some(Err(e)) => {
                                return Some((
                                    Err(std::io::Error::other(e)),
                                    (rx, None, FAILED, end),
                                ))
                            }
                            None => {
                                if rx.changed().await.is_err() {
                                    return None;
                                }
                            }
                        }
                    }
                }
                let mut file = match file {
                    Some(f) => f,
                    None => match tokio::fs::File::open(&path).await {
                        Ok(mut f) => {
                            if let Err(e) = f.seek(std::io::SeekFrom::Start(pos)).await {
                                return Some((Err(e), (rx, None, FAILED, end)));
                            }
                            f
                        }
                        Err(e) => return Some((Err(e), (rx, None, FAILED, end))),
                    },
                };
                loop {
                    let (written, done) = {
                        let p = rx.borrow_and_update();
                        (p.written, p.done.clone())
                    };
                    if written > pos {
                        let want = (written.min(end) - pos).min(256 * 1024) as usize;
                        let mut buf = vec![0u8; want];
                        return match file.read_exact(&mut buf).await {
                            Ok(_) => Some((
                                Ok(Bytes::from(buf)),
                                (rx, Some(file), pos + want as u64, end),
                            )),
                            Err(e) => Some((Err(e), (rx, None, FAILED, end))),
                        };
                    }
                    match done {
                        Some(Err(e)) => {
                            return Some((Err(std::io::Error::other(e)), (rx, None, FAILED, end)))
                        }
                        Some(Ok(())) => {
                            return Some((
                                Err(std::io::Error::other("body shorter than announced")),
                                (rx, None, FAILED, end),
                            ))
                        }
                        None => {}
                    }
                    if rx.changed().await.is_err() {
                        return Some((
                            Err(std::io::Error::other("fetch abandoned")),
                            (rx, None, FAILED, end),
                        ));
                    }
                }
            }
        },
    )
}
