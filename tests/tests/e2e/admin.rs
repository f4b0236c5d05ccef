//! Operating an origin from elsewhere: the admin API driven by
//! `cairn-origin --endpoint` from a directory with no data dir, usage per
//! bucket kept as objects come and go, quotas that refuse a write and
//! leave nothing of it, and per-bucket series in `/metrics` under a cap.

use std::process::{Command, Output};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn_tests::{binary, code, metric, TestOrigin, ROOT_AK};

/// `cairn-origin --endpoint ADMIN ARGS` run from an empty directory with
/// `token` in CAIRN_ADMIN_TOKEN (and no data dir anywhere near).
fn remote(origin: &TestOrigin, token: &str, args: &[&str]) -> Output {
    let elsewhere = tempfile::tempdir().unwrap();
    Command::new(binary("cairn-origin"))
        .arg("--endpoint")
        .arg(
            origin
                .admin_url
                .as_deref()
                .expect("started with --admin-listen"),
        )
        .args(args)
        .current_dir(elsewhere.path())
        .env_remove("CAIRN_DATA_DIR")
        .env("CAIRN_ADMIN_TOKEN", token)
        .output()
        .unwrap()
}

fn remote_ok(origin: &TestOrigin, token: &str, args: &[&str]) -> String {
    let out = remote(origin, token, args);
    assert!(
        out.status.success(),
        "cairn-origin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn token_of(origin: &TestOrigin) -> String {
    let text = std::fs::read_to_string(origin.data_dir().join("admin-tokens")).unwrap();
    text.lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned()
}

/// A field of `bucket info`'s output.
fn info_field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}\t")))
        .unwrap_or_else(|| panic!("no {name} in\n{info}"))
        .to_owned()
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn keys_in(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    s3.list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn every_admin_command_works_through_the_api_from_another_directory() {
    let origin = TestOrigin::spawn_with(&["--admin-listen", "127.0.0.1:0"]);
    let token = token_of(&origin);

    // Without a token, or with a wrong one: refused, and nothing is read.
    let bare = reqwest::get(format!("{}/v1/keys", origin.admin_url.as_ref().unwrap()))
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    let wrong = remote(&origin, "not-a-token-not-a-token", &["key", "list"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("admin token"));
    assert!(wrong.stdout.is_empty(), "a refused list printed something");

    let created = remote_ok(&origin, &token, &["key", "create", "app"]);
    let get = |p: &str| {
        created
            .lines()
            .find_map(|l| l.strip_prefix(p))
            .unwrap()
            .to_owned()
    };
    let (ak, sk) = (get("AWS_ACCESS_KEY_ID="), get("AWS_SECRET_ACCESS_KEY="));
    let listed = remote_ok(&origin, &token, &["key", "list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&format!("{ak}\tapp\tuser\tno\tnever"))),
        "{listed}"
    );

    remote_ok(
        &origin,
        &token,
        &["bucket", "create", "assets", "--owner", ROOT_AK],
    );
    let granted = remote_ok(
        &origin,
        &token,
        &[
            "bucket", "allow", "assets", "--key", &ak, "--write", "--read",
        ],
    );
    assert_eq!(granted.trim(), format!("assets\t{ak}\tread,write"));
    let app = origin.client_with(&ak, &sk);
    put(&app, "assets", "logo.svg", b"<svg/>".to_vec())
        .await
        .unwrap();

    let info = remote_ok(&origin, &token, &["bucket", "info", "assets"]);
    assert_eq!(info_field(&info, "owner"), ROOT_AK);
    assert_eq!(info_field(&info, "objects"), "1");
    assert_eq!(info_field(&info, "bytes"), "6");
    assert!(info.contains("traffic\twrite\t1 requests"), "{info}");
    assert!(info.contains(&format!("grant\t{ak}\tread,write")), "{info}");
    let buckets = remote_ok(&origin, &token, &["bucket", "list"]);
    assert!(
        buckets.contains(&format!("assets\t{ROOT_AK}\t1\t6")),
        "{buckets}"
    );

    let site = remote_ok(
        &origin,
        &token,
        &[
            "bucket",
            "website",
            "assets",
            "--index",
            "index.html",
            "--error",
            "404.html",
        ],
    );
    assert!(
        site.contains("website\tindex index.html\terror 404.html"),
        "{site}"
    );
    let s3 = origin.client();
    let got = s3
        .get_bucket_website()
        .bucket("assets")
        .send()
        .await
        .unwrap();
    assert_eq!(got.index_document().unwrap().suffix(), "index.html");
    let bad = remote(
        &origin,
        &token,
        &["bucket", "website", "assets", "--index", "a/b"],
    );
    assert!(!bad.status.success(), "a bad index document is refused");
    remote_ok(&origin, &token, &["bucket", "website", "assets", "--none"]);
    assert!(s3
        .get_bucket_website()
        .bucket("assets")
        .send()
        .await
        .is_err());

    remote_ok(&origin, &token, &["key", "set", &ak, "--read-only", "true"]);
    let edges = remote_ok(&origin, &token, &["edges"]);
    assert!(edges.contains("no edge has followed"), "{edges}");
    let gc = remote_ok(&origin, &token, &["gc"]);
    assert!(gc.starts_with("gc: scanned 1 blob files, freed 0"), "{gc}");
    let check = remote_ok(&origin, &token, &["check"]);
    assert!(
        check.contains("1 blobs verified") && check.contains("0 damaged"),
        "{check}"
    );

    remote_ok(&origin, &token, &["key", "delete", &ak]);
    assert_eq!(
        put(&app, "assets", "again", b"x".to_vec()).await,
        Err("InvalidAccessKeyId".into()),
        "a key deleted through the API stops working at once"
    );
    // A bucket with objects is not deleted; an empty one is.
    let full = remote(&origin, &token, &["bucket", "delete", "assets"]);
    assert!(!full.status.success());
    assert!(String::from_utf8_lossy(&full.stderr).contains("not empty"));
    remote_ok(
        &origin,
        &token,
        &["bucket", "create", "scratch", "--owner", ROOT_AK],
    );
    remote_ok(&origin, &token, &["bucket", "delete", "scratch"]);
    let s3 = origin.client();
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, vec!["assets".to_owned()]);
}

#[tokio::test]
async fn usage_follows_puts_copies_deletes_and_dedup() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("usage").send().await.unwrap();
    let body = cairn_tests::payload(1000, 7);
    put(&s3, "usage", "a", body.clone()).await.unwrap();
    put(&s3, "usage", "b", body.clone()).await.unwrap(); // same bytes: deduplicated
    s3.copy_object()
        .bucket("usage")
        .key("c")
        .copy_source("usage/a")
        .send()
        .await
        .unwrap();
    put(&s3, "usage", "d", cairn_tests::payload(500, 8))
        .await
        .unwrap();
    s3.delete_object()
        .bucket("usage")
        .key("b")
        .send()
        .await
        .unwrap();
    put(&s3, "usage", "d", cairn_tests::payload(300, 9))
        .await
        .unwrap(); // overwrite

    let info = origin.cli(&["bucket", "info", "usage"]);
    assert_eq!(info_field(&info, "objects"), "3", "{info}");
    assert_eq!(info_field(&info, "bytes"), "2300", "{info}");
    assert_eq!(info_field(&info, "dedup_bytes"), "2000", "{info}");
    assert_eq!(info_field(&info, "versions"), "0", "{info}");

    // With versioning, an overwrite keeps the old version's bytes.
    s3.put_bucket_versioning()
        .bucket("usage")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    put(&s3, "usage", "d", cairn_tests::payload(200, 10))
        .await
        .unwrap();
    s3.delete_object()
        .bucket("usage")
        .key("a")
        .send()
        .await
        .unwrap();
    let info = origin.cli(&["bucket", "info", "usage"]);
    assert_eq!(info_field(&info, "objects"), "2", "{info}");
    assert_eq!(info_field(&info, "bytes"), "1200", "{info}");
    // The old `d` (300) and `a` (1000) plus a delete marker.
    assert_eq!(info_field(&info, "versions"), "3", "{info}");
    assert_eq!(info_field(&info, "version_bytes"), "1300", "{info}");
}

#[tokio::test]
async fn a_quota_refuses_writes_past_it_and_leaves_nothing_behind() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("quota").send().await.unwrap();
    origin.cli(&[
        "bucket",
        "quota",
        "quota",
        "--max-objects",
        "2",
        "--max-bytes",
        "10KiB",
    ]);

    put(&s3, "quota", "one", vec![1; 4096]).await.unwrap();
    // Too many bytes (4 KiB + 8 KiB > 10 KiB), then too many objects.
    assert_eq!(
        put(&s3, "quota", "big", vec![2; 8192]).await,
        Err("QuotaExceeded".into())
    );
    put(&s3, "quota", "two", vec![3; 1024]).await.unwrap();
    assert_eq!(
        put(&s3, "quota", "three", vec![4; 10]).await,
        Err("QuotaExceeded".into())
    );
    // An overwrite adds no object and frees the old bytes: allowed.
    put(&s3, "quota", "one", vec![5; 2048]).await.unwrap();
    // A copy that would add an object is refused too.
    let copy = s3
        .copy_object()
        .bucket("quota")
        .key("copy")
        .copy_source("quota/two")
        .send()
        .await;
    assert_eq!(
        copy.map_err(|e| code(&e)).err(),
        Some("QuotaExceeded".into())
    );

    // A multipart upload past the byte quota is refused at completion; the
    // upload stays for the client to abort.
    origin.cli(&["bucket", "quota", "quota", "--none"]);
    origin.cli(&["bucket", "quota", "quota", "--max-bytes", "6MiB"]);
    let up = s3
        .create_multipart_upload()
        .bucket("quota")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for n in 1..=2 {
        let part = s3
            .upload_part()
            .bucket("quota")
            .key("mp")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(vec![n as u8; 5 << 20]))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    let done = s3
        .complete_multipart_upload()
        .bucket("quota")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    let err = done.map_err(|e| code(&e)).err();
    assert_eq!(err, Some("QuotaExceeded".into()));
    s3.abort_multipart_upload()
        .bucket("quota")
        .key("mp")
        .upload_id(id)
        .send()
        .await
        .unwrap();

    assert_eq!(
        keys_in(&s3, "quota").await,
        vec!["one".to_owned(), "two".to_owned()]
    );
    let info = origin.cli(&["bucket", "info", "quota"]);
    assert_eq!(info_field(&info, "objects"), "2");
    assert_eq!(info_field(&info, "bytes"), "3072");
    // Nothing of the refused writes stays on disk.
    let check = origin.cli(&["check"]);
    assert!(check.contains("0 damaged, 0 unreferenced"), "{check}");
}

