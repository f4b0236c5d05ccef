//! Settings of a running edge.
//!
//! [`Settings`] is what an operator writes: every field optional, filled by
//! clap from flags and `CAIRN_*` variables and, for fields still empty,
//! from the TOML file given by `--config`. [`Settings::resolve`] applies
//! the documented defaults and yields the [`EdgeConfig`] the edge runs
//! with; tests build an `EdgeConfig` directly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_shared::settings::LogFormat;
use cairn_shared::units::{Size, Span};

#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Where misses are fetched: a Cairn origin, a parent edge, or any S3
    /// endpoint (no trailing slash).
    pub upstream: String,
    /// The origin itself, for the change feed (the upstream may be a parent).
    pub origin: String,
    /// Edge access key: signs feed requests and private fetches.
    pub access_key: String,
    /// Its secret; also the HMAC key of signed edge URLs.
    pub secret_key: String,
    /// The bearer token of the purge API; `None` turns purging off. Its
    /// own credential: whoever may purge must not thereby read private
    /// objects, which the edge key's secret does.
    pub purge_token: Option<String>,
    /// `Strict-Transport-Security` by site: (host, or `*` for any other,
    /// and the header's value), sent on HTTPS responses only.
    pub hsts: Vec<(String, http::HeaderValue)>,
    pub region: String,
    pub cache_dir: PathBuf,
    pub memory_cache: u64,
    pub disk_cache: u64,
    /// Base domain for `bucket.BASE` requests.
    pub domain: Option<String>,
    /// Freshness for responses that carry no Cache-Control or Expires.
    pub default_ttl: Duration,
    /// How long stale copies may stand in for a failing origin by default.
    pub stale_if_error: Duration,
    /// How long a 404 is remembered.
    pub negative_ttl: Duration,
    /// Follow the origin's change feed.
    pub follow_feed: bool,
    /// Name for `Via` and metrics.
    pub name: String,
    /// The region this edge serves, told to the origin with each feed poll
    /// (`cairn-origin edges`).
    pub edge_region: String,
    /// A closed range of an uncached object is fetched in slices of this
    /// size (0 disables slicing).
    pub slice_size: u64,
    /// Connection bounds (see `cairn_shared::listen`); the cap defaults to
    /// what the open-file limit allows.
    pub max_connections: Option<usize>,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// The plain listener also speaks HTTP/2 with prior knowledge (h2c).
    pub h2c: bool,
    /// How long the upstream may take to connect, to send a response head
    /// and between body chunks before a fetch fails.
    pub upstream_timeout: Duration,
    /// CA certificates (PEM) an https upstream's certificate may chain to,
    /// beside the system's roots: a private origin's own CA.
    pub upstream_ca: Option<PathBuf>,
    /// Where the access log goes (`None`: no log).
    pub access_log: Option<crate::access_log::Destination>,
    pub access_log_format: crate::access_log::Format,
    /// The share of requests logged, in (0, 1].
    pub access_log_sample: f64,
    /// Hosts served as static sites, and their buckets.
    pub sites: Vec<(String, String)>,
    /// A host that is a bucket's own name serves that bucket as a site.
    pub site_by_host: bool,
    /// Sites whose unknown paths get the index document with 200
    /// (single-page apps).
    pub spa_sites: Vec<String>,
    /// Automatic certificates, when an ACME directory is configured.
    pub acme: Option<crate::acme::AcmeConfig>,
}

impl EdgeConfig {
    pub fn new(
        upstream: impl Into<String>,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
        cache_dir: impl Into<PathBuf>,
    ) -> Self {
        let upstream = upstream.into().trim_end_matches('/').to_owned();
        Self {
            origin: upstream.clone(),
            upstream,
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            purge_token: None,
            hsts: Vec::new(),
            region: "us-east-1".into(),
            cache_dir: cache_dir.into(),
            memory_cache: 256 << 20,
            disk_cache: 10 << 30,
            domain: None,
            default_ttl: Duration::from_secs(60),
            stale_if_error: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(5),
            follow_feed: true,
            name: "cairn-edge".into(),
            edge_region: "local".into(),
            slice_size: 4 << 20,
            max_connections: None,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            h2c: false,
            upstream_timeout: Duration::from_secs(10),
            upstream_ca: None,
            access_log: None,
            access_log_format: crate::access_log::Format::Text,
            access_log_sample: 1.0,
            sites: Vec::new(),
            site_by_host: false,
            spa_sites: Vec::new(),
            acme: None,
        }
    }
}

