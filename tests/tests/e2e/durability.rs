//! What survives a crash, what a failed upload leaves behind, and
//! content-addressed storage: one blob per distinct content.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{code, payload, TestOrigin};

/// Blob files on disk, and files left in tmp/.
fn disk(data: &Path) -> (usize, usize) {
    fn count(p: &Path) -> usize {
        match std::fs::read_dir(p) {
            Err(_) => 0,
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| {
                    if e.path().is_dir() {
                        count(&e.path())
                    } else {
                        1
                    }
                })
                .sum(),
        }
    }
    (count(&data.join("blobs")), count(&data.join("tmp")))
}

#[tokio::test]
async fn same_content_is_stored_once_and_freed_with_its_last_reference() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("one").send().await.unwrap();
    s3.create_bucket().bucket("two").send().await.unwrap();
    let data = payload(256 * 1024, 1);
    for (b, k) in [("one", "a"), ("one", "b"), ("two", "c")] {
        s3.put_object()
            .bucket(b)
            .key(k)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
    }
    s3.copy_object()
        .bucket("two")
        .key("d")
        .copy_source("one/a")
        .send()
        .await
        .unwrap();
    assert_eq!(disk(&origin.data_dir()), (1, 0), "four objects, one blob");
    for (b, k) in [("one", "a"), ("one", "b"), ("two", "c")] {
        s3.delete_object().bucket(b).key(k).send().await.unwrap();
    }
    assert_eq!(disk(&origin.data_dir()).0, 1, "still referenced by two/d");
    let got = s3.get_object().bucket("two").key("d").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == data.as_slice());
    // Overwriting the last reference frees the blob.
    s3.put_object()
        .bucket("two")
        .key("d")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        disk(&origin.data_dir()),
        (1, 0),
        "only the new content remains"
    );
}

#[tokio::test]
async fn acknowledged_objects_survive_kill_9() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("keep").send().await.unwrap();
    for i in 0..20 {
        s3.put_object()
            .bucket("keep")
            .key(format!("k{i}"))
            .body(ByteStream::from(payload(10_000, i)))
            .send()
            .await
            .unwrap();
    }
    let dir = origin.kill();
    let origin = TestOrigin::spawn_in(dir, &[]);
    let s3 = origin.client();
    for i in 0..20 {
        let got = s3
            .get_object()
            .bucket("keep")
            .key(format!("k{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().to_vec(),
            payload(10_000, i)
        );
    }
}

#[tokio::test]
async fn an_upload_cut_off_by_a_crash_leaves_nothing() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("cut").send().await.unwrap();
    // Presign a PUT, then stream only part of the declared body.
    let url = s3
        .put_object()
        .bucket("cut")
        .key("partial")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60)).unwrap(),
        )
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(url.uri())
            .header("content-length", "10485760")
            .body(body)
            .send(),
    );
    tx.send(Ok(payload(1024 * 1024, 5))).await.unwrap();
    // Wait until the origin has started writing the temp file.
    let tmp = origin.data_dir().join("tmp");
    for _ in 0..200 {
        if disk(&origin.data_dir()).1 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        disk(&origin.data_dir()).1,
        1,
        "upload in progress in {}",
        tmp.display()
    );
    let dir = origin.kill();
    drop(tx);
    let _ = upload.await;
    let origin = TestOrigin::spawn_in(dir, &[]);
    let s3 = origin.client();
    let err = s3
        .head_object()
        .bucket("cut")
        .key("partial")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    assert_eq!(
        disk(&origin.data_dir()),
        (0, 0),
        "no blob and no temp file after restart"
    );
}

#[tokio::test]
async fn a_client_that_disconnects_leaves_nothing() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("gone").send().await.unwrap();
    let url = s3
        .put_object()
        .bucket("gone")
        .key("partial")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60)).unwrap(),
        )
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(url.uri())
            .header("content-length", "10485760")
            .body(body)
            .send(),
    );
    tx.send(Ok(payload(512 * 1024, 5))).await.unwrap();
    // Give up only once the origin is writing the body (its temp file
    // exists); sooner, the request may not have reached it at all.
    let mut started = false;
    for _ in 0..500 {
        if disk(&origin.data_dir()).1 == 1 {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(started, "the origin never started writing the upload");
    tx.send(Err(std::io::Error::other("client gives up")))
        .await
        .unwrap();
    // The client sees its own error; what matters is the server side.
    let _ = upload.await;
    // The origin notices the broken body and drops the temp file.
    for _ in 0..500 {
        if disk(&origin.data_dir()) == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(disk(&origin.data_dir()), (0, 0));
    assert!(s3
        .head_object()
        .bucket("gone")
        .key("partial")
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn orphaned_blobs_are_swept_at_start() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("sweep").send().await.unwrap();
    s3.put_object()
        .bucket("sweep")
        .key("kept")
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap();
    let dir = origin.kill();
    // A crash between rename and commit leaves a blob no row names.
    let hash = blake3::hash(b"orphan").to_hex().to_string();
    let path = dir
        .path()
        .join("data/blobs")
        .join(&hash[0..2])
        .join(&hash[2..4]);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join(&hash), b"orphan").unwrap();
    std::fs::write(dir.path().join("data/tmp/leftover.tmp"), b"half").unwrap();
    let origin = TestOrigin::spawn_in(dir, &[]);
    assert_eq!(
        disk(&origin.data_dir()),
        (1, 0),
        "only the referenced blob stays"
    );
    let got = origin
        .client()
        .get_object()
        .bucket("sweep")
        .key("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"kept"
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_uploads_finish() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("term").send().await.unwrap();
    let url = s3
        .put_object()
        .bucket("term")
        .key("late")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60)).unwrap(),
        )
        .await
        .unwrap();
    let data = payload(2 * 1024 * 1024, 8);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(url.uri())
            .header("content-length", data.len().to_string())
            .body(body)
            .send(),
    );
    tx.send(Ok(data[..1024 * 1024].to_vec())).await.unwrap();
    for _ in 0..200 {
        if disk(&origin.data_dir()).1 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut origin = origin;
    origin.signal("TERM");
    tx.send(Ok(data[1024 * 1024..].to_vec())).await.unwrap();
    drop(tx);
    let resp = upload.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200, "the in-flight upload completes");
    assert!(
        origin.wait_exit(Duration::from_secs(10)),
        "then the process exits"
    );
    let dir = origin.kill();
    let origin = TestOrigin::spawn_in(dir, &[]);
    let got = origin
        .client()
        .get_object()
        .bucket("term")
        .key("late")
        .send()
        .await
        .unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes().as_ref() == data.as_slice());
}

