//! Object round trips, metadata, keys and integrity checks through the SDK.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumMode;
use base64::Engine;
use cairn_tests::{code, payload, TestOrigin};
use md5::{Digest, Md5};

async fn bucket(origin: &TestOrigin, name: &str) -> aws_sdk_s3::Client {
    let s3 = origin.client();
    s3.create_bucket().bucket(name).send().await.unwrap();
    s3
}

#[tokio::test]
async fn sizes_round_trip_byte_for_byte_with_md5_etags() {
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "sizes").await;
    for (i, len) in [0usize, 1, 5 * 1024 * 1024 + 1, 100 * 1024 * 1024]
        .into_iter()
        .enumerate()
    {
        let data = payload(len, i as u64);
        let key = format!("obj-{len}");
        let put = s3
            .put_object()
            .bucket("sizes")
            .key(&key)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let md5 = hex::encode(Md5::digest(&data));
        assert_eq!(
            put.e_tag(),
            Some(format!("\"{md5}\"").as_str()),
            "ETag is the MD5 for {len} bytes"
        );
        let got = s3
            .get_object()
            .bucket("sizes")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_length(), Some(len as i64));
        let blake = got.e_tag().map(str::to_owned);
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body.as_ref() == data.as_slice(), "bytes differ for {len}");
        assert_eq!(blake.as_deref(), Some(format!("\"{md5}\"").as_str()));
    }
}

#[tokio::test]
async fn blake3_header_names_the_content() {
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "blake").await;
    s3.put_object()
        .bucket("blake")
        .key("k")
        .body(ByteStream::from_static(b"hash me"))
        .send()
        .await
        .unwrap();
    let resp = reqwest::get(format!("{}/blake/k", origin.url))
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        403,
        "anonymous reads of a private bucket are refused"
    );
    let presigned = s3
        .head_object()
        .bucket("blake")
        .key("k")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                60,
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .head(presigned.uri())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["x-cairn-blake3"],
        blake3::hash(b"hash me").to_hex().as_str()
    );
}

#[tokio::test]
async fn metadata_is_kept_and_returned_exactly() {
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "meta").await;
    s3.put_object()
        .bucket("meta")
        .key("page.html")
        .body(ByteStream::from_static(b"<h1>hi</h1>"))
        .content_type("text/html; charset=utf-8")
        .content_encoding("identity")
        .content_disposition("attachment; filename=\"page.html\"")
        .content_language("en-GB")
        .cache_control("public, max-age=60")
        .expires(aws_sdk_s3::primitives::DateTime::from_secs(2_000_000_000))
        .metadata("color", "blue")
        .metadata("x-y", "Mixed Case Value")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("meta")
        .key("page.html")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(head.content_encoding(), Some("identity"));
    assert_eq!(
        head.content_disposition(),
        Some("attachment; filename=\"page.html\"")
    );
    assert_eq!(head.content_language(), Some("en-GB"));
    assert_eq!(head.cache_control(), Some("public, max-age=60"));
    assert_eq!(head.expires_string(), Some("Wed, 18 May 2033 03:33:20 GMT"));
    let meta = head.metadata().unwrap();
    assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
    assert_eq!(
        meta.get("x-y").map(String::as_str),
        Some("Mixed Case Value")
    );

    let got = s3
        .get_object()
        .bucket("meta")
        .key("page.html")
        .response_content_type("text/plain")
        .response_cache_control("no-store")
        .response_content_disposition("inline")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.cache_control(), Some("no-store"));
    assert_eq!(got.content_disposition(), Some("inline"));
    assert_eq!(
        got.content_language(),
        Some("en-GB"),
        "not overridden, stays"
    );
}

