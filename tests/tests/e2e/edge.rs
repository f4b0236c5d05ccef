//! The edge in front of a real origin: cache states, collapsing, the change
//! feed, restarts, corruption, signed URLs, purging and ranges.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{payload, TestEdge, TestOrigin, PURGE_TOKEN};

async fn public_bucket(origin: &TestOrigin, name: &str) -> aws_sdk_s3::Client {
    origin.public_bucket(name).await
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    cache_control: Option<&str>,
) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .set_cache_control(cache_control.map(str::to_owned))
        .send()
        .await
        .unwrap();
}

struct Got {
    status: u16,
    xcache: String,
    age: Option<u64>,
    etag: Option<String>,
    body: Vec<u8>,
    headers: reqwest::header::HeaderMap,
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let h = resp.headers().clone();
    let s = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Got {
        status: resp.status().as_u16(),
        xcache: s("x-cache").unwrap_or_default(),
        age: s("age").and_then(|a| a.parse().ok()),
        etag: s("etag"),
        headers: h.clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

#[tokio::test]
async fn miss_then_hit_with_object_headers() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "pub").await;
    s3.put_object()
        .bucket("pub")
        .key("app.css")
        .body(ByteStream::from_static(b"body{}"))
        .content_type("text/css")
        .cache_control("public, max-age=300")
        .metadata("build", "42")
        .send()
        .await
        .unwrap();
    let edge = TestEdge::spawn(&origin, &[]);
    let url = format!("{}/pub/app.css", edge.url);
    let first = get(&url, &[]).await;
    assert_eq!(
        (first.status, first.xcache.as_str(), first.body.as_slice()),
        (200, "MISS", b"body{}".as_slice())
    );
    let second = get(&url, &[]).await;
    assert_eq!((second.status, second.xcache.as_str()), (200, "HIT"));
    assert!(second.age.is_some(), "Age on cached responses");
    assert_eq!(second.body, b"body{}");
    assert_eq!(second.headers["content-type"], "text/css");
    assert_eq!(second.headers["cache-control"], "public, max-age=300");
    assert_eq!(second.headers["x-amz-meta-build"], "42");
    assert_eq!(
        second.headers["x-cairn-blake3"],
        blake3::hash(b"body{}").to_hex().as_str()
    );
    assert!(second.headers["via"]
        .to_str()
        .unwrap()
        .contains("cairn-edge"));
    assert_eq!(origin.gets_of("/pub/app.css"), 1, "one origin fetch");

    // Conditional and range requests are answered from cache.
    let etag = second.etag.clone().unwrap();
    assert_eq!(get(&url, &[("if-none-match", &etag)]).await.status, 304);
    let part = get(&url, &[("range", "bytes=1-3")]).await;
    assert_eq!(
        (part.status, part.body.as_slice()),
        (206, b"ody".as_slice())
    );
    assert_eq!(part.headers["content-range"], "bytes 1-3/6");
    assert_eq!(get(&url, &[("range", "bytes=10-20")]).await.status, 416);
    assert_eq!(origin.gets_of("/pub/app.css"), 1);

    // Unknown keys are 404 (and remembered), other methods 405.
    assert_eq!(
        get(&format!("{}/pub/nope", edge.url), &[]).await.status,
        404
    );
    let again = get(&format!("{}/pub/nope", edge.url), &[]).await;
    assert_eq!(
        (again.status, again.xcache.as_str()),
        (404, "HIT"),
        "negative caching"
    );
    let post = reqwest::Client::new().post(&url).send().await.unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test]
