//! `cairn-bench`: drives an S3 endpoint with PUTs or GETs from N concurrent
//! clients and prints ops/s, MB/s and latency percentiles.
//!
//! Requests are signed with SigV4 (`UNSIGNED-PAYLOAD`, as SDKs do over TLS)
//! through `aws-sigv4`, and bodies are generated and consumed as streams, so
//! the tool can push 1 GiB objects without holding them in memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use futures_util::StreamExt;
use hdrhistogram::Histogram;

#[derive(Clone, Copy, ValueEnum, Debug)]
enum Workload {
    /// PUT `ops` objects of `size` bytes.
    Put,
    /// GET the objects a previous `put` with the same `--prefix` wrote.
    Get,
}

#[derive(Parser, Debug)]
#[command(name = "cairn-bench")]
struct Args {
    #[arg(value_enum)]
    workload: Workload,
    #[arg(
        long,
        env = "CAIRN_BENCH_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value = "bench")]
    bucket: String,
    #[arg(long, default_value = "obj")]
    prefix: String,
    /// Object size: 4KiB, 64MiB, 1GiB...
    #[arg(long, default_value = "4KiB", value_parser = cairn_shared::units::parse_size)]
    size: u64,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Total operations.
    #[arg(long, default_value_t = 10_000)]
    ops: u64,
    /// Distinct keys (operation i uses key i % keys).
    #[arg(long)]
    keys: Option<u64>,
}

struct Signer {
    identity: aws_credential_types::Credentials,
    region: String,
}

impl Signer {
    fn headers(
        &self,
        method: &str,
        url: &str,
        host: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let identity = self.identity.clone().into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let req = SignableRequest::new(
            method,
            url,
            [("host", host), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")].into_iter(),
            SignableBody::UnsignedPayload,
        )?;
        let (instructions, _) = sign(req, &params)?.into_parts();
        let mut out: Vec<(String, String)> = instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        out.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
        Ok(out)
    }
}

/// A body of `len` pseudo-random bytes derived from `seed`, generated in
/// 64 KiB pieces as it is sent: distinct seeds give distinct content.
fn body_stream(len: u64, seed: u64) -> reqwest::Body {
    const PIECE: u64 = 64 * 1024;
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut base = vec![0u8; PIECE as usize];
    for b in base.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let base = Bytes::from(base);
    let pieces = len.div_ceil(PIECE);
    let stream = futures_util::stream::iter(0..pieces).map(move |i| {
        let n = (len - i * PIECE).min(PIECE) as usize;
        // Stamp the piece index so long objects do not repeat themselves.
        let mut piece = base.slice(..n).to_vec();
        for (j, b) in i.to_le_bytes().iter().enumerate().take(n) {
            piece[j] ^= b;
        }
        Ok::<_, std::io::Error>(Bytes::from(piece))
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = reqwest::Url::parse(&args.endpoint).context("endpoint")?;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_owned(),
    };
    let signer = Arc::new(Signer {
        identity: aws_credential_types::Credentials::new(
            &args.access_key,
            &args.secret_key,
            None,
            None,
            "bench",
        ),
        region: args.region.clone(),
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let endpoint = args.endpoint.trim_end_matches('/').to_owned();

    // Make sure the bucket exists (ignore "already owned").
    let bucket_url = format!("{endpoint}/{}", args.bucket);
    let mut req = client.put(&bucket_url);
    for (k, v) in signer.headers("PUT", &bucket_url, &host)? {
        req = req.header(k, v);
    }
    let resp = req.send().await?;
    if !resp.status().is_success() && resp.status().as_u16() != 409 {
        bail!(
            "cannot create bucket: {} {}",
            resp.status(),
            resp.text().await?
        );
    }

    let keys = args.keys.unwrap_or(args.ops);
    let next = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, signer, next, bytes, errors) = (
            client.clone(),
            signer.clone(),
            next.clone(),
            bytes.clone(),
            errors.clone(),
        );
        let (endpoint, host, bucket, prefix) = (
            endpoint.clone(),
            host.clone(),
            args.bucket.clone(),
            args.prefix.clone(),
        );
        let (workload, size, ops) = (args.workload, args.size, args.ops);
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("histogram");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops {
                    break;
                }
                let key = i % keys;
                let url = format!("{endpoint}/{bucket}/{prefix}-{key}");
                let t0 = Instant::now();
                let result: anyhow::Result<u64> = async {
                    match workload {
                        Workload::Put => {
                            let mut req = client
                                .put(&url)
                                .header("content-length", size)
                                .body(body_stream(size, key));
                            for (k, v) in signer.headers("PUT", &url, &host)? {
                                req = req.header(k, v);
                            }
                            let resp = req.send().await?;
                            if !resp.status().is_success() {
                                bail!("PUT {}", resp.status());
                            }
                            Ok(size)
                        }
                        Workload::Get => {
                            let mut req = client.get(&url);
                            for (k, v) in signer.headers("GET", &url, &host)? {
                                req = req.header(k, v);
                            }
                            let resp = req.send().await?;
                            if !resp.status().is_success() {
                                bail!("GET {}", resp.status());
                            }
                            let mut n = 0u64;
                            let mut stream = resp.bytes_stream();
                            while let Some(chunk) = stream.next().await {
                                n += chunk?.len() as u64;
                            }
                            Ok(n)
                        }
                    }
                }
                .await;
                match result {
                    Ok(n) => {
                        bytes.fetch_add(n, Ordering::Relaxed);
                        let _ = hist.record(t0.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("error: {e:#}");
                        }
                    }
                }
            }
            hist
        }));
    }
    let mut hist = Histogram::<u64>::new(3)?;
    for t in tasks {
        hist.add(t.await?)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let done = hist.len();
    let ms = |q: f64| Duration::from_micros(hist.value_at_quantile(q)).as_secs_f64() * 1000.0;
    println!(
        "{:?} size={}B concurrency={} ops={} errors={} time={:.2}s",
        args.workload,
        args.size,
        args.concurrency,
        done,
        errors.load(Ordering::Relaxed),
        secs
    );
    println!(
        "  {:.0} ops/s  {:.1} MB/s  latency ms: p50={:.2} p90={:.2} p99={:.2} p99.9={:.2} max={:.2}",
        done as f64 / secs,
        bytes.load(Ordering::Relaxed) as f64 / secs / 1e6,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        Duration::from_micros(hist.max()).as_secs_f64() * 1000.0
    );
    if errors.load(Ordering::Relaxed) > 0 {
        std::process::exit(2);
    }
    Ok(())
}
