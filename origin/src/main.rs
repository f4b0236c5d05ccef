//! The `cairn-origin` command: `serve`, and the admin commands an operator
//! runs beside it (keys, edges, gc, check, signed URLs).
//!
//! Settings come from flags, then `CAIRN_*` variables, then the TOML file
//! named by `--config`, then the defaults (see `config::Settings`).

use std::path::PathBuf;

use anyhow::Context;
use cairn_origin::config::Settings;
use cairn_origin::state::AppState;
use cairn_origin::store::meta::{changes, edges, keys};
use cairn_shared::progress::{human_bytes, Progress};
use cairn_shared::settings::{init_logging, LogFormat};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cairn-origin",
    version,
    about = "Cairn's S3-compatible origin server"
)]
struct Cli {
    /// A TOML settings file (keys as in README's configuration table).
    #[arg(long, env = "CAIRN_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the S3 API.
    Serve(Settings),
    /// Manage access keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Show the edges that follow the change feed, their region and lag.
    Edges(DataDir),
    /// Reclaim blob files no object references, now, and report the space.
    Gc(DataDir),
    /// Verify every blob against its BLAKE3 name and every row against its
    /// blobs; exits 1 if anything is damaged.
    Check(DataDir),
    /// Manage the key ring of server-side encryption (SSE-S3, SSE-KMS).
    Sse {
        #[command(subcommand)]
        command: SseCommand,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Print a signed edge URL for a private object.
    SignUrl {
        bucket: String,
        key: String,
        /// The edge key whose secret the edges verify with.
        #[arg(long, env = "CAIRN_EDGE_ACCESS_KEY")]
        edge_key: String,
        /// How long the URL works (e.g. 1h, 30m).
        #[arg(long, default_value = "1h", value_parser = cairn_shared::units::parse_duration)]
        expires_in: std::time::Duration,
        /// The edge's base URL to print in front of the path.
        #[arg(long, default_value = "http://127.0.0.1:9080")]
        edge: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(clap::Args)]
struct DataDir {
    /// The origin's data dir [default: ./data, or data_dir from --config]
    #[arg(long, env = "CAIRN_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// The SSE key ring [default: DATA_DIR/sse-keys, or sse_key_file from --config]
    #[arg(long, env = "CAIRN_SSE_KEY_FILE", global = true)]
    sse_key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum SseCommand {
    /// Add a named key that SSE-KMS requests may name
    /// (x-amz-server-side-encryption-aws-kms-key-id).
    AddKey { id: String },
    /// Make a new SSE-S3 master key and re-wrap every SSE-S3 object's data
    /// key under it (no object bytes are rewritten).
    Rotate,
    /// List the key ids in the ring (never the keys).
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key pair and print it.
    Create {
        name: String,
        /// An edge key: follows the change feed and reads any object.
        #[arg(long)]
        edge: bool,
    },
    /// List access keys (secrets are not shown).
    List,
    /// Delete an access key.
    Delete { access_key: String },
}

#[tokio::main]
async fn main() {
    if let Err(e) = real_main().await {
        eprintln!("cairn-origin: {e:#}");
        std::process::exit(1);
    }
}

async fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config_file = cli.config.as_deref();
    let admin = |dir: DataDir| -> anyhow::Result<AppState> {
        let settings = Settings {
            data_dir: dir.data_dir,
            sse_key_file: dir.sse_key_file,
            ..Settings::default()
        }
        .or_file(config_file)
        .map_err(anyhow::Error::msg)?;
        init_logging(settings.log_format.unwrap_or_default());
        cairn_origin::attach(settings.resolve())
    };
    match cli.command {
        Command::Serve(settings) => {
            serve(settings.or_file(config_file).map_err(anyhow::Error::msg)?).await
        }
        Command::Key { command, dir } => key_command(&admin(dir)?, command).await,
        Command::Edges(dir) => list_edges(&admin(dir)?).await,
        Command::Gc(dir) => gc(&admin(dir)?).await,
        Command::Check(dir) => check(&admin(dir)?).await,
        Command::Sse { command, dir } => sse_command(&admin(dir)?, command).await,
        Command::SignUrl {
            bucket,
            key,
            edge_key,
            expires_in,
            edge,
            dir,
        } => {
            let state = admin(dir)?;
            let k = edge_key.clone();
            let found = state
                .meta
                .read_now(|c| keys::get(c, &k))
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let Some(found) = found.filter(|f| f.role == "edge") else {
                anyhow::bail!(
                    "{edge_key} is not an edge key (cairn-origin key create NAME --edge)"
                );
            };
            let expires = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
                + expires_in.as_secs();
            let path = cairn_shared::signed_url::path(&found.secret_key, &bucket, &key, expires)
                .ok_or_else(|| anyhow::anyhow!("the key {key:?} cannot be served from a URL"))?;
            println!("{}{path}", edge.trim_end_matches('/'));
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    init_logging(settings.log_format.unwrap_or(LogFormat::Text));
    // Before anything opens a file, and before we say we serve.
    cairn_shared::listen::raise_file_limit();
    let listen = settings.listen();
    let state = cairn_origin::open(settings.resolve()).await?;
    ensure_env_keys(&state).await?;
    let mut listeners = Vec::new();
    let tls = cairn_shared::tls::bind(settings.tls_listen, settings.tls_cert.as_deref())
        .await
        .map_err(anyhow::Error::msg)?;
    if let Some(tls) = tls {
        tracing::info!(addr = %tls.tcp.local_addr()?, "cairn-origin serving S3 over TLS");
        println!(
            "cairn-origin listening on https://{}",
            tls.tcp.local_addr()?
        );
        listeners.push(tls);
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "cairn-origin serving S3");
    println!(
        "cairn-origin listening on http://{}",
        listener.local_addr()?
    );
    listeners.insert(0, listener.into());
    cairn_origin::run(state, listeners, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The root pair comes from CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY,
/// or is generated and printed once, on first start. A deployment that
/// starts its edges with known credentials provisions their key with
/// CAIRN_EDGE_ACCESS_KEY / CAIRN_EDGE_SECRET_KEY.
async fn ensure_env_keys(state: &AppState) -> anyhow::Result<()> {
    let env_key = |prefix: &str, name: &str, role: &str| {
        let ak = std::env::var(format!("CAIRN_{prefix}_ACCESS_KEY")).ok()?;
        let sk = std::env::var(format!("CAIRN_{prefix}_SECRET_KEY")).ok()?;
        Some(keys::AccessKey {
            access_key: ak,
            secret_key: sk,
            name: name.into(),
            role: role.into(),
        })
    };
    if let Some(key) = env_key("EDGE", "edge", "edge") {
        cairn_origin::store_key(state, key).await?;
    }
    if let Some(key) = env_key("ROOT", "root", "admin") {
        return cairn_origin::store_key(state, key).await;
    }
    let existing = state
        .meta
        .read_now(|c| keys::find_by_name(c, "root"))
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    if existing.is_none() {
        let key = cairn_origin::generate_key("root", "admin");
        println!("Generated root credentials (shown once):");
        println!("  AWS_ACCESS_KEY_ID={}", key.access_key);
        println!("  AWS_SECRET_ACCESS_KEY={}", key.secret_key);
        cairn_origin::store_key(state, key).await?;
    }
    Ok(())
}

fn meta_err(e: cairn_origin::error::S3Error) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message)
}

async fn key_command(state: &AppState, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create { name, edge } => {
            let key = cairn_origin::generate_key(&name, if edge { "edge" } else { "user" });
            cairn_origin::store_key(state, key.clone()).await?;
            println!("AWS_ACCESS_KEY_ID={}", key.access_key);
            println!("AWS_SECRET_ACCESS_KEY={}", key.secret_key);
        }
        KeyCommand::List => {
            for k in state.meta.read_now(keys::list).map_err(meta_err)? {
                println!("{}\t{}\t{}", k.access_key, k.name, k.role);
            }
        }
        KeyCommand::Delete { access_key } => {
            let ak = access_key.clone();
            let gone = state
                .meta
                .write(move |c, _| keys::delete(c, &ak))
                .await
                .map_err(meta_err)?;
            if !gone {
                anyhow::bail!("no access key {access_key}");
            }
            println!("deleted {access_key}");
        }
    }
    Ok(())
}

async fn sse_command(state: &AppState, command: SseCommand) -> anyhow::Result<()> {
    let ring = &state.sse_keys;
    match command {
        SseCommand::AddKey { id } => {
            if cairn_origin::sse::keys::is_master(&id) {
                anyhow::bail!("{id}: master-N ids are made by `sse rotate`");
            }
            ring.add(&id)?;
            println!("added key {id} to {}", ring.path().display());
        }
        SseCommand::Rotate => {
            let (id, rows) = cairn_origin::ops::encryption::rotate_master(state)
                .await
                .map_err(meta_err)?;
            println!("new master key {id}; re-wrapped {rows} data keys");
        }
        SseCommand::List => {
            for id in ring.ids()? {
                println!("{id}");
            }
        }
    }
    Ok(())
}

async fn list_edges(state: &AppState) -> anyhow::Result<()> {
    let (rows, head) = state
        .meta
        .read_now(|c| Ok((edges::list(c)?, changes::bounds(c)?.1)))
        .map_err(meta_err)?;
    if rows.is_empty() {
        println!("no edge has followed the change feed yet");
        return Ok(());
    }
    let now_ms = cairn_origin::ops::now_ms();
    println!(
        "{:<24} {:<14} {:<22} {:>8} {:>12}  STATE",
        "EDGE", "REGION", "ACCESS KEY", "LAG", "LAST SEEN"
    );
    for e in rows {
        let ago = (now_ms - e.seen_ms).max(0) / 1000;
        // Long polls return within 30 s and are recorded within 5 s.
        let state = if ago < 60 { "following" } else { "gone" };
        println!(
            "{:<24} {:<14} {:<22} {:>8} {:>10}s ago  {state}",
            e.name,
            e.region,
            e.access_key,
            (head - e.position).max(0),
            ago
        );
    }
    Ok(())
}

async fn gc(state: &AppState) -> anyhow::Result<()> {
    let mut progress = Progress::new("gc");
    let freed = cairn_origin::store::gc::collect(&state.meta, &state.blobs, |done, total| {
        progress.update(done, total, "blobs")
    })
    .await?;
    progress.finish();
    println!(
        "gc: scanned {} blob files, freed {} unreferenced ({})",
        freed.scanned,
        freed.blobs,
        human_bytes(freed.bytes)
    );
    Ok(())
}

async fn check(state: &AppState) -> anyhow::Result<()> {
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Progress::new("check")));
    let shown = progress.clone();
    let report = cairn_origin::store::check::run(&state.meta, &state.blobs, move |done, total| {
        if let Ok(mut p) = shown.lock() {
            p.update(done, total, "bytes");
        }
    })
    .await?;
    if let Ok(mut p) = progress.lock() {
        p.finish();
    }
    for d in &report.damage {
        println!("DAMAGE: {d}");
    }
    println!(
        "check: {} blobs verified ({}), {} damaged, {} unreferenced (cairn-origin gc reclaims them)",
        report.blobs_checked,
        human_bytes(report.bytes_checked),
        report.damage.len(),
        report.unreferenced
    );
    if !report.damage.is_empty() {
        anyhow::bail!("{} problems found", report.damage.len());
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
