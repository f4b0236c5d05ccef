//! Counters for `GET /metrics` (Prometheus text format). Every series
//! carries the edge's `region`, so one Prometheus can scrape every edge of
//! a deployment; no label comes from a request (cardinality stays fixed).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The cache statuses responses are counted by (`x-cache`), `NONE` for
/// responses that carry none (errors before the cache, health, metrics).
pub const CACHE_STATUSES: [&str; 6] = ["HIT", "MISS", "STALE", "REVALIDATED", "EXPIRED", "NONE"];

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const LATENCY_BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// What `/metrics` reports beside the counters here.
pub struct Gauges {
    pub entries: usize,
    pub memory_bytes: u64,
    pub disk_bytes: u64,
    pub log_dropped: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// Responses by status class (1xx..5xx) and cache status.
    pub responses: [[AtomicU64; CACHE_STATUSES.len()]; 5],
    /// Time to the response head, by bucket (the last is +Inf).
    pub latency: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    pub latency_micros: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub stale: AtomicU64,
    pub revalidated: AtomicU64,
    pub expired: AtomicU64,
    pub upstream_fetches: AtomicU64,
    pub upstream_errors: AtomicU64,
    pub upstream_micros: AtomicU64,
    pub bytes_memory: AtomicU64,
    pub bytes_disk: AtomicU64,
    pub bytes_upstream: AtomicU64,
    pub feed_changes: AtomicU64,
    pub purges: AtomicU64,
    /// Variants compressed (each once per object version and encoding).
    pub compressions: AtomicU64,
    /// Small objects fetched again after a change event dropped them.
    pub refreshes: AtomicU64,
    /// Certificates an ACME server issued to this edge.
    pub acme_issued: AtomicU64,
    /// ACME orders that failed (the certificate in use stays).
    pub acme_failures: AtomicU64,
}

pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    /// Counts one response: its status, its `x-cache` and the time its
    /// head took.
    pub fn observe(&self, status: u16, cache: Option<&str>, took: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        let cache = cache
            .and_then(|c| CACHE_STATUSES.iter().position(|s| *s == c))
            .unwrap_or(CACHE_STATUSES.len() - 1);
        add(&self.responses[class][cache], 1);
        let secs = took.as_secs_f64();
        let bucket = LATENCY_BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BOUNDS.len());
        add(&self.latency[bucket], 1);
        add(
            &self.latency_micros,
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        );
    }

    pub fn render(&self, region: &str, gauges: Gauges) -> String {
        let Gauges {
            entries,
            memory_bytes,
            disk_bytes,
            log_dropped,
        } = gauges;
        let mut out = String::new();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let region = region
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let label = format!("region=\"{region}\"");
        self.render_responses(&mut out, &label);
        let mut line = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{label}}} {v}"
            );
        };
        line(
            "cairn_edge_hits_total",
            "counter",
            "Requests served fresh from cache.",
            g(&self.hits),
        );
        line(
            "cairn_edge_misses_total",
            "counter",
            "Requests for objects not in cache.",
            g(&self.misses),
        );
        line(
            "cairn_edge_stale_total",
            "counter",
            "Stale copies served (stale-while-revalidate or stale-if-error).",
            g(&self.stale),
        );
        line(
            "cairn_edge_revalidated_total",
            "counter",
            "Stale copies confirmed by a 304.",
            g(&self.revalidated),
        );
        line(
            "cairn_edge_expired_total",
            "counter",
            "Stale copies replaced by new content.",
            g(&self.expired),
        );
        line(
            "cairn_edge_upstream_fetches_total",
            "counter",
            "Requests sent upstream.",
            g(&self.upstream_fetches),
        );
        line(
            "cairn_edge_upstream_errors_total",
            "counter",
            "Upstream requests that failed or answered 5xx.",
            g(&self.upstream_errors),
        );
        line(
            "cairn_edge_upstream_latency_microseconds_total",
            "counter",
            "Time to upstream response headers, summed.",
            g(&self.upstream_micros),
        );
        line(
            "cairn_edge_served_bytes_memory_total",
            "counter",
            "Body bytes served from the memory tier.",
            g(&self.bytes_memory),
        );
        line(
            "cairn_edge_served_bytes_disk_total",
            "counter",
            "Body bytes served from the disk tier.",
            g(&self.bytes_disk),
        );
        line(
            "cairn_edge_upstream_bytes_total",
            "counter",
            "Body bytes received from upstream.",
            g(&self.bytes_upstream),
        );
        line(
            "cairn_edge_feed_changes_total",
            "counter",
            "Changes received from the origin's feed.",
            g(&self.feed_changes),
        );
        line(
            "cairn_edge_purges_total",
            "counter",
            "Keys purged through the purge API.",
            g(&self.purges),
        );
        line(
            "cairn_edge_compressions_total",
            "counter",
            "Objects compressed into a cached variant (br, zstd or gzip).",
            g(&self.compressions),
        );
        line(
            "cairn_edge_refreshes_total",
            "counter",
            "Small objects fetched again as soon as a change event dropped them.",
            g(&self.refreshes),
        );
        line(
            "cairn_edge_acme_certificates_issued_total",
            "counter",
            "Certificates issued to this edge by its ACME server.",
            g(&self.acme_issued),
        );
        line(
            "cairn_edge_acme_failures_total",
            "counter",
            "ACME orders that failed; the certificate in use stays until one succeeds.",
            g(&self.acme_failures),
        );
        line(
            "cairn_edge_cache_entries",
            "gauge",
            "Keys in the cache index.",
            entries as u64,
        );
        line(
            "cairn_edge_memory_cache_bytes",
            "gauge",
            "Bytes held by the memory tier.",
            memory_bytes,
        );
        line(
            "cairn_edge_disk_cache_bytes",
            "gauge",
            "Bytes held by the disk tier.",
            disk_bytes,
        );
        line(
            "cairn_edge_access_log_dropped_total",
            "counter",
            "Access log lines dropped because the writer fell behind.",
            log_dropped,
        );
        out
    }

    /// The response counters and the latency histogram.
    fn render_responses(&self, out: &mut String, label: &str) {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let name = "cairn_edge_responses_total";
        let _ = writeln!(
            out,
            "# HELP {name} Responses by status class and cache status.\n# TYPE {name} counter"
        );
        for (class, row) in self.responses.iter().enumerate() {
            for (cache, n) in CACHE_STATUSES.iter().zip(row) {
                let _ = writeln!(
                    out,
                    "{name}{{{label},status=\"{}xx\",cache=\"{cache}\"}} {}",
                    class + 1,
                    g(n)
                );
            }
        }
        let name = "cairn_edge_response_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a request to its response head.\n# TYPE {name} histogram"
        );
        let mut count = 0;
        for (i, n) in self.latency.iter().enumerate() {
            count += g(n);
            let le = LATENCY_BOUNDS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{label},le=\"{le}\"}} {count}");
        }
        let sum = g(&self.latency_micros) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{label}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{label}}} {count}");
    }
}