#[tokio::test]
async fn per_bucket_series_are_capped() {
    let origin = TestOrigin::spawn_with(&["--metrics-buckets", "1"]);
    let s3 = origin.client();
    for b in ["big", "small"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    put(&s3, "big", "x", vec![0; 5000]).await.unwrap();
    put(&s3, "small", "y", vec![0; 10]).await.unwrap();
    s3.get_object()
        .bucket("big")
        .key("x")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap();
    // Made-up bucket names count nowhere.
    for i in 0..5 {
        let _ = s3
            .get_object()
            .bucket(format!("nope{i}"))
            .key("k")
            .send()
            .await;
    }
    let text = reqwest::get(format!("{}/metrics", origin.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&text, "cairn_origin_bucket_objects{bucket=\"big\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "cairn_origin_bucket_bytes{bucket=\"big\"}"),
        Some(5000.0)
    );
    assert_eq!(
        metric(&text, "cairn_origin_bucket_bytes{bucket=\"_other\"}"),
        Some(10.0)
    );
    assert!(!text.contains("bucket=\"small\""), "{text}");
    assert!(!text.contains("nope"), "{text}");
    let reads = metric(
        &text,
        "cairn_origin_bucket_egress_bytes_total{bucket=\"big\",class=\"read\"}",
    );
    assert_eq!(reads, Some(5000.0), "{text}");
    let writes = metric(
        &text,
        "cairn_origin_bucket_requests_total{bucket=\"big\",class=\"write\"}",
    );
    assert_eq!(writes, Some(1.0), "{text}");
}
