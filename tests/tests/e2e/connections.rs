//! Connections are a bounded resource (issue 13): idle and slowloris
//! floods are shed and timed out instead of stopping a daemon, slow
//! uploads hold no thread, and an early error on a `100-continue` upload
//! tells the client the connection is done.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketCannedAcl;
use cairn_tests::{presign_v4, Flood, TestEdge, TestOrigin};

/// `GET url` with a short client timeout: the status, or `None`.
async fn probe(client: &reqwest::Client, url: &str) -> Option<u16> {
    let resp = client
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some(resp.status().as_u16())
}

#[tokio::test]
async fn twenty_thousand_idle_connections_do_not_stop_the_origin() {
    let origin = TestOrigin::spawn();
    // 20,000 connections: more than the machine's 20,000-file limit lets
    // one process hold, so two processes hold them.
    let mut floods = [
        Flood::spawn(&origin.addr, 10_000, 0),
        Flood::spawn(&origin.addr, 10_000, 0),
    ];
    for f in &mut floods {
        f.wait_for(|_, _, tried| tried == 10_000, Duration::from_secs(60))
            .expect("the flood's connects finish");
    }
    let flooded = Instant::now();
    // The origin took all the connections it could. (What the floods see
    // as open is no measure: connects that overflow the listen backlog
    // complete on the client's side only.)
    let mut peak = origin.open_files();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let health = format!("{}/health", origin.url);
    loop {
        peak = peak.max(origin.open_files());
        if probe(&client, &health).await == Some(200) {
            break;
        }
        assert!(
            flooded.elapsed() < Duration::from_secs(30),
            "/health did not answer within 30 s of the flood"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        peak > 5_000,
        "the flood was real: the origin held {peak} files"
    );
    // The idle connections were closed by the server, not by the flood.
    while origin.open_files() > 200 {
        assert!(
            flooded.elapsed() < Duration::from_secs(30),
            "the origin still holds {} files",
            origin.open_files()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = origin.log();
    let emfile = log.matches("Too many open files").count();
    assert!(emfile <= 30, "accept errors logged {emfile} times");
}

#[tokio::test]
async fn slowloris_connections_are_closed_within_the_header_timeout() {
    let origin = TestOrigin::spawn_with(&["--header-timeout", "5s"]);
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("pub")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("pub")
        .key("k")
        .body(ByteStream::from_static(b"small"))
        .send()
        .await
        .unwrap();
    let mut flood = Flood::spawn(&origin.addr, 0, 3000);
    flood
        .wait_for(|_, _, tried| tried == 3000, Duration::from_secs(30))
        .expect("connects finish");
    let opened = Instant::now();
    let mut held = origin.open_files();
    while held < 2900 && opened.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        held = held.max(origin.open_files());
    }
    assert!(
        held > 2500,
        "the origin holds the slow connections for now ({held})"
    );
    // GETs are answered meanwhile.
    let client = reqwest::Client::new();
    let url = format!("{}/pub/k", origin.url);
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(probe(&client, &url).await, Some(200));
        times.push(started.elapsed());
    }
    times.sort();
    assert!(
        times[17] < Duration::from_millis(100),
        "GETs beside 3,000 slow connections: {times:?}"
    );
    // The slow ones are closed within the header timeout (5 s, counted
    // from each connection's start), as the origin's own files show.
    while origin.open_files() > 200 {
        assert!(
            opened.elapsed() < Duration::from_secs(6),
            "the origin still holds {} files",
            origin.open_files()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_edge_sheds_connections_over_its_cap_and_times_out_idle_ones() {
    let origin = TestOrigin::spawn();
    let edge = TestEdge::spawn(
        &origin,
        &["--max-connections", "500", "--header-timeout", "3s"],
    );
    let mut flood = Flood::spawn(&edge.addr, 2000, 0);
    flood
        .wait_for(|_, _, tried| tried == 2000, Duration::from_secs(30))
        .unwrap();
    let files = edge.open_files();
    assert!(
        (400..700).contains(&files),
        "the edge holds about its cap of connections ({files} files)"
    );
    // Over the cap, a new connection is answered 503 at once.
    let (status, body) = cairn_tests::raw_request(&edge.addr, "GET", "/health", &[]);
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    let started = Instant::now();
    while edge.open_files() > 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "idle connections still open after the header timeout: {} files",
            edge.open_files()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let client = reqwest::Client::new();
    assert_eq!(
        probe(&client, &format!("{}/health", edge.url)).await,
        Some(200)
    );
}

#[tokio::test]
async fn six_hundred_trickling_uploads_do_not_starve_reads() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("slow").send().await.unwrap();
    s3.put_object()
        .bucket("slow")
        .key("probe")
        .body(ByteStream::from_static(b"probe"))
        .send()
        .await
        .unwrap();
    // 600 presigned PUTs, each sending one byte a second.
    let mut uploads = Vec::new();
    for i in 0..600 {
        let url = presign_v4(
            "PUT",
            &format!("{}/slow/trickle-{i}", origin.url),
            &origin.addr,
            Duration::from_secs(600),
        );
        let target = url.trim_start_matches(&origin.url).to_owned();
        let addr = origin.addr.clone();
        uploads.push(std::thread::spawn(move || {
            let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
            let head =
                format!("PUT {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 15\r\n\r\n");
            tcp.write_all(head.as_bytes()).unwrap();
            for _ in 0..12 {
                if tcp.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Metadata reads (signed HEAD and LIST, which go to the blocking pool)
    // keep their latency while the uploads trickle.
    let mut times = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        let t = Instant::now();
        s3.head_object()
            .bucket("slow")
            .key("probe")
            .send()
            .await
            .unwrap();
        s3.list_objects_v2()
            .bucket("slow")
            .max_keys(10)
            .send()
            .await
            .unwrap();
        times.push(t.elapsed() / 2);
    }
    times.sort();
    let p99 = times[times.len() * 99 / 100];
    assert!(
        p99 < Duration::from_millis(20),
        "read p99 {p99:?} with 600 trickling uploads ({} reads)",
        times.len()
    );
    for u in uploads {
        let _ = u.join();
    }
}

#[tokio::test]
async fn an_early_error_after_100_continue_closes_the_connection_cleanly() {
    let origin = TestOrigin::spawn();
    let mut tcp = std::net::TcpStream::connect(&origin.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Unsigned, to a bucket that does not exist: refused before the body.
    let head = format!(
        "PUT /nobucket/k HTTP/1.1\r\nHost: {}\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
        origin.addr
    );
    tcp.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no clean close: {e}; got {}", String::from_utf8_lossy(&got)),
        }
    }
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 4"), "{text}");
    assert!(!text.contains("100 continue"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
}

#[tokio::test]
async fn over_its_cap_the_origin_answers_slow_down_and_its_file_limit_is_raised() {
    // Started with a soft limit of 1,024 below the hard one.
    let origin = TestOrigin::spawn_with_soft_file_limit(1024, &["--max-connections", "20"]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", origin.pid())).unwrap();
    let files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_ne!(files[3], "1024", "{limits}");
    assert_eq!(
        files[3], files[4],
        "soft open-file limit raised to the hard one: {limits}"
    );
    let before = origin.open_files();
    let held: Vec<_> = (0..20)
        .map(|_| std::net::TcpStream::connect(&origin.addr).unwrap())
        .collect();
    // Give the accept loop the 20 connections before the 21st.
    let started = Instant::now();
    while origin.open_files() < before + 20 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = cairn_tests::raw_request(&origin.addr, "GET", "/health", &[]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("<Code>SlowDown</Code>"), "{body}");
    drop(held);
}