async fn private_objects_are_refused_without_a_signature() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("priv").send().await.unwrap();
    put(&s3, "priv", "secret.pdf", b"classified".to_vec(), None).await;
    let edge = TestEdge::spawn(&origin, &[]);
    assert_eq!(
        get(&format!("{}/priv/secret.pdf", edge.url), &[])
            .await
            .status,
        403
    );

    let signed = origin.sign_url(&edge, "priv", "secret.pdf", "1h");
    let ok = get(&signed, &[]).await;
    assert_eq!(
        (ok.status, ok.body.as_slice()),
        (200, b"classified".as_slice())
    );
    assert_eq!(get(&signed, &[]).await.xcache, "HIT");
    // Cached under its plain key, but never served without a signature.
    assert_eq!(
        get(&format!("{}/priv/secret.pdf", edge.url), &[])
            .await
            .status,
        403
    );
    let tampered = signed.replace("secret.pdf", "other.pdf");
    assert_eq!(get(&tampered, &[]).await.status, 403);
    // Change the signature's last hex digit (to one it is not).
    let flipped = if signed.ends_with('0') { '1' } else { '0' };
    let bad_sig = format!("{}{flipped}", &signed[..signed.len() - 1]);
    assert_eq!(get(&bad_sig, &[]).await.status, 403);
    let expired = origin.sign_url(&edge, "priv", "secret.pdf", "0s");
    let expired = expired.replace(
        &format!(
            "expires={}",
            expired
                .split("expires=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
        ),
        "expires=1000",
    );
    assert_eq!(
        get(&expired, &[]).await.status,
        403,
        "expired (and re-signed value mismatch)"
    );
}

#[tokio::test]
async fn cache_control_directives() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "ccd").await;
    put(&s3, "ccd", "nocache", b"n".to_vec(), Some("no-cache")).await;
    put(&s3, "ccd", "nostore", b"s".to_vec(), Some("no-store")).await;
    put(
        &s3,
        "ccd",
        "private",
        b"p".to_vec(),
        Some("private, max-age=600"),
    )
    .await;
    put(
        &s3,
        "ccd",
        "short",
        b"x".to_vec(),
        Some("max-age=1, stale-while-revalidate=60"),
    )
    .await;
    let edge = TestEdge::spawn(&origin, &[]);
    let url = |k: &str| format!("{}/ccd/{k}", edge.url);

    assert_eq!(get(&url("nocache"), &[]).await.xcache, "MISS");
    assert_eq!(
        get(&url("nocache"), &[]).await.xcache,
        "REVALIDATED",
        "no-cache: stored, revalidated every time"
    );
    assert_eq!(get(&url("nostore"), &[]).await.xcache, "MISS");
    assert_eq!(
        get(&url("nostore"), &[]).await.xcache,
        "MISS",
        "no-store: never stored"
    );
    assert_eq!(get(&url("private"), &[]).await.xcache, "MISS");
    assert_eq!(
        get(&url("private"), &[]).await.xcache,
        "MISS",
        "private: not for a shared cache"
    );

    assert_eq!(get(&url("short"), &[]).await.xcache, "MISS");
    assert_eq!(get(&url("short"), &[]).await.xcache, "HIT");
    // Let max-age=1 pass: inside stale-while-revalidate the stale copy is
    // served at once while a background revalidation refreshes it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let stale = get(&url("short"), &[]).await;
    assert_eq!(
        (stale.xcache.as_str(), stale.body.as_slice()),
        ("STALE", b"x".as_slice())
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let g = get(&url("short"), &[]).await;
        if g.xcache == "HIT" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "background revalidation never landed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_small_public_object_comes_with_its_change_and_a_large_one_is_dropped() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "live").await;
    let big = |v: u8| vec![v; 2 << 20];
    put(&s3, "live", "app.css", b"v1".to_vec(), Some("max-age=3600")).await;
    put(&s3, "live", "big.bin", big(1), Some("max-age=3600")).await;
    let edge = TestEdge::spawn(&origin, &[]);
    let (css, bin) = (
        format!("{}/live/app.css", edge.url),
        format!("{}/live/big.bin", edge.url),
    );
    for url in [&css, &bin] {
        assert_eq!(get(url, &[]).await.xcache, "MISS");
        assert_eq!(get(url, &[]).await.xcache, "HIT");
    }
    let fetches = "cairn_edge_upstream_fetches_total";
    let fetched = edge_metric(&edge, fetches).await;
    put(&s3, "live", "app.css", b"v2".to_vec(), Some("max-age=3600")).await;
    put(&s3, "live", "big.bin", big(2), Some("max-age=3600")).await;
    // The change events drop both copies; the small one came with its
    // event and is cached before anyone asks for it, without a fetch.
    until_metric(&edge, "cairn_edge_refreshes_total", 1).await;
    let got = get(&css, &[]).await;
    assert_eq!(
        (got.xcache.as_str(), got.body.as_slice()),
        ("HIT", b"v2".as_slice())
    );
    assert_eq!(origin.gets_of("/live/app.css"), 1, "v2 was not fetched");
    // The large one waits for a request.
    let got = get(&bin, &[]).await;
    assert_eq!(got.xcache, "MISS");
    assert_eq!(got.body, big(2));
    assert_eq!(edge_metric(&edge, "cairn_edge_refreshes_total").await, 1);
    assert_eq!(edge_metric(&edge, fetches).await, fetched + 1);
}

