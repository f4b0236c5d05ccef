//! HTTPS on the edge and the origin: certificates from PEM files chosen by
//! SNI (wildcards included), HTTP/2 and HTTP/1.1 by ALPN, certificate
//! reload without a restart. Clients are reqwest (rustls) trusting a test
//! CA made here, and a raw rustls client where the certificate itself is
//! checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_tests::{TestEdge, TestOrigin};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A test certificate authority.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Cairn test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A PEM file (chain, then key) for `names`; returns the leaf's DER.
    fn issue(&self, path: &Path, names: &[&str]) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let pem = format!("{}{}{}", cert.pem(), self.pem(), key.serialize_pem());
        // Written whole, then renamed: a reload never sees half a file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, pem).unwrap();
        std::fs::rename(&tmp, path).unwrap();
        cert.der().to_vec()
    }
}

fn client(ca: &Ca, names: &[&str], addr: &str, http1_only: bool) -> reqwest::Client {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap());
    for n in names {
        b = b.resolve(n, addr);
    }
    if http1_only {
        b = b.http1_only();
    }
    b.build().unwrap()
}

/// The certificate the server presents for SNI `name` (and the ALPN it
/// chose), through a rustls client that trusts `ca`.
async fn presented(ca: &Ca, addr: &str, name: &str) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.issuer.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let conn = tls.get_ref().1;
    (
        conn.peer_certificates().unwrap()[0].to_vec(),
        conn.alpn_protocol().map(<[u8]>::to_vec),
    )
}

fn pem_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("cdn.pem"), dir.join("other.pem"))
}

