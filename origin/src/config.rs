//! Settings of a running origin.
//!
//! [`Settings`] is what an operator writes: every field optional, filled by
//! clap from flags and `CAIRN_*` variables and, for fields still empty,
//! from the TOML file given by `--config`. [`Settings::resolve`] applies
//! the documented defaults and yields the [`Config`] the server runs with;
//! tests build a `Config` directly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_shared::settings::LogFormat;
use cairn_shared::units::{Size, Span};

/// Largest object a single PUT may carry: S3's 5 GiB.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    /// Holds `meta.sqlite`, `blobs/` and `tmp/`.
    pub data_dir: PathBuf,
    /// Base domain for virtual-hosted-style requests (`bucket.BASE`).
    pub domain: Option<String>,
    /// The region buckets report (GetBucketLocation, x-amz-bucket-region).
    pub region: String,
    /// Refuse signatures whose credential scope names another region
    /// (AWS's answer). Off by default: the region does not weaken a
    /// signature (the secret derives the key either way), and clients
    /// sign with their own idea of it (`auto` for R2, the host name for
    /// git-annex).
    pub strict_region: bool,
    /// Largest single PUT body.
    pub max_object_size: u64,
    /// Multipart uploads older than this are aborted and their parts freed.
    pub upload_max_age: Duration,
    /// How long a "day" of a lifecycle rule lasts: a real day, or less so
    /// tests can watch rules act (ceph/s3-tests' `lc_debug_interval`).
    pub lifecycle_day: Duration,
    /// Connection bounds (see `cairn_shared::listen`); the cap defaults to
    /// what the open-file limit allows.
    pub max_connections: Option<usize>,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// The plain listener also speaks HTTP/2 with prior knowledge (h2c).
    pub h2c: bool,
    /// Uploads (PUT, UploadPart, POST) in progress at once; more are
    /// answered 503 SlowDown. Each holds a batch buffer, not a thread.
    pub max_uploads: usize,
    /// Uploads slower than this on average (bytes a second, after 30 s)
    /// are refused with RequestTimeout; 0 turns the minimum off.
    pub min_body_rate: u64,
    /// The SSE key ring (master keys for SSE-S3, named keys for SSE-KMS);
    /// `None` is `sse-keys` in the data dir.
    pub sse_key_file: Option<PathBuf>,
    /// Take SSE-C keys over plain HTTP from other hosts (a TLS proxy in
    /// front); otherwise only over TLS or from this host.
    pub sse_c_over_http: bool,
    /// Edges not seen on the change feed for this long are forgotten
    /// (`cairn-origin edges`, `/metrics`).
    pub forget_edges_after: Duration,
    /// Buckets with their own series in `/metrics` (the ones storing the
    /// most); the rest are summed under `bucket="_other"`.
    pub metrics_buckets: usize,
    /// The admin API's tokens, one per line; `None` is `admin-tokens` in
    /// the data dir.
    pub admin_tokens_file: Option<PathBuf>,
    /// Webhook targets bucket notification rules may name.
    pub webhooks: Vec<crate::notify::Target>,
}

impl Config {
    /// The region signatures must name: `None` accepts any.
    pub fn signed_region(&self) -> Option<&str> {
        self.strict_region.then_some(self.region.as_str())
    }

    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            domain: None,
            region: "us-east-1".to_owned(),
            strict_region: false,
            max_object_size: DEFAULT_MAX_OBJECT_SIZE,
            upload_max_age: Duration::from_secs(7 * 86_400),
            lifecycle_day: Duration::from_secs(86_400),
            max_connections: None,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            h2c: false,
            max_uploads: 1024,
            min_body_rate: 1024,
            sse_key_file: None,
            sse_c_over_http: false,
            forget_edges_after: Duration::from_secs(7 * 86_400),
            metrics_buckets: 100,
            admin_tokens_file: None,
            webhooks: Vec::new(),
        }
    }

    /// Where the admin API's tokens are listed.
    pub fn admin_tokens_path(&self) -> PathBuf {
        self.admin_tokens_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("admin-tokens"))
    }

    /// Where the SSE key ring lives.
    pub fn sse_key_path(&self) -> PathBuf {
        self.sse_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("sse-keys"))
    }
}

