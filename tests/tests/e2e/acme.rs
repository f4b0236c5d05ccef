//! Automatic certificates: the edge gets its HTTPS certificates from a real
//! ACME server (Let's Encrypt's `pebble`, with `pebble-challtestsrv` as its
//! DNS, both from Debian's `pebble` package, on loopback), answers the
//! HTTP-01 challenge on its plain listener, keeps the certificate across
//! restarts, renews it, and keeps serving it while the CA is down.

use rustls::pki_types::pem::PemObject;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{IndexDocument, WebsiteConfiguration};
use cairn_tests::{metric, TestEdge, TestOrigin};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

const HOST: &str = "www.cairn.test";

/// A loopback port free now (the servers below take a port from their
/// settings, not from the kernel). Chosen below Linux's ephemeral range
/// (32768 and up), so no client socket of a test running beside this one
/// can take it before its server binds it.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Spread by process, then walk: each call gets a port no other call
    // in this process got.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 1_000) as u16 * 10;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 2_700;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(cmd: &mut Command, log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let child = cmd
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {:?} ({e}): install Debian's pebble package (scripts/test does)",
                cmd.get_program()
            )
        });
    Proc(child)
}

/// pebble and its DNS, validating HTTP-01 on `http_port`.
struct Pebble {
    _dns: Proc,
    server: Option<Proc>,
    directory: String,
    management: String,
    /// The CA pebble's own HTTPS chains to (a test CA made here).
    tls_ca: String,
    tls_ca_path: std::path::PathBuf,
}

