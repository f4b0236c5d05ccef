//! Multipart uploads through the AWS SDK for Rust.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use cairn_tests::{code, payload, TestOrigin};
use md5::{Digest, Md5};

const MIB: usize = 1024 * 1024;

async fn upload_parts(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    id: &str,
    parts: &[Vec<u8>],
) -> Vec<CompletedPart> {
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.e_tag(),
            Some(format!("\"{}\"", hex::encode(Md5::digest(data))).as_str())
        );
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    done
}

fn completed(parts: Vec<CompletedPart>) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build()
}

#[tokio::test]
async fn upload_list_complete_and_read_across_parts() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mpu").send().await.unwrap();
    let create = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("big file")
        .content_type("video/mp4")
        .metadata("k", "v")
        .send()
        .await
        .unwrap();
    let id = create.upload_id().unwrap();
    let parts = vec![
        payload(5 * MIB, 1),
        payload(5 * MIB, 2),
        payload(MIB + 7, 3),
    ];
    let done = upload_parts(&s3, "mpu", "big file", id, &parts).await;

    let listed = s3
        .list_parts()
        .bucket("mpu")
        .key("big file")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    let sizes: Vec<_> = listed.parts().iter().map(|p| p.size().unwrap()).collect();
    assert_eq!(sizes, [5 * MIB as i64, 5 * MIB as i64, MIB as i64 + 7]);
    let page = s3
        .list_parts()
        .bucket("mpu")
        .key("big file")
        .upload_id(id)
        .max_parts(2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            page.parts().len(),
            page.is_truncated(),
            page.next_part_number_marker()
        ),
        (2, Some(true), Some("2"))
    );
    let uploads = s3
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id));

    let out = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big file")
        .upload_id(id)
        .multipart_upload(completed(done))
        .send()
        .await
        .unwrap();
    let mut md5s = Md5::new();
    for p in &parts {
        md5s.update(Md5::digest(p));
    }
    let want_etag = format!("\"{}-3\"", hex::encode(md5s.finalize()));
    assert_eq!(out.e_tag(), Some(want_etag.as_str()), "S3's md5-of-md5s-N");

    let whole: Vec<u8> = parts.concat();
    let got = s3
        .get_object()
        .bucket("mpu")
        .key("big file")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("video/mp4"));
    assert_eq!(
        got.metadata().unwrap().get("k").map(String::as_str),
        Some("v")
    );
    assert_eq!(got.e_tag(), Some(want_etag.as_str()));
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == whole.as_slice());
    // A range that spans the boundary between parts 1 and 2, and 2 and 3.
    for (a, b) in [
        (5 * MIB - 10, 5 * MIB + 10),
        (10 * MIB - 3, 10 * MIB + 2),
        (0, 11 * MIB + 6),
    ] {
        let got = s3
            .get_object()
            .bucket("mpu")
            .key("big file")
            .range(format!("bytes={a}-{b}"))
            .send()
            .await
            .unwrap();
        assert!(
            got.body.collect().await.unwrap().into_bytes().as_ref() == &whole[a..=b],
            "range {a}-{b}"
        );
    }
    assert!(s3
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap()
        .uploads()
        .is_empty());

    // Copies of a multipart object share its parts.
    s3.copy_object()
        .bucket("mpu")
        .key("copy")
        .copy_source("mpu/big%20file")
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket("mpu")
        .key("big file")
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("mpu")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == whole.as_slice());
}

#[tokio::test]
async fn completion_errors() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mperr").send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket("mperr")
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let parts = vec![payload(MIB, 1), payload(MIB, 2)];
    let done = upload_parts(&s3, "mperr", "k", &id, &parts).await;

    let complete = |parts: Vec<CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket("mperr")
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(parts))
    };
    let err = complete(done.clone()).send().await.unwrap_err();
    assert_eq!(
        code(&err),
        "EntityTooSmall",
        "part 1 is under 5 MiB and not the last"
    );
    let err = complete(vec![done[1].clone(), done[0].clone()])
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidPartOrder");
    let wrong = CompletedPart::builder()
        .part_number(1)
        .e_tag("\"00000000000000000000000000000000\"")
        .build();
    let err = complete(vec![wrong]).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidPart");
    let never = CompletedPart::builder()
        .part_number(9)
        .e_tag(done[0].e_tag().unwrap())
        .build();
    let err = complete(vec![never]).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidPart");
    for bad in [0, 10_001] {
        let err = s3
            .upload_part()
            .bucket("mperr")
            .key("k")
            .upload_id(&id)
            .part_number(bad)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidArgument", "part {bad}");
    }
    assert!(
        s3.head_object()
            .bucket("mperr")
            .key("k")
            .send()
            .await
            .is_err(),
        "failed completes change nothing"
    );

    // The last part alone may be small.
    complete(vec![done[0].clone()]).send().await.unwrap();
    let got = s3
        .get_object()
        .bucket("mperr")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(MIB as i64));

    let err = s3
        .upload_part()
        .bucket("mperr")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload", "a completed upload is gone");
    let err = s3
        .upload_part()
        .bucket("mperr")
        .key("k")
        .upload_id("nope")
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
}