/// The edge's settings as flags, `CAIRN_*` variables and TOML keys
/// (`--cache-dir`, `CAIRN_CACHE_DIR`, `cache_dir`). README's configuration
/// table lists the same names and defaults.
#[derive(Debug, Default, Clone, clap::Args, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The origin: its change feed, and misses unless --parent is set [default: http://127.0.0.1:9000]
    #[arg(long, env = "CAIRN_ORIGIN")]
    pub origin: Option<String>,
    /// An edge access key (cairn-origin key create NAME --edge) [required]
    #[arg(long, env = "CAIRN_ACCESS_KEY")]
    pub access_key: Option<String>,
    /// That key's secret [required]
    #[arg(long, env = "CAIRN_SECRET_KEY")]
    pub secret_key: Option<String>,
    /// Bearer token for POST /_cairn/purge (at least 16 characters; purging is off without one)
    #[arg(long, env = "CAIRN_PURGE_TOKEN")]
    pub purge_token: Option<String>,
    /// Strict-Transport-Security per site on HTTPS responses, as HOST=VALUE pairs (HOST `*` for any other site), comma-separated: `cdn.example.com=max-age=31536000; includeSubDomains` [default: none]
    #[arg(long, env = "CAIRN_HSTS", value_delimiter = ',')]
    pub hsts: Option<Vec<String>>,
    /// Address to serve on [default: 127.0.0.1:9080]
    #[arg(long, env = "CAIRN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Also serve HTTPS (HTTP/2 and HTTP/1.1) on this address, with --tls-cert
    #[arg(long, env = "CAIRN_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// PEM files, each a certificate chain and its private key, chosen by SNI and reloaded when they change (comma-separated)
    #[arg(long, env = "CAIRN_TLS_CERT", value_delimiter = ',')]
    pub tls_cert: Option<Vec<PathBuf>>,
    /// Disk tier and feed position [default: ./edge-cache]
    #[arg(long, env = "CAIRN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Memory tier size [default: 256MiB]
    #[arg(long, env = "CAIRN_MEMORY_CACHE")]
    pub memory_cache: Option<Size>,
    /// Disk tier size [default: 10GiB]
    #[arg(long, env = "CAIRN_DISK_CACHE")]
    pub disk_cache: Option<Size>,
    /// This edge's region, shown in Via, metrics and `cairn-origin edges` [default: local]
    #[arg(long, env = "CAIRN_EDGE_REGION")]
    pub region: Option<String>,
    /// A parent edge to fetch misses from instead of the origin
    #[arg(long, env = "CAIRN_PARENT")]
    pub parent: Option<String>,
    /// Base domain for bucket.DOMAIN requests
    #[arg(long, env = "CAIRN_DOMAIN")]
    pub domain: Option<String>,
    /// Freshness of responses without Cache-Control or Expires [default: 60s]
    #[arg(long, env = "CAIRN_DEFAULT_TTL")]
    pub default_ttl: Option<Span>,
    /// How long stale copies stand in for a failing origin [default: 5m]
    #[arg(long, env = "CAIRN_STALE_IF_ERROR")]
    pub stale_if_error: Option<Span>,
    /// How long a 404 is remembered [default: 5s]
    #[arg(long, env = "CAIRN_NEGATIVE_TTL")]
    pub negative_ttl: Option<Span>,
    /// Closed ranges of uncached objects are fetched in slices of this size [default: 4MiB]
    #[arg(long, env = "CAIRN_SLICE_SIZE")]
    pub slice_size: Option<Size>,
    /// The region the origin's keys sign for [default: us-east-1]
    #[arg(long, env = "CAIRN_REGION")]
    pub signing_region: Option<String>,
    /// Connections served at once; more are answered 503 [default: the open-file limit less 1024]
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
    /// The upstream's time to connect, to answer and between body chunks before a miss fails [default: 10s]
    #[arg(long, env = "CAIRN_UPSTREAM_TIMEOUT")]
    pub upstream_timeout: Option<Span>,
    /// A PEM file of CA certificates an https origin's or parent's certificate may chain to, beside the system roots
    #[arg(long, env = "CAIRN_UPSTREAM_CA")]
    pub upstream_ca: Option<PathBuf>,
    /// Log lines as text or json [default: text]
    #[arg(long, env = "CAIRN_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// The access log, one line per request: off, stdout, or a file path (reopened on SIGHUP) [default: off]
    #[arg(long, env = "CAIRN_ACCESS_LOG")]
    pub access_log: Option<String>,
    /// Access log lines as text or json [default: text]
    #[arg(long, env = "CAIRN_ACCESS_LOG_FORMAT")]
    pub access_log_format: Option<crate::access_log::Format>,
    /// Hosts served as static sites from a bucket's website configuration, as HOST=BUCKET pairs (comma-separated) [default: none]
    #[arg(long, env = "CAIRN_SITES", value_delimiter = ',')]
    pub sites: Option<Vec<String>>,
    /// Serve a request whose Host is a bucket's own name (with a dot, like www.example.com) as that bucket's site, as S3 website endpoints do [default: false]
    #[arg(long, env = "CAIRN_SITE_BY_HOST", num_args = 0..=1, default_missing_value = "true")]
    pub site_by_host: Option<bool>,
    /// Site hosts whose unknown paths are answered with the index document and 200 (single-page apps) [default: none]
    #[arg(long, env = "CAIRN_SPA_SITES", value_delimiter = ',')]
    pub spa_sites: Option<Vec<String>>,
    /// Get certificates for the HTTPS listener from this ACME directory (RFC 8555; `letsencrypt` and `letsencrypt-staging` name Let's Encrypt's) [default: off]
    #[arg(long, env = "CAIRN_ACME")]
    pub acme: Option<String>,
    /// Hostnames to get certificates for, comma-separated; the CA checks each through this edge's plain listener on port 80 (HTTP-01) [default: the hosts in --sites]
    #[arg(long, env = "CAIRN_ACME_HOSTS", value_delimiter = ',')]
    pub acme_hosts: Option<Vec<String>>,
    /// A contact e-mail for the ACME account [default: none]
    #[arg(long, env = "CAIRN_ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// A PEM file with the CA certificate the ACME server's own HTTPS chains to, for test CAs such as pebble [default: the system roots]
    #[arg(long, env = "CAIRN_ACME_CA")]
    pub acme_ca: Option<PathBuf>,
    /// Renew a certificate this long before it expires [default: when a third of its lifetime is left]
    #[arg(long, env = "CAIRN_ACME_RENEW_BEFORE")]
    pub acme_renew_before: Option<Span>,
    /// How often certificates are checked for renewal [default: 1h]
    #[arg(long, env = "CAIRN_ACME_CHECK_EVERY")]
    pub acme_check_every: Option<Span>,
    /// The share of requests the access log records, from 0 to 1 (0.01: one in a hundred) [default: 1]
    #[arg(long, env = "CAIRN_ACCESS_LOG_SAMPLE")]
    pub access_log_sample: Option<f64>,
}

