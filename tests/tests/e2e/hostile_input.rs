//! What clients send is data, exactly (issue 13): keys in XML bodies arrive
//! byte for byte, keys that are not UTF-8 are refused instead of folded
//! into one object, anonymous callers cannot rewrite response headers, and
//! requests for features Cairn lacks are refused, never silently ignored.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketCannedAcl, Delete, ObjectCannedAcl, ObjectIdentifier, StorageClass};
use cairn_tests::{code, raw_request, status, TestEdge, TestOrigin};

async fn keys_of(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents()
        .iter()
        .map(|o| o.key().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn delete_objects_deletes_exactly_the_keys_named() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("exact").send().await.unwrap();
    let named = [" ", "a ", " a", "a\tb", "&", "<"];
    for key in named.iter().chain(["a", "b"].iter()) {
        // The SDK will not send a key of only whitespace: presign it.
        let path = percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
        let url = format!("{}/exact/{path}", origin.url);
        let url = cairn_tests::presign_v4("PUT", &url, &origin.addr, Duration::from_secs(60));
        let resp = reqwest::Client::new()
            .put(&url)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            200,
            "{key:?}: {}",
            resp.text().await.unwrap()
        );
    }
    let objects: Vec<_> = named
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect();
    let out = s3
        .delete_objects()
        .bucket("exact")
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let mut deleted: Vec<_> = out.deleted().iter().map(|d| d.key().unwrap()).collect();
    deleted.sort();
    let mut want = named.to_vec();
    want.sort();
    assert_eq!(deleted, want);
    assert_eq!(
        keys_of(&s3, "exact").await,
        ["a", "b"],
        "only the named keys went"
    );
}

#[tokio::test]
async fn keys_that_are_not_utf8_are_refused() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("utf").send().await.unwrap();
    s3.put_object()
        .bucket("utf")
        .key("u\u{FFFD}")
        .body(ByteStream::from_static(b"replacement character"))
        .send()
        .await
        .unwrap();
    for path in ["/utf/u%FF", "/utf/u%FE", "/utf/%C3"] {
        for method in ["PUT", "GET", "DELETE"] {
            let (st, body) = raw_request(&origin.addr, method, path, &[("content-length", "0")]);
            let body = String::from_utf8_lossy(&body);
            assert_eq!(st, 400, "{method} {path}: {body}");
            assert!(body.contains("<Code>InvalidURI</Code>"), "{body}");
        }
    }
    let got = s3
        .get_object()
        .bucket("utf")
        .key("u\u{FFFD}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"replacement character"
    );
    assert_eq!(keys_of(&s3, "utf").await, ["u\u{FFFD}"]);
}

#[tokio::test]
async fn anonymous_callers_cannot_override_response_headers() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("pub")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("pub")
        .key("note.txt")
        .content_type("text/plain")
        .body(ByteStream::from_static(b"<script>alert(1)</script>"))
        .send()
        .await
        .unwrap();
    let (st, _) = raw_request(&origin.addr, "GET", "/pub/note.txt", &[]);
    assert_eq!(st, 200);
    for q in [
        "response-content-type=text%2Fhtml",
        "response-content-disposition=inline",
        "response-cache-control=no-store",
    ] {
        let (st, body) = raw_request(&origin.addr, "GET", &format!("/pub/note.txt?{q}"), &[]);
        let body = String::from_utf8_lossy(&body);
        assert_eq!(st, 400, "{q}: {body}");
        assert!(body.contains("<Code>InvalidRequest</Code>"), "{body}");
    }
    // The owner may still ask for them (signed).
    let got = s3
        .get_object()
        .bucket("pub")
        .key("note.txt")
        .response_content_type("text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/html"));
}

#[tokio::test]
async fn requests_for_missing_features_are_refused_and_store_nothing() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("feat").send().await.unwrap();
    let put = || {
        s3.put_object()
            .bucket("feat")
            .key("k")
            .body(ByteStream::from_static(b"data"))
    };
    let refused = [
        (
            put().storage_class(StorageClass::Glacier),
            501,
            "NotImplemented",
        ),
        // A site's redirect must be a path or an http(s) URL.
        (
            put().website_redirect_location("elsewhere"),
            400,
            "InvalidRedirectLocation",
        ),
    ];
    for (req, want_status, want_code) in refused {
        let err = req.send().await.unwrap_err();
        assert_eq!(
            (status(&err), code(&err).as_str()),
            (want_status, want_code),
            "{err:?}"
        );
    }
    assert!(keys_of(&s3, "feat").await.is_empty(), "nothing was stored");
    // What is already true is accepted (rclone sends x-amz-acl: private).
    put().acl(ObjectCannedAcl::Private).send().await.unwrap();
    put()
        .storage_class(StorageClass::Standard)
        .send()
        .await
        .unwrap();
    let err = s3
        .create_multipart_upload()
        .bucket("feat")
        .key("mp")
        .website_redirect_location("javascript:alert(1)")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRedirectLocation");
    // An unknown bucket subresource is not a listing (MinIO's listener).
    let (st, body) = raw_request(
        &origin.addr,
        "GET",
        "/feat?events=s3%3AObjectCreated%3A%2A",
        &[],
    );
    assert_eq!(st, 501, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn delete_bucket_discards_uploads_in_progress() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mpdel").send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket("mpdel")
        .key("big")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    s3.upload_part()
        .bucket("mpdel")
        .key("big")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(vec![7u8; 1 << 20]))
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("mpdel").send().await.unwrap();
    let err = s3.head_bucket().bucket("mpdel").send().await.unwrap_err();
    assert_eq!(status(&err), 404);
    // The part's blob went with it: the store checks clean.
    let out = std::process::Command::new(cairn_tests::binary("cairn-origin"))
        .args(["check", "--data-dir"])
        .arg(origin.data_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    s3.create_bucket().bucket("mpdel").send().await.unwrap();
    let uploads = s3
        .list_multipart_uploads()
        .bucket("mpdel")
        .send()
        .await
        .unwrap();
    assert!(
        uploads.uploads().is_empty(),
        "a new bucket starts with no uploads"
    );
}

