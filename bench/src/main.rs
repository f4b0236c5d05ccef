//! `cairn-bench`: a load generator for S3 and CDN workloads.
//!
//! It drives any S3 endpoint (SigV4 with the given keys, path or
//! virtual-hosted style) or any
//! plain HTTP base URL (an edge, nginx, a CDN) and prints ops/s, MB/s,
//! latency percentiles, errors by kind and, for HTTP targets, the share of
//! each `X-Cache` state; `--json` prints the same for machines. Bodies are
//! generated and checked as streams, so 1 GiB objects cost 64 KiB of
//! memory. Every run also states the CPU the bench itself spent per
//! operation, so a reader can tell whether the client was the limit.

mod baseline;
mod body;
mod run;
mod s3;
mod stats;
mod wire;
mod workloads;

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::run::Plan;
use crate::s3::Target;
use crate::stats::Report;

#[derive(Clone, Copy, ValueEnum, Debug, PartialEq, Eq)]
pub enum Workload {
    /// PUT objects of `--size` bytes to `--keys` keys.
    Put,
    /// GET keys in turn (`--prefill` PUTs them first).
    Get,
    /// A mix of GET/PUT/DELETE/LIST (`--mix`).
    Mixed,
    /// ListObjectsV2 pages of a bucket with `--keys` keys (`--page first|deep`).
    List,
    /// Multipart uploads: `--size` objects in `--part-size` parts, `--part-concurrency` at once.
    Multipart,
    /// GETs over `--keys` keys with Zipf-distributed popularity (`--zipf`).
    Hot,
    /// `--concurrency` clients GET the same cold object at the same moment.
    Stampede,
    /// No target: one core MD5- and BLAKE3-hashes `--size` bytes and
    /// writes them with fsync to `--dir`, `--ops` times (the PUT baseline).
    DiskBaseline,
}

#[derive(Clone, Copy, ValueEnum, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Each key gets its own bytes.
    Random,
    /// Every key gets the same bytes (measures deduplication).
    Repeated,
}