#[tokio::test]
async fn default_content_type_and_missing_keys() {
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "dflt").await;
    s3.put_object()
        .bucket("dflt")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("dflt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(head.content_type().is_some());
    let err = s3
        .get_object()
        .bucket("dflt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let err = s3
        .get_object()
        .bucket("nobucket")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = s3
        .head_object()
        .bucket("dflt")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn keys_with_every_character_s3_allows() {
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "keys").await;
    let long = "k".repeat(1024);
    let keys = [
        "with space.txt",
        "plus+sign",
        "percent%20literal",
        "question?mark",
        "hash#tag",
        "ünïcødé/日本語/🎉",
        "double//slash",
        "/leading-slash",
        "trailing/",
        "semi;colon,comma=equals&amp",
        "tilde~and'quote\"and(paren)*star!",
        long.as_str(),
    ];
    for (i, key) in keys.iter().enumerate() {
        let body = format!("body {i}");
        s3.put_object()
            .bucket("keys")
            .key(*key)
            .body(ByteStream::from(body.clone().into_bytes()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
        let got = s3
            .get_object()
            .bucket("keys")
            .key(*key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {key:?}: {e:?}"));
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            body.as_bytes(),
            "{key:?}"
        );
    }
    let listed = s3.list_objects_v2().bucket("keys").send().await.unwrap();
    let mut want: Vec<&str> = keys.to_vec();
    want.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let got: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(got, want, "listed in UTF-8 byte order");

    let too_long = "k".repeat(1025);
    let err = s3
        .put_object()
        .bucket("keys")
        .key(too_long)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KeyTooLongError");
}

#[tokio::test]
async fn delete_and_multi_delete_with_quiet_mode() {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "del").await;
    for k in ["a", "b", "c", "d"] {
        s3.put_object()
            .bucket("del")
            .key(k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    s3.delete_object()
        .bucket("del")
        .key("a")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket("del")
        .key("never-existed")
        .send()
        .await
        .unwrap();
    let ids = |ks: &[&str]| {
        ks.iter()
            .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
            .collect::<Vec<_>>()
    };
    let out = s3
        .delete_objects()
        .bucket("del")
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&["b", "zzz"])))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(deleted, ["b", "zzz"]);
    let quiet = s3
        .delete_objects()
        .bucket("del")
        .delete(
            Delete::builder()
                .set_objects(Some(ids(&["c", "d"])))
                .quiet(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(quiet.deleted().is_empty() && quiet.errors().is_empty());
    let left = s3.list_objects_v2().bucket("del").send().await.unwrap();
    assert_eq!(left.key_count(), Some(0));
    s3.delete_bucket().bucket("del").send().await.unwrap();
}

#[tokio::test]
async fn content_md5_is_checked() {
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "md5").await;
    let good = base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"right"));
    s3.put_object()
        .bucket("md5")
        .key("ok")
        .body(ByteStream::from_static(b"right"))
        .content_md5(&good)
        .send()
        .await
        .unwrap();
    let wrong = base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"other"));
    let err = s3
        .put_object()
        .bucket("md5")
        .key("bad")
        .body(ByteStream::from_static(b"right"))
        .content_md5(wrong)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadDigest");
    let err = s3
        .put_object()
        .bucket("md5")
        .key("bad")
        .body(ByteStream::from_static(b"right"))
        .content_md5("not-base64!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidDigest");
    let err = s3
        .head_object()
        .bucket("md5")
        .key("bad")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.raw_response().unwrap().status().as_u16(),
        404,
        "a refused upload leaves nothing visible"
    );
}