/// The origin's settings as flags, `CAIRN_*` variables and TOML keys
/// (`--data-dir`, `CAIRN_DATA_DIR`, `data_dir`). README's configuration
/// table lists the same names and defaults.
#[derive(Debug, Default, Clone, clap::Args, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Holds meta.sqlite and the blobs [default: ./data]
    #[arg(long, env = "CAIRN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve S3 on [default: 127.0.0.1:9000]
    #[arg(long, env = "CAIRN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Also serve S3 over HTTPS (HTTP/2 and HTTP/1.1) on this address, with --tls-cert
    #[arg(long, env = "CAIRN_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// PEM files, each a certificate chain and its private key, chosen by SNI and reloaded when they change (comma-separated)
    #[arg(long, env = "CAIRN_TLS_CERT", value_delimiter = ',')]
    pub tls_cert: Option<Vec<PathBuf>>,
    /// Base domain for virtual-hosted-style requests (bucket.DOMAIN)
    #[arg(long, env = "CAIRN_DOMAIN")]
    pub domain: Option<String>,
    /// The region buckets report, and with --strict-region the only one clients may sign for [default: us-east-1]
    #[arg(long, env = "CAIRN_REGION")]
    pub region: Option<String>,
    /// Refuse signatures for any region but --region, as AWS does [default: false: any region is accepted]
    #[arg(long, env = "CAIRN_STRICT_REGION", num_args = 0..=1, default_missing_value = "true")]
    pub strict_region: Option<bool>,
    /// Serve the admin API (JSON, bearer tokens) on this address; off when unset. Keep it on loopback or a private network
    #[arg(long, env = "CAIRN_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// The admin API's tokens, one per line (made with one token on first use) [default: DATA_DIR/admin-tokens]
    #[arg(long, env = "CAIRN_ADMIN_TOKENS_FILE")]
    pub admin_tokens_file: Option<PathBuf>,
    /// Webhook targets for bucket notifications, as NAME=URL pairs (comma-separated); rules name them arn:cairn:webhook::NAME [default: none]
    #[arg(long, env = "CAIRN_WEBHOOKS", value_delimiter = ',')]
    pub webhooks: Option<Vec<String>>,
    /// Buckets that get their own series in /metrics; the rest are summed as bucket="_other" [default: 100]
    #[arg(long, env = "CAIRN_METRICS_BUCKETS")]
    pub metrics_buckets: Option<usize>,
    /// Forget edges not seen on the change feed for this long [default: 7d]
    #[arg(long, env = "CAIRN_FORGET_EDGES_AFTER")]
    pub forget_edges_after: Option<Span>,
    /// Abort multipart uploads older than this [default: 7d]
    #[arg(long, env = "CAIRN_UPLOAD_MAX_AGE")]
    pub upload_max_age: Option<Span>,
    /// The length of a lifecycle rule's day; shorter only for tests [default: 1d]
    #[arg(long, env = "CAIRN_LIFECYCLE_DAY")]
    pub lifecycle_day: Option<Span>,
    /// Largest single PUT [default: 5GiB]
    #[arg(long, env = "CAIRN_MAX_OBJECT_SIZE")]
    pub max_object_size: Option<Size>,
    /// Connections served at once; more are answered 503 SlowDown [default: the open-file limit less 1024]
    #[arg(long, env = "CAIRN_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's headers, also the keep-alive idle timeout [default: 10s]
    #[arg(long, env = "CAIRN_HEADER_TIMEOUT")]
    pub header_timeout: Option<Span>,
    /// A connection on which nothing moves for this long is closed [default: 60s]
    #[arg(long, env = "CAIRN_IDLE_TIMEOUT")]
    pub idle_timeout: Option<Span>,
    /// The plain listener also speaks HTTP/2 to clients that open with its preface (h2c, prior knowledge) [default: false]
    #[arg(long, env = "CAIRN_H2C", num_args = 0..=1, default_missing_value = "true")]
    pub h2c: Option<bool>,
    /// Uploads in progress at once; more are answered 503 SlowDown [default: 1024]
    #[arg(long, env = "CAIRN_MAX_UPLOADS")]
    pub max_uploads: Option<usize>,
    /// Uploads slower than this on average after 30 s are refused (RequestTimeout); 0 = no minimum [default: 1KiB]
    #[arg(long, env = "CAIRN_MIN_BODY_RATE")]
    pub min_body_rate: Option<Size>,
    /// The SSE-S3/SSE-KMS key ring file; keep it off the data disk for encryption at rest to protect a stolen disk [default: DATA_DIR/sse-keys]
    #[arg(long, env = "CAIRN_SSE_KEY_FILE")]
    pub sse_key_file: Option<PathBuf>,
    /// Take SSE-C keys over plain HTTP from other hosts (behind a TLS-terminating proxy) [default: false: only over TLS or from this host]
    #[arg(long, env = "CAIRN_SSE_C_OVER_HTTP", num_args = 0..=1, default_missing_value = "true")]
    pub sse_c_over_http: Option<bool>,
    /// Log lines as text or json [default: text]
    #[arg(long, env = "CAIRN_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
}