#[tokio::test]
async fn conditional_complete_and_abort_frees_parts() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mpab").send().await.unwrap();
    s3.put_object()
        .bucket("mpab")
        .key("exists")
        .body(ByteStream::from_static(b"old"))
        .send()
        .await
        .unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket("mpab")
        .key("exists")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let done = upload_parts(&s3, "mpab", "exists", &id, &[payload(MIB, 4)]).await;
    let err = s3
        .complete_multipart_upload()
        .bucket("mpab")
        .key("exists")
        .upload_id(&id)
        .if_none_match("*")
        .multipart_upload(completed(done))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    let err = s3.delete_bucket().bucket("mpab").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty");
    s3.abort_multipart_upload()
        .bucket("mpab")
        .key("exists")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let err = s3
        .abort_multipart_upload()
        .bucket("mpab")
        .key("exists")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let blobs = walkdir_count(&origin.data_dir().join("blobs"));
    assert_eq!(blobs, 1, "only the 'old' object's blob remains after abort");
    let got = s3
        .get_object()
        .bucket("mpab")
        .key("exists")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"old"
    );
}

#[tokio::test]
async fn upload_part_copy_with_ranges() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mpc").send().await.unwrap();
    let src = payload(6 * MIB, 9);
    s3.put_object()
        .bucket("mpc")
        .key("src")
        .body(ByteStream::from(src.clone()))
        .send()
        .await
        .unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket("mpc")
        .key("dst")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let p1 = s3
        .upload_part_copy()
        .bucket("mpc")
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source("mpc/src")
        .send()
        .await
        .unwrap();
    let p2 = s3
        .upload_part_copy()
        .bucket("mpc")
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .copy_source("mpc/src")
        .copy_source_range("bytes=100-199")
        .send()
        .await
        .unwrap();
    let e1 = p1.copy_part_result().unwrap().e_tag().unwrap().to_owned();
    let e2 = p2.copy_part_result().unwrap().e_tag().unwrap().to_owned();
    assert_eq!(
        e2,
        format!("\"{}\"", hex::encode(Md5::digest(&src[100..200])))
    );
    let parts = vec![
        CompletedPart::builder().part_number(1).e_tag(e1).build(),
        CompletedPart::builder().part_number(2).e_tag(e2).build(),
    ];
    s3.complete_multipart_upload()
        .bucket("mpc")
        .key("dst")
        .upload_id(&id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("mpc")
        .key("dst")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let mut want = src.clone();
    want.extend_from_slice(&src[100..200]);
    assert!(got.as_ref() == want.as_slice());
    let err = s3
        .upload_part_copy()
        .bucket("mpc")
        .key("dst")
        .upload_id("x")
        .part_number(1)
        .copy_source("mpc/missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
}

#[tokio::test]
async fn per_part_and_composite_checksums() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mpsum").send().await.unwrap();
    let create = s3
        .create_multipart_upload()
        .bucket("mpsum")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    let id = create.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    let mut raw = Vec::new();
    for (n, data) in [(1, payload(5 * MIB, 1)), (2, payload(1000, 2))] {
        let out = s3
            .upload_part()
            .bucket("mpsum")
            .key("k")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let want = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            sha2::Sha256::digest(&data),
        );
        assert_eq!(out.checksum_sha256(), Some(want.as_str()), "part {n}");
        raw.extend_from_slice(&sha2::Sha256::digest(&data));
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .checksum_sha256(want)
                .build(),
        );
    }
    let out = s3
        .complete_multipart_upload()
        .bucket("mpsum")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap();
    let composite = format!(
        "{}-2",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            sha2::Sha256::digest(&raw)
        )
    );
    assert_eq!(out.checksum_sha256(), Some(composite.as_str()));
    let head = s3
        .head_object()
        .bucket("mpsum")
        .key("k")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_sha256(), Some(composite.as_str()));
}

#[tokio::test]
async fn abandoned_uploads_are_swept() {
    let origin = TestOrigin::spawn_with(&["--upload-max-age", "1s"]);
    let s3 = origin.client();
    s3.create_bucket().bucket("sweep").send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket("sweep")
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    upload_parts(&s3, "sweep", "k", &id, &[payload(MIB, 1)]).await;
    // The sweep runs every second; wait for the event, bounded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !s3
        .list_multipart_uploads()
        .bucket("sweep")
        .send()
        .await
        .unwrap()
        .uploads()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "upload was never swept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        walkdir_count(&origin.data_dir().join("blobs")),
        0,
        "its part's bytes are freed"
    );
}

