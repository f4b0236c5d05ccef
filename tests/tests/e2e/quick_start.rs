//! `scripts/start`, the quick start: it prints the credentials as `export`
//! lines, and a second start on the same addresses and data dir refuses in
//! one line and leaves the first instance running with its files intact.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(data: &std::path::Path, s3: &str, edge: &str, tls: &str) -> Command {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin_dir = cairn_tests::binary("cairn-origin")
        .parent()
        .unwrap()
        .to_path_buf();
    let mut cmd = Command::new(root.join("scripts/start"));
    cmd.env("CAIRN_DATA_DIR", data)
        .env("CAIRN_LISTEN", s3)
        .env("CAIRN_EDGE_LISTEN", edge)
        .env("CAIRN_EDGE_TLS_LISTEN", tls)
        .env("CAIRN_BIN_DIR", bin_dir)
        .env_remove("CAIRN_ROOT_ACCESS_KEY")
        .env_remove("CAIRN_ROOT_SECRET_KEY");
    cmd
}

/// Stops the script (its trap stops the origin and the edge) on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

#[test]
fn a_second_start_refuses_in_one_line_and_leaves_the_first_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (s3, edge, tls) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let mut child = start(&data, &s3, &edge, &tls)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = Running(child);
    // Read what it prints until the end of its message.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.starts_with("Logs:")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(e) => panic!("scripts/start never said it runs ({e}): {printed:?}"),
        }
    }
    let text = printed.join("\n");
    assert!(text.contains("Cairn is running."), "{text}");
    assert!(text.contains("export AWS_ACCESS_KEY_ID="), "{text}");
    assert!(text.contains("export AWS_SECRET_ACCESS_KEY="), "{text}");
    assert!(text.contains("export AWS_REGION=us-east-1"), "{text}");
    let log_before = std::fs::metadata(data.join("origin.log")).unwrap().len();
    let health = |addr: &str| {
        Command::new("curl")
            .args(["-fs", &format!("http://{addr}/health")])
            .status()
            .unwrap()
            .success()
    };
    assert!(health(&s3) && health(&edge));
    // The edge's HTTPS listener, trusted through the dev CA the script made.
    let port = tls.rsplit_once(':').unwrap().1;
    let https = Command::new("curl")
        .args(["-fs", "--http2", "--cacert"])
        .arg(data.join("tls/ca.pem"))
        .args(["-o", "/dev/null", "-w", "%{http_version}"])
        .arg(format!("https://localhost:{port}/health"))
        .output()
        .unwrap();
    assert!(https.status.success(), "{https:?}");
    assert_eq!(
        String::from_utf8_lossy(&https.stdout),
        "2",
        "served over HTTP/2"
    );
    assert!(text.contains("--cacert"), "{text}");

    // Same addresses: refused, in one line, naming the address.
    let out = start(&data, &s3, &edge, &tls).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&s3) && err.contains("already in use"), "{err}");
    // Other addresses, same data dir: refused too, before touching it.
    let other = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let out = start(&data, &other.0, &other.1, &other.2).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("in use by a running Cairn origin"), "{err}");

    // The first instance still serves, and its log was not truncated.
    assert!(health(&s3) && health(&edge));
    let log_after = std::fs::metadata(data.join("origin.log")).unwrap().len();
    assert!(log_after >= log_before, "{log_before} -> {log_after}");
    drop(first);
}
