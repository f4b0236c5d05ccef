//! The stampede: `concurrency` clients ask for one cold object at the same
//! moment, as a CDN edge sees when a new asset goes live. What it measures
//! is how long after the first client's first byte the others get theirs,
//! and (from the edge's metrics) how many fetches reached the origin.
//!
//! The clients run on the cores the server under test uses, but stand for
//! clients on other machines, so two things keep the bench's own work out
//! of the measure: first bytes are stamped by the kernel as they arrive
//! (`wire::Conn::first_bytes`), and no client verifies its body until
//! every client has had its first byte ([`FirstBytes`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use tokio::sync::Notify;

use super::Bench;
use crate::stats::{kind, Outcome, Stats};
use crate::{body, wire};

/// Clients that have not had their first byte yet. A client that has
/// holds off verifying its body until every client has had its first
/// byte, or [`FIRST_BYTES_WAIT`] passed: the bench's CPU would otherwise
/// go to checking the first bodies while the server is still sending the
/// last first bytes, on cores they share.
///
/// The count wakes its waiters once, when it reaches zero: waking every
/// waiting client at each client's first byte (as a watch channel would)
/// is n² wake-ups, on the cores the server needs for the last first bytes.
struct FirstBytes {
    left: AtomicUsize,
    all_in: Notify,
}

/// The longest a client waits for the others' first bytes before it
/// reads on (a server can keep some waiting for good).
const FIRST_BYTES_WAIT: Duration = Duration::from_secs(2);

/// A client's place in [`FirstBytes`], given up when dropped: at its first
/// byte, or when it fails before one.
struct Awaiting(Arc<FirstBytes>);

impl Drop for Awaiting {
    fn drop(&mut self) {
        if self.0.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_in.notify_waiters();
        }
    }
}

impl FirstBytes {
    /// `n` clients, each holding one of the returned places.
    fn new(n: usize) -> (Arc<Self>, Vec<Awaiting>) {
        let fb = Arc::new(Self {
            left: AtomicUsize::new(n),
            all_in: Notify::new(),
        });
        let places = (0..n).map(|_| Awaiting(fb.clone())).collect();
        (fb, places)
    }

    async fn all_in(&self) {
        let notified = self.all_in.notified();
        tokio::pin!(notified);
        // Registered before the count is read, so the last place given up
        // in between still wakes this client.
        notified.as_mut().enable();
        if self.left.load(Ordering::Acquire) == 0 {
            return;
        }
        let _ = tokio::time::timeout(FIRST_BYTES_WAIT, notified).await;
    }
}

impl Bench {
    /// `concurrency` clients ask for one cold object at once; reports the
    /// spread of their first bytes and, with `--metrics`, origin fetches.
    pub(super) async fn stampede(
        self,
    ) -> anyhow::Result<(Stats, f64, BTreeMap<String, serde_json::Value>)> {
        let n = self.args.concurrency.max(1);
        let fetches_before = match &self.args.metrics {
            Some(m) => Some(upstream_fetches(&self.inner.client, m).await?),
            None => None,
        };
        // Connections are opened first, so the stampede measures the
        // cache, not n TCP handshakes.
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let (first_bytes, places) = FirstBytes::new(n);
        let size = self.inner.sizes.of(0);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for place in places {
            let (me, barrier, first_bytes) = (self.clone(), barrier.clone(), first_bytes.clone());
            tasks.push(tokio::spawn(async move {
                match &me.inner.wire {
                    Some(pool) => {
                        me.client_wire(pool, &barrier, place, &first_bytes, size)
                            .await
                    }
                    None => me.client_reqwest(&barrier, place, &first_bytes, size).await,
                }
            }));
        }
        let mut stats = Stats::default();
        let (mut arrived, mut seen, mut stamped) = (Vec::new(), Vec::new(), 0);
        for t in tasks {
            let c = t.await?;
            if let Some((a, s)) = c.first {
                stamped += usize::from(a.is_some());
                arrived.push((c.sent, a.unwrap_or(s)));
                seen.push((c.sent, s));
            }
            stats.record(c.outcome, c.total);
        }
        let secs = started.elapsed().as_secs_f64();
        let mut extra = BTreeMap::new();
        // By the kernel's receive stamps (where the kernel gave one, else
        // as seen): what the server delivered.
        first_byte_waits(&arrived, "first_byte", &mut extra);
        extra.insert("first_bytes_stamped_by_kernel".into(), json!(stamped));
        // By when each reader task got to run: what the server delivered
        // plus this bench's own scheduling on cores it shares.
        first_byte_waits(&seen, "first_byte_seen", &mut extra);
        if let (Some(lo), Some(hi), Some(first)) = (
            arrived.iter().map(|s| s.0).min(),
            arrived.iter().map(|s| s.0).max(),
            arrived.iter().map(|s| s.1).min(),
        ) {
            extra.insert(
                "requests_sent_over_ms".into(),
                json!((hi - lo).as_secs_f64() * 1000.0),
            );
            let late = arrived.iter().filter(|s| s.0 > first).count();
            extra.insert("requests_sent_after_first_byte".into(), json!(late));
        }
        if let (Some(before), Some(m)) = (fetches_before, &self.args.metrics) {
            let after = upstream_fetches(&self.inner.client, m).await?;
            extra.insert("origin_fetches".into(), json!(after - before));
        }
        Ok((stats, secs, extra))
    }

