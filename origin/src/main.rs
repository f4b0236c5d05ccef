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
    /// Manage buckets: who may use them.
    Bucket {
        #[command(subcommand)]
        command: BucketCommand,
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
enum BucketCommand {
    /// Let a key read, write and/or own a bucket it did not create.
    Allow {
        bucket: String,
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Take permissions back (all of them when none is named).
    Deny {
        bucket: String,
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Show a bucket's owner and grants.
    Info { bucket: String },
}

#[derive(clap::Args)]
struct GrantArgs {
    /// The access key the grant is for.
    #[arg(long)]
    key: String,
    /// Read and list objects.
    #[arg(long)]
    read: bool,
    /// Write and delete objects (multipart uploads too).
    #[arg(long)]
    write: bool,
    /// Everything the bucket's creator may do.
    #[arg(long)]
    owner: bool,
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
        /// The key may only read (GET, HEAD, list), whatever it is granted.
        #[arg(long)]
        read_only: bool,
        /// The key stops working after this long (e.g. 30d, 12h).
        #[arg(long, value_parser = cairn_shared::units::parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// Change what a key may do: read-only or not, and when it expires.
    Set {
        access_key: String,
        /// Make the key read-only (`--read-only false` lifts it).
        #[arg(long)]
        read_only: Option<bool>,
        /// The key stops working this long from now.
        #[arg(long, value_parser = cairn_shared::units::parse_duration, conflicts_with = "no_expiry")]
        expires_in: Option<std::time::Duration>,
        /// The key never expires.
        #[arg(long)]
        no_expiry: bool,
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
        Command::Bucket { command, dir } => bucket_command(&admin(dir)?, command).await,
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
            let Some(found) = found.filter(|f| f.role == keys::Role::Edge) else {
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
    let env_key = |prefix: &str, name: &str, role: keys::Role| {
        let ak = std::env::var(format!("CAIRN_{prefix}_ACCESS_KEY")).ok()?;
        let sk = std::env::var(format!("CAIRN_{prefix}_SECRET_KEY")).ok()?;
        Some(keys::AccessKey::new(ak, sk, name, role))
    };
    if let Some(key) = env_key("EDGE", "edge", keys::Role::Edge) {
        cairn_origin::store_key(state, key).await?;
    }
    if let Some(key) = env_key("ROOT", "root", keys::Role::Admin) {
        return cairn_origin::store_key(state, key).await;
    }
    let existing = state
        .meta
        .read_now(|c| keys::find_by_name(c, "root"))
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    if existing.is_none() {
        let key = cairn_origin::generate_key("root", keys::Role::Admin);
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
        KeyCommand::Create {
            name,
            edge,
            read_only,
            expires_in,
        } => {
            let role = if edge {
                keys::Role::Edge
            } else {
                keys::Role::User
            };
            let mut key = cairn_origin::generate_key(&name, role);
            key.read_only = read_only;
            key.expires_ms = expires_in.map(expiry_from_now).transpose()?;
            cairn_origin::store_key(state, key.clone()).await?;
            println!("AWS_ACCESS_KEY_ID={}", key.access_key);
            println!("AWS_SECRET_ACCESS_KEY={}", key.secret_key);
        }
        KeyCommand::Set {
            access_key,
            read_only,
            expires_in,
            no_expiry,
        } => {
            let expires = match (expires_in, no_expiry) {
                (Some(d), _) => Some(Some(expiry_from_now(d)?)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let ak = access_key.clone();
            let found = state
                .meta
                .write(move |c, _| keys::update(c, &ak, read_only, expires))
                .await
                .map_err(meta_err)?;
            if !found {
                anyhow::bail!("no access key {access_key}");
            }
            println!("updated {access_key}");
        }
        KeyCommand::List => {
            println!("ACCESS KEY\tNAME\tROLE\tREAD-ONLY\tEXPIRES");
            for k in state.meta.read_now(keys::list).map_err(meta_err)? {
                let expires = k
                    .expires_ms
                    .map_or_else(|| "never".to_owned(), cairn_origin::ops::iso8601);
                println!(
                    "{}\t{}\t{}\t{}\t{expires}",
                    k.access_key,
                    k.name,
                    k.role.as_str(),
                    if k.read_only { "yes" } else { "no" },
                );
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

/// Unix ms `d` from now.
fn expiry_from_now(d: std::time::Duration) -> anyhow::Result<i64> {
    let at = std::time::SystemTime::now()
        .checked_add(d)
        .context("expiry too far in the future")?
        .duration_since(std::time::UNIX_EPOCH)?;
    Ok(i64::try_from(at.as_millis())?)
}

async fn bucket_command(state: &AppState, command: BucketCommand) -> anyhow::Result<()> {
    use cairn_origin::store::meta::{buckets, grants};
    let (bucket, args, allow) = match command {
        BucketCommand::Allow { bucket, grant } => (bucket, grant, true),
        BucketCommand::Deny { bucket, grant } => (bucket, grant, false),
        BucketCommand::Info { bucket } => {
            let b = bucket.clone();
            let (row, list) = state
                .meta
                .read(move |c| Ok((buckets::get(c, &b)?, grants::list(c, &b)?)))
                .await
                .map_err(meta_err)?;
            let row = row.with_context(|| format!("no bucket {bucket}"))?;
            println!("bucket\t{}", row.name);
            println!("owner\t{}", row.owner);
            println!("created\t{}", cairn_origin::ops::iso8601(row.created_ms));
            for (key, g) in list {
                println!("grant\t{key}\t{}", grant_words(g));
            }
            return Ok(());
        }
    };
    let mut change = grants::Grant {
        read: args.read,
        write: args.write,
        owner: args.owner,
    };
    if change.is_empty() {
        if allow {
            anyhow::bail!("name what to allow: --read, --write and/or --owner");
        }
        change = grants::Grant {
            read: true,
            write: true,
            owner: true,
        };
    }
    let (b, k) = (bucket.clone(), args.key.clone());
    let now = state
        .meta
        .write(move |c, _| grants::change(c, &b, &k, change, allow))
        .await
        .map_err(meta_err)?;
    println!("{}\t{}\t{}", bucket, args.key, grant_words(now));
    Ok(())
}

/// `read,write`, or `none`.
fn grant_words(g: cairn_origin::store::meta::grants::Grant) -> String {
    let words: Vec<&str> = [(g.read, "read"), (g.write, "write"), (g.owner, "owner")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect();
    if words.is_empty() {
        "none".to_owned()
    } else {
        words.join(",")
    }
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
        let state = if e.revoked {
            "revoked (its key was deleted)"
        } else if ago < 60 {
            "following"
        } else {
            "gone"
        };
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