#[tokio::test]
async fn a_private_small_object_is_refetched_with_the_edge_key_not_pushed() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("priv").send().await.unwrap();
    put(&s3, "priv", "doc.txt", b"v1".to_vec(), Some("max-age=3600")).await;
    let edge = TestEdge::spawn(&origin, &[]);
    let signed = origin.sign_url(&edge, "priv", "doc.txt", "1h");
    assert_eq!(get(&signed, &[]).await.xcache, "MISS");
    put(&s3, "priv", "doc.txt", b"v2".to_vec(), Some("max-age=3600")).await;
    // The feed never carries a private object; the edge fetches it again
    // itself, signed.
    let deadline = Instant::now() + Duration::from_secs(5);
    while origin.gets_of("/priv/doc.txt") < 2 {
        assert!(
            Instant::now() < deadline,
            "the private object was not refetched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = get(&signed, &[]).await;
    assert_eq!(got.body, b"v2");
    assert_eq!(
        get(&format!("{}/priv/doc.txt", edge.url), &[]).await.status,
        403
    );
}

#[tokio::test]
async fn an_overwrite_reaches_the_edge_within_a_second() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "live").await;
    put(
        &s3,
        "live",
        "index.html",
        b"v1".to_vec(),
        Some("max-age=3600"),
    )
    .await;
    let edge = TestEdge::spawn(&origin, &[]);
    let url = format!("{}/live/index.html", edge.url);
    assert_eq!(get(&url, &[]).await.body, b"v1");
    assert_eq!(get(&url, &[]).await.xcache, "HIT");
    put(
        &s3,
        "live",
        "index.html",
        b"v2".to_vec(),
        Some("max-age=3600"),
    )
    .await;
    let changed = Instant::now();
    loop {
        if get(&url, &[]).await.body == b"v2" {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "the edge still served v1 after 1 s despite max-age=3600"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Deletes travel the same way.
    s3.delete_object()
        .bucket("live")
        .key("index.html")
        .send()
        .await
        .unwrap();
    let deleted = Instant::now();
    while get(&url, &[]).await.status != 404 {
        assert!(
            deleted.elapsed() < Duration::from_secs(1),
            "delete did not reach the edge"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_stampede_causes_one_origin_fetch() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "hot").await;
    let data = payload(50 * 1024 * 1024, 7);
    put(&s3, "hot", "video.mp4", data.clone(), Some("max-age=600")).await;
    let edge = TestEdge::spawn(&origin, &[]);
    let url = format!("{}/hot/video.mp4", edge.url);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let want = blake3::hash(&data);
    let tasks: Vec<_> = (0..500)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let resp = client.get(&url).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                let mut h = blake3::Hasher::new();
                let mut stream = resp.bytes_stream();
                while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                    h.update(&chunk.unwrap());
                }
                h.finalize()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), want, "every client gets identical bytes");
    }
    assert_eq!(
        origin.gets_of("/hot/video.mp4"),
        1,
        "500 concurrent requests, one origin GET"
    );
}

#[tokio::test]
async fn origin_down_serves_stale_and_504_for_the_rest() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "down").await;
    put(
        &s3,
        "down",
        "cached",
        b"still here".to_vec(),
        Some("max-age=1, stale-if-error=600"),
    )
    .await;
    put(&s3, "down", "never-fetched", b"x".to_vec(), None).await;
    let edge = TestEdge::spawn(&origin, &[]);
    assert_eq!(
        get(&format!("{}/down/cached", edge.url), &[]).await.xcache,
        "MISS"
    );
    drop(origin.kill());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let stale = get(&format!("{}/down/cached", edge.url), &[]).await;
    assert_eq!(
        (stale.status, stale.xcache.as_str(), stale.body.as_slice()),
        (200, "STALE", b"still here".as_slice())
    );
    assert_eq!(
        get(&format!("{}/down/never-fetched", edge.url), &[])
            .await
            .status,
        504
    );
}

