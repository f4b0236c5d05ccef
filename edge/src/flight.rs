//! Collapsed upstream fetches. The first request for a missing or stale
//! key starts one fetch; every request that arrives while it runs joins it.
//! The fetch writes the body to a temp file and announces how much is
//! written, so every waiter streams the body as it arrives instead of
//! waiting for the whole object. The fetch runs in its own task: a client
//! that disconnects does not cancel it for the others.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{watch, Notify};

use crate::object::Entry;

/// What the upstream answered, known once its headers arrived.
#[derive(Debug)]
pub enum Head {
    /// 200 (or a slice's 206): the body is being written to a temp file
    /// and streams to waiters as it arrives.
    Body(Box<Streaming>),
    /// 304: the cached entry was refreshed in place.
    NotModified,
    /// Any other status, with its (small) body, whose S3 error code is
    /// passed on.
    Other { status: u16, body: Bytes },
}

impl Head {
    /// The status the upstream answered (200 for a body).
    pub fn status(&self) -> u16 {
        match self {
            Head::Body(_) => 200,
            Head::NotModified => 304,
            Head::Other { status, .. } => *status,
        }
    }

    /// The body in flight, for a 200.
    pub fn streaming(&self) -> Option<&Streaming> {
        match self {
            Head::Body(s) => Some(s.as_ref()),
            _ => None,
        }
    }
}

/// A body in flight.
#[derive(Debug)]
pub struct Streaming {
    /// The entry describing the body (stored if cacheable).
    pub entry: Entry,
    /// Where the body is being written.
    pub temp: PathBuf,
    /// The body's length, if the upstream declared one (a parent edge or
    /// other S3 endpoint may stream without Content-Length).
    pub length: Option<u64>,
    /// The body's first bytes, as they arrive.
    pub buffered: Buffered,
}

/// The first bytes of a body in flight, held in memory so waiters serve
/// them without opening the temp file: a stampede of 500 waiters would
/// otherwise open and read it 500 times through tokio's blocking pool, and
/// the last waiter's first byte would trail the first's by all that work.
/// The fetch holds the whole body when it fits the memory tier (it then
/// becomes the memory tier's copy), else the first [`PREFIX`] bytes.
#[derive(Debug, Default)]
pub struct Buffered {
    /// Contiguous chunks from offset 0, each with its start offset.
    chunks: Mutex<Vec<(u64, Bytes)>>,
}

/// The offset just past the last of `chunks`.
fn end(chunks: &[(u64, Bytes)]) -> u64 {
    chunks.last().map_or(0, |(at, c)| at + c.len() as u64)
}

/// How much of a body too large for the memory tier is held while it is
/// fetched.
pub const PREFIX: u64 = 1 << 20;

