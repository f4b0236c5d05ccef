//! What `GET /metrics` reports, in Prometheus' text format: requests by S3
//! operation and status, latency histograms by operation, bytes in and
//! out, what is stored, and the edges following the change feed.
//!
//! Counters live in memory (reset on restart, as Prometheus expects);
//! stored totals are read from SQLite at scrape time.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
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

/// What a request does to a bucket, for per-bucket traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpClass {
    Read,
    Write,
    List,
    Delete,
    Other,
}

impl OpClass {
    pub const ALL: [OpClass; 5] = [
        OpClass::Read,
        OpClass::Write,
        OpClass::List,
        OpClass::Delete,
        OpClass::Other,
    ];

    /// The class of an S3 operation, by its name (`Endpoint::name`).
    pub fn of(op: &str) -> OpClass {
        match op {
            "GetObject" | "HeadObject" | "GetObjectAttributes" => OpClass::Read,
            "PutObject"
            | "CopyObject"
            | "PostObject"
            | "CreateMultipartUpload"
            | "UploadPart"
            | "UploadPartCopy"
            | "CompleteMultipartUpload" => OpClass::Write,
            "DeleteObject" | "DeleteObjects" | "AbortMultipartUpload" => OpClass::Delete,
            o if o.starts_with("List") => OpClass::List,
            _ => OpClass::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OpClass::Read => "read",
            OpClass::Write => "write",
            OpClass::List => "list",
            OpClass::Delete => "delete",
            OpClass::Other => "other",
        }
    }
}

/// One bucket's requests and egress (response body bytes) by class.
#[derive(Debug, Default)]
pub struct Traffic {
    pub requests: [AtomicU64; 5],
    pub egress: [AtomicU64; 5],
}

impl Traffic {
    pub fn requests(&self, class: OpClass) -> u64 {
        self.requests[class as usize].load(Ordering::Relaxed)
    }

    pub fn egress(&self, class: OpClass) -> u64 {
        self.egress[class as usize].load(Ordering::Relaxed)
    }
}

/// The name traffic of buckets past the cap is counted under.
pub const OTHER_BUCKETS: &str = "_other";

#[derive(Default)]
pub struct Metrics {
    /// Traffic by bucket, at most `bucket_cap` of them; the rest are
    /// counted together under [`OTHER_BUCKETS`].
    traffic: RwLock<HashMap<String, Arc<Traffic>>>,
    bucket_cap: std::sync::atomic::AtomicUsize,
    requests: Mutex<HashMap<(&'static str, u16), u64>>,
    latency: Mutex<HashMap<&'static str, Histogram>>,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Feed followers by (access key, region): edges of several regions
    /// may share one key.
    edges: Mutex<BTreeMap<(String, String), EdgeSeen>>,
}

impl Metrics {
    /// Metrics in which `cap` buckets get their own traffic counters.
    pub fn with_bucket_cap(cap: usize) -> Metrics {
        let m = Metrics::default();
        m.bucket_cap.store(cap, Ordering::Relaxed);
        m
    }

    /// The traffic counters of `bucket` (one that exists), or of the
    /// buckets past the cap.
    pub fn traffic(&self, bucket: &str) -> Arc<Traffic> {
        if let Ok(m) = self.traffic.read() {
            if let Some(t) = m.get(bucket) {
                return t.clone();
            }
        }
        let Ok(mut m) = self.traffic.write() else {
            return Arc::default();
        };
        let cap = self.bucket_cap.load(Ordering::Relaxed);
        let name = if m.len() < cap { bucket } else { OTHER_BUCKETS };
        m.entry(name.to_owned()).or_default().clone()
    }

    /// Counts one request to a bucket; returns the counters its response
    /// body's bytes go to.
    pub fn bucket_request(&self, bucket: &str, class: OpClass) -> Arc<Traffic> {
        let t = self.traffic(bucket);
        t.requests[class as usize].fetch_add(1, Ordering::Relaxed);
        t
    }

    /// Every bucket's traffic so far (since start), by name.
    pub fn all_traffic(&self) -> Vec<(String, Arc<Traffic>)> {
        let mut v: Vec<_> = self
            .traffic
            .read()
            .map(|m| m.iter().map(|(k, t)| (k.clone(), t.clone())).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Forgets a deleted bucket's counters.
    pub fn forget_bucket(&self, bucket: &str) {
        if let Ok(mut m) = self.traffic.write() {
            m.remove(bucket);
        }
    }

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

/// One figure of a bucket's usage.
type UsageField = fn(&crate::store::meta::usage::Usage) -> i64;

impl Metrics {
    /// Per-bucket series: what each of the `top` buckets stores (from
    /// SQLite) and its traffic, `rest` and the traffic past the cap under
    /// `bucket="_other"`. Bucket names are the only label values here, and
    /// at most the cap of them plus one.
    pub fn render_buckets(
        &self,
        top: &[(String, crate::store::meta::usage::Usage)],
        rest: &crate::store::meta::usage::Usage,
    ) -> String {
        let mut out = String::new();
        let families: [(&str, &str, UsageField); 4] = [
            (
                "cairn_origin_bucket_objects",
                "Current objects in the bucket.",
                |u| u.objects,
            ),
            (
                "cairn_origin_bucket_bytes",
                "Bytes of the bucket's versions, current and noncurrent.",
                |u| u.stored_bytes(),
            ),
            (
                "cairn_origin_bucket_versions",
                "Noncurrent versions and delete markers in the bucket.",
                |u| u.versions,
            ),
            (
                "cairn_origin_bucket_deduplicated_bytes_total",
                "Bytes written to the bucket whose content was already stored.",
                |u| u.dedup_bytes,
            ),
        ];
        let others = std::iter::once((OTHER_BUCKETS, rest));
        for (name, help, value) in families {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (bucket, u) in top
                .iter()
                .map(|(b, u)| (b.as_str(), u))
                .chain(others.clone())
            {
                let _ = writeln!(out, "{name}{{bucket=\"{bucket}\"}} {}", value(u));
            }
        }
        let traffic = self.all_traffic();
        for (name, help, egress) in [
            (
                "cairn_origin_bucket_requests_total",
                "Requests to the bucket by operation class.",
                false,
            ),
            (
                "cairn_origin_bucket_egress_bytes_total",
                "Response body bytes of the bucket's requests by operation class.",
                true,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (bucket, t) in &traffic {
                for class in OpClass::ALL {
                    let v = if egress {
                        t.egress(class)
                    } else {
                        t.requests(class)
                    };
                    let _ = writeln!(
                        out,
                        "{name}{{bucket=\"{bucket}\",class=\"{}\"}} {v}",
                        class.as_str()
                    );
                }
            }
        }
        out
    }
}