#[tokio::test]
async fn a_deleted_edge_key_stops_working_at_the_edge_within_seconds() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("priv").send().await.unwrap();
    for key in ["cached", "cold"] {
        s3.put_object()
            .bucket("priv")
            .key(key)
            .cache_control("max-age=3600")
            .body(ByteStream::from_static(b"private"))
            .send()
            .await
            .unwrap();
    }
    let edge = TestEdge::spawn(&origin, &[]);
    let cached = origin.sign_url(&edge, "priv", "cached", "1h");
    let cold = origin.sign_url(&edge, "priv", "cold", "1h");
    assert_eq!(reqwest::get(&cached).await.unwrap().status(), 200);
    let out = std::process::Command::new(cairn_tests::binary("cairn-origin"))
        .args(["key", "delete", &edge.access_key, "--data-dir"])
        .arg(origin.data_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deleted = Instant::now();
    // The URL for a cached object stops working: revocation reached the
    // edge through its change feed.
    loop {
        let resp = reqwest::get(&cached).await.unwrap();
        if resp.status() == 403 {
            break;
        }
        assert!(
            deleted.elapsed() < Duration::from_secs(5),
            "a deleted key's signed URLs still served after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And nothing the edge answers names its key.
    for url in [&cached, &cold] {
        let resp = reqwest::get(url).await.unwrap();
        let st = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        assert_eq!(st, 403, "{body}");
        assert!(!body.contains(&edge.access_key), "{body}");
        assert!(!body.contains("AWSAccessKeyId"), "{body}");
    }
}

/// A multipart/form-data POST with `fields` before a small file.
async fn post_form(origin: &TestOrigin, fields: &[(String, String)]) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part("file", reqwest::multipart::Part::bytes(b"data".to_vec()));
    let resp = reqwest::Client::new()
        .post(format!("{}/formb", origin.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn a_post_form_is_bounded_before_its_signature_is_checked() {
    let origin = TestOrigin::spawn();
    origin
        .client()
        .create_bucket()
        .bucket("formb")
        .send()
        .await
        .unwrap();
    let many: Vec<_> = (0..1000)
        .map(|i| (format!("x-ignore-{i}"), "v".to_owned()))
        .collect();
    let (status, body) = post_form(&origin, &many).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("at most 64 fields"), "{body}");
    let huge = vec![("x-ignore-a".to_owned(), "v".repeat(200 * 1024))];
    let (status, body) = post_form(&origin, &huge).await;
    assert_eq!(status, 400, "{body}");
    let wide: Vec<_> = (0..3)
        .map(|i| (format!("x-ignore-{i}"), "v".repeat(60 * 1024)))
        .collect();
    let (status, body) = post_form(&origin, &wide).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("MaxPostPreDataLengthExceededError"), "{body}");
    // A form signed with a credential for another service is refused by
    // the same scope checks header signatures get.
    let fields: Vec<_> = [
        ("key", "k"),
        (
            "policy",
            "eyJleHBpcmF0aW9uIjoiMjA5OS0wMS0wMVQwMDowMDowMFoiLCJjb25kaXRpb25zIjpbXX0=",
        ),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        (
            "x-amz-credential",
            "CKTESTROOTACCESSKEY1/20260101/us-east-1/iam/aws4_request",
        ),
        ("x-amz-date", "20260101T000000Z"),
        ("x-amz-signature", "00"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (status, body) = post_form(&origin, &fields).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("only the S3 API"), "{body}");
}

#[tokio::test]
async fn an_upload_slower_than_the_minimum_rate_is_refused_and_stores_nothing() {
    use std::io::{Read, Write};
    let origin = TestOrigin::spawn_with(&["--min-body-rate", "1KiB"]);
    let s3 = origin.client();
    s3.create_bucket().bucket("rate").send().await.unwrap();
    let url = cairn_tests::presign_v4(
        "PUT",
        &format!("{}/rate/trickle", origin.url),
        &origin.addr,
        Duration::from_secs(600),
    );
    let target = url.trim_start_matches(&origin.url).to_owned();
    let addr = origin.addr.clone();
    let started = Instant::now();
    let answer = tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let head =
            format!("PUT {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000000\r\n\r\n");
        tcp.write_all(head.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // 100 bytes a second, far below 1 KiB/s, until the server answers.
        for _ in 0..120 {
            if tcp.write_all(&[b'x'; 50]).is_err() {
                break;
            }
            match tcp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    break;
                }
                Err(_) => {}
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("RequestTimeout"), "{answer}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(29) && waited < Duration::from_secs(40),
        "refused after {waited:?}"
    );
    let err = s3
        .head_object()
        .bucket("rate")
        .key("trickle")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 404, "nothing was stored");
}