impl Buffered {
    /// Bytes held so far.
    pub fn held(&self) -> u64 {
        end(&self.chunks.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn push(&self, chunk: Bytes) {
        let mut chunks = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        let at = end(&chunks);
        chunks.push((at, chunk));
    }

    /// Up to `max` bytes from `pos`, if they are held.
    pub fn get(&self, pos: u64, max: u64) -> Option<Bytes> {
        let chunks = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        let i = chunks
            .partition_point(|(at, _)| *at <= pos)
            .checked_sub(1)?;
        let (at, chunk) = &chunks[i];
        let from = (pos - at) as usize;
        (from < chunk.len()).then(|| {
            let to = chunk.len().min(from + max.min(usize::MAX as u64) as usize);
            chunk.slice(from..to)
        })
    }

    /// All bytes held, copied into one buffer of their own: a received
    /// chunk may share (and so keep alive) a larger read buffer, which the
    /// memory tier, weighing bodies by length, would not account for.
    pub fn concat(&self) -> Bytes {
        let chunks = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = bytes::BytesMut::with_capacity(chunks.iter().map(|(_, c)| c.len()).sum());
        for (_, c) in chunks.iter() {
            all.extend_from_slice(c);
        }
        all.freeze()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub head: Option<Arc<Head>>,
    pub written: u64,
    /// `Some(Ok)` when complete, `Some(Err)` when it failed.
    pub done: Option<Result<(), String>>,
}

/// A running fetch, as the flights map holds it.
type Running = (watch::Receiver<Progress>, Arc<Turns>);

#[derive(Default)]
pub struct Flights {
    running: Arc<Mutex<HashMap<String, Running>>>,
}

/// A flight's waiters that have not yet been sent a first byte. While any
/// have not, the others send no more: in a stampede the last waiter's
/// first byte would otherwise queue behind megabytes written to the first.
///
/// Requests in a stampede do not all arrive before the first bytes do:
/// with a near origin the edge is still reading requests while it answers
/// the first ones, and every waiter can have had its first chunk for a
/// moment while the next request is being read. So once a flight has had
/// more than one waiter, the others go on only when none has joined for
/// [`SETTLE`]. A lone waiter (a plain miss) never waits.
///
/// A waiter whose connection cannot take its first chunk (a client that
/// stopped reading with a pipelined request queued behind), or requests
/// that never stop arriving, must not hold everyone else back: after
/// [`TURN_WAIT`] the flight stops taking turns.
#[derive(Debug)]
pub struct Turns {
    waiting: AtomicUsize,
    joined: AtomicUsize,
    /// When the last waiter joined, in microseconds after `born`.
    last_join_us: AtomicU64,
    born: Instant,
    all_served: Notify,
    off: AtomicBool,
}

/// The longest any waiter waits for the others' first chunks. A stampede
/// of 500 sends all of them in about 10 ms on two cores.
const TURN_WAIT: Duration = Duration::from_millis(100);

/// How long a stampede must go without a new waiter before the waiters
/// served go on past their first chunk. Far more than the gap between two
/// requests of a burst (1 ms still let some bodies through early, going
/// by A/B runs of the bench's stampede), far less than what the rest of a
/// body takes.
const SETTLE: Duration = Duration::from_millis(3);

/// The longest a fetch holds back the rest of the body while a stampede's
/// waiters get their first chunks (see [`Turns::first_chunks_out`]).
const FETCH_PAUSE: Duration = Duration::from_millis(50);

/// One waiter's place in [`Turns`]: held from joining a flight until its
/// first chunk is out (or it gives up), released on drop.
#[derive(Debug)]
pub struct Turn(Arc<Turns>);

impl Turn {
    fn new(turns: Arc<Turns>) -> Self {
        turns.waiting.fetch_add(1, Ordering::AcqRel);
        turns.joined.fetch_add(1, Ordering::AcqRel);
        turns
            .last_join_us
            .store(turns.born.elapsed().as_micros() as u64, Ordering::Release);
        Self(turns)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_served.notify_waiters();
        }
    }
}

impl Turns {
    fn new() -> Self {
        Self {
            waiting: AtomicUsize::new(0),
            joined: AtomicUsize::new(0),
            last_join_us: AtomicU64::new(0),
            born: Instant::now(),
            all_served: Notify::new(),
            off: AtomicBool::new(false),
        }
    }

    /// Returns once every waiter has had its first chunk and no new one
    /// has joined for [`SETTLE`], or turns are off.
    async fn all_served(&self) {
        self.all_served_within(TURN_WAIT, SETTLE).await
    }

    async fn all_served_within(&self, limit: Duration, settle: Duration) {
        if self.off.load(Ordering::Acquire) {
            return;
        }
        let wait = async {
            loop {
                let notified = self.all_served.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.waiting.load(Ordering::Acquire) != 0 {
                    notified.await;
                    continue;
                }
                if self.joined.load(Ordering::Acquire) < 2 {
                    return;
                }
                let last = Duration::from_micros(self.last_join_us.load(Ordering::Acquire));
                let quiet = self.born.elapsed().saturating_sub(last);
                if quiet >= settle {
                    return;
                }
                tokio::time::sleep(settle - quiet).await;
            }
        };
        if tokio::time::timeout(limit, wait).await.is_err() {
            self.off.store(true, Ordering::Release);
        }
    }

    /// For the fetch, once its first bytes are announced: returns when the
    /// waiters have had their first chunks, as [`Turns::all_served`] does,
    /// so that reading, hashing and writing the rest of the body does not
    /// compete with them for the cores. Bounded by [`FETCH_PAUSE`], and a
    /// timeout here does not turn turns off: a waiter whose range starts
    /// past the bytes announced so far is only served once the fetch reads
    /// on.
    pub async fn first_chunks_out(&self) {
        let _ = tokio::time::timeout(FETCH_PAUSE, self.all_served()).await;
    }
}

/// What the request that starts a flight hands to its fetch.
pub struct Lead {
    pub tx: watch::Sender<Progress>,
    pub turns: Arc<Turns>,
    /// Takes the flight out of the map however the fetch ends.
    _registered: Registered,
}

/// A flight's place in the map, removed on drop: a fetch task that panics
/// (or is cancelled) must not leave its key answering 504 until restart.
struct Registered {
    running: Arc<Mutex<HashMap<String, Running>>>,
    key: String,
    turns: Arc<Turns>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        // Only this flight's entry: a newer one may hold the key by now.
        if running
            .get(&self.key)
            .is_some_and(|(_, t)| Arc::ptr_eq(t, &self.turns))
        {
            running.remove(&self.key);
        }
    }
}

impl Flights {
    /// Joins the fetch for `key`, or registers a new one and returns its
    /// [`Lead`] (the caller must then run the fetch and call [`finish`]).
    pub fn join(&self, key: &str) -> (watch::Receiver<Progress>, Turn, Option<Lead>) {
        // A panic elsewhere must not wedge every future fetch: recover the map.
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((rx, turns)) = running.get(key) {
            return (rx.clone(), Turn::new(turns.clone()), None);
        }
        let (tx, rx) = watch::channel(Progress::default());
        let turns = Arc::new(Turns::new());
        running.insert(key.to_owned(), (rx.clone(), turns.clone()));
        let lead = Lead {
            tx,
            turns: turns.clone(),
            _registered: Registered {
                running: self.running.clone(),
                key: key.to_owned(),
                turns: turns.clone(),
            },
        };
        (rx, Turn::new(turns), Some(lead))
    }

