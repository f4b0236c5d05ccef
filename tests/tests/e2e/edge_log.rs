//! What an operator sees of an edge: its access log (JSON and text, a
//! rotation by SIGHUP, sampling) and its `/metrics` by status class,
//! cache status and latency, labelled with the edge's region.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{metric, TestEdge, TestOrigin};

/// The log's lines once it holds at least `n` (the writer runs beside
/// the requests; it must catch up within 10 s).
fn lines_of(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} has {} lines, want {n}:\n{text}",
            path.display(),
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &'static [u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_access_log_has_a_line_per_request_and_reopens_on_sighup() {
    let origin = TestOrigin::spawn();
    let s3 = origin.public_bucket("site").await;
    put(&s3, "site", "app.js", b"console.log('hello');").await;
    let logdir = tempfile::tempdir().unwrap();
    let log = logdir.path().join("access.log");
    let edge = TestEdge::spawn(
        &origin,
        &[
            "--access-log",
            log.to_str().unwrap(),
            "--access-log-format",
            "json",
            "--region",
            "eu-west",
        ],
    );
    let http = reqwest::Client::new();
    let url = format!("{}/site/app.js", edge.url);
    let miss = http.get(&url).send().await.unwrap();
    let miss_id = miss.headers()["x-request-id"].to_str().unwrap().to_owned();
    let etag = miss.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(miss.bytes().await.unwrap().len(), 21);
    let hit = http.get(&url).send().await.unwrap();
    assert_eq!(hit.headers()["x-cache"], "HIT");
    hit.bytes().await.unwrap();
    let not_modified = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    let missing = http
        .get(format!("{}/site/nope%20here", edge.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    missing.bytes().await.unwrap();

    let lines = lines_of(&log, 4);
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let field = |i: usize, f: &str| parsed[i][f].clone();
    // The miss: its bytes, its upstream wait, the id the client saw.
    assert_eq!(field(0, "request_id"), miss_id.as_str());
    assert_eq!(field(0, "status"), 200);
    assert_eq!(field(0, "cache"), "MISS");
    assert_eq!(field(0, "bytes"), 21);
    assert_eq!(field(0, "method"), "GET");
    assert_eq!(field(0, "bucket"), "site");
    assert_eq!(field(0, "key"), "app.js");
    assert_eq!(field(0, "client"), "127.0.0.1");
    assert!(field(0, "upstream_seconds").as_f64().unwrap() > 0.0);
    assert!(
        field(0, "total_seconds").as_f64().unwrap()
            >= field(0, "upstream_seconds").as_f64().unwrap()
    );
    // The hit: no upstream; the 304: no body; the 404: an error body.
    assert_eq!(field(1, "cache"), "HIT");
    assert!(field(1, "upstream_seconds").is_null());
    assert_eq!(field(1, "bytes"), 21);
    assert_eq!(field(2, "status"), 304);
    assert_eq!(field(2, "bytes"), 0);
    assert_eq!(field(3, "status"), 404);
    assert_eq!(field(3, "key"), "nope here");
    assert!(field(3, "bytes").as_u64().unwrap() > 0);
    let ids: std::collections::HashSet<String> = parsed
        .iter()
        .map(|p| p["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "request ids are distinct");

    // Rotation: the file is moved away, SIGHUP, and new lines go to a new
    // file while the old one keeps what it had.
    let rotated = logdir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    edge.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.exists() {
        // Each request after the reopen lands in the new file.
        http.get(&url).send().await.unwrap().bytes().await.unwrap();
        assert!(Instant::now() < deadline, "SIGHUP did not reopen the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = lines_of(&log, 1);
    assert!(after[0].contains("\"cache\":\"HIT\""), "{after:?}");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.lines().count() >= 4);

    // Metrics: by status class and cache status, with the region.
    let text = http
        .get(format!("{}/metrics", edge.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = |labels: &str| {
        metric(
            &text,
            &format!("cairn_edge_responses_total{{region=\"eu-west\",{labels}}}"),
        )
        .unwrap_or_else(|| panic!("no series {labels} in\n{text}"))
    };
    assert_eq!(series("status=\"2xx\",cache=\"MISS\""), 1.0);
    assert!(series("status=\"2xx\",cache=\"HIT\"") >= 2.0);
    assert_eq!(series("status=\"3xx\",cache=\"HIT\""), 1.0);
    assert_eq!(series("status=\"4xx\",cache=\"MISS\""), 1.0);
    let count = metric(&text, "cairn_edge_response_seconds_count").unwrap();
    let inf = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("cairn_edge_response_seconds_bucket{region=\"eu-west\",le=\"+Inf\"} ")
        })
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
    assert_eq!(count, inf);
    assert!(count >= 5.0, "{text}");
    assert_eq!(
        metric(&text, "cairn_edge_hits_total{region=\"eu-west\"}").map(|v| v >= 2.0),
        Some(true)
    );
}

#[tokio::test]
async fn a_sampled_text_log_records_one_request_in_n() {
    let origin = TestOrigin::spawn();
    let s3 = origin.public_bucket("pub").await;
    put(&s3, "pub", "a b.css", b"body{}").await;
    let logdir = tempfile::tempdir().unwrap();
    let log = logdir.path().join("access.log");
    let edge = TestEdge::spawn(
        &origin,
        &[
            "--access-log",
            log.to_str().unwrap(),
            "--access-log-sample",
            "0.25",
        ],
    );
    let http = reqwest::Client::new();
    for _ in 0..20 {
        let r = http
            .get(format!("{}/pub/a%20b.css", edge.url))
            .send()
            .await
            .unwrap();
        r.bytes().await.unwrap();
    }
    let lines = lines_of(&log, 5);
    assert_eq!(lines.len(), 5, "{lines:?}");
    for line in &lines {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 11, "{line}");
        assert_eq!(&f[2..8], ["GET", "pub", "a%20b.css", "200", "6", f[7]]);
        assert!(["MISS", "HIT"].contains(&f[7]), "{line}");
    }
}

/// Polls `cairn-origin edges` until its output satisfies `want` (10 s at
/// most: the server records followers every 5 s).
fn edges_until(origin: &TestOrigin, want: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = origin.cli(&["edges"]);
        if want(&out) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "cairn-origin edges still says:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test]
async fn cairn_origin_edges_shows_revoked_edges_and_forgets_gone_ones() {
    let origin = TestOrigin::spawn();
    let edge = TestEdge::spawn(&origin, &["--region", "ap-south"]);
    let out = edges_until(&origin, |o| {
        o.contains("ap-south") && o.contains("following")
    });
    assert!(out.contains(&edge.access_key), "{out}");

    origin.cli(&["key", "delete", &edge.access_key]);
    let out = origin.cli(&["edges"]);
    let line = out.lines().find(|l| l.contains("ap-south")).unwrap();
    assert!(line.contains("revoked"), "{out}");

    // Gone for longer than --forget-edges-after: no longer listed. (An
    // edge long-polls the feed for 30 s at a time, so a real setting is
    // far longer than a poll; here the origin restarts with a short one
    // after the edge is gone.)
    drop(edge);
    let dir = origin.kill();
    std::thread::sleep(Duration::from_millis(1500));
    let origin = TestOrigin::spawn_in(dir, &["--forget-edges-after", "1s"]);
    edges_until(&origin, |o| !o.contains("ap-south"));
}
