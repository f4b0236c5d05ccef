//! Helpers for the end-to-end tests: start the real `cairn-origin` binary
//! on `127.0.0.1:0` with a fresh data directory, and build clients for it.
//!
//! The binaries must be built first (`cargo build --bins`); `scripts/test`
//! does that, and the helper says so if it cannot find them.

pub mod slow_link;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use aws_credential_types::Credentials;
use aws_sdk_s3::config::Region;

pub const ROOT_AK: &str = "CKTESTROOTACCESSKEY1";
pub const ROOT_SK: &str = "test-root-secret-key-0123456789abcdefghij";
/// The purge API's token of every [`TestEdge`] (`CAIRN_PURGE_TOKEN`).
pub const PURGE_TOKEN: &str = "test-purge-token-0123456789";

/// Path of a workspace binary next to the test executable's target dir.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// Starts `cmd` with stderr to `log`, reads stdout until the line that
/// starts with `ready` (which names the bound address), and keeps draining
/// stdout so the child never blocks on a full pipe.
///
/// Also returns the address of a `… listening on https://ADDR` line
/// printed before it (a TLS listener).
fn spawn_ready(
    mut cmd: Command,
    log: &std::path::Path,
    ready: &str,
) -> (Child, String, Option<String>, Vec<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut https = None;
    let mut earlier = Vec::new();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "process exited before listening; log: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            })
            .expect("read stdout");
        if let Some(url) = line.strip_prefix(ready) {
            break url.trim().to_owned();
        }
        if let Some((_, addr)) = line.split_once(" listening on https://") {
            https = Some(addr.trim().to_owned());
        }
        earlier.push(line);
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr, https, earlier)
}

/// A running origin process with its own data directory.
pub struct TestOrigin {
    pub url: String,
    pub addr: String,
    /// The HTTPS listener's address, when started with `--tls-listen`.
    pub https_addr: Option<String>,
    /// The admin API's base URL, when started with `--admin-listen`.
    pub admin_url: Option<String>,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl TestOrigin {
    pub fn spawn() -> Self {
        Self::spawn_with(&[])
    }

    /// Starts the origin with extra `serve` flags.
    pub fn spawn_with(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::spawn_in(dir, args)
    }

    /// Starts the origin on an existing data directory (restarts).
    pub fn spawn_in(dir: tempfile::TempDir, args: &[&str]) -> Self {
        Self::spawn_cmd(dir, Command::new(binary("cairn-origin")), args)
    }

    /// Starts the origin with its soft open-file limit at `soft` (through
    /// util-linux's `prlimit`), as a service manager might start it.
    pub fn spawn_with_soft_file_limit(soft: u64, args: &[&str]) -> Self {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={soft}:"))
            .arg(binary("cairn-origin"));
        Self::spawn_cmd(tempfile::tempdir().expect("tempdir"), cmd, args)
    }

    fn spawn_cmd(dir: tempfile::TempDir, mut cmd: Command, args: &[&str]) -> Self {
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("CAIRN_ROOT_ACCESS_KEY", ROOT_AK)
            .env("CAIRN_ROOT_SECRET_KEY", ROOT_SK)
            .env("CAIRN_LOG", "info");
        let (child, addr, https_addr, earlier) = spawn_ready(
            cmd,
            &dir.path().join("origin.log"),
            "cairn-origin listening on http://",
        );
        let admin_url = earlier.iter().find_map(|l| {
            l.strip_prefix("cairn-origin admin API on ")
                .map(|u| u.trim().to_owned())
        });
        TestOrigin {
            url: format!("http://{addr}"),
            addr,
            https_addr,
            admin_url,
            dir,
            child,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Creates a public-read bucket with the root key; the client.
    pub async fn public_bucket(&self, name: &str) -> aws_sdk_s3::Client {
        let s3 = self.client();
        s3.create_bucket()
            .bucket(name)
            .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
            .send()
            .await
            .expect("create a public bucket");
        s3
    }

    /// Files (sockets included) the process has open now.
    pub fn open_files(&self) -> usize {
        open_files(self.child.id())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An SDK client signed with the root key, path-style addressing.
    pub fn client(&self) -> aws_sdk_s3::Client {
        self.client_with(ROOT_AK, ROOT_SK)
    }

    pub fn client_with(&self, ak: &str, sk: &str) -> aws_sdk_s3::Client {
        self.client_config(ak, sk, "us-east-1", true)
    }

    pub fn client_config(
        &self,
        ak: &str,
        sk: &str,
        region: &str,
        path_style: bool,
    ) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new(region.to_owned()))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::new(ak, sk, None, None, "cairn-tests"))
            .force_path_style(path_style)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Creates a second access key through the CLI, as an operator would.
    pub fn create_key(&self, name: &str) -> (String, String) {
        self.create_key_with(name, &[])
    }

    /// Runs `cairn-origin ARGS --data-dir DIR`, as an operator would;
    /// panics unless it succeeds, and returns what it printed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(binary("cairn-origin"))
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()
            .expect("run cairn-origin");
        assert!(
            out.status.success(),
            "cairn-origin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// Creates an access key with `key create NAME EXTRA...`.
    pub fn create_key_with(&self, name: &str, extra: &[&str]) -> (String, String) {
        let mut args = vec!["key", "create", name];
        args.extend_from_slice(extra);
        let text = self.cli(&args);
        let get = |p: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(p))
                .expect("key line")
                .to_owned()
        };
        (get("AWS_ACCESS_KEY_ID="), get("AWS_SECRET_ACCESS_KEY="))
    }

    /// Stops the process the hard way (as a crash would), keeping the data.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }

    /// Sends a signal (`TERM`, `KILL`...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit on its own; false on timeout.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("origin.log")).unwrap_or_default()
    }
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deterministic pseudo-random bytes (so failures reproduce).
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A reqwest client for raw HTTP checks.
pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// The S3 error code of an SDK error, for assertions.
pub fn code<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(e) => {
            e.err().code().unwrap_or("<no code>").to_owned()
        }
        other => format!("<not a service error: {other:?}>"),
    }
}