#[tokio::test]
async fn the_edge_serves_https_over_h2_and_http1_picks_certificates_by_sni_and_reloads_them() {
    let origin = TestOrigin::spawn();
    let s3 = origin.public_bucket("site").await;
    let js = "console.log('cairn');\n".repeat(100);
    s3.put_object()
        .bucket("site")
        .key("app.js")
        .content_type("text/javascript")
        .cache_control("max-age=3600")
        .body(js.clone().into_bytes().into())
        .send()
        .await
        .unwrap();

    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let (cdn_pem, other_pem) = pem_paths(certs.path());
    let cdn_der = ca.issue(&cdn_pem, &["cdn.test", "*.sites.test"]);
    let other_der = ca.issue(&other_pem, &["other.test"]);
    let list = format!("{},{}", cdn_pem.display(), other_pem.display());
    let edge = TestEdge::spawn(
        &origin,
        &["--tls-listen", "127.0.0.1:0", "--tls-cert", &list],
    );
    let https = edge.https_addr.clone().expect("an https listener");
    let port = https.rsplit_once(':').unwrap().1.to_owned();
    let names = ["cdn.test", "www.sites.test", "other.test"];

    // HTTP/2 by ALPN: a miss, then a hit, the bytes intact.
    let h2 = client(&ca, &names, &https, false);
    let url = format!("https://cdn.test:{port}/site/app.js");
    for expect in ["MISS", "HIT"] {
        let resp = h2.get(&url).send().await.unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-cache"], expect);
        assert_eq!(resp.text().await.unwrap(), js);
    }
    // Ranges and conditional requests behave as over HTTP/1.1.
    let range = h2
        .get(&url)
        .header("range", "bytes=0-6")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    let etag = range.headers()["etag"].clone();
    assert_eq!(range.text().await.unwrap(), "console");
    let not_modified = h2
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);

    // HTTP/1.1 over TLS stays.
    let h1 = client(&ca, &names, &https, true);
    let resp = h1.get(&url).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.text().await.unwrap(), js);

    // SNI: each name gets the certificate that covers it (a wildcard
    // included); hostname verification would fail otherwise.
    for name in names {
        let resp = h2
            .get(format!("https://{name}:{port}/site/app.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name}");
    }
    assert_eq!(presented(&ca, &https, "www.sites.test").await.0, cdn_der);
    let (der, alpn) = presented(&ca, &https, "other.test").await;
    assert_eq!(der, other_der);
    assert_eq!(alpn.as_deref(), Some(b"h2".as_slice()));

    // A renewed certificate is picked up without a restart.
    let renewed = ca.issue(&other_pem, &["other.test"]);
    assert_ne!(renewed, other_der);
    let deadline = Instant::now() + Duration::from_secs(10);
    while presented(&ca, &https, "other.test").await.0 != renewed {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A broken file keeps the certificate in use.
    std::fs::write(&other_pem, "not a certificate").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !edge.log().contains("cannot be loaded") {
        assert!(Instant::now() < deadline, "no warning for a broken file");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(presented(&ca, &https, "other.test").await.0, renewed);
    // The plain listener serves on.
    let plain = reqwest::get(format!("{}/site/app.js", edge.url))
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
}

#[tokio::test]
async fn the_origin_speaks_s3_over_https() {
    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let pem = certs.path().join("s3.pem");
    ca.issue(&pem, &["s3.test"]);
    let origin = TestOrigin::spawn_with(&[
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        pem.to_str().unwrap(),
    ]);
    origin.public_bucket("tls").await;
    let https = origin.https_addr.clone().expect("an https listener");
    let port = https.rsplit_once(':').unwrap().1.to_owned();
    let host = format!("s3.test:{port}");
    let h2 = client(&ca, &["s3.test"], &https, false);
    let url = format!("https://{host}/tls/hello.txt");
    // A signed PUT (presigned, as SDKs make them) and a GET, over HTTP/2.
    let put = cairn_tests::presign_v4("PUT", &url, &host, Duration::from_secs(60));
    let resp = h2.put(&put).body("over tls").send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let got = h2.get(&url).send().await.unwrap();
    assert_eq!(got.version(), reqwest::Version::HTTP_2);
    assert_eq!(got.text().await.unwrap(), "over tls");
    // Unsigned writes are refused over TLS too.
    let anon = h2.put(&url).body("x").send().await.unwrap();
    assert_eq!(anon.status(), 403);
}

#[test]
fn a_certificate_that_cannot_be_used_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let out = std::process::Command::new(cairn_tests::binary("cairn-edge"))
        .args(["serve", "--access-key", "a", "--secret-key", "b"])
        .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(&bad)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().last().unwrap_or_default();
    assert!(
        line.contains("bad.pem") && line.contains("TLS certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn the_edge_fetches_from_an_https_origin_it_is_told_to_trust() {
    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let pem = certs.path().join("origin.pem");
    ca.issue(&pem, &["127.0.0.1"]);
    let ca_file = certs.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let origin = TestOrigin::spawn_with(&[
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        pem.to_str().unwrap(),
    ]);
    let s3 = origin.public_bucket("secure").await;
    s3.put_object()
        .bucket("secure")
        .key("app.js")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"over tls"))
        .send()
        .await
        .unwrap();
    let https_origin = format!("https://{}", origin.https_addr.clone().unwrap());
    let (ak, sk) = origin.create_edge_key("tls-edge");
    let edge = TestEdge::spawn_in(
        tempfile::tempdir().unwrap(),
        &https_origin,
        &ak,
        &sk,
        &["--upstream-ca", ca_file.to_str().unwrap()],
    );
    let url = format!("{}/secure/app.js", edge.url);
    let first = reqwest::get(&url).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-cache"], "MISS");
    assert_eq!(first.text().await.unwrap(), "over tls");
    let second = reqwest::get(&url).await.unwrap();
    assert_eq!(second.headers()["x-cache"], "HIT");

    // Without the CA, the origin's certificate cannot be verified: the
    // edge refuses to start, in one line, instead of failing every miss.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(cairn_tests::binary("cairn-edge"))
        .args(["serve", "--origin", &https_origin])
        .args(["--access-key", &ak, "--secret-key", &sk])
        .args(["--listen", "127.0.0.1:0"])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().last().unwrap_or_default();
    assert!(
        line.contains("cannot verify the TLS certificate") && line.contains("--upstream-ca"),
        "{err}"
    );
    // A CA file that holds no certificate is refused too.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let out = std::process::Command::new(cairn_tests::binary("cairn-edge"))
        .args(["serve", "--origin", &https_origin])
        .args(["--access-key", &ak, "--secret-key", &sk])
        .args(["--listen", "127.0.0.1:0", "--upstream-ca"])
        .arg(&empty)
        .arg("--cache-dir")
        .arg(dir.path().join("cache2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("empty.pem"), "{err}");
}

#[tokio::test]
async fn plain_listeners_speak_h2c_only_when_asked() {
    use aws_sdk_s3::primitives::ByteStream;
    let origin = TestOrigin::spawn_with(&["--h2c"]);
    let s3 = origin.public_bucket("plain").await;
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    s3.put_object()
        .bucket("plain")
        .key("data.bin")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let edge = TestEdge::spawn(&origin, &["--h2c"]);
    for base in [&origin.url, &edge.url] {
        let url = format!("{base}/plain/data.bin");
        let whole = h2.get(&url).send().await.unwrap();
        assert_eq!(whole.version(), reqwest::Version::HTTP_2, "{base}");
        assert_eq!(whole.status(), 200);
        assert_eq!(whole.bytes().await.unwrap(), body);
        let part = h2
            .get(&url)
            .header("range", "bytes=99990-")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), 206);
        assert_eq!(part.bytes().await.unwrap(), body[99_990..]);
        // HTTP/1.1 stays.
        let h1 = reqwest::get(&url).await.unwrap();
        assert_eq!(h1.version(), reqwest::Version::HTTP_11);
        assert_eq!(h1.status(), 200);
    }
    // Not asked: a client that opens with the HTTP/2 preface is not served.
    let plain = TestEdge::spawn(&origin, &[]);
    assert!(h2
        .get(format!("{}/plain/data.bin", plain.url))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn hsts_is_sent_per_site_and_only_over_https() {
    let origin = TestOrigin::spawn();
    let s3 = origin.public_bucket("site").await;
    s3.put_object()
        .bucket("site")
        .key("index.html")
        .body(b"<p>hi</p>".to_vec().into())
        .send()
        .await
        .unwrap();
    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let (cdn_pem, other_pem) = pem_paths(certs.path());
    ca.issue(&cdn_pem, &["cdn.test"]);
    ca.issue(&other_pem, &["other.test"]);
    let list = format!("{},{}", cdn_pem.display(), other_pem.display());
    let edge = TestEdge::spawn(
        &origin,
        &[
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            &list,
            "--hsts",
            "cdn.test=max-age=31536000; includeSubDomains",
        ],
    );
    let https = edge.https_addr.clone().expect("an https listener");
    let port = https.rsplit_once(':').unwrap().1.to_owned();
    let tls = client(&ca, &["cdn.test", "other.test"], &https, false);
    let hsts = |r: &reqwest::Response| {
        r.headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let site = tls
        .get(format!("https://cdn.test:{port}/site/index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(site.status(), 200);
    assert_eq!(
        hsts(&site).as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    let other = tls
        .get(format!("https://other.test:{port}/site/index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(hsts(&other), None, "another site has no setting");
    let plain = reqwest::Client::new()
        .get(format!("{}/site/index.html", edge.url))
        .header("host", "cdn.test")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(hsts(&plain), None, "never over plain HTTP");
}

/// Runs a shell script (openssl's CA and OCSP tools) in `dir`.
fn sh(dir: &Path, script: &str) -> String {
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn an_ocsp_response_beside_a_certificate_is_stapled_and_reloaded() {
    let origin = TestOrigin::spawn();
    let dir = tempfile::tempdir().unwrap();
    // A CA, a leaf for ocsp.test, and a signed "good" OCSP response for
    // the leaf, all with openssl; a second certificate has none.
    sh(
        dir.path(),
        r#"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
          -subj "/CN=OCSP test CA" -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=ocsp.test" \
          -keyout leaf.key -out leaf.csr 2>/dev/null
        printf 'subjectAltName=DNS:ocsp.test\n' >leaf.ext
        openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
          -extfile leaf.ext -out leaf.pem 2>/dev/null
        cat leaf.pem ca.pem leaf.key >site.pem
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
          -subj "/CN=plain.test" -addext "subjectAltName=DNS:plain.test" \
          -keyout plain.key -out plain.crt 2>/dev/null
        cat plain.crt plain.key >plain.pem
        serial=$(openssl x509 -in leaf.pem -noout -serial | cut -d= -f2)
        expiry=$(date -u -d '+30 days' +%y%m%d%H%M%SZ)
        printf 'V\t%s\t\t%s\tunknown\t/CN=ocsp.test\n' "$expiry" "$serial" >index.txt
        openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -issuer ca.pem \
          -cert leaf.pem -respout site.pem.ocsp -ndays 1 >/dev/null 2>&1
        test -s site.pem.ocsp
        "#,
    );
    let certs = format!(
        "{},{}",
        dir.path().join("site.pem").display(),
        dir.path().join("plain.pem").display()
    );
    let edge = TestEdge::spawn(
        &origin,
        &["--tls-listen", "127.0.0.1:0", "--tls-cert", &certs],
    );
    let https = edge.https_addr.clone().unwrap();
    let status = |name: &str| {
        sh(
            dir.path(),
            &format!(
                "openssl s_client -connect {https} -servername {name} -status </dev/null 2>/dev/null || true"
            ),
        )
    };
    let stapled = status("ocsp.test");
    assert!(
        stapled.contains("OCSP Response Status: successful")
            && stapled.contains("Cert Status: good"),
        "{stapled}"
    );
    assert!(status("plain.test").contains("no response sent"));

    // A renewed response (revoked, this time) is stapled without a restart.
    sh(
        dir.path(),
        r#"
        sed -i 's/^V\t\([^\t]*\)\t\t/R\t\1\t'"$(date -u +%y%m%d%H%M%SZ)"'\t/' index.txt
        openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -issuer ca.pem \
          -cert leaf.pem -respout next.ocsp -ndays 1 >/dev/null 2>&1
        mv next.ocsp site.pem.ocsp
        "#,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !status("ocsp.test").contains("Cert Status: revoked") {
        assert!(
            Instant::now() < deadline,
            "the new OCSP response was not stapled within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