#[tokio::test]
async fn a_restart_keeps_the_disk_cache_and_corruption_is_refetched() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "disk").await;
    let big = payload(12 * 1024 * 1024, 3);
    put(
        &s3,
        "disk",
        "small.js",
        b"console.log(1)".to_vec(),
        Some("max-age=3600"),
    )
    .await;
    put(&s3, "disk", "big.bin", big.clone(), Some("max-age=3600")).await;
    let edge = TestEdge::spawn(&origin, &[]);
    let (ak, sk) = (edge.access_key.clone(), edge.secret_key.clone());
    assert_eq!(
        get(&format!("{}/disk/small.js", edge.url), &[])
            .await
            .xcache,
        "MISS"
    );
    assert_eq!(
        get(&format!("{}/disk/big.bin", edge.url), &[]).await.xcache,
        "MISS"
    );
    let dir = edge.kill();
    let edge = TestEdge::spawn_in(dir, &origin.url, &ak, &sk, &[]);
    let small = get(&format!("{}/disk/small.js", edge.url), &[]).await;
    assert_eq!(
        (small.xcache.as_str(), small.body.as_slice()),
        ("HIT", b"console.log(1)".as_slice()),
        "served from disk after a kill -9"
    );
    let got = get(&format!("{}/disk/big.bin", edge.url), &[]).await;
    assert_eq!(got.xcache, "HIT");
    assert!(got.body == big);
    assert_eq!(origin.gets_of("/disk/small.js"), 1);

    // Corrupt both bodies on disk, restart: detected, refetched, never served.
    let dir = edge.kill();
    for hash in [blake3::hash(b"console.log(1)"), blake3::hash(&big)] {
        let path = dir.path().join("cache/blobs").join(hash.to_hex().as_str());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[3] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let edge = TestEdge::spawn_in(dir, &origin.url, &ak, &sk, &[]);
    let small = get(&format!("{}/disk/small.js", edge.url), &[]).await;
    assert_eq!(
        (small.xcache.as_str(), small.body.as_slice()),
        ("MISS", b"console.log(1)".as_slice())
    );
    let got = get(&format!("{}/disk/big.bin", edge.url), &[]).await;
    assert_eq!(got.xcache, "MISS");
    assert!(got.body == big, "the refetched bytes are right");
    assert_eq!(origin.gets_of("/disk/small.js"), 2);
}