#[tokio::test]
async fn flexible_checksums_are_checked_stored_and_returned() {
    use aws_sdk_s3::types::ChecksumAlgorithm as A;
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "sums").await;
    for algo in [A::Crc32, A::Crc32C, A::Crc64Nvme, A::Sha1, A::Sha256] {
        let key = format!("k-{}", algo.as_str());
        s3.put_object()
            .bucket("sums")
            .key(&key)
            .body(ByteStream::from_static(b"hello world"))
            .checksum_algorithm(algo.clone())
            .send()
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket("sums")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let got = match algo {
            A::Crc32 => head.checksum_crc32(),
            A::Crc32C => head.checksum_crc32_c(),
            A::Crc64Nvme => head.checksum_crc64_nvme(),
            A::Sha1 => head.checksum_sha1(),
            A::Sha256 => head.checksum_sha256(),
            _ => unreachable!(),
        };
        let want = match algo {
            A::Crc32 => "DUoRhQ==",
            A::Crc32C => "yZRlqg==",
            A::Crc64Nvme => "jSnVw/bqjr4=",
            A::Sha1 => "Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
            A::Sha256 => "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
            _ => unreachable!(),
        };
        assert_eq!(got, Some(want), "{algo:?}");
        // The SDK validates the response checksum on GET, so a full GET
        // with checksum mode on succeeding proves the value is right too.
        let body = s3
            .get_object()
            .bucket("sums")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(
            body.body.collect().await.unwrap().into_bytes().as_ref(),
            b"hello world"
        );
    }
    // A wrong checksum sent as a header is refused and stores nothing.
    let err = s3
        .put_object()
        .bucket("sums")
        .key("wrong")
        .body(ByteStream::from_static(b"hello world"))
        .checksum_crc32("AAAAAA==")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadDigest");
    assert!(s3
        .head_object()
        .bucket("sums")
        .key("wrong")
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn aws_chunked_encoding_is_never_stored() {
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "chunky").await;
    // A streaming body (unknown to the SDK until read) makes the SDK use
    // aws-chunked with a trailing checksum.
    let path = origin.dir.path().join("upload.bin");
    let data = payload(3 * 1024 * 1024 + 17, 9);
    std::fs::write(&path, &data).unwrap();
    s3.put_object()
        .bucket("chunky")
        .key("f")
        .body(ByteStream::from_path(&path).await.unwrap())
        .content_encoding("gzip")
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("chunky")
        .key("f")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.content_encoding(),
        Some("gzip"),
        "aws-chunked stripped, gzip kept"
    );
    assert!(
        got.body.collect().await.unwrap().into_bytes().as_ref() == data.as_slice(),
        "no chunk framing in stored bytes"
    );
    s3.put_object()
        .bucket("chunky")
        .key("g")
        .body(ByteStream::from_path(&path).await.unwrap())
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("chunky")
        .key("g")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_encoding(), None);
}

#[tokio::test]
async fn conditional_writes() {
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "cond").await;
    let first = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .body(ByteStream::from_static(b"v1"))
        .if_none_match("*")
        .send()
        .await
        .unwrap();
    let err = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .body(ByteStream::from_static(b"v2"))
        .if_none_match("*")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    let err = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .body(ByteStream::from_static(b"v2"))
        .if_match("\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    s3.put_object()
        .bucket("cond")
        .key("k")
        .body(ByteStream::from_static(b"v2"))
        .if_match(first.e_tag().unwrap())
        .send()
        .await
        .unwrap();
    let err = s3
        .put_object()
        .bucket("cond")
        .key("absent")
        .body(ByteStream::from_static(b"x"))
        .if_match("\"abc\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let got = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"v2"
    );
}

#[tokio::test]
async fn copy_writes_no_new_bytes() {
    use aws_sdk_s3::types::MetadataDirective;
    let origin = TestOrigin::spawn();
    let s3 = bucket(&origin, "src").await;
    s3.create_bucket().bucket("dst").send().await.unwrap();
    s3.put_object()
        .bucket("src")
        .key("a b+c")
        .body(ByteStream::from_static(b"copy me"))
        .content_type("text/plain")
        .metadata("m", "1")
        .send()
        .await
        .unwrap();
    s3.copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("src/a%20b%2Bc")
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata().unwrap().get("m").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"copy me"
    );
    // Onto itself with REPLACE changes metadata only.
    s3.copy_object()
        .bucket("src")
        .key("a b+c")
        .copy_source("src/a%20b%2Bc")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/json")
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("src")
        .key("a b+c")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/json"));
    let err = s3
        .copy_object()
        .bucket("src")
        .key("a b+c")
        .copy_source("src/a%20b%2Bc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("x")
        .copy_source("src/missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
}
