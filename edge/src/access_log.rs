//! The access log: one line per request (text or JSON), written when the
//! response body ends, so its byte count is what the client received.
//!
//! Requests never wait on the log: lines go through a bounded queue to a
//! writer thread, and a line that finds the queue full is dropped and
//! counted (`cairn_edge_access_log_dropped_total`). The writer reopens its
//! file on SIGHUP, after a rotation tool moved it away.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// Lines waiting for the writer; past this, lines are dropped.
const QUEUE: usize = 65_536;

/// Where lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    /// `off` (none), `stdout`, or a file path.
    pub fn parse(s: &str) -> Option<Destination> {
        match s.trim() {
            "" | "off" => None,
            "stdout" | "-" => Some(Destination::Stdout),
            path => Some(Destination::File(PathBuf::from(path))),
        }
    }
}

/// How a line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Space-separated fields, `-` for none; keys percent-encoded.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What one request's line says.
#[derive(Debug, Clone)]
pub struct Record {
    pub time: SystemTime,
    pub client: Option<IpAddr>,
    pub method: http::Method,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub status: u16,
    pub bytes: u64,
    /// `x-cache` of the response (HIT, MISS, ...), if it had one.
    pub cache: Option<&'static str>,
    /// How long this request waited for the upstream's response head.
    pub upstream: Option<Duration>,
    /// From the request's arrival to the end of its response body.
    pub total: Duration,
    pub request_id: String,
}

/// The running log.
pub struct AccessLog {
    tx: SyncSender<String>,
    format: Format,
    /// Log one request in this many (1: every request).
    every: u64,
    seen: AtomicU64,
    ids: AtomicU64,
    /// A per-process prefix, so ids from edges restarted stay distinct.
    id_prefix: u32,
    reopen: Arc<AtomicBool>,
    pub dropped: AtomicU64,
}

impl AccessLog {
    /// Opens the destination and starts the writer thread. `sample` is
    /// the share of requests logged, from 0 (exclusive) to 1.
    pub fn start(dest: Destination, format: Format, sample: f64) -> std::io::Result<Arc<Self>> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let reopen = Arc::new(AtomicBool::new(false));
        let out = Output::open(&dest)?;
        let flag = reopen.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(rx, out, dest, flag))?;
        let every = if sample >= 1.0 || sample <= 0.0 {
            1
        } else {
            (1.0 / sample).round().max(1.0) as u64
        };
        Ok(Arc::new(AccessLog {
            tx,
            format,
            every,
            seen: AtomicU64::new(0),
            ids: AtomicU64::new(0),
            id_prefix: rand::random(),
            reopen,
            dropped: AtomicU64::new(0),
        }))
    }

    /// Whether this request is one of the sampled ones.
    pub fn sampled(&self) -> bool {
        self.every == 1
            || self
                .seen
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(self.every)
    }

    /// A new request id: unique in this process, and across restarts with
    /// high probability.
    pub fn request_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}{n:012x}", self.id_prefix)
    }

    /// Reopen the file before the next line (SIGHUP).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }

    pub fn record(&self, rec: &Record) {
        let line = match self.format {
            Format::Text => text_line(rec),
            Format::Json => json_line(rec),
        };
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Wraps a response body so that its line is written when it ends (or
    /// the client goes away), with the bytes sent by then.
    pub fn wrap(self: &Arc<Self>, body: Body, rec: Record, started: Instant) -> Body {
        Body::new(Logged {
            inner: body,
            log: self.clone(),
            rec: Some(rec),
            started,
        })
    }
}

/// Watches for SIGHUP and has the log reopen its file.
pub fn reopen_on_hangup(log: Arc<AccessLog>) {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    log.reopen();
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "no SIGHUP handler: the access log will not reopen"),
    }
}

enum Output {
    Stdout(std::io::Stdout),
    File(BufWriter<File>),
}