#[tokio::test]
async fn purge_api() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "purge").await;
    for k in ["a/1", "a/2", "b/1"] {
        put(&s3, "purge", k, b"x".to_vec(), Some("max-age=3600")).await;
    }
    let edge = TestEdge::spawn(&origin, &[]);
    for k in ["a/1", "a/2", "b/1"] {
        get(&format!("{}/purge/{k}", edge.url), &[]).await;
    }
    let purge = |q: &str, token: &str| {
        reqwest::Client::new()
            .post(format!("{}/_cairn/purge?{q}", edge.url))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        purge("bucket=purge&key=a/1", "wrong")
            .await
            .unwrap()
            .status(),
        403
    );
    // The edge key's secret reads every private object: it is not the
    // purge credential.
    assert_eq!(
        purge("bucket=purge&key=a/1", &edge.secret_key)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get(&format!("{}/purge/a/1", edge.url), &[]).await.xcache,
        "HIT"
    );
    let resp = purge("bucket=purge&key=a/1", PURGE_TOKEN).await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "{\"purged\":1}");
    assert_eq!(
        get(&format!("{}/purge/a/1", edge.url), &[]).await.xcache,
        "MISS"
    );
    let resp = purge("bucket=purge&prefix=a/", PURGE_TOKEN).await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "{\"purged\":2}");
    let resp = purge("bucket=purge", PURGE_TOKEN).await.unwrap();
    assert_eq!(
        resp.text().await.unwrap(),
        "{\"purged\":1}",
        "the whole bucket: b/1 was left"
    );
    assert_eq!(
        get(&format!("{}/purge/b/1", edge.url), &[]).await.xcache,
        "MISS"
    );
    let metrics = reqwest::get(format!("{}/metrics", edge.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        cairn_tests::metric(&metrics, "cairn_edge_purges_total"),
        Some(4.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn cors_as_the_bucket_rules_say() {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "web").await;
    put(&s3, "web", "app.js", b"js".to_vec(), Some("max-age=600")).await;
    let rule = |from: &str| {
        CorsConfiguration::builder()
            .cors_rules(
                CorsRule::builder()
                    .allowed_origins(from)
                    .allowed_methods("GET")
                    .allowed_headers("range")
                    .expose_headers("ETag")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    s3.put_bucket_cors()
        .bucket("web")
        .cors_configuration(rule("http://app.example"))
        .send()
        .await
        .unwrap();
    let edge = TestEdge::spawn(&origin, &[]);
    let url = format!("{}/web/app.js", edge.url);
    let http = reqwest::Client::new();
    let preflight = |from: &'static str, method: &'static str| {
        http.request(reqwest::Method::OPTIONS, &url)
            .header("origin", from)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "range")
            .send()
    };
    let ok = preflight("http://app.example", "GET").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://app.example"
    );
    assert_eq!(
        preflight("http://evil.test", "GET").await.unwrap().status(),
        403
    );
    assert_eq!(
        preflight("http://app.example", "PUT")
            .await
            .unwrap()
            .status(),
        403
    );
    for expect in ["MISS", "HIT"] {
        let got = get(&url, &[("origin", "http://app.example")]).await;
        assert_eq!(got.xcache, expect);
        assert_eq!(
            got.headers["access-control-allow-origin"],
            "http://app.example"
        );
        assert_eq!(got.headers["access-control-expose-headers"], "ETag");
    }
    let vary = |got: &Got| {
        got.headers
            .get_all("vary")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|n| n.trim().eq_ignore_ascii_case("origin"))
            })
    };
    let evil = get(&url, &[("origin", "http://evil.test")]).await;
    assert!(!evil.headers.contains_key("access-control-allow-origin"));
    // Whatever the request's Origin, or none: no cache on the way may
    // reuse one origin's answer for another.
    assert!(vary(&evil), "{:?}", evil.headers);
    let plain = get(&url, &[]).await;
    assert_eq!(plain.xcache, "HIT");
    assert!(
        vary(&plain),
        "Vary: Origin without an Origin: {:?}",
        plain.headers
    );

    // New rules reach the edge through the change feed.
    s3.put_bucket_cors()
        .bucket("web")
        .cors_configuration(rule("http://other.example"))
        .send()
        .await
        .unwrap();
    let changed = Instant::now();
    loop {
        let got = get(&url, &[("origin", "http://other.example")]).await;
        if got.headers.contains_key("access-control-allow-origin") {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "new CORS rules did not reach the edge within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        preflight("http://app.example", "GET")
            .await
            .unwrap()
            .status(),
        403,
        "the old rule is gone"
    );
}