impl Pebble {
    async fn start(dir: &Path, http_port: u16) -> Self {
        // pebble's own HTTPS certificate, from a CA of ours.
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        std::fs::write(dir.join("pebble.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("pebble.key"), key.serialize_pem()).unwrap();
        let tls_ca_path = dir.join("pebble-ca.pem");
        std::fs::write(&tls_ca_path, ca.pem()).unwrap();

        let dns_port = free_port();
        let dns = start(
            Command::new("pebble-challtestsrv").args([
                "-dns01",
                &format!("127.0.0.1:{dns_port}"),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &format!("127.0.0.1:{}", free_port()),
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ]),
            &dir.join("challtestsrv.log"),
        );
        let (acme_port, mgmt_port) = (free_port(), free_port());
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": dir.join("pebble.pem"),
            "privateKey": dir.join("pebble.key"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
        let server = start(
            Command::new("pebble")
                .arg("-config")
                .arg(dir.join("pebble.json"))
                .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
                // No random waits before validating, and no good nonce
                // refused on purpose: the test times the edge, not pebble.
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0"),
            &dir.join("pebble.log"),
        );
        let pebble = Pebble {
            _dns: dns,
            server: Some(server),
            directory: format!("https://127.0.0.1:{acme_port}/dir"),
            management: format!("https://127.0.0.1:{mgmt_port}"),
            tls_ca: ca.pem(),
            tls_ca_path,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while pebble.get("/roots/0").await.is_none() {
            assert!(
                Instant::now() < deadline,
                "pebble did not start: {}",
                std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pebble
    }

    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.tls_ca.as_bytes()).unwrap())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    /// A management page (`/roots/0`: the root pebble issues under).
    async fn get(&self, path: &str) -> Option<String> {
        let resp = self
            .client()
            .get(format!("{}{path}", self.management))
            .send()
            .await
            .ok()?;
        resp.status().is_success().then_some(())?;
        resp.text().await.ok()
    }

    fn stop(&mut self) {
        self.server = None;
    }
}

/// The certificate the edge presents for `HOST`, verified against
/// `root` (`None` while the handshake fails or does not verify).
async fn presented(root: &str, https: &str) -> Option<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(root.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(https).await.ok()?;
    let tls = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(rustls::pki_types::ServerName::try_from(HOST).unwrap(), tcp),
    )
    .await
    .ok()?
    .ok()?;
    Some(tls.get_ref().1.peer_certificates()?[0].to_vec())
}

/// Waits until the edge presents a verified certificate other than
/// `not`, and returns it.
async fn wait_for_certificate(root: &str, edge: &TestEdge, not: Option<&[u8]>) -> Vec<u8> {
    let https = edge.https_addr.clone().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match presented(root, &https).await {
            Some(der) if Some(der.as_slice()) != not => return der,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no certificate from the ACME server within 60 s:\n{}",
            edge.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn metrics(edge: &TestEdge) -> String {
    reqwest::get(format!("{}/metrics", edge.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_edge_gets_renews_and_keeps_certificates_from_an_acme_server() {
    let origin = TestOrigin::spawn();
    let s3 = origin.public_bucket("site").await;
    s3.put_object()
        .bucket("site")
        .key("index.html")
        .content_type("text/html")
        .body(ByteStream::from_static(b"<h1>over https</h1>"))
        .send()
        .await
        .unwrap();
    s3.put_bucket_website()
        .bucket("site")
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(
                    IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    let work = tempfile::tempdir().unwrap();
    // pebble validates HTTP-01 on the edge's plain port (port 80 for a
    // real CA).
    let http_port = free_port();
    let mut pebble = Pebble::start(work.path(), http_port).await;
    let root = pebble.get("/roots/0").await.unwrap();
    let listen = format!("127.0.0.1:{http_port}");
    let ca = pebble.tls_ca_path.display().to_string();
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "--listen",
            &listen,
            "--tls-listen",
            "127.0.0.1:0",
            "--sites",
            &format!("{HOST}=site"),
            "--acme",
            &pebble.directory,
            "--acme-ca",
            &ca,
            "--acme-email",
            "ops@cairn.test",
            "--acme-check-every",
            "1s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let (ak, sk) = origin.create_edge_key("edge");
    let spawn = |dir: tempfile::TempDir, extra: &[&'static str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        TestEdge::spawn_in(dir, &origin.url, &ak, &sk, &a)
    };

    // First start: no certificate yet; the edge orders one (the sites
    // host is the default hostname) and serves the site with it over h2.
    let edge = spawn(tempfile::tempdir().unwrap(), &[]);
    let issued = wait_for_certificate(&root, &edge, None).await;
    let https: SocketAddr = edge.https_addr.clone().unwrap().parse().unwrap();
    let browser = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
        .resolve(HOST, https)
        .build()
        .unwrap();
    let page = browser
        .get(format!("https://{HOST}:{}/", https.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.version(), reqwest::Version::HTTP_2);
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "<h1>over https</h1>");
    let m = metrics(&edge).await;
    assert_eq!(
        metric(&m, "cairn_edge_acme_certificates_issued_total"),
        Some(1.0)
    );
    // The certificate and the account key are kept, readable by the
    // edge's user only.
    let acme_dir = edge.cache_dir().join("acme");
    assert_eq!(mode(&acme_dir.join(format!("{HOST}.pem"))), 0o600);
    let accounts: Vec<_> = std::fs::read_dir(&acme_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("account-"))
        .collect();
    assert_eq!(accounts.len(), 1);
    assert_eq!(mode(&accounts[0]), 0o600);

    // A restart serves the kept certificate from its first handshake,
    // without ordering another.
    let dir = edge.kill();
    let edge = spawn(dir, &[]);
    let https = edge.https_addr.clone().unwrap();
    assert_eq!(
        presented(&root, &https).await.as_deref(),
        Some(issued.as_slice())
    );
    let m = metrics(&edge).await;
    assert_eq!(
        metric(&m, "cairn_edge_acme_certificates_issued_total"),
        Some(0.0)
    );

    // Renewal: with a margin longer than the certificate's life it is due
    // at once; the old certificate is served until the new one arrives.
    let dir = edge.kill();
    let edge = spawn(dir, &["--acme-renew-before", "36500d"]);
    let renewed = wait_for_certificate(&root, &edge, Some(&issued)).await;
    assert_ne!(renewed, issued);

    // The CA goes away: renewals fail, are counted, and the certificate in
    // use is still served.
    pebble.stop();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = metrics(&edge).await;
        if metric(&m, "cairn_edge_acme_failures_total").unwrap_or(0.0) >= 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed renewal counted:\n{}",
            edge.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let now = presented(&root, &edge.https_addr.clone().unwrap()).await;
    assert!(
        now.is_some(),
        "the edge stopped presenting a valid certificate"
    );
    assert!(edge.log().contains("ACME order failed"));
}

#[test]
fn acme_settings_are_checked_at_start() {
    let origin = TestOrigin::spawn();
    let (ak, sk) = origin.create_edge_key("edge");
    let run = |extra: &[&str]| {
        let out = Command::new(cairn_tests::binary("cairn-edge"))
            .args([
                "serve",
                "--origin",
                &origin.url,
                "--access-key",
                &ak,
                "--secret-key",
                &sk,
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{extra:?} started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let dir = "https://127.0.0.1:1/dir";
    assert!(run(&["--acme", dir, "--acme-hosts", "a.test"]).contains("tls_listen"));
    assert!(run(&["--acme", dir, "--tls-listen", "127.0.0.1:0"]).contains("hostnames"));
    assert!(run(&[
        "--acme",
        dir,
        "--tls-listen",
        "127.0.0.1:0",
        "--acme-hosts",
        "*.a.test"
    ])
    .contains("wildcard"));
    assert!(run(&["--acme", "http://insecure/dir", "--acme-hosts", "a.test"]).contains("https://"));
}