/// The HTTP status of an SDK error.
pub fn status<E: std::fmt::Debug>(
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> u16 {
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(e) => e.raw().status().as_u16(),
        other => panic!("not a service error: {other:?}"),
    }
}

/// S3's signing rules (as the SDKs sign for S3): the path as sent,
/// encoded once and never normalized.
fn s3_settings() -> aws_sigv4::http_request::SigningSettings {
    use aws_sigv4::http_request::{PercentEncodingMode, SigningSettings, UriPathNormalizationMode};
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

/// Signs a raw request with SigV4 (via `aws-sigv4`) and returns the headers
/// to add. `payload` is the x-amz-content-sha256 value to sign.
#[allow(clippy::too_many_arguments)]
pub fn sign_v4(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: &str,
    time: std::time::SystemTime,
    region: &str,
    service: &str,
    (ak, sk): (&str, &str),
) -> (Vec<(String, String)>, String) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest};
    use aws_sigv4::sign::v4;
    let identity = Credentials::new(ak, sk, None, None, "t").into();
    let mut settings = s3_settings();
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let req = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Precomputed(payload.to_owned()),
    )
    .unwrap();
    let (instructions, signature) = sign(req, &params).unwrap().into_parts();
    let out = instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (out, signature)
}

/// Presigns `url` (which may already carry query parameters, signed along
/// with the rest) for `expires`, as other SDKs build presigned URLs.
pub fn presign_v4(method: &str, url: &str, host: &str, expires: std::time::Duration) -> String {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation};
    use aws_sigv4::sign::v4;
    let identity = Credentials::new(ROOT_AK, ROOT_SK, None, None, "t").into();
    let mut settings = s3_settings();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let req = SignableRequest::new(
        method,
        url,
        [("host", host)].into_iter(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(req, &params).unwrap().into_parts();
    let mut out = url.to_owned();
    for (k, v) in instructions.params() {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&format!(
            "{k}={}",
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
        ));
    }
    out
}