#[tokio::test]
async fn a_range_of_a_cold_1_gib_object_moves_one_slice() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "video").await;
    // 1 GiB from a repeated 1 MiB pattern, streamed from a file.
    let mib = payload(1 << 20, 11);
    let path = origin.dir.path().join("movie.bin");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..1024u32 {
            let mut block = mib.clone();
            block[..4].copy_from_slice(&i.to_le_bytes());
            f.write_all(&block).unwrap();
        }
    }
    s3.put_object()
        .bucket("video")
        .key("movie.mp4")
        .body(ByteStream::from_path(&path).await.unwrap())
        .send()
        .await
        .unwrap();
    let edge = TestEdge::spawn(&origin, &[]);
    let url = format!("{}/video/movie.mp4", edge.url);
    let upstream_bytes = || async {
        let m = reqwest::get(format!("{}/metrics", edge.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        cairn_tests::metric(&m, "cairn_edge_upstream_bytes_total").unwrap() as u64
    };
    // A 1 KiB seek deep into the file.
    let start = 700u64 * (1 << 20) + 12_345;
    let got = get(
        &url,
        &[("range", &format!("bytes={start}-{}", start + 1023))],
    )
    .await;
    // Every failure names what the edge said and logged.
    let context = |what: &str| format!("{what}; edge log:\n{}", edge.log());
    assert_eq!(got.status, 206, "{}", context("first range"));
    assert_eq!(
        got.headers["content-range"],
        format!("bytes {start}-{}/{}", start + 1023, 1u64 << 30).as_str()
    );
    assert!(
        got.body == mib[12_345..12_345 + 1024],
        "{}",
        context("first range body")
    );
    assert_eq!(got.xcache, "MISS");
    assert_eq!(
        upstream_bytes().await,
        4 << 20,
        "{}",
        context("one 4 MiB slice moved, not the 1 GiB file")
    );
    // The same slice again: from cache, nothing moves.
    let again = get(
        &url,
        &[("range", &format!("bytes={}-{}", start + 2048, start + 4095))],
    )
    .await;
    assert_eq!(
        (again.status, again.xcache.as_str()),
        (206, "HIT"),
        "{}",
        context("the same slice again")
    );
    assert_eq!(
        upstream_bytes().await,
        4 << 20,
        "{}",
        context("a hit moves nothing")
    );
    // A range across a slice boundary takes the next slice too.
    let boundary = 704u64 * (1 << 20) - 10;
    let across = get(
        &url,
        &[("range", &format!("bytes={boundary}-{}", boundary + 19))],
    )
    .await;
    let mut expect = mib[(1 << 20) - 10..].to_vec();
    let mut next = mib[..10].to_vec();
    next[..4].copy_from_slice(&704u32.to_le_bytes());
    expect.extend_from_slice(&next);
    assert!(across.body == expect, "{}", context("range across slices"));
    assert_eq!(
        upstream_bytes().await,
        8 << 20,
        "{}",
        context("the next slice only")
    );
}

#[tokio::test]
async fn a_restarted_edge_resumes_the_feed_where_it_stopped() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "resume").await;
    put(&s3, "resume", "page", b"old".to_vec(), Some("max-age=3600")).await;
    put(
        &s3,
        "resume",
        "other",
        b"same".to_vec(),
        Some("max-age=3600"),
    )
    .await;
    let edge = TestEdge::spawn(&origin, &[]);
    let (ak, sk) = (edge.access_key.clone(), edge.secret_key.clone());
    assert_eq!(
        get(&format!("{}/resume/page", edge.url), &[]).await.body,
        b"old"
    );
    get(&format!("{}/resume/other", edge.url), &[]).await;
    assert!(
        edge.cache_dir().join("feed.seq").exists(),
        "the feed position is recorded before the edge serves"
    );
    let dir = edge.kill();
    // Changed while the edge was down.
    put(&s3, "resume", "page", b"new".to_vec(), Some("max-age=3600")).await;
    let edge = TestEdge::spawn_in(dir, &origin.url, &ak, &sk, &[]);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if get(&format!("{}/resume/page", edge.url), &[]).await.body == b"new" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the missed change was never applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        get(&format!("{}/resume/other", edge.url), &[]).await.xcache,
        "HIT",
        "unchanged keys stay cached"
    );
}

#[tokio::test]
async fn equal_bodies_are_cached_once_and_the_disk_tier_evicts_lru() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "lru").await;
    let body = payload(3 << 20, 5);
    put(&s3, "lru", "copy-a", body.clone(), Some("max-age=3600")).await;
    put(&s3, "lru", "copy-b", body.clone(), Some("max-age=3600")).await;
    for i in 0..4 {
        put(
            &s3,
            "lru",
            &format!("f{i}"),
            payload(3 << 20, 100 + i),
            Some("max-age=3600"),
        )
        .await;
    }
    let edge = TestEdge::spawn(&origin, &["--disk-cache", "10MiB"]);
    let url = |k: &str| format!("{}/lru/{k}", edge.url);
    get(&url("copy-a"), &[]).await;
    get(&url("copy-b"), &[]).await;
    let blobs = || {
        std::fs::read_dir(edge.cache_dir().join("blobs"))
            .unwrap()
            .count()
    };
    assert_eq!(blobs(), 1, "two keys with the same bytes, one body on disk");
    // 3 MiB bodies in a 10 MiB tier: the least recently used go first.
    get(&url("f0"), &[]).await;
    get(&url("copy-a"), &[]).await; // touch: copy-a/b's body stays hot
    get(&url("f1"), &[]).await;
    get(&url("f2"), &[]).await;
    assert!(blobs() <= 3, "the disk tier stays within its bound");
    assert_eq!(
        get(&url("copy-a"), &[]).await.xcache,
        "HIT",
        "recently used survives"
    );
    assert_eq!(
        get(&url("f0"), &[]).await.xcache,
        "MISS",
        "least recently used was evicted"
    );
}

