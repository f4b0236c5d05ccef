//! What `GET /metrics` reports, in Prometheus' text format: requests by S3
//! operation and status, latency histograms by operation, bytes in and
//! out, what is stored, and the edges following the change feed.
//!
//! Counters live in memory (reset on restart, as Prometheus expects);
//! stored totals are read from SQLite at scrape time.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// An edge following the change feed, as last seen.
#[derive(Debug, Clone)]
pub struct EdgeSeen {
    /// The edge key's name (`cairn-origin key create NAME --edge`).
    pub name: String,
    /// The region the edge says it serves.
    pub region: String,
    /// The last feed sequence it has asked past.
    pub position: i64,
    pub seen: SystemTime,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(&'static str, u16), u64>>,
    latency: Mutex<HashMap<&'static str, Histogram>>,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Feed followers by (access key, region): edges of several regions
    /// may share one key.
    edges: Mutex<BTreeMap<(String, String), EdgeSeen>>,
}

impl Metrics {
    pub fn record(&self, op: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((op, status)).or_default() += 1;
        }
        let secs = elapsed.as_secs_f64();
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(op).or_default();
            h.count += 1;
            h.sum += secs;
            for (i, bound) in BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.counts[i] += 1;
                }
            }
        }
    }

    pub fn edge_polled(&self, access_key: &str, seen: EdgeSeen) {
        if let Ok(mut m) = self.edges.lock() {
            m.insert((access_key.to_owned(), seen.region.clone()), seen);
        }
    }

    /// Forgets followers last seen before `cutoff` (an edge taken down for
    /// good), so neither `/metrics` nor `cairn-origin edges` shows it.
    pub fn forget_edges(&self, cutoff: SystemTime) {
        if let Ok(mut m) = self.edges.lock() {
            m.retain(|_, e| e.seen >= cutoff);
        }
    }

    /// Feed followers, for `/metrics` and for persisting (`cairn-origin edges`).
    pub fn edges(&self) -> Vec<(String, EdgeSeen)> {
        self.edges
            .lock()
            .map(|m| m.iter().map(|((k, _), v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The exposition text; `stored` is (objects, object bytes, blobs,
    /// blob bytes, blob references) and `head` the feed's newest sequence.
    pub fn render(&self, stored: (u64, u64, u64, u64, u64), head: i64) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            "cairn_origin_requests_total",
            "counter",
            "Requests by S3 operation and HTTP status.",
        );
        let mut lines = Vec::new();
        if let Ok(m) = self.requests.lock() {
            for ((op, status), n) in m.iter() {
                lines.push(format!(
                    "cairn_origin_requests_total{{op=\"{op}\",status=\"{status}\"}} {n}"
                ));
            }
        }
        lines.sort();
        push_lines(&mut out, lines);

        let mut text = String::new();
        let _ = writeln!(
            text,
            "# HELP cairn_origin_request_duration_seconds Time to the response head, by S3 operation.\n# TYPE cairn_origin_request_duration_seconds histogram"
        );
        if let Ok(m) = self.latency.lock() {
            let mut ops: Vec<_> = m.keys().copied().collect();
            ops.sort_unstable();
            for op in ops {
                let h = &m[op];
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        text,
                        "cairn_origin_request_duration_seconds_bucket{{op=\"{op}\",le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    text,
                    "cairn_origin_request_duration_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}} {c}\ncairn_origin_request_duration_seconds_sum{{op=\"{op}\"}} {s}\ncairn_origin_request_duration_seconds_count{{op=\"{op}\"}} {c}",
                    c = h.count,
                    s = h.sum
                );
            }
        }
        out.push_str(&text);

        let (objects, object_bytes, blobs, blob_bytes, refs) = stored;
        let gauges: [(&str, &str, &str, u64); 7] = [
            (
                "cairn_origin_bytes_in_total",
                "counter",
                "Request body bytes received.",
                self.bytes_in.load(Ordering::Relaxed),
            ),
            (
                "cairn_origin_bytes_out_total",
                "counter",
                "Response body bytes sent.",
                self.bytes_out.load(Ordering::Relaxed),
            ),
            ("cairn_origin_objects", "gauge", "Objects stored.", objects),
            (
                "cairn_origin_object_bytes",
                "gauge",
                "Bytes of all objects, as clients see them.",
                object_bytes,
            ),
            (
                "cairn_origin_blobs",
                "gauge",
                "Distinct blobs on disk.",
                blobs,
            ),
            (
                "cairn_origin_blob_bytes",
                "gauge",
                "Bytes on disk in blobs (after deduplication).",
                blob_bytes,
            ),
            (
                "cairn_origin_blobs_deduplicated",
                "gauge",
                "References that share a blob another row already holds.",
                refs.saturating_sub(blobs),
            ),
        ];
        for (name, kind, help, v) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }

        let edges = self.edges();
        let now = SystemTime::now();
        let connected = edges.iter().filter(|(_, e)| connected(e, now)).count();
        let _ = writeln!(
            out,
            "# HELP cairn_origin_edges_connected Edges that polled the change feed in the last minute.\n# TYPE cairn_origin_edges_connected gauge\ncairn_origin_edges_connected {connected}"
        );
        let _ = writeln!(
            out,
            "# HELP cairn_origin_edge_feed_lag Changes an edge has not yet asked past.\n# TYPE cairn_origin_edge_feed_lag gauge"
        );
        for (_, e) in &edges {
            let _ = writeln!(
                out,
                "cairn_origin_edge_feed_lag{{edge=\"{}\",region=\"{}\"}} {}",
                label(&e.name),
                label(&e.region),
                (head - e.position).max(0)
            );
        }
        out
    }
}

/// Whether an edge counts as following: long polls return at least every
/// 30 s, so a minute without one means it is gone.
pub fn connected(e: &EdgeSeen, now: SystemTime) -> bool {
    now.duration_since(e.seen)
        .map(|d| d < Duration::from_secs(60))
        .unwrap_or(true)
}

fn push_lines(out: &mut String, lines: Vec<String>) {
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
}

/// Escapes a label value (Prometheus: backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
