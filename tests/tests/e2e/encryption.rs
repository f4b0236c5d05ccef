//! Server-side encryption with the AWS SDK: SSE-C (the client's key on
//! every request), SSE-S3 (a bucket default, master key rotated by a
//! command), SSE-KMS (keys named in the key ring), copies between them,
//! and what an edge may serve of an encrypted object.

use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cairn_tests::{binary, code, payload, TestEdge, TestOrigin};
use md5::{Digest, Md5};

/// An SSE-C key as the SDK sends it: (base64 key, base64 MD5).
fn customer_key(seed: u8) -> (String, String) {
    let key = [seed; 32];
    (B64.encode(key), B64.encode(Md5::digest(key)))
}

/// Whether any blob file under the data dir holds `needle`.
fn plaintext_on_disk(origin: &TestOrigin, needle: &[u8]) -> bool {
    fn walk(dir: &std::path::Path, needle: &[u8]) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, needle)
            } else {
                let bytes = std::fs::read(&p).unwrap();
                bytes.windows(needle.len()).any(|w| w == needle)
            }
        })
    }
    walk(&origin.data_dir().join("blobs"), needle)
}

fn cli(origin: &TestOrigin, args: &[&str]) -> String {
    let out = Command::new(binary("cairn-origin"))
        .args(args)
        .arg("--data-dir")
        .arg(origin.data_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn an_sse_c_object_is_read_only_with_its_key_and_rests_encrypted() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("sealed").send().await.unwrap();
    let (key, md5) = customer_key(7);
    let (other, other_md5) = customer_key(9);
    // Several 64 KiB records, ends not aligned, and a marker to look for.
    let mut body = payload(300_000, 5);
    body[1000..1024].copy_from_slice(b"CAIRN-PLAINTEXT-MARKER!!");
    let put = s3
        .put_object()
        .bucket("sealed")
        .key("secret.bin")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.sse_customer_key_md5(), Some(md5.as_str()));
    let plain_md5 = hex::encode(Md5::digest(&body));
    assert_ne!(
        put.e_tag().unwrap().trim_matches('"'),
        plain_md5,
        "an SSE-C ETag says nothing about the plaintext"
    );
    assert!(!plaintext_on_disk(&origin, b"CAIRN-PLAINTEXT-MARKER!!"));

    let got = s3
        .get_object()
        .bucket("sealed")
        .key("secret.bin")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert_eq!(got.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes(), body);

    // Ranges across record boundaries (64 KiB records).
    for (start, end) in [
        (0u64, 0u64),
        (65_530, 65_545),
        (131_071, 299_999),
        (299_999, 299_999),
    ] {
        let part = s3
            .get_object()
            .bucket("sealed")
            .key("secret.bin")
            .range(format!("bytes={start}-{end}"))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .send()
            .await
            .unwrap();
        let bytes = part.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes, body[start as usize..=end as usize], "{start}-{end}");
    }

    // Without the key, with another key, or with a key whose MD5 is wrong.
    let err = s3
        .get_object()
        .bucket("sealed")
        .key("secret.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    let err = s3
        .head_object()
        .bucket("sealed")
        .key("secret.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
    let err = s3
        .get_object()
        .bucket("sealed")
        .key("secret.bin")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other)
        .sse_customer_key_md5(&other_md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = s3
        .put_object()
        .bucket("sealed")
        .key("bad-md5")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&other_md5)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = s3
        .put_object()
        .bucket("sealed")
        .key("bad-algo")
        .sse_customer_algorithm("AES128")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let listed = s3.list_objects_v2().bucket("sealed").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["secret.bin"], "refused writes left nothing");
    // A key sent for a plain object is refused too.
    s3.put_object()
        .bucket("sealed")
        .key("plain")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .unwrap();
    let err = s3
        .get_object()
        .bucket("sealed")
        .key("plain")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
}