/// Misses go to `--parent` (here the origin itself) while the change feed
/// is unreachable, so only TTLs and revalidation decide freshness.
#[tokio::test]
async fn expired_and_revalidated_through_a_parent_without_the_feed() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "ttl").await;
    put(&s3, "ttl", "same", b"unchanged".to_vec(), Some("max-age=1")).await;
    put(&s3, "ttl", "changes", b"v1".to_vec(), Some("max-age=1")).await;
    let (ak, sk) = origin.create_edge_key("edge");
    let edge = TestEdge::spawn_in(
        tempfile::tempdir().unwrap(),
        "http://127.0.0.1:9",
        &ak,
        &sk,
        &["--parent", &origin.url],
    );
    let url = |k: &str| format!("{}/ttl/{k}", edge.url);
    assert_eq!(get(&url("same"), &[]).await.xcache, "MISS");
    assert_eq!(get(&url("changes"), &[]).await.xcache, "MISS");
    put(&s3, "ttl", "changes", b"v2".to_vec(), Some("max-age=1")).await;
    assert_eq!(
        get(&url("changes"), &[]).await.body,
        b"v1",
        "no feed: the fresh copy stands"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let same = get(&url("same"), &[]).await;
    assert_eq!(
        (same.xcache.as_str(), same.body.as_slice()),
        ("REVALIDATED", b"unchanged".as_slice())
    );
    let changed = get(&url("changes"), &[]).await;
    assert_eq!(
        (changed.xcache.as_str(), changed.body.as_slice()),
        ("EXPIRED", b"v2".as_slice())
    );
    assert_eq!(get(&url("changes"), &[]).await.xcache, "HIT");
}