impl Settings {
    /// Fills fields left empty by flags and variables from `file`.
    pub fn or_file(self, file: Option<&Path>) -> Result<Self, String> {
        let Some(path) = file else { return Ok(self) };
        let f: Settings = cairn_shared::settings::read_file(path)?;
        Ok(Self {
            origin: self.origin.or(f.origin),
            access_key: self.access_key.or(f.access_key),
            secret_key: self.secret_key.or(f.secret_key),
            purge_token: self.purge_token.or(f.purge_token),
            hsts: self.hsts.or(f.hsts),
            listen: self.listen.or(f.listen),
            tls_listen: self.tls_listen.or(f.tls_listen),
            tls_cert: self.tls_cert.or(f.tls_cert),
            cache_dir: self.cache_dir.or(f.cache_dir),
            memory_cache: self.memory_cache.or(f.memory_cache),
            disk_cache: self.disk_cache.or(f.disk_cache),
            region: self.region.or(f.region),
            parent: self.parent.or(f.parent),
            domain: self.domain.or(f.domain),
            default_ttl: self.default_ttl.or(f.default_ttl),
            stale_if_error: self.stale_if_error.or(f.stale_if_error),
            negative_ttl: self.negative_ttl.or(f.negative_ttl),
            slice_size: self.slice_size.or(f.slice_size),
            signing_region: self.signing_region.or(f.signing_region),
            max_connections: self.max_connections.or(f.max_connections),
            header_timeout: self.header_timeout.or(f.header_timeout),
            idle_timeout: self.idle_timeout.or(f.idle_timeout),
            h2c: self.h2c.or(f.h2c),
            upstream_timeout: self.upstream_timeout.or(f.upstream_timeout),
            upstream_ca: self.upstream_ca.or(f.upstream_ca),
            log_format: self.log_format.or(f.log_format),
            access_log: self.access_log.or(f.access_log),
            access_log_format: self.access_log_format.or(f.access_log_format),
            access_log_sample: self.access_log_sample.or(f.access_log_sample),
            sites: self.sites.or(f.sites),
            site_by_host: self.site_by_host.or(f.site_by_host),
            spa_sites: self.spa_sites.or(f.spa_sites),
            acme: self.acme.or(f.acme),
            acme_hosts: self.acme_hosts.or(f.acme_hosts),
            acme_email: self.acme_email.or(f.acme_email),
            acme_ca: self.acme_ca.or(f.acme_ca),
            acme_renew_before: self.acme_renew_before.or(f.acme_renew_before),
            acme_check_every: self.acme_check_every.or(f.acme_check_every),
        })
    }

