//! The `cairn-origin` command: `serve` and key administration.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use cairn_origin::config::Config;
use cairn_origin::store::meta::keys;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cairn-origin",
    version,
    about = "Cairn's S3-compatible origin server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the S3 API.
    Serve {
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        #[arg(long, env = "CAIRN_LISTEN", default_value = "127.0.0.1:9000")]
        listen: SocketAddr,
        /// Base domain for virtual-hosted-style requests (bucket.DOMAIN).
        #[arg(long, env = "CAIRN_DOMAIN")]
        domain: Option<String>,
        /// The region clients must sign for.
        #[arg(long, env = "CAIRN_REGION", default_value = "us-east-1")]
        region: String,
        /// Abort multipart uploads older than this (e.g. 7d, 12h).
        #[arg(long, env = "CAIRN_UPLOAD_MAX_AGE", default_value = "7d", value_parser = cairn_shared::units::parse_duration)]
        upload_max_age: std::time::Duration,
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
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Manage access keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key pair and print it.
    Create {
        name: String,
        /// An edge key: follows the change feed and reads any object.
        #[arg(long)]
        edge: bool,
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// List access keys (secrets are not shown).
    List {
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Delete an access key.
    Delete {
        access_key: String,
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
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
        eprintln!("cairn-origin: {e:#}");
        std::process::exit(1);
    }
}

async fn real_main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve {
            data_dir,
            listen,
            domain,
            region,
            upload_max_age,
        } => {
            let mut config = Config::new(data_dir);
            config.domain = domain.map(|d| d.trim_start_matches('.').to_ascii_lowercase());
            config.region = region;
            config.upload_max_age = upload_max_age;
            let state = cairn_origin::open(config)?;
            ensure_root_key(&state).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(addr = %listener.local_addr()?, "cairn-origin serving S3");
            println!(
                "cairn-origin listening on http://{}",
                listener.local_addr()?
            );
            cairn_origin::run(state, listener, shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Key { command } => key_command(command).await?,
        Command::SignUrl {
            bucket,
            key,
            edge_key,
            expires_in,
            edge,
            data_dir,
        } => {
            let state = cairn_origin::open(Config::new(data_dir))?;
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
            let sig = cairn_shared::signed_url::sign(&found.secret_key, &bucket, &key, expires);
            let path =
                percent_encoding::utf8_percent_encode(&key, cairn_origin::auth::encode::PATH_SET);
            println!(
                "{}/{bucket}/{path}?expires={expires}&sig={sig}",
                edge.trim_end_matches('/')
            );
        }
    }
    Ok(())
}

/// The root pair comes from CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY,
/// or is generated and printed once, on first start.
async fn ensure_root_key(state: &cairn_origin::state::AppState) -> anyhow::Result<()> {
    let from_env = (
        std::env::var("CAIRN_ROOT_ACCESS_KEY").ok(),
        std::env::var("CAIRN_ROOT_SECRET_KEY").ok(),
    );
    if let (Some(ak), Some(sk)) = from_env {
        let key = keys::AccessKey {
            access_key: ak,
            secret_key: sk,
            name: "root".into(),
            role: "admin".into(),
        };
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

async fn key_command(command: KeyCommand) -> anyhow::Result<()> {
    let dir = match &command {
        KeyCommand::Create { data_dir, .. }
        | KeyCommand::List { data_dir }
        | KeyCommand::Delete { data_dir, .. } => data_dir.clone(),
    };
    let state = cairn_origin::open(Config::new(dir))?;
    let err = |e: cairn_origin::error::S3Error| anyhow::anyhow!("{}", e.message);
    match command {
        KeyCommand::Create { name, edge, .. } => {
            let key = cairn_origin::generate_key(&name, if edge { "edge" } else { "user" });
            cairn_origin::store_key(&state, key.clone()).await?;
            println!("AWS_ACCESS_KEY_ID={}", key.access_key);
            println!("AWS_SECRET_ACCESS_KEY={}", key.secret_key);
        }
        KeyCommand::List { .. } => {
            for k in state.meta.read_now(keys::list).map_err(err)? {
                println!("{}\t{}\t{}", k.access_key, k.name, k.role);
            }
        }
        KeyCommand::Delete { access_key, .. } => {
            let ak = access_key.clone();
            let gone = state
                .meta
                .write(move |c, _| keys::delete(c, &ak))
                .await
                .map_err(err)?;
            if !gone {
                anyhow::bail!("no access key {access_key}");
            }
            println!("deleted {access_key}");
        }
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