#[tokio::test]
async fn an_sse_c_multipart_upload_takes_its_key_on_every_part_and_at_completion() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mpu").send().await.unwrap();
    let (key, md5) = customer_key(3);
    let (other, other_md5) = customer_key(4);
    let up = s3
        .create_multipart_upload()
        .bucket("mpu")
        .key("big")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let body = payload(5 * 1024 * 1024 + 70_000, 11);
    let (first, second) = body.split_at(5 * 1024 * 1024);
    let err = s3
        .upload_part()
        .bucket("mpu")
        .key("big")
        .upload_id(id)
        .part_number(1)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&other)
        .sse_customer_key_md5(&other_md5)
        .body(ByteStream::from(first.to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
    let mut parts = Vec::new();
    for (n, chunk) in [(1, first), (2, second)] {
        let p = s3
            .upload_part()
            .bucket("mpu")
            .key("big")
            .upload_id(id)
            .part_number(n)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&md5)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    let done = CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build();
    let err = s3
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big")
        .upload_id(id)
        .multipart_upload(done.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest", "completion needs the key");
    s3.complete_multipart_upload()
        .bucket("mpu")
        .key("big")
        .upload_id(id)
        .multipart_upload(done)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    // A range spanning the two parts.
    let start = 5 * 1024 * 1024 - 100;
    let got = s3
        .get_object()
        .bucket("mpu")
        .key("big")
        .range(format!("bytes={start}-{}", start + 199))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes, body[start..start + 200]);
    cli(&origin, &["check"]);
}

#[tokio::test]
async fn a_bucket_default_encrypts_with_the_master_key_and_rotation_keeps_objects_readable() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("vault").send().await.unwrap();
    let err = s3
        .get_bucket_encryption()
        .bucket("vault")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ServerSideEncryptionConfigurationNotFoundError");
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .unwrap(),
        )
        .build();
    s3.put_bucket_encryption()
        .bucket("vault")
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let marker = b"SSE-S3-PLAINTEXT-MARKER";
    let mut body = payload(200_000, 2);
    body[..marker.len()].copy_from_slice(marker);
    let put = s3
        .put_object()
        .bucket("vault")
        .key("doc")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(
        put.e_tag().unwrap().trim_matches('"'),
        hex::encode(Md5::digest(&body)),
        "SSE-S3 ETags are the MD5, as in S3"
    );
    assert!(!plaintext_on_disk(&origin, marker));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(origin.data_dir().join("sse-keys"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the key ring is readable by its owner only"
        );
    }

    let out = cli(&origin, &["sse", "rotate"]);
    assert!(
        out.contains("new master key master-2; re-wrapped 1 data keys"),
        "{out}"
    );
    let got = s3
        .get_object()
        .bucket("vault")
        .key("doc")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(got.body.collect().await.unwrap().into_bytes(), body);

    // Sealed blobs are named by their own bytes: `check` finds them whole.
    cli(&origin, &["check"]);

    // The bucket default does not apply once deleted.
    s3.delete_bucket_encryption()
        .bucket("vault")
        .send()
        .await
        .unwrap();
    let plain = s3
        .put_object()
        .bucket("vault")
        .key("plain")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.server_side_encryption(), None);
}

#[tokio::test]
async fn kms_keys_come_from_the_key_ring_and_copies_change_encryption() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("kms").send().await.unwrap();
    let err = s3
        .put_object()
        .bucket("kms")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("app-key")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument", "no such key yet");
    cli(&origin, &["sse", "add-key", "app-key"]);
    let body = payload(70_000, 4);
    s3.put_object()
        .bucket("kms")
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("app-key")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("kms")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(head.ssekms_key_id(), Some("app-key"));

    // KMS → SSE-C → plain, each copy readable as what it became.
    let (key, md5) = customer_key(1);
    s3.copy_object()
        .bucket("kms")
        .key("c")
        .copy_source("kms/k")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    let err = s3
        .copy_object()
        .bucket("kms")
        .key("p")
        .copy_source("kms/c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest", "the source's key is needed");
    s3.copy_object()
        .bucket("kms")
        .key("p")
        .copy_source("kms/c")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&key)
        .copy_source_sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    let plain = s3.get_object().bucket("kms").key("p").send().await.unwrap();
    assert_eq!(plain.server_side_encryption(), None);
    assert_eq!(plain.body.collect().await.unwrap().into_bytes(), body);
}

#[tokio::test]
async fn an_edge_serves_sse_s3_objects_decrypted_and_never_sse_c_ones() {
    let origin = TestOrigin::spawn();
    let s3 = origin.public_bucket("site").await;
    let edge = TestEdge::spawn(&origin, &[]);
    s3.put_object()
        .bucket("site")
        .key("s3.txt")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"encrypted at rest, public"))
        .send()
        .await
        .unwrap();
    let (key, md5) = customer_key(8);
    s3.put_object()
        .bucket("site")
        .key("c.txt")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .body(ByteStream::from_static(b"only with the key"))
        .send()
        .await
        .unwrap();
    let r = reqwest::get(format!("{}/site/s3.txt", edge.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "encrypted at rest, public");
    let r = reqwest::get(format!("{}/site/c.txt", edge.url))
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains("only with the key"));
}