    /// Ends the flight for `key` now (its waiters have their answer), so
    /// new requests start afresh; also done when its [`Lead`] drops.
    pub fn finish(&self, key: &str) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(key);
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

/// Most bytes a waiter sends per chunk, and in its first: the first is
/// small because in a stampede every waiter's first write is on the path
/// to the last one's (4 KiB against 16 KiB: median first-byte p99 of 500
/// waiters about 7.4 against 9.1 ms in alternating runs).
const CHUNK: u64 = 256 * 1024;
const FIRST_CHUNK: u64 = 4 * 1024;

/// Stream state after an error has been yielded: end the stream.
const FAILED: u64 = u64::MAX;

/// A `len` for [`body_stream`] that means "every byte the fetch gets",
/// for a body whose length the upstream did not declare.
pub const TO_THE_END: u64 = u64::MAX - 1;

/// Streams `len` bytes from `start` of a body still being written: from
/// memory while [`Streaming::buffered`] holds them, then from the temp file.
/// `turn` is released with the first chunk; later chunks wait until every
/// waiter has had its first.
pub fn body_stream(
    rx: watch::Receiver<Progress>,
    turn: Turn,
    head: Arc<Head>,
    path: PathBuf,
    start: u64,
    len: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let turns = turn.0.clone();
    let mut turn = Some(turn);
    let end = if len == TO_THE_END {
        TO_THE_END
    } else {
        start.saturating_add(len).min(TO_THE_END - 1)
    };
    futures_util::stream::unfold(
        (rx, None::<tokio::fs::File>, start, end),
        move |(mut rx, mut file, pos, end)| {
            let (path, head, turns) = (path.clone(), head.clone(), turns.clone());
            if pos != start {
                // The first chunk has gone out: this waiter has had its turn.
                drop(turn.take());
            }
            async move {
                if pos == FAILED {
                    return None;
                }
                if pos != start {
                    // Every waiter gets a first chunk before any gets more,
                    // and the rest take turns a chunk at a time.
                    turns.all_served().await;
                    tokio::task::yield_now().await;
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
                loop {
                    let (written, done) = {
                        let p = rx.borrow_and_update();
                        (p.written, p.done.clone())
                    };
                    if written > pos {
                        let cap = if pos == start { FIRST_CHUNK } else { CHUNK };
                        let avail = (written.min(end) - pos).min(cap);
                        let held = head.streaming().and_then(|s| s.buffered.get(pos, avail));
                        if let Some(chunk) = held {
                            let next = pos + chunk.len() as u64;
                            return Some((Ok(chunk), (rx, file, next, end)));
                        }
                        let mut file = match file.take() {
                            Some(f) => f,
                            None => match open_at(&path, pos).await {
                                Ok(f) => f,
                                Err(e) => return Some((Err(e), (rx, None, FAILED, end))),
                            },
                        };
                        let want = avail as usize;
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
                        // A body of unknown length ends with its fetch.
                        Some(Ok(())) if end == TO_THE_END => return None,
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

async fn open_at(path: &std::path::Path, pos: u64) -> std::io::Result<tokio::fs::File> {
    let mut f = tokio::fs::File::open(path).await?;
    f.seek(std::io::SeekFrom::Start(pos)).await?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_dropped_without_finishing_leaves_the_map() {
        let flights = Flights::default();
        let (_rx, _turn, lead) = flights.join("k");
        // The fetch task panicked: its lead is dropped unfinished.
        drop(lead);
        assert_eq!(flights.in_flight(), 0);
        let (_rx, _turn, lead) = flights.join("k");
        assert!(lead.is_some(), "the next request starts a new fetch");
        // An old lead never removes a newer flight of the same key.
        flights.finish("k");
        let (_rx2, _turn2, newer) = flights.join("k");
        assert!(newer.is_some());
        drop(lead);
        assert_eq!(flights.in_flight(), 1);
    }

    #[tokio::test]
    async fn the_others_go_on_once_every_waiter_had_its_first_chunk() {
        let flights = Flights::default();
        let (_rx, first, leader) = flights.join("k");
        let (_rx2, second, joined) = flights.join("k");
        assert!(leader.is_some() && joined.is_none());
        let turns = first.0.clone();
        drop(first);
        let wait = tokio::spawn({
            let turns = turns.clone();
            async move {
                turns
                    .all_served_within(Duration::from_secs(60), Duration::ZERO)
                    .await
            }
        });
        drop(second);
        wait.await.unwrap();
        assert!(
            !turns.off.load(Ordering::Acquire),
            "released, not timed out"
        );
    }

    #[tokio::test]
    async fn a_waiter_that_never_takes_its_first_chunk_holds_the_others_once() {
        let flights = Flights::default();
        let (_rx, first, _lead_first) = flights.join("k");
        let (_rx2, _stuck, _no_lead) = flights.join("k");
        let turns = first.0.clone();
        drop(first);
        turns
            .all_served_within(Duration::from_millis(10), Duration::ZERO)
            .await;
        assert!(turns.off.load(Ordering::Acquire));
        // Turns are off for this flight: nobody waits again.
        turns
            .all_served_within(Duration::from_secs(3600), Duration::ZERO)
            .await;
    }

    #[tokio::test]
    async fn a_lone_waiter_goes_on_at_once() {
        let flights = Flights::default();
        let (_rx, only, _lead_only) = flights.join("k");
        let turns = only.0.clone();
        drop(only);
        // Were it held for the settling time, the limit would turn turns off.
        turns
            .all_served_within(Duration::from_secs(10), Duration::from_secs(3600))
            .await;
        assert!(!turns.off.load(Ordering::Acquire));
    }

    #[tokio::test]
    async fn a_stampede_goes_on_only_once_no_waiter_has_joined_for_a_while() {
        let flights = Flights::default();
        let (_rx, first, _lead_first) = flights.join("k");
        let before_last_join = Instant::now();
        let (_rx2, second, _no_lead) = flights.join("k");
        let turns = first.0.clone();
        drop((first, second));
        let settle = Duration::from_millis(50);
        turns
            .all_served_within(Duration::from_secs(10), settle)
            .await;
        // (Join times are kept to the microsecond.)
        assert!(before_last_join.elapsed() >= settle - Duration::from_micros(1));
        assert!(!turns.off.load(Ordering::Acquire), "settled, not timed out");

        // Waiters that never stop joining hold the others back only until
        // the limit, and then never again.
        let (_rx3, third, _no_lead) = flights.join("k");
        drop(third);
        turns
            .all_served_within(Duration::from_millis(20), Duration::from_secs(3600))
            .await;
        assert!(turns.off.load(Ordering::Acquire));
    }

    #[tokio::test]
    async fn the_fetch_reads_on_after_its_pause_without_turning_turns_off() {
        let flights = Flights::default();
        let (_rx, _unserved, lead) = flights.join("k");
        let lead = lead.expect("the first to join leads");
        // A waiter whose range starts past the bytes announced so far.
        let started = Instant::now();
        lead.turns.first_chunks_out().await;
        assert!(started.elapsed() >= FETCH_PAUSE);
        assert!(!lead.turns.off.load(Ordering::Acquire));
    }

    #[test]
    fn buffered_bytes_are_found_across_chunks() {
        let b = Buffered::default();
        assert_eq!(b.get(0, 10), None);
        b.push(Bytes::from_static(b"hello"));
        b.push(Bytes::from_static(b" world"));
        assert_eq!(b.held(), 11);
        assert_eq!(b.get(0, 100).as_deref(), Some(&b"hello"[..]));
        assert_eq!(b.get(3, 1).as_deref(), Some(&b"l"[..]));
        assert_eq!(b.get(5, 100).as_deref(), Some(&b" world"[..]));
        assert_eq!(b.get(7, 2).as_deref(), Some(&b"or"[..]));
        assert_eq!(b.get(11, 1), None);
        assert_eq!(&b.concat()[..], b"hello world");
    }
}