fn walkdir_count(p: &std::path::Path) -> usize {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    if e.path().is_dir() {
                        walkdir_count(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn one_part_is_read_by_its_number() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("parts").send().await.unwrap();
    let datas = vec![payload(5 * MIB, 1), payload(5 * MIB, 2), payload(MIB, 3)];
    let id = s3
        .create_multipart_upload()
        .bucket("parts")
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let parts = upload_parts(&s3, "parts", "mp", &id, &datas).await;
    s3.complete_multipart_upload()
        .bucket("parts")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap();
    for (i, data) in datas.iter().enumerate() {
        let n = i as i32 + 1;
        let got = s3
            .get_object()
            .bucket("parts")
            .key("mp")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(got.parts_count(), Some(3));
        assert_eq!(got.content_length(), Some(data.len() as i64));
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body.as_ref() == data.as_slice(), "part {n}");
    }
    let err = s3
        .get_object()
        .bucket("parts")
        .key("mp")
        .part_number(4)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidPart");
    // A single-blob object is its own part 1, and has no part 2.
    s3.put_object()
        .bucket("parts")
        .key("single")
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .unwrap();
    let one = s3
        .get_object()
        .bucket("parts")
        .key("single")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        one.body.collect().await.unwrap().into_bytes().as_ref(),
        b"body"
    );
    let err = s3
        .get_object()
        .bucket("parts")
        .key("single")
        .part_number(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidPart");
}

#[tokio::test]
async fn a_retried_completion_gets_the_same_answer() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("retry").send().await.unwrap();
    let datas = vec![payload(5 * MIB, 7), payload(1024, 8)];
    let id = s3
        .create_multipart_upload()
        .bucket("retry")
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let parts = upload_parts(&s3, "retry", "mp", &id, &datas).await;
    let complete = || {
        s3.complete_multipart_upload()
            .bucket("retry")
            .key("mp")
            .upload_id(&id)
            .multipart_upload(completed(parts.clone()))
            .send()
    };
    let first = complete().await.unwrap();
    // The answer was lost, say; the SDK (or its user) sends it again.
    let again = complete().await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    let listed = s3.list_objects_v2().bucket("retry").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1), "one object, made once");
    // Only for that key: another key with the same upload id is unknown.
    let err = s3
        .complete_multipart_upload()
        .bucket("retry")
        .key("other")
        .upload_id(&id)
        .multipart_upload(completed(parts.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    // An aborted (never completed) upload stays unknown.
    let aborted = s3
        .create_multipart_upload()
        .bucket("retry")
        .key("gone")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    s3.abort_multipart_upload()
        .bucket("retry")
        .key("gone")
        .upload_id(&aborted)
        .send()
        .await
        .unwrap();
    let err = s3
        .complete_multipart_upload()
        .bucket("retry")
        .key("gone")
        .upload_id(&aborted)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
}

#[tokio::test]
async fn a_full_object_crc_covers_the_whole_content() {
    use aws_sdk_s3::types::{ChecksumMode, ChecksumType};
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("fullsum").send().await.unwrap();
    let create = s3
        .create_multipart_upload()
        .bucket("fullsum")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap();
    assert_eq!(create.checksum_type(), Some(&ChecksumType::FullObject));
    let id = create.upload_id().unwrap().to_owned();
    let datas = [payload(5 * MIB, 11), payload(4000, 12)];
    let mut parts = Vec::new();
    let mut part_sums = Vec::new();
    for (i, data) in datas.iter().enumerate() {
        let out = s3
            .upload_part()
            .bucket("fullsum")
            .key("k")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        part_sums.push(out.checksum_crc32().unwrap().to_owned());
        parts.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .set_checksum_crc32(out.checksum_crc32().map(Into::into))
                .build(),
        );
    }
    let done = s3
        .complete_multipart_upload()
        .bucket("fullsum")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(parts))
        .send()
        .await
        .unwrap();
    let mut whole = crc32fast::Hasher::new();
    datas.iter().for_each(|d| whole.update(d));
    let want = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        whole.finalize().to_be_bytes(),
    );
    assert_eq!(done.checksum_type(), Some(&ChecksumType::FullObject));
    assert_eq!(done.checksum_crc32(), Some(want.as_str()));
    let head = s3
        .head_object()
        .bucket("fullsum")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(want.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
    // A part read by its number carries that part's own checksum.
    let first = s3
        .get_object()
        .bucket("fullsum")
        .key("k")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(first.checksum_crc32(), Some(part_sums[0].as_str()));
    // SHA-256 has no whole-object form.
    let err = s3
        .create_multipart_upload()
        .bucket("fullsum")
        .key("bad")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
}
