//! Counters for `GET /metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
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
}

pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    pub fn render(&self, entries: usize, memory_bytes: u64, disk_bytes: u64) -> String {
        let mut out = String::new();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut line = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
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
        out
    }
}
