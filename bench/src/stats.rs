//! What a run measured: a latency histogram, bytes, errors by kind and, for
//! HTTP targets, the share of each `X-Cache` state; printed as text or JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

/// One operation's result.
#[derive(Debug, Default)]
pub struct Outcome {
    pub bytes: u64,
    /// A short kind (`HTTP 503`, `connect`, `verify`...) when it failed.
    pub error: Option<String>,
    pub x_cache: Option<String>,
}

impl Outcome {
    pub fn failed(kind: impl Into<String>) -> Self {
        Self {
            error: Some(kind.into()),
            ..Self::default()
        }
    }

    /// A body of `bytes` read whole; `verified` is false when its bytes
    /// were checked and differ.
    pub fn read(bytes: u64, x_cache: Option<String>, verified: bool) -> Self {
        if !verified {
            return Self::failed("verify: bytes differ");
        }
        Self {
            bytes,
            error: None,
            x_cache,
        }
    }
}

/// Classifies a transport error into a kind worth counting.
pub fn kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else if e.is_body() || e.is_decode() {
        "body".into()
    } else {
        "request".into()
    }
}

pub struct Stats {
    /// Latencies in microseconds (of successful operations).
    pub hist: Histogram<u64>,
    pub bytes: u64,
    pub errors: BTreeMap<String, u64>,
    pub x_cache: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            hist: Histogram::new(3).expect("a 3-digit histogram"),
            bytes: 0,
            errors: BTreeMap::new(),
            x_cache: BTreeMap::new(),
        }
    }
}

impl Stats {
    pub fn record(&mut self, o: Outcome, latency: Duration) {
        if let Some(x) = o.x_cache {
            *self.x_cache.entry(x).or_default() += 1;
        }
        match o.error {
            Some(kind) => *self.errors.entry(kind).or_default() += 1,
            None => {
                self.bytes += o.bytes;
                let _ = self.hist.record(latency.as_micros().max(1) as u64);
            }
        }
    }

    pub fn merge(&mut self, other: Stats) {
        let _ = self.hist.add(other.hist);
        self.bytes += other.bytes;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in other.x_cache {
            *self.x_cache.entry(k).or_default() += v;
        }
    }

    pub fn ok(&self) -> u64 {
        self.hist.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

/// A finished run, with how much CPU the bench itself used.
pub struct Report<'a> {
    pub label: String,
    pub stats: &'a Stats,
    pub secs: f64,
    pub cpu_secs: f64,
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Report<'_> {
    fn rate(&self) -> f64 {
        self.stats.ok() as f64 / self.secs
    }

    /// Operations per second one core of this client could issue, from
    /// the CPU it spent per operation.
    fn client_ceiling(&self) -> Option<f64> {
        let ops = (self.stats.ok() + self.stats.error_count()) as f64;
        (self.cpu_secs > 0.0 && ops > 0.0).then(|| ops / self.cpu_secs)
    }

    pub fn json(&self) -> serde_json::Value {
        let s = self.stats;
        let total_xc: u64 = s.x_cache.values().sum();
        json!({
            "workload": self.label,
            "ops": s.ok(),
            "errors": s.errors,
            "seconds": self.secs,
            "ops_per_sec": self.rate(),
            "mb_per_sec": s.bytes as f64 / self.secs / 1e6,
            "latency_ms": {
                "p50": s.ms(0.5), "p90": s.ms(0.9), "p99": s.ms(0.99),
                "p99.9": s.ms(0.999), "max": s.hist.max() as f64 / 1000.0,
            },
            "x_cache": s.x_cache.iter().map(|(k, v)| (k.clone(), *v as f64 / total_xc.max(1) as f64)).collect::<BTreeMap<_, _>>(),
            "client_cpu_seconds": self.cpu_secs,
            "client_ops_per_cpu_second": self.client_ceiling(),
            "extra": self.extra,
        })
    }

    pub fn text(&self) -> String {
        let s = self.stats;
        let mut out = format!(
            "{}: {} ops in {:.2}s, {} errors\n  {:.0} ops/s  {:.1} MB/s  latency ms: p50={:.2} p90={:.2} p99={:.2} p99.9={:.2} max={:.2}\n",
            self.label,
            s.ok(),
            self.secs,
            s.error_count(),
            self.rate(),
            s.bytes as f64 / self.secs / 1e6,
            s.ms(0.5),
            s.ms(0.9),
            s.ms(0.99),
            s.ms(0.999),
            s.hist.max() as f64 / 1000.0
        );
        if !s.errors.is_empty() {
            let kinds: Vec<_> = s.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            out.push_str(&format!("  errors by kind: {}\n", kinds.join(", ")));
        }
        let total: u64 = s.x_cache.values().sum();
        if total > 0 {
            let shares: Vec<_> = s
                .x_cache
                .iter()
                .map(|(k, v)| format!("{k} {:.1}%", *v as f64 * 100.0 / total as f64))
                .collect();
            out.push_str(&format!("  X-Cache: {}\n", shares.join(", ")));
        }
        for (k, v) in &self.extra {
            out.push_str(&format!("  {k}: {v}\n"));
        }
        if let Some(c) = self.client_ceiling() {
            let ratio = c / self.rate().max(1e-9);
            out.push_str(&format!(
                "  client: {:.2} CPU-s, {:.0} µs/op → one core issues ~{:.0} ops/s = {:.1}x the measured rate{}\n",
                self.cpu_secs,
                1e6 / c,
                c,
                ratio,
                if ratio < 3.0 { " (under 3x: the client may be the limit)" } else { "" }
            ));
        }
        out
    }
}

/// CPU seconds this process has used (user + system), from /proc.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}
