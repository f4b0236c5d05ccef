//! The edge under faults (issue 13): a black-holed upstream, an upstream
//! that streams without Content-Length, client numbers that would
//! overflow, and object keys that spell a slice's cache key.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{presign_v4, raw_request, TestEdge, TestOrigin};

async fn public_bucket(origin: &TestOrigin, name: &str) -> aws_sdk_s3::Client {
    origin.public_bucket(name).await
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut req = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(30));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let xcache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, xcache, resp.bytes().await.unwrap().to_vec())
}

/// A listener that accepts connections and never answers.
fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_black_holed_origin_gets_stale_copies_or_504_within_the_timeout() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "holes").await;
    s3.put_object()
        .bucket("holes")
        .key("cached")
        .cache_control("max-age=1, stale-if-error=600")
        .body(ByteStream::from_static(b"cached bytes"))
        .send()
        .await
        .unwrap();
    let edge = TestEdge::spawn(&origin, &[]);
    let (ak, sk) = (edge.access_key.clone(), edge.secret_key.clone());
    assert_eq!(get(&format!("{}/holes/cached", edge.url), &[]).await.0, 200);
    let dir = edge.kill();
    // The same cache, now in front of an origin that accepts and never answers.
    let hole = black_hole();
    let edge = TestEdge::spawn_in(dir, &hole, &ak, &sk, &["--upstream-timeout", "1s"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = Instant::now();
    let (status, xcache, body) = get(&format!("{}/holes/cached", edge.url), &[]).await;
    assert_eq!(
        (status, xcache.as_str(), body.as_slice()),
        (200, "STALE", b"cached bytes".as_slice())
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let (status, _, _) = get(&format!("{}/holes/never-cached", edge.url), &[]).await;
    assert_eq!(status, 504);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Requests with Origin: wait for CORS rules once at most, briefly.
    let started = Instant::now();
    for _ in 0..5 {
        get(
            &format!("{}/holes/cached", edge.url),
            &[("origin", "https://app.example")],
        )
        .await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// An upstream that answers every GET 200 with a chunked body.
fn chunked_upstream(body: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    while line != "\r\n" {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                    }
                    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=600\r\nETag: \"v1\"\r\nTransfer-Encoding: chunked\r\n\r\n";
                    let mut out = head.as_bytes().to_vec();
                    for piece in body.chunks(7) {
                        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                        out.extend_from_slice(piece);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                    if conn.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_upstream_body_without_content_length_is_served_whole() {
    const BODY: &[u8] = b"a body streamed in chunks, with no Content-Length at all";
    let upstream = chunked_upstream(BODY);
    let dir = tempfile::tempdir().unwrap();
    let edge = TestEdge::spawn_in(dir, &upstream, "AK", "SK", &[]);
    let url = format!("{}/any-bucket/streamed.txt", edge.url);
    let (status, xcache, body) = get(&url, &[]).await;
    assert_eq!(
        (status, xcache.as_str(), body.as_slice()),
        (200, "MISS", BODY)
    );
    let (status, xcache, body) = get(&url, &[]).await;
    assert_eq!(
        (status, xcache.as_str(), body.as_slice()),
        (200, "HIT", BODY)
    );
    let (status, _, body) = get(&url, &[("range", "bytes=2-5")]).await;
    assert_eq!((status, body.as_slice()), (206, &BODY[2..6]));
}

#[tokio::test]
async fn client_numbers_that_would_overflow_are_answered_not_panicked_on() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "num").await;
    s3.put_object()
        .bucket("num")
        .key("ten")
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("num")
        .key("forever")
        .cache_control("max-age=99999999999999999999999, stale-while-revalidate=9223372036854775")
        .body(ByteStream::from_static(b"cached a long time"))
        .send()
        .await
        .unwrap();
    let edge = TestEdge::spawn(&origin, &[]);
    for range in [
        "bytes=18446744073709551615-18446744073709551615",
        "bytes=18446744073709551614-18446744073709551615",
        "bytes=1000-2000",
    ] {
        let (status, _, _) = get(&format!("{}/num/ten", edge.url), &[("range", range)]).await;
        assert_eq!(status, 416, "{range}");
    }
    // None of that fetched the whole object: the next plain GET misses.
    let (status, xcache, body) = get(&format!("{}/num/ten", edge.url), &[]).await;
    assert_eq!(
        (status, xcache.as_str(), body.as_slice()),
        (200, "MISS", b"0123456789".as_slice())
    );
    let url = format!("{}/num/forever", edge.url);
    assert_eq!(get(&url, &[]).await.1, "MISS");
    let (status, xcache, _) = get(&url, &[]).await;
    assert_eq!((status, xcache.as_str()), (200, "HIT"));
    // The edge is alive after all of it.
    let (status, _) = raw_request(&edge.addr, "GET", "/health", &[]);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_object_key_cannot_reach_another_objects_cached_slice() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "slices").await;
    let big: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    s3.put_object()
        .bucket("slices")
        .key("K")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    // A key that spells the old slice key of K's first slice.
    let url = presign_v4(
        "PUT",
        &format!("{}/slices/K%00slice0", origin.url),
        &origin.addr,
        Duration::from_secs(60),
    );
    let resp = reqwest::Client::new()
        .put(&url)
        .body("not a slice")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let edge = TestEdge::spawn(&origin, &["--slice-size", "1KiB"]);
    let (status, _, body) = get(
        &format!("{}/slices/K", edge.url),
        &[("range", "bytes=0-99")],
    )
    .await;
    assert_eq!((status, body.as_slice()), (206, &big[..100]));
    let (status, _, body) = get(&format!("{}/slices/K%00slice0", edge.url), &[]).await;
    assert_eq!((status, body.as_slice()), (200, b"not a slice".as_slice()));
}
