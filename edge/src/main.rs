//! The `cairn-edge` command.
//!
//! Settings come from flags, then `CAIRN_*` variables, then the TOML file
//! named by `--config`, then the defaults (see `config::Settings`).

use std::path::PathBuf;

use anyhow::Context;
use cairn_edge::config::Settings;
use cairn_shared::settings::init_logging;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cairn-edge", version, about = "Cairn's caching edge node")]
struct Cli {
    /// A TOML settings file (keys as in README's configuration table).
    #[arg(long, env = "CAIRN_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve cached objects.
    Serve(Settings),
}

#[tokio::main]
async fn main() {
    if let Err(e) = real_main().await {
        eprintln!("cairn-edge: {e:#}");
        std::process::exit(1);
    }
}

async fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let Command::Serve(settings) = cli.command;
    let settings = settings
        .or_file(cli.config.as_deref())
        .map_err(anyhow::Error::msg)?;
    init_logging(settings.log_format.unwrap_or_default());
    // Before anything opens a file, and before we say we serve.
    cairn_shared::listen::raise_file_limit();
    cairn_shared::tls::install_default_provider();
    let config = settings.resolve().map_err(anyhow::Error::msg)?;
    let listen = settings.listen();
    let state = cairn_edge::open(config)?;
    state.upstream.check_tls().await?;
    state.feed.check_tls().await?;
    // Fix the change-feed position before announcing that we serve.
    cairn_edge::follow::init(&state).await;
    let mut listeners = Vec::new();
    let acme = state.config.acme.is_some();
    let tls = cairn_shared::tls::bind(settings.tls_listen, settings.tls_cert.as_deref(), acme)
        .await
        .map_err(anyhow::Error::msg)?;
    if let Some((tls, store)) = tls {
        println!("cairn-edge listening on https://{}", tls.tcp.local_addr()?);
        listeners.push(tls);
        if acme {
            tokio::spawn(cairn_edge::acme::run(state.clone(), store));
        }
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("cairn-edge listening on http://{}", listener.local_addr()?);
    listeners.insert(0, listener.into());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install a SIGTERM handler")?;
    cairn_edge::run(state, listeners, async move {
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
    })
    .await?;
    Ok(())
}