#[tokio::test]
async fn bad_input_gets_s3_errors() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("bad").send().await.unwrap();
    let http = reqwest::Client::new();
    let presign = |method: &str, path: &str| {
        cairn_tests::presign_v4(
            method,
            &format!("{}{path}", origin.url),
            &origin.addr,
            Duration::from_secs(60),
        )
    };
    let xml_code = |body: &str| {
        body.split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or("")
            .to_owned()
    };

    let resp = http
        .post(presign("POST", "/bad?delete"))
        .body("<Delete><Object><Key>x</Key>")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            xml_code(&resp.text().await.unwrap())
        ),
        (400, "MalformedXML".into())
    );
    let resp = http
        .put(presign("PUT", "/newbucket"))
        .body("<CreateBucketConfiguration><LocationConstraint>mars-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = http.put(presign("PUT", "/otherbucket")).body("<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>").send().await.unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            xml_code(&resp.text().await.unwrap())
        ),
        (400, "InvalidLocationConstraint".into())
    );
    let resp = http.patch(presign("PATCH", "/bad/k")).send().await.unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            xml_code(&resp.text().await.unwrap())
        ),
        (405, "MethodNotAllowed".into())
    );
    let resp = http
        .get(presign("GET", "/bad?logging"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            xml_code(&resp.text().await.unwrap())
        ),
        (501, "NotImplemented".into())
    );
    let resp = http
        .get(presign("GET", "/bad?max-keys=-4"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            xml_code(&resp.text().await.unwrap())
        ),
        (400, "InvalidArgument".into())
    );
    // A declared size over 5 GiB is refused before any body is read.
    let url: reqwest::Url = presign("PUT", "/bad/huge").parse().unwrap();
    let head = format!(
        "PUT {}?{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 6000000000\r\n\r\n",
        url.path(),
        url.query().unwrap(),
        origin.addr
    );
    let mut sock = tokio::net::TcpStream::connect(&origin.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut sock, head.as_bytes())
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::io::AsyncReadExt::read(&mut sock, &mut answer)
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>EntityTooLarge</Code>"), "{answer}");
    let err = s3
        .put_object()
        .bucket("bad")
        .key("meta")
        .metadata("big", "x".repeat(3000))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MetadataTooLarge");
    // Every response names its request.
    let resp = http
        .get(format!("{}/health", origin.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .get(format!("{}/bad/none", origin.url))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("x-amz-request-id"));
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Runs as root only (it mounts a small tmpfs); elsewhere it says so and
/// passes without checking, since a full disk cannot be made otherwise.
#[tokio::test]
async fn a_full_disk_refuses_new_bytes_and_keeps_what_is_stored() {
    let Some(mount) = cairn_tests::Tmpfs::mount("24m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let dir = tempfile::tempdir_in(mount.path()).unwrap();
    let origin = TestOrigin::spawn_in(dir, &[]);
    let s3 = origin.client();
    s3.create_bucket().bucket("full").send().await.unwrap();
    let first = payload(8 * 1024 * 1024, 1);
    s3.put_object()
        .bucket("full")
        .key("first")
        .body(ByteStream::from(first.clone()))
        .send()
        .await
        .unwrap();
    let err = s3
        .put_object()
        .bucket("full")
        .key("second")
        .body(ByteStream::from(payload(20 * 1024 * 1024, 2)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(cairn_tests::status(&err), 507, "{err:?}");
    assert!(
        s3.head_object()
            .bucket("full")
            .key("second")
            .send()
            .await
            .is_err(),
        "nothing half-written is visible"
    );
    let got = s3
        .get_object()
        .bucket("full")
        .key("first")
        .send()
        .await
        .unwrap();
    assert!(
        got.body.collect().await.unwrap().into_bytes().as_ref() == first.as_slice(),
        "stored data stays readable"
    );
    assert_eq!(
        disk(&origin.data_dir()),
        (1, 0),
        "the failed upload's temp file is gone"
    );
}