impl Output {
    fn open(dest: &Destination) -> std::io::Result<Output> {
        Ok(match dest {
            Destination::Stdout => Output::Stdout(std::io::stdout()),
            Destination::File(path) => Output::File(BufWriter::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
        })
    }

    fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        match self {
            Output::Stdout(s) => {
                let mut lock = s.lock();
                lock.write_all(line.as_bytes())?;
                lock.write_all(b"\n")
            }
            Output::File(f) => {
                f.write_all(line.as_bytes())?;
                f.write_all(b"\n")
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::File(f) => f.flush(),
        }
    }
}

/// The writer thread: writes what is queued, flushing each time the
/// queue runs dry; reopens the file when asked (checked at least every
/// second, so a rotation takes effect even while no request comes).
fn write_lines(rx: Receiver<String>, mut out: Output, dest: Destination, reopen: Arc<AtomicBool>) {
    loop {
        let first = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if reopen.swap(false, Ordering::AcqRel) {
            let _ = out.flush();
            match Output::open(&dest) {
                Ok(o) => out = o,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reopen the access log; keeping the old file")
                }
            }
        }
        let Some(first) = first else { continue };
        let mut result = out.write_line(&first);
        while let Ok(line) = rx.try_recv() {
            result = result.and_then(|()| out.write_line(&line));
        }
        if let Err(e) = result.and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "access log write failed");
        }
    }
    let _ = out.flush();
}

/// Characters kept as they are in a text line's key: everything printable
/// but space, `"`, `%` and backslash.
const TEXT_KEY: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%').add(b'\\');

fn text_line(r: &Record) -> String {
    let dash = |s: Option<String>| s.unwrap_or_else(|| "-".to_owned());
    let secs = |d: Option<Duration>| d.map(|d| format!("{:.6}", d.as_secs_f64()));
    format!(
        "{} {} {} {} {} {} {} {} {} {} {}",
        rfc3339(r.time),
        dash(r.client.map(|c| c.to_string())),
        r.method,
        dash(r.bucket.clone()),
        dash(
            r.key
                .as_deref()
                .map(|k| utf8_percent_encode(k, TEXT_KEY).to_string())
        ),
        r.status,
        r.bytes,
        r.cache.unwrap_or("-"),
        dash(secs(r.upstream)),
        dash(secs(Some(r.total))),
        r.request_id,
    )
}

fn json_line(r: &Record) -> String {
    serde_json::json!({
        "time": rfc3339(r.time),
        "client": r.client.map(|c| c.to_string()),
        "method": r.method.as_str(),
        "bucket": r.bucket,
        "key": r.key,
        "status": r.status,
        "bytes": r.bytes,
        "cache": r.cache,
        "upstream_seconds": r.upstream.map(|d| d.as_secs_f64()),
        "total_seconds": r.total.as_secs_f64(),
        "request_id": r.request_id,
    })
    .to_string()
}

/// `2026-12-07T14:00:00.123Z`.
fn rfc3339(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    dt.format(&format).unwrap_or_default()
}

/// A response body that writes its request's line when it is done.
struct Logged {
    inner: Body,
    log: Arc<AccessLog>,
    rec: Option<Record>,
    started: Instant,
}

impl http_body::Body for Logged {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let (Some(data), Some(rec)) = (frame.data_ref(), self.rec.as_mut()) {
                rec.bytes += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(mut rec) = self.rec.take() {
            rec.total = self.started.elapsed();
            self.log.record(&rec);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_765_000_000_123),
            client: Some("127.0.0.1".parse().unwrap()),
            method: http::Method::GET,
            bucket: Some("site".into()),
            key: Some("a b\n\"c\"%.css".into()),
            status: 200,
            bytes: 42,
            cache: Some("HIT"),
            upstream: None,
            total: Duration::from_micros(1500),
            request_id: "00000001000000000007".into(),
        }
    }

    #[test]
    fn a_text_line_has_one_field_per_item_and_no_hostile_bytes() {
        let line = text_line(&record());
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(
            fields,
            [
                "2025-12-06T05:46:40.123Z",
                "127.0.0.1",
                "GET",
                "site",
                "a%20b%0A%22c%22%25.css",
                "200",
                "42",
                "HIT",
                "-",
                "0.001500",
                "00000001000000000007"
            ]
        );
    }

    #[test]
    fn a_json_line_keeps_the_key_as_it_is() {
        let v: serde_json::Value = serde_json::from_str(&json_line(&record())).unwrap();
        assert_eq!(v["key"], "a b\n\"c\"%.css");
        assert_eq!(v["status"], 200);
        assert_eq!(v["upstream_seconds"], serde_json::Value::Null);
        assert!(!json_line(&record()).contains('\n'));
    }

    #[test]
    fn sampling_logs_one_request_in_n() {
        let log = AccessLog::start(Destination::Stdout, Format::Text, 0.25).unwrap();
        let n = (0..100).filter(|_| log.sampled()).count();
        assert_eq!(n, 25);
    }
}