impl Settings {
    /// Fills fields left empty by flags and variables from `file`.
    pub fn or_file(self, file: Option<&Path>) -> Result<Self, String> {
        let Some(path) = file else { return Ok(self) };
        let f: Settings = cairn_shared::settings::read_file(path)?;
        Ok(Self {
            data_dir: self.data_dir.or(f.data_dir),
            listen: self.listen.or(f.listen),
            tls_listen: self.tls_listen.or(f.tls_listen),
            tls_cert: self.tls_cert.or(f.tls_cert),
            domain: self.domain.or(f.domain),
            region: self.region.or(f.region),
            strict_region: self.strict_region.or(f.strict_region),
            upload_max_age: self.upload_max_age.or(f.upload_max_age),
            lifecycle_day: self.lifecycle_day.or(f.lifecycle_day),
            max_object_size: self.max_object_size.or(f.max_object_size),
            max_connections: self.max_connections.or(f.max_connections),
            header_timeout: self.header_timeout.or(f.header_timeout),
            idle_timeout: self.idle_timeout.or(f.idle_timeout),
            h2c: self.h2c.or(f.h2c),
            max_uploads: self.max_uploads.or(f.max_uploads),
            min_body_rate: self.min_body_rate.or(f.min_body_rate),
            log_format: self.log_format.or(f.log_format),
            sse_key_file: self.sse_key_file.or(f.sse_key_file),
            sse_c_over_http: self.sse_c_over_http.or(f.sse_c_over_http),
            forget_edges_after: self.forget_edges_after.or(f.forget_edges_after),
            metrics_buckets: self.metrics_buckets.or(f.metrics_buckets),
            admin_listen: self.admin_listen.or(f.admin_listen),
            admin_tokens_file: self.admin_tokens_file.or(f.admin_tokens_file),
            webhooks: self.webhooks.or(f.webhooks),
        })
    }

    pub fn listen(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9000)))
    }

    /// The configuration the server runs with: every default applied;
    /// fails on a setting that cannot be used (a malformed webhook).
    pub fn resolve(&self) -> Result<Config, String> {
        let mut c = Config::new(self.data_dir.clone().unwrap_or_else(|| "./data".into()));
        c.domain = self
            .domain
            .as_ref()
            .map(|d| d.trim_start_matches('.').to_ascii_lowercase());
        if let Some(r) = &self.region {
            c.region = r.clone();
        }
        c.strict_region = self.strict_region.unwrap_or(false);
        if let Some(Span(d)) = self.upload_max_age {
            c.upload_max_age = d;
        }
        if let Some(Span(d)) = self.lifecycle_day {
            c.lifecycle_day = d.max(Duration::from_secs(1));
        }
        if let Some(Size(n)) = self.max_object_size {
            c.max_object_size = n;
        }
        c.max_connections = self.max_connections;
        if let Some(Span(d)) = self.header_timeout {
            c.header_timeout = d;
        }
        if let Some(Span(d)) = self.idle_timeout {
            c.idle_timeout = d;
        }
        c.h2c = self.h2c.unwrap_or(false);
        if let Some(n) = self.max_uploads {
            c.max_uploads = n.max(1);
        }
        if let Some(Size(n)) = self.min_body_rate {
            c.min_body_rate = n;
        }
        c.sse_key_file = self.sse_key_file.clone();
        c.sse_c_over_http = self.sse_c_over_http.unwrap_or(false);
        if let Some(Span(d)) = self.forget_edges_after {
            c.forget_edges_after = d;
        }
        if let Some(n) = self.metrics_buckets {
            c.metrics_buckets = n;
        }
        c.admin_tokens_file = self.admin_tokens_file.clone();
        for w in self.webhooks.iter().flatten() {
            let target = crate::notify::Target::parse(w)?;
            if c.webhooks.iter().any(|t| t.name == target.name) {
                return Err(format!("webhook {} is named twice", target.name));
            }
            c.webhooks.push(target);
        }
        Ok(c)
    }
}