    /// One client through the lean client: connects, waits at the
    /// barrier, GETs the cold key and stamps its response's first byte
    /// (when the kernel received it, and when this task saw it), then reads
    /// the head and verifies the body once every client has had its first
    /// byte.
    async fn client_wire(
        &self,
        pool: &wire::Pool,
        barrier: &tokio::sync::Barrier,
        place: Awaiting,
        first_bytes: &FirstBytes,
        size: u64,
    ) -> Landing {
        let url = self.inner.read.url(Some(&self.inner.cold), "");
        let headers = self.inner.read.signed_headers("GET", &url);
        let conn = async {
            let mut conn = pool.connect_timed().await?;
            let (host, _) = wire::Pool::target(&url);
            let health = conn.send(host, "/health", &[]).await?;
            conn.body(health.len, |_| {}).await?;
            Ok::<_, String>(conn)
        }
        .await;
        barrier.wait().await;
        let mut landing = Landing::new();
        let (mut conn, headers) = match (conn, headers) {
            (Ok(c), Ok(h)) => (c, h),
            (Err(kind), _) => return landing.failed(kind),
            (_, Err(_)) => return landing.failed("sign"),
        };
        let (host, target) = wire::Pool::target(&url);
        if let Err(kind) = conn.request(host, target, &headers).await {
            return landing.failed(kind);
        }
        // Only the first byte is read before every client has had its
        // own: the head and body wait, so the bench's work stays out of
        // the window it measures.
        let first = match conn.first_bytes().await {
            Ok(arrived) => (arrived, Instant::now()),
            Err(kind) => return landing.failed(kind),
        };
        drop(place);
        first_bytes.all_in().await;
        match conn.head().await {
            Ok(h) if (200..300).contains(&h.status) => {
                landing.first = Some(first);
                let mut v = body::Verifier::new(size, 42);
                if let Err(kind) = conn.body(h.len, |c| v.update(c)).await {
                    return landing.failed(kind);
                }
                landing.ended(Outcome::read(size, h.x_cache, v.finish()))
            }
            Ok(h) => landing.failed(format!("HTTP {}", h.status)),
            Err(kind) => landing.failed(kind),
        }
    }

    /// The same client through reqwest (for `https://` targets), which
    /// cannot give the kernel's stamp: the first byte is when it was seen.
    async fn client_reqwest(
        &self,
        barrier: &tokio::sync::Barrier,
        place: Awaiting,
        first_bytes: &FirstBytes,
        size: u64,
    ) -> Landing {
        let client = reqwest::Client::new();
        let t = &self.inner.read;
        let _ = client.get(format!("{}/health", t.base)).send().await;
        barrier.wait().await;
        let mut landing = Landing::new();
        let url = t.url(Some(&self.inner.cold), "");
        let resp = match t.request(&client, Method::GET, &url) {
            Ok(r) => r.send().await,
            Err(_) => return landing.failed("sign"),
        };
        let mut resp = match resp {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => return landing.failed(format!("HTTP {}", r.status().as_u16())),
            Err(e) => return landing.failed(kind(&e)),
        };
        let x_cache = resp
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut place = Some(place);
        let mut v = body::Verifier::new(size, 42);
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if landing.first.is_none() {
                        landing.first = Some((None, Instant::now()));
                        drop(place.take());
                        first_bytes.all_in().await;
                    }
                    v.update(&c);
                }
                Ok(None) => break,
                Err(e) => return landing.failed(kind(&e)),
            }
        }
        landing.ended(Outcome::read(size, x_cache, v.finish()))
    }
}

/// What one client saw.
struct Landing {
    outcome: Outcome,
    /// When its request went out (after the barrier).
    sent: Instant,
    /// Its response's first byte: when the kernel received it, if it gave a
    /// stamp, and when the client saw it.
    first: Option<(Option<Instant>, Instant)>,
    /// From `sent` to the end of the body (or the failure).
    total: Duration,
}

impl Landing {
    fn new() -> Self {
        Self {
            outcome: Outcome::failed("unfinished"),
            sent: Instant::now(),
            first: None,
            total: Duration::ZERO,
        }
    }

    fn ended(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self.total = self.sent.elapsed();
        self
    }

    fn failed(self, kind: impl Into<String>) -> Self {
        self.ended(Outcome::failed(kind))
    }
}

/// The stampede's first-byte measures from (request sent, first byte)
/// pairs, as `{prefix}_after_first_*` (after the first client's first
/// byte, which stands for the upstream's arriving) and `{prefix}_wait_*`
/// (the same, but from a client's own send when it sent after the first
/// byte was already flowing: fair to the server).
fn first_byte_waits(
    pairs: &[(Instant, Instant)],
    prefix: &str,
    extra: &mut BTreeMap<String, serde_json::Value>,
) {
    let Some(first) = pairs.iter().map(|p| p.1).min() else {
        return;
    };
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let mut after: Vec<f64> = pairs.iter().map(|&(_, f)| ms(f - first)).collect();
    let mut wait: Vec<f64> = pairs
        .iter()
        .map(|&(sent, f)| ms(f.saturating_duration_since(sent.max(first))))
        .collect();
    for (name, v) in [("after_first", &mut after), ("wait", &mut wait)] {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        for (q, label) in [(0.5, "p50"), (0.99, "p99"), (1.0, "max")] {
            extra.insert(format!("{prefix}_{name}_{label}_ms"), json!(at(q)));
        }
    }
}

/// `cairn_edge_upstream_fetches_total` from a Prometheus page.
async fn upstream_fetches(client: &reqwest::Client, url: &str) -> anyhow::Result<u64> {
    let text = client.get(url).send().await?.text().await?;
    text.lines()
        .find_map(|l| l.strip_prefix("cairn_edge_upstream_fetches_total"))
        .and_then(|rest| rest.rsplit(' ').next())
        .and_then(|v| v.trim().parse().ok())
        .context("no cairn_edge_upstream_fetches_total in the metrics")
}