#[derive(Parser, Debug)]
#[command(
    name = "cairn-bench",
    version,
    about = "Load generator for S3 and CDN workloads"
)]
pub struct Args {
    #[arg(value_enum)]
    pub workload: Workload,
    /// An S3 endpoint (requests are signed).
    #[arg(
        long,
        env = "CAIRN_BENCH_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint: String,
    /// Address buckets virtual-hosted style (`BUCKET.HOST/KEY`) on the S3
    /// endpoint, whose host is then the origin's `--domain`; connections
    /// still go to the endpoint's own address.
    #[arg(long)]
    pub virtual_host: bool,
    /// A plain HTTP base URL instead (GET workloads: get, hot, stampede);
    /// objects are read from BASE/BUCKET/KEY.
    #[arg(long)]
    pub http: Option<String>,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "")]
    pub access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = "")]
    pub secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[arg(long, default_value = "bench")]
    pub bucket: String,
    #[arg(long, default_value = "obj")]
    pub prefix: String,
    /// Object size: `4KiB`, or a range `1KiB-1MiB` (uniform, fixed per key).
    #[arg(long, default_value = "4KiB")]
    pub size: String,
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Operations to run (default 10000 unless --duration is given).
    #[arg(long)]
    pub ops: Option<u64>,
    /// Run for this long instead of a count (e.g. 30s).
    #[arg(long, value_parser = cairn_shared::units::parse_duration)]
    pub duration: Option<Duration>,
    /// Distinct keys (default: the operation count).
    #[arg(long)]
    pub keys: Option<u64>,
    /// Run the workload this long first, unmeasured (warms caches and pools).
    #[arg(long, value_parser = cairn_shared::units::parse_duration)]
    pub warmup: Option<Duration>,
    /// Fixed rate in ops/s (open loop; latency counted from each
    /// operation's due time, so stalls are not hidden).
    #[arg(long)]
    pub rate: Option<f64>,
    #[arg(long, value_enum, default_value = "random")]
    pub payload: Payload,
    /// Check every GET's bytes against what was PUT.
    #[arg(long)]
    pub verify: bool,
    /// PUT the keys before a get, hot, mixed or list run (unmeasured).
    #[arg(long)]
    pub prefill: bool,
    /// mixed: weights, e.g. get=70,put=20,delete=5,list=5
    #[arg(long, default_value = "get=70,put=20,delete=5,list=5")]
    pub mix: String,
    /// list: `first` page, or a `deep` page (start-after a random key).
    #[arg(long, default_value = "first")]
    pub page: String,
    /// multipart: part size.
    #[arg(long, default_value = "8MiB", value_parser = cairn_shared::units::parse_size)]
    pub part_size: u64,
    /// multipart: parts in flight per upload.
    #[arg(long, default_value_t = 4)]
    pub part_concurrency: usize,
    /// hot: Zipf exponent (1.0-1.2 is typical of CDN traffic).
    #[arg(long, default_value_t = 1.1)]
    pub zipf: f64,
    /// stampede: a Prometheus URL whose `cairn_edge_upstream_fetches_total`
    /// is read before and after, to count origin fetches.
    #[arg(long)]
    pub metrics: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// disk-baseline: where to write.
    #[arg(long, default_value = ".")]
    pub dir: std::path::PathBuf,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    /// The S3 endpoint as the keys and addressing style given describe it.
    pub fn s3_target(&self) -> anyhow::Result<Target> {
        Ok(Target::s3(
            &self.endpoint,
            &self.bucket,
            &self.access_key,
            &self.secret_key,
            &self.region,
        )?
        .virtual_host(self.virtual_host))
    }

    pub fn ops(&self) -> Option<u64> {
        match (self.ops, self.duration) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some(10_000),
        }
    }

    pub fn keys(&self) -> u64 {
        self.keys.or(self.ops()).unwrap_or(10_000).max(1)
    }

    pub fn plan(&self) -> Plan {
        Plan {
            concurrency: self.concurrency,
            ops: self.ops(),
            duration: self.duration,
            rate: self.rate,
            progress: !self.quiet && !self.json,
        }
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = real_main().await {
        eprintln!("cairn-bench: {e:#}");
        std::process::exit(1);
    }
}

async fn real_main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sizes = workloads::Sizes::parse(&args.size).map_err(anyhow::Error::msg)?;
    if args.workload == Workload::DiskBaseline {
        let workloads::Sizes::Fixed(size) = sizes else {
            anyhow::bail!("disk-baseline takes one --size");
        };
        let count = args.ops.unwrap_or(8);
        let mbps = baseline::run(&args.dir, size, count)?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({"workload": "disk-baseline", "size": size, "count": count, "mb_per_sec": mbps})
            );
        } else {
            println!("disk-baseline size={} x{count}: {mbps:.1} MB/s (MD5 + BLAKE3 + write + fsync, one core)", args.size);
        }
        return Ok(());
    }
    let target = match &args.http {
        Some(base) => {
            if !matches!(
                args.workload,
                Workload::Get | Workload::Hot | Workload::Stampede
            ) {
                anyhow::bail!("--http targets take GET workloads only (get, hot, stampede)");
            }
            Target::http(base, &args.bucket)?
        }
        None => {
            if args.access_key.is_empty() || args.secret_key.is_empty() {
                anyhow::bail!("an S3 target needs --access-key/--secret-key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)");
            }
            args.s3_target()?
        }
    };
    let bench = workloads::Bench::new(args, sizes, target)?;
    bench.setup().await?;
    if let Some(w) = bench.args.warmup {
        let plan = Plan {
            ops: None,
            duration: Some(w),
            ..bench.args.plan()
        };
        let _ = bench.clone().measure("warm-up", plan).await;
    }
    let cpu0 = stats::cpu_seconds();
    let (label, stats, secs, extra) = bench.clone().main_run().await?;
    let report = Report {
        label,
        stats: &stats,
        secs,
        cpu_secs: stats::cpu_seconds() - cpu0,
        extra: extra.unwrap_or_else(BTreeMap::new),
    };
    if bench.args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    if stats.error_count() > 0 && stats.ok() == 0 {
        std::process::exit(2);
    }
    Ok(())
}