    pub fn listen(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9080)))
    }

    /// The configuration the edge runs with: every default applied; fails
    /// only when a required setting is missing.
    pub fn resolve(&self) -> Result<EdgeConfig, String> {
        let missing = |what: &str, flag: &str, env: &str| {
            format!(
                "{what} is required: --{flag}, {env} or `{}` in the config file",
                flag.replace('-', "_")
            )
        };
        let access_key = self
            .access_key
            .clone()
            .ok_or_else(|| missing("an edge access key", "access-key", "CAIRN_ACCESS_KEY"))?;
        let secret_key = self
            .secret_key
            .clone()
            .ok_or_else(|| missing("the edge key's secret", "secret-key", "CAIRN_SECRET_KEY"))?;
        let origin = self
            .origin
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1:9000".into());
        let upstream = self.parent.clone().unwrap_or_else(|| origin.clone());
        let cache_dir = self
            .cache_dir
            .clone()
            .unwrap_or_else(|| "./edge-cache".into());
        let mut c = EdgeConfig::new(upstream, access_key, secret_key, cache_dir);
        if let Some(token) = &self.purge_token {
            if token.len() < 16 {
                return Err("purge_token must be at least 16 characters".into());
            }
            if *token == c.secret_key {
                return Err(
                    "purge_token must not be the edge key's secret (that secret reads every private object)"
                        .into(),
                );
            }
            c.purge_token = Some(token.clone());
        }
        for site in self.hsts.iter().flatten() {
            c.hsts.push(parse_hsts(site)?);
        }
        c.origin = origin.trim_end_matches('/').to_owned();
        c.upstream_ca = self.upstream_ca.clone();
        if let Some(Size(n)) = self.memory_cache {
            c.memory_cache = n;
        }
        if let Some(Size(n)) = self.disk_cache {
            c.disk_cache = n;
        }
        if let Some(Size(n)) = self.slice_size {
            c.slice_size = n;
        }
        c.domain = self
            .domain
            .as_ref()
            .map(|d| d.trim_start_matches('.').to_ascii_lowercase());
        if let Some(Span(d)) = self.default_ttl {
            c.default_ttl = d;
        }
        if let Some(Span(d)) = self.stale_if_error {
            c.stale_if_error = d;
        }
        if let Some(Span(d)) = self.negative_ttl {
            c.negative_ttl = d;
        }
        c.max_connections = self.max_connections;
        if let Some(Span(d)) = self.header_timeout {
            c.header_timeout = d;
        }
        if let Some(Span(d)) = self.idle_timeout {
            c.idle_timeout = d;
        }
        c.h2c = self.h2c.unwrap_or(false);
        if let Some(Span(d)) = self.upstream_timeout {
            c.upstream_timeout = d;
        }
        if let Some(r) = &self.signing_region {
            c.region = r.clone();
        }
        c.access_log = self
            .access_log
            .as_deref()
            .and_then(crate::access_log::Destination::parse);
        c.access_log_format = self.access_log_format.unwrap_or_default();
        if let Some(share) = self.access_log_sample {
            if !(share > 0.0 && share <= 1.0) {
                return Err("access_log_sample must be above 0 and at most 1".into());
            }
            c.access_log_sample = share;
        }
        for site in self.sites.iter().flatten() {
            let (host, bucket) = site
                .split_once('=')
                .map(|(h, b)| (h.trim().to_ascii_lowercase(), b.trim().to_owned()))
                .filter(|(h, b)| !h.is_empty() && cairn_shared::target::plausible_bucket(b))
                .ok_or_else(|| format!("sites entry {site:?}: want HOST=BUCKET"))?;
            c.sites.push((host, bucket));
        }
        c.site_by_host = self.site_by_host.unwrap_or(false);
        c.spa_sites = self
            .spa_sites
            .iter()
            .flatten()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        c.acme = self.acme_config(&c.sites)?;
        let region = self.region.clone().unwrap_or_else(|| "local".into());
        c.name = format!("cairn-edge ({region})");
        c.edge_region = region;
        Ok(c)
    }
}
impl Settings {
    /// The ACME settings, checked: a directory URL, an HTTPS listener to
    /// put certificates on, and hostnames a CA can validate.
    fn acme_config(
        &self,
        sites: &[(String, String)],
    ) -> Result<Option<crate::acme::AcmeConfig>, String> {
        let Some(directory) = &self.acme else {
            return Ok(None);
        };
        let directory = match directory.as_str() {
            "letsencrypt" => crate::acme::LETS_ENCRYPT.to_owned(),
            "letsencrypt-staging" => crate::acme::LETS_ENCRYPT_STAGING.to_owned(),
            url if url.starts_with("https://") => url.to_owned(),
            other => {
                return Err(format!(
                    "acme {other:?}: want an https:// directory URL or letsencrypt"
                ))
            }
        };
        if self.tls_listen.is_none() {
            return Err("acme gets certificates for the HTTPS listener: set tls_listen too".into());
        }
        let hosts: Vec<String> = match &self.acme_hosts {
            Some(hosts) => hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            None => sites.iter().map(|(h, _)| h.clone()).collect(),
        };
        if hosts.is_empty() {
            return Err("acme needs hostnames: acme_hosts, or sites".into());
        }
        for host in &hosts {
            if !crate::acme::valid_host(host) {
                return Err(format!(
                    "acme host {host:?}: want a DNS name (an HTTP-01 certificate cannot be a wildcard or an IP address)"
                ));
            }
        }
        Ok(Some(crate::acme::AcmeConfig {
            directory,
            hosts,
            email: self.acme_email.clone(),
            ca: self.acme_ca.clone(),
            renew_before: self.acme_renew_before.map(|Span(d)| d),
            check_every: self
                .acme_check_every
                .map_or(Duration::from_secs(3600), |Span(d)| d),
        }))
    }
}