impl TestOrigin {
    /// Creates an edge key through the CLI.
    pub fn create_edge_key(&self, name: &str) -> (String, String) {
        let out = Command::new(binary("cairn-origin"))
            .args(["key", "create", name, "--edge", "--data-dir"])
            .arg(self.data_dir())
            .output()
            .expect("run key create");
        assert!(
            out.status.success(),
            "key create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf8");
        let get = |p: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(p))
                .expect("key line")
                .to_owned()
        };
        (get("AWS_ACCESS_KEY_ID="), get("AWS_SECRET_ACCESS_KEY="))
    }

    /// Origin GETs of one object so far, counted from the origin's own log.
    pub fn gets_of(&self, path: &str) -> usize {
        let needle = format!("path=\"{path}\"");
        self.log()
            .lines()
            .filter(|l| l.contains("op=\"GetObject\"") && l.contains(&needle))
            .count()
    }

    /// A signed edge URL from `cairn-origin sign-url`.
    pub fn sign_url(&self, edge: &TestEdge, bucket: &str, key: &str, expires_in: &str) -> String {
        let out = Command::new(binary("cairn-origin"))
            .args([
                "sign-url",
                bucket,
                key,
                "--edge-key",
                &edge.access_key,
                "--expires-in",
                expires_in,
                "--edge",
                &edge.url,
                "--data-dir",
            ])
            .arg(self.data_dir())
            .output()
            .expect("run sign-url");
        assert!(
            out.status.success(),
            "sign-url failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    }
}

/// A running edge process with its own cache directory.
pub struct TestEdge {
    pub url: String,
    pub addr: String,
    /// The HTTPS listener's address, when started with `--tls-listen`.
    pub https_addr: Option<String>,
    pub dir: tempfile::TempDir,
    pub access_key: String,
    pub secret_key: String,
    child: Child,
}

impl TestEdge {
    /// Starts an edge in front of `origin` with a fresh edge key.
    pub fn spawn(origin: &TestOrigin, args: &[&str]) -> Self {
        let (ak, sk) = origin.create_edge_key("edge");
        Self::spawn_in(
            tempfile::tempdir().expect("tempdir"),
            &origin.url,
            &ak,
            &sk,
            args,
        )
    }

    pub fn spawn_in(
        dir: tempfile::TempDir,
        origin_url: &str,
        ak: &str,
        sk: &str,
        args: &[&str],
    ) -> Self {
        let mut cmd = Command::new(binary("cairn-edge"));
        cmd.arg("serve")
            .args([
                "--origin",
                origin_url,
                "--access-key",
                ak,
                "--secret-key",
                sk,
            ])
            .args(
                // A port of the test's choosing, or any free one.
                (!args.contains(&"--listen"))
                    .then_some(["--listen", "127.0.0.1:0"])
                    .into_iter()
                    .flatten(),
            )
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(args)
            .env("CAIRN_PURGE_TOKEN", PURGE_TOKEN)
            .env("CAIRN_LOG", "info");
        let (child, addr, https_addr, _) = spawn_ready(
            cmd,
            &dir.path().join("edge.log"),
            "cairn-edge listening on http://",
        );
        TestEdge {
            url: format!("http://{addr}"),
            addr,
            https_addr,
            dir,
            access_key: ak.to_owned(),
            secret_key: sk.to_owned(),
            child,
        }
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// What the edge has logged so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("edge.log")).unwrap_or_default()
    }

    /// Files (sockets included) the process has open now.
    pub fn open_files(&self) -> usize {
        open_files(self.child.id())
    }

    /// Sends a signal (`HUP`, `TERM`...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Stops the edge the hard way, keeping its cache directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }
}

impl Drop for TestEdge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small tmpfs mounted for one test, to make a disk fill up; unmounted
/// on drop. `None` where mounting needs privileges we lack (not root).
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self { dir })
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A GET signed with SigV4 (`UNSIGNED-PAYLOAD`) by `(ak, sk)`, for the
/// origin's own endpoints that no SDK knows (`/_cairn/sign`).
pub async fn signed_get(url: &str, host: &str, keys: (&str, &str)) -> reqwest::Response {
    let (headers, _) = sign_v4(
        "GET",
        url,
        &[("host", host)],
        "UNSIGNED-PAYLOAD",
        std::time::SystemTime::now(),
        "us-east-1",
        "s3",
        keys,
    );
    let mut req = http().get(url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().await.expect("signed GET")
}

/// One raw HTTP/1.1 request on a new connection, the request target sent
/// exactly as given (no URL library folds `..` segments on the way, as
/// `curl --path-as-is` sends it). Returns the status and the body.
pub fn raw_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = match out.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => out[at + 4..].to_vec(),
        None => Vec::new(),
    };
    (status, body)
}

/// A `cairn-flood` process holding idle and slowloris connections open
/// against `addr`; killed on drop.
pub struct Flood {
    child: Child,
    counts: std::sync::mpsc::Receiver<(usize, usize, usize)>,
    /// Idle and slow connections still open, connects finished.
    last: (usize, usize, usize),
}

impl Flood {
    pub fn spawn(addr: &str, idle: usize, slow: usize) -> Self {
        let mut child = Command::new(binary("cairn-flood"))
            .arg(addr)
            .args(["--idle", &idle.to_string(), "--slow", &slow.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cairn-flood");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, counts) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let n = |k: &str| {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(k))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                if tx.send((n("idle="), n("slow="), n("tried="))).is_err() {
                    break;
                }
            }
        });
        Flood {
            child,
            counts,
            last: (0, 0, 0),
        }
    }

    /// Waits until `(idle open, slow open, connects finished)` satisfy
    /// `want`; those counts, or `None` after `timeout`.
    pub fn wait_for(
        &mut self,
        want: impl Fn(usize, usize, usize) -> bool,
        timeout: std::time::Duration,
    ) -> Option<(usize, usize, usize)> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if want(self.last.0, self.last.1, self.last.2) {
                return Some(self.last);
            }
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            match self.counts.recv_timeout(left) {
                Ok(c) => self.last = c,
                Err(_) => return None,
            }
        }
    }

    pub fn last(&self) -> (usize, usize, usize) {
        self.last
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many files process `pid` has open (`/proc/PID/fd`).
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A metric's value from a Prometheus page: the first series named `name`
/// (with whatever labels).
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let value = if rest.starts_with('{') {
            rest.split_once("} ")?.1
        } else {
            rest.strip_prefix(' ')?
        };
        value.trim().parse().ok()
    })
}
