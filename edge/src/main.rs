//! The `cairn-edge` command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use cairn_edge::config::EdgeConfig;
use cairn_shared::units::{parse_duration, parse_size};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cairn-edge", version, about = "Cairn's caching edge node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve cached objects.
    Serve(Serve),
}

#[derive(clap::Args)]
struct Serve {
    /// The origin (its change feed, and misses unless --parent is set).
    #[arg(long, env = "CAIRN_ORIGIN", default_value = "http://127.0.0.1:9000")]
    origin: String,
    /// An edge access key (cairn-origin key create NAME --edge).
    #[arg(long, env = "CAIRN_ACCESS_KEY")]
    access_key: String,
    #[arg(long, env = "CAIRN_SECRET_KEY")]
    secret_key: String,
    #[arg(long, env = "CAIRN_LISTEN", default_value = "127.0.0.1:9080")]
    listen: SocketAddr,
    #[arg(long, env = "CAIRN_CACHE_DIR", default_value = "./edge-cache")]
    cache_dir: PathBuf,
    #[arg(long, env = "CAIRN_MEMORY_CACHE", default_value = "256MiB", value_parser = parse_size)]
    memory_cache: u64,
    #[arg(long, env = "CAIRN_DISK_CACHE", default_value = "10GiB", value_parser = parse_size)]
    disk_cache: u64,
    /// This edge's region, shown in Via and metrics.
    #[arg(long, env = "CAIRN_EDGE_REGION", default_value = "local")]
    region: String,
    /// A parent edge to fetch misses from instead of the origin.
    #[arg(long, env = "CAIRN_PARENT")]
    parent: Option<String>,
    /// Base domain for bucket.DOMAIN requests.
    #[arg(long, env = "CAIRN_DOMAIN")]
    domain: Option<String>,
    #[arg(long, env = "CAIRN_DEFAULT_TTL", default_value = "60s", value_parser = parse_duration)]
    default_ttl: Duration,
    #[arg(long, env = "CAIRN_STALE_IF_ERROR", default_value = "5m", value_parser = parse_duration)]
    stale_if_error: Duration,
    #[arg(long, env = "CAIRN_NEGATIVE_TTL", default_value = "5s", value_parser = parse_duration)]
    negative_ttl: Duration,
    /// Closed ranges of uncached objects are fetched in slices of this size.
    #[arg(long, env = "CAIRN_SLICE_SIZE", default_value = "4MiB", value_parser = parse_size)]
    slice_size: u64,
    /// The region the origin's keys sign for.
    #[arg(long, env = "CAIRN_REGION", default_value = "us-east-1")]
    signing_region: String,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = real_main().await {
        eprintln!("cairn-edge: {e:#}");
        std::process::exit(1);
    }
}

async fn real_main() -> anyhow::Result<()> {
    let Command::Serve(s) = Cli::parse().command;
    let mut config = EdgeConfig::new(
        s.parent.clone().unwrap_or_else(|| s.origin.clone()),
        s.access_key,
        s.secret_key,
        s.cache_dir,
    );
    config.origin = s.origin.trim_end_matches('/').to_owned();
    config.memory_cache = s.memory_cache;
    config.disk_cache = s.disk_cache;
    config.domain = s
        .domain
        .map(|d| d.trim_start_matches('.').to_ascii_lowercase());
    config.default_ttl = s.default_ttl;
    config.stale_if_error = s.stale_if_error;
    config.negative_ttl = s.negative_ttl;
    config.region = s.signing_region;
    config.slice_size = s.slice_size;
    config.name = format!("cairn-edge ({})", s.region);
    let state = cairn_edge::open(config)?;
    // Fix the change-feed position before announcing that we serve.
    cairn_edge::follow::init(&state).await;
    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .with_context(|| format!("cannot listen on {}", s.listen))?;
    println!("cairn-edge listening on http://{}", listener.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install a SIGTERM handler")?;
    cairn_edge::run(state, listener, async move {
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
    })
    .await?;
    Ok(())
}