/// One `hsts` entry, `HOST=VALUE`: the value must start with RFC 6797's
/// `max-age=SECONDS`.
fn parse_hsts(site: &str) -> Result<(String, http::HeaderValue), String> {
    let bad = || {
        format!("hsts entry {site:?}: want HOST=max-age=SECONDS[; includeSubDomains][; preload]")
    };
    let (host, value) = site.split_once('=').ok_or_else(bad)?;
    let (host, value) = (host.trim().to_ascii_lowercase(), value.trim());
    let seconds = value
        .strip_prefix("max-age=")
        .map(|r| r.split(';').next().unwrap_or_default().trim());
    if host.is_empty()
        || !seconds.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let value = http::HeaderValue::from_str(value).map_err(|_| bad())?;
    Ok((host, value))
}

#[cfg(test)]
mod tests {
    use super::parse_hsts;

    #[test]
    fn hsts_entries_name_a_site_and_a_max_age() {
        let (host, v) = parse_hsts("CDN.example.com=max-age=600; includeSubDomains").unwrap();
        assert_eq!(host, "cdn.example.com");
        assert_eq!(v, "max-age=600; includeSubDomains");
        assert!(parse_hsts("*=max-age=0").is_ok());
        for bad in [
            "cdn.example.com",
            "=max-age=1",
            "a=max-age=",
            "a=max-age=soon",
            "a=includeSubDomains",
        ] {
            assert!(parse_hsts(bad).is_err(), "{bad}");
        }
    }
}
