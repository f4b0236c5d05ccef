//! The `cairn-origin` command: `serve`, and the admin commands an operator
//! runs beside it (keys, edges, gc, check, signed URLs).
//!
//! Settings come from flags, then `CAIRN_*` variables, then the TOML file
//! named by `--config`, then the defaults (see `config::Settings`).

use std::path::PathBuf;

use anyhow::Context;
use cairn_origin::admin::client::{Admin, Remote};
use cairn_origin::admin::jobs::JobKind;
use cairn_origin::admin::{GrantChange, KeyChange, KeySpec, Quota};
use cairn_origin::config::Settings;
use cairn_origin::state::AppState;
use cairn_origin::store::meta::keys;
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
    /// Run key, bucket, edges, gc and check against this origin's admin
    /// API (its admin_listen address) instead of a local data dir.
    #[arg(long, env = "CAIRN_ADMIN_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// An admin token for --endpoint (prefer the variable: `ps` shows flags).
    #[arg(long, env = "CAIRN_ADMIN_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the S3 API.
    Serve(Box<Settings>),
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
    /// Show each webhook target's deliveries: position, lag, failures.
    Notifications(DataDir),
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
    /// Manage the URL keys that sign edge URLs every edge accepts.
    UrlKeys {
        #[command(subcommand)]
        command: UrlKeyCommand,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Print a signed edge URL for a private object (any edge of the
    /// deployment accepts it).
    SignUrl {
        bucket: String,
        key: String,
        /// Sign with this edge key's secret instead (the older form: only
        /// edges holding that key accept the URL).
        #[arg(long, env = "CAIRN_EDGE_ACCESS_KEY")]
        edge_key: Option<String>,
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
    /// Show a bucket's owner, usage, quotas and grants.
    Info { bucket: String },
    /// List every bucket with its owner and usage.
    List,
    /// Create a bucket owned by an access key.
    Create {
        bucket: String,
        /// The access key that owns it.
        #[arg(long)]
        owner: String,
    },
    /// Delete an empty bucket.
    Delete { bucket: String },
    /// Serve the bucket as a static site (edges answer its hosts with these
    /// documents); routing rules are set with PutBucketWebsite.
    Website {
        bucket: String,
        /// The index document of every folder (e.g. index.html).
        #[arg(long, required_unless_present = "none")]
        index: Option<String>,
        /// The page served for a missing one (e.g. 404.html).
        #[arg(long)]
        error: Option<String>,
        /// Stop serving it as a site.
        #[arg(long, conflicts_with_all = ["index", "error"])]
        none: bool,
    },
    /// Limit what a bucket may hold; writes past it get 403 QuotaExceeded.
    Quota {
        bucket: String,
        /// Most bytes of all its versions (e.g. 10GiB).
        #[arg(long)]
        max_bytes: Option<cairn_shared::units::Size>,
        /// Most current objects.
        #[arg(long)]
        max_objects: Option<u64>,
        /// Lift both limits.
        #[arg(long, conflicts_with_all = ["max_bytes", "max_objects"])]
        none: bool,
    },
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
enum UrlKeyCommand {
    /// List the URL keys: which signs, which verify, which are retired.
    List,
    /// Add a key that signs from now on; the others keep verifying until
    /// retired (edges learn of it within a second or two).
    Rotate,
    /// Retire a key: URLs it signed stop working at every edge.
    Retire { id: String },
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
        cairn_origin::attach(settings.resolve().map_err(anyhow::Error::msg)?)
    };
    // Key, bucket, edges, gc and check run on a local data dir, or
    // through a remote origin's admin API.
    let (endpoint, token) = (cli.endpoint.clone(), cli.token.clone());
    let target = |dir: DataDir| -> anyhow::Result<Admin> {
        match &endpoint {
            Some(url) => {
                init_logging(LogFormat::Text);
                let token = token
                    .as_deref()
                    .context("--endpoint needs an admin token: CAIRN_ADMIN_TOKEN (or --token)")?;
                Ok(Admin::Remote(Remote::new(url, token)?))
            }
            None => Ok(Admin::Local(admin(dir)?)),
        }
    };
    match cli.command {
        Command::Serve(settings) => {
            serve(
                (*settings)
                    .or_file(config_file)
                    .map_err(anyhow::Error::msg)?,
            )
            .await
        }
        Command::Key { command, dir } => key_command(&target(dir)?, command).await,
        Command::Bucket { command, dir } => bucket_command(&target(dir)?, command).await,
        Command::Edges(dir) => list_edges(&target(dir)?).await,
        Command::Notifications(dir) => list_notifications(&target(dir)?).await,
        Command::Gc(dir) => gc(&target(dir)?).await,
        Command::Check(dir) => check(&target(dir)?).await,
        Command::Sse { command, dir } => sse_command(&admin(dir)?, command).await,
        Command::UrlKeys { command, dir } => url_key_command(&admin(dir)?, command).await,
        Command::SignUrl {
            bucket,
            key,
            edge_key,
            expires_in,
            edge,
            dir,
        } => {
            let state = admin(dir)?;
            let expires = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
                + expires_in.as_secs();
            let path = match edge_key {
                Some(edge_key) => {
                    let k = edge_key.clone();
                    let found = state.meta.read_now(|c| keys::get(c, &k))?;
                    let Some(found) = found.filter(|f| f.role == keys::Role::Edge) else {
                        anyhow::bail!(
                            "{edge_key} is not an edge key (cairn-origin key create NAME --edge)"
                        );
                    };
                    cairn_shared::signed_url::path(&found.secret_key, &bucket, &key, expires)
                }
                None => cairn_origin::ops::url_keys::signer(&state)
                    .await
                    .map_err(meta_err)?
                    .path(&bucket, &key, expires),
            };
            let path =
                path.ok_or_else(|| anyhow::anyhow!("the key {key:?} cannot be served from a URL"))?;
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
    let state = cairn_origin::open(settings.resolve().map_err(anyhow::Error::msg)?).await?;
    ensure_env_keys(&state).await?;
    // Edges learn the URL keys at start: the first signed URL must not
    // find them without one.
    cairn_origin::ops::url_keys::signer(&state)
        .await
        .map_err(meta_err)?;
    if let Some(addr) = settings.admin_listen {
        let bound = cairn_origin::admin::api::spawn(&state, addr).await?;
        println!("cairn-origin admin API on http://{bound}");
    }
    let mut listeners = Vec::new();
    let tls = cairn_shared::tls::bind(settings.tls_listen, settings.tls_cert.as_deref(), false)
        .await
        .map_err(anyhow::Error::msg)?;
    if let Some((tls, _)) = tls {
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
    let existing = state.meta.read_now(|c| keys::find_by_name(c, "root"))?;
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

async fn key_command(admin: &Admin, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create {
            name,
            edge,
            read_only,
            expires_in,
        } => {
            let key = admin
                .create_key(KeySpec {
                    name,
                    edge,
                    read_only,
                    expires_in_secs: expires_in.map(|d| d.as_secs()),
                })
                .await?;
            println!("AWS_ACCESS_KEY_ID={}", key.access_key);
            println!("AWS_SECRET_ACCESS_KEY={}", key.secret_key);
        }
        KeyCommand::Set {
            access_key,
            read_only,
            expires_in,
            no_expiry,
        } => {
            let change = KeyChange {
                read_only,
                expires_in_secs: expires_in.map(|d| d.as_secs()),
                no_expiry,
            };
            admin.change_key(&access_key, change).await?;
            println!("updated {access_key}");
        }
        KeyCommand::List => {
            let keys = admin.list_keys().await?;
            println!("ACCESS KEY\tNAME\tROLE\tREAD-ONLY\tEXPIRES");
            for k in keys {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    k.access_key,
                    k.name,
                    k.role,
                    if k.read_only { "yes" } else { "no" },
                    k.expires.as_deref().unwrap_or("never"),
                );
            }
        }
        KeyCommand::Delete { access_key } => {
            admin.delete_key(&access_key).await?;
            println!("deleted {access_key}");
        }
    }
    Ok(())
}

async fn bucket_command(admin: &Admin, command: BucketCommand) -> anyhow::Result<()> {
    let (bucket, args, allow) = match command {
        BucketCommand::Allow { bucket, grant } => (bucket, grant, true),
        BucketCommand::Deny { bucket, grant } => (bucket, grant, false),
        BucketCommand::Info { bucket } => {
            print_bucket(&admin.bucket_info(&bucket).await?);
            return Ok(());
        }
        BucketCommand::List => {
            let list = admin.list_buckets().await?;
            println!("BUCKET\tOWNER\tOBJECTS\tBYTES");
            for b in list {
                println!(
                    "{}\t{}\t{}\t{}",
                    b.name,
                    b.owner,
                    b.objects,
                    b.bytes + b.version_bytes
                );
            }
            return Ok(());
        }
        BucketCommand::Create { bucket, owner } => {
            admin.create_bucket(&bucket, &owner).await?;
            println!("created {bucket}");
            return Ok(());
        }
        BucketCommand::Delete { bucket } => {
            admin.delete_bucket(&bucket).await?;
            println!("deleted {bucket}");
            return Ok(());
        }
        BucketCommand::Website {
            bucket,
            index,
            error,
            none,
        } => {
            let spec = (!none).then(|| cairn_origin::admin::SiteSpec {
                index_document: index.unwrap_or_default(),
                error_document: error,
            });
            admin.set_website(&bucket, spec).await?;
            print_bucket(&admin.bucket_info(&bucket).await?);
            return Ok(());
        }
        BucketCommand::Quota {
            bucket,
            max_bytes,
            max_objects,
            none,
        } => {
            if !none && max_bytes.is_none() && max_objects.is_none() {
                anyhow::bail!("name a limit (--max-bytes, --max-objects) or --none");
            }
            let quota = Quota {
                max_bytes: max_bytes.map(|s| s.0),
                max_objects,
            };
            admin.set_quota(&bucket, quota).await?;
            print_bucket(&admin.bucket_info(&bucket).await?);
            return Ok(());
        }
    };
    let change = GrantChange {
        key: args.key.clone(),
        read: args.read,
        write: args.write,
        owner: args.owner,
        allow,
    };
    let now = admin.change_grant(&bucket, change).await?;
    println!("{}\t{}\t{}", bucket, args.key, grant_words(&now));
    Ok(())
}

fn print_bucket(b: &cairn_origin::admin::BucketInfo) {
    let limit = |v: Option<u64>| v.map_or_else(|| "none".to_owned(), |n| n.to_string());
    println!("bucket\t{}", b.name);
    println!("owner\t{}", b.owner);
    println!("created\t{}", b.created);
    println!("versioning\t{}", b.versioning);
    println!("objects\t{}", b.objects);
    println!("bytes\t{}", b.bytes);
    println!("versions\t{}", b.versions);
    println!("version_bytes\t{}", b.version_bytes);
    println!("dedup_bytes\t{}", b.dedup_bytes);
    println!("max_objects\t{}", limit(b.quota.max_objects));
    println!("max_bytes\t{}", limit(b.quota.max_bytes));
    if let Some(w) = &b.website {
        println!(
            "website\tindex {}\terror {}",
            w.index_document,
            w.error_document.as_deref().unwrap_or("-")
        );
    }
    for t in &b.traffic {
        println!(
            "traffic\t{}\t{} requests\t{} bytes out",
            t.class, t.requests, t.egress_bytes
        );
    }
    for g in &b.grants {
        println!("grant\t{}\t{}", g.key, grant_words(g));
    }
}

/// `read,write`, or `none`.
fn grant_words(g: &cairn_origin::admin::GrantInfo) -> String {
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

async fn url_key_command(state: &AppState, command: UrlKeyCommand) -> anyhow::Result<()> {
    use cairn_origin::ops::url_keys;
    match command {
        UrlKeyCommand::List => {
            let rows = state
                .meta
                .read_now(cairn_origin::store::meta::url_keys::list)?;
            if rows.is_empty() {
                println!("no URL keys yet (the first signed URL makes one)");
            }
            let signer = rows
                .iter()
                .find(|r| r.retired_ms.is_none())
                .map(|r| r.id.clone());
            println!("ID\tSTATE\tCREATED");
            for r in rows {
                let what = match (r.retired_ms, Some(&r.id) == signer.as_ref()) {
                    (Some(_), _) => "retired",
                    (None, true) => "signs",
                    (None, false) => "verifies",
                };
                println!(
                    "{}\t{what}\t{}",
                    r.id,
                    cairn_origin::ops::iso8601(r.created_ms)
                );
            }
        }
        UrlKeyCommand::Rotate => {
            let id = url_keys::rotate(state).await.map_err(meta_err)?;
            println!("URL key {id} signs from now on; retire the previous one once its URLs have expired");
        }
        UrlKeyCommand::Retire { id } => {
            if !url_keys::retire(state, &id).await.map_err(meta_err)? {
                anyhow::bail!("{id} is not a URL key in use (cairn-origin url-keys list)");
            }
            println!("retired {id}: URLs it signed are refused by every edge");
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

async fn list_notifications(admin: &Admin) -> anyhow::Result<()> {
    let rows = admin.notifications().await?;
    if rows.is_empty() {
        println!("no webhook targets are configured (webhooks = [\"NAME=URL\"])");
        return Ok(());
    }
    println!("TARGET\tLAG\tDELIVERED\tFAILURES\tLOST\tLAST ERROR");
    for n in rows {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            n.target,
            n.lag,
            n.delivered,
            n.failures,
            n.lost,
            n.last_error.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

async fn list_edges(admin: &Admin) -> anyhow::Result<()> {
    let rows = admin.list_edges().await?;
    if rows.is_empty() {
        println!("no edge has followed the change feed yet");
        return Ok(());
    }
    println!(
        "{:<24} {:<14} {:<22} {:>8} {:>12}  STATE",
        "EDGE", "REGION", "ACCESS KEY", "LAG", "LAST SEEN"
    );
    for e in rows {
        let state = if e.state == "revoked" {
            "revoked (its key was deleted)"
        } else {
            e.state.as_str()
        };
        println!(
            "{:<24} {:<14} {:<22} {:>8} {:>10}s ago  {state}",
            e.name, e.region, e.access_key, e.lag, e.seen_secs_ago
        );
    }
    Ok(())
}

/// Runs a job with a progress line; returns its result.
async fn run_job(
    admin: &Admin,
    kind: JobKind,
    name: &'static str,
) -> anyhow::Result<serde_json::Value> {
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Progress::new(name)));
    let shown = progress.clone();
    let job = admin
        .run_job(kind, move |done, total, unit| {
            if let Ok(mut p) = shown.lock() {
                p.update(done, total, unit);
            }
        })
        .await?;
    if let Ok(mut p) = progress.lock() {
        p.finish();
    }
    if let Some(e) = job.error {
        anyhow::bail!("{name} failed: {e}");
    }
    Ok(job.result.unwrap_or_default())
}

async fn gc(admin: &Admin) -> anyhow::Result<()> {
    let r = run_job(admin, JobKind::Gc, "gc").await?;
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    println!(
        "gc: scanned {} blob files, freed {} unreferenced ({})",
        n("scanned"),
        n("freed_blobs"),
        human_bytes(n("freed_bytes"))
    );
    Ok(())
}

async fn check(admin: &Admin) -> anyhow::Result<()> {
    let r = run_job(admin, JobKind::Check, "check").await?;
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let damage: Vec<String> = r["damage"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for d in &damage {
        println!("DAMAGE: {d}");
    }
    println!(
        "check: {} blobs verified ({}), {} damaged, {} unreferenced (cairn-origin gc reclaims them)",
        n("blobs_checked"),
        human_bytes(n("bytes_checked")),
        damage.len(),
        n("unreferenced")
    );
    if !damage.is_empty() {
        anyhow::bail!("{} problems found", damage.len());
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