/// Runs as root only (it mounts a small tmpfs for the cache dir).
#[tokio::test]
async fn a_full_cache_disk_refuses_new_misses_and_keeps_serving_hits() {
    let Some(mount) = cairn_tests::Tmpfs::mount("3m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "fulledge").await;
    let small = payload(1_000_000, 1);
    put(&s3, "fulledge", "small", small.clone(), Some("max-age=600")).await;
    put(
        &s3,
        "fulledge",
        "big",
        payload(5_000_000, 2),
        Some("max-age=600"),
    )
    .await;
    let (ak, sk) = origin.create_edge_key("full");
    let dir = tempfile::tempdir_in(mount.path()).unwrap();
    let edge = TestEdge::spawn_in(dir, &origin.url, &ak, &sk, &[]);
    let get = |key: &str| reqwest::get(format!("{}/fulledge/{key}", edge.url));

    let first = get("small").await.unwrap();
    assert_eq!(first.headers()["x-cache"], "MISS");
    assert_eq!(first.bytes().await.unwrap(), small);
    // 5 MB cannot fit a 3 MiB disk: refused at once, not cut off halfway.
    let big = get("big").await.unwrap();
    assert_eq!(big.status(), 503);
    assert!(big
        .text()
        .await
        .unwrap()
        .contains("<Code>ServiceUnavailable</Code>"));
    let again = get("small").await.unwrap();
    assert_eq!(
        again.headers()["x-cache"],
        "HIT",
        "what is cached stays served"
    );
    assert_eq!(again.bytes().await.unwrap(), small);
    drop(edge);
}

/// A counter of the edge's `/metrics` (0 when absent).
async fn edge_metric(edge: &TestEdge, name: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", edge.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    cairn_tests::metric(&text, name).unwrap_or(0.0) as u64
}

/// Waits (at most 10 s) until the edge's counter `name` reaches `n`.
async fn until_metric(edge: &TestEdge, name: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while edge_metric(edge, name).await < n {
        assert!(Instant::now() < deadline, "{name} never reached {n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The edge's count of feed changes applied.
async fn feed_changes(edge: &TestEdge) -> u64 {
    edge_metric(edge, "cairn_edge_feed_changes_total").await
}

/// Waits (at most 10 s) until the edge has applied `n` feed changes.
async fn until_feed_changes(edge: &TestEdge, n: u64) {
    until_metric(edge, "cairn_edge_feed_changes_total", n).await
}

#[tokio::test]
async fn a_late_change_event_keeps_the_copy_fetched_after_the_change() {
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "late").await;
    // Feed responses take 1.5 s over this link; object fetches do not.
    let link = cairn_tests::slow_link::SlowFeed::start(&origin.url, Duration::from_millis(1500));
    let (ak, sk) = origin.create_edge_key("far");
    let edge = TestEdge::spawn_in(tempfile::tempdir().unwrap(), &link.url, &ak, &sk, &[]);
    let url = format!("{}/late/app.css", edge.url);
    let before = feed_changes(&edge).await;

    put(&s3, "late", "app.css", b"v1".to_vec(), Some("max-age=3600")).await;
    let first = get(&url, &[]).await;
    assert_eq!(
        (first.xcache.as_str(), first.body.as_slice()),
        ("MISS", b"v1".as_slice())
    );
    // The upload's event arrives after the edge fetched what it made.
    until_feed_changes(&edge, before + 1).await;
    let second = get(&url, &[]).await;
    assert_eq!(
        (second.xcache.as_str(), second.body.as_slice()),
        ("HIT", b"v1".as_slice()),
        "the event of the version already cached must not drop it"
    );
    assert_eq!(origin.gets_of("/late/app.css"), 1, "one origin fetch");

    // An event newer than the copy still drops it; v2, small and public,
    // came with its event and is cached without a fetch.
    put(&s3, "late", "app.css", b"v2".to_vec(), Some("max-age=3600")).await;
    until_feed_changes(&edge, before + 2).await;
    until_metric(&edge, "cairn_edge_refreshes_total", 1).await;
    let third = get(&url, &[]).await;
    assert_eq!(
        (third.xcache.as_str(), third.body.as_slice()),
        ("HIT", b"v2".as_slice())
    );
    assert_eq!(origin.gets_of("/late/app.css"), 1, "v2 was not fetched");
}

#[tokio::test]
async fn a_versioned_bucket_serves_its_current_version_through_the_feed() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let origin = TestOrigin::spawn();
    let s3 = public_bucket(&origin, "verpub").await;
    s3.put_bucket_versioning()
        .bucket("verpub")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let edge = TestEdge::spawn(&origin, &[]);
    let url = format!("{}/verpub/app.js", edge.url);
    let before = feed_changes(&edge).await;
    put(
        &s3,
        "verpub",
        "app.js",
        b"v1".to_vec(),
        Some("max-age=3600"),
    )
    .await;
    assert_eq!(get(&url, &[]).await.body, b"v1");

    // A new version replaces the copy, as an overwrite does.
    put(
        &s3,
        "verpub",
        "app.js",
        b"v2".to_vec(),
        Some("max-age=3600"),
    )
    .await;
    until_feed_changes(&edge, before + 2).await;
    assert_eq!(get(&url, &[]).await.body, b"v2");

    // A delete marker hides the key at the edge too...
    let marker = s3
        .delete_object()
        .bucket("verpub")
        .key("app.js")
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    until_feed_changes(&edge, before + 3).await;
    assert_eq!(get(&url, &[]).await.status, 404);
    // ...and removing it brings the newest version back.
    s3.delete_object()
        .bucket("verpub")
        .key("app.js")
        .version_id(marker)
        .send()
        .await
        .unwrap();
    until_feed_changes(&edge, before + 4).await;
    let back = get(&url, &[]).await;
    assert_eq!((back.status, back.body.as_slice()), (200, b"v2".as_slice()));

    // The cache holds current versions only: naming one is refused, never
    // answered with the current bytes.
    let named = get(&format!("{url}?versionId=abc"), &[]).await;
    assert_eq!(named.status, 400);
}
