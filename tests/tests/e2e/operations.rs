//! Running Cairn as an operator does: settings files and their precedence,
//! start-up refusals, `/metrics`, request ids in logs, `gc` and `check`.

use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{binary, payload, TestOrigin};

/// Runs `cairn-origin ARGS` to completion: (exit code, stdout, stderr).
fn origin_cli(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(binary("cairn-origin"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run cairn-origin");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn config_file_env_and_flags_in_order() {
    let conf = tempfile::tempdir().unwrap();
    let file = conf.path().join("origin.toml");
    std::fs::write(
        &file,
        "region = \"eu-central-1\"\nstrict_region = true\nupload_max_age = \"2d\"\nmax_object_size = \"1KiB\"\n",
    )
    .unwrap();
    // The file sets the region; a flag overrides the size limit it sets.
    let origin = TestOrigin::spawn_with(&[
        "--config",
        file.to_str().unwrap(),
        "--max-object-size",
        "2KiB",
    ]);
    let eu = origin.client_config(
        cairn_tests::ROOT_AK,
        cairn_tests::ROOT_SK,
        "eu-central-1",
        true,
    );
    eu.create_bucket().bucket("conf").send().await.unwrap();
    let us = origin.client();
    let err = us
        .list_objects_v2()
        .bucket("conf")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("AuthorizationHeaderMalformed"),
        "the file's region is the one clients must sign for"
    );
    let put = |n: usize| {
        eu.put_object()
            .bucket("conf")
            .key("k")
            .body(ByteStream::from(payload(n, 1)))
            .send()
    };
    put(2048).await.expect("2 KiB fits the flag's limit");
    let err = put(2049).await.unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("EntityTooLarge")
    );

    // A flag beats a variable: it names the running origin's own (busy)
    // address, so start-up fails naming that address, not the variable.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary("cairn-origin"))
        .args([
            "--config",
            file.to_str().unwrap(),
            "serve",
            "--listen",
            &origin.addr,
        ])
        .env("CAIRN_DATA_DIR", dir.path().join("d"))
        .env("CAIRN_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {}", origin.addr)),
        "the flag's address was used, not the variable's: {stderr}"
    );
}

#[test]
fn bad_settings_stop_start_up_with_one_line_naming_them() {
    let conf = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str, &[&str]); 4] = [
        (
            "cairn-origin",
            "listen = \"127.0.0.1:0\"\nlisten_addr = 1\n",
            "listen_addr",
            &[],
        ),
        (
            "cairn-origin",
            "upload_max_age = \"a week\"\n",
            "upload_max_age",
            &[],
        ),
        (
            "cairn-edge",
            "memory_cache = \"lots\"\n",
            "memory_cache",
            &[],
        ),
        ("cairn-edge", "cache_dirr = \"/tmp/x\"\n", "cache_dirr", &[]),
    ];
    for (i, (bin, text, key, _)) in cases.iter().enumerate() {
        let file = conf.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = Command::new(binary(bin))
            .args(["--config", file.to_str().unwrap(), "serve"])
            .env("CAIRN_DATA_DIR", conf.path().join("data"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bin} {text:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains(&format!("bad{i}.toml:")),
            "names the file: {stderr}"
        );
        assert!(stderr.contains(key), "names the key: {stderr}");
    }
}

#[test]
fn a_damaged_database_or_a_busy_data_dir_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("meta.sqlite"), vec![0x5a; 8192]).unwrap();
    let out = Command::new(binary("cairn-origin"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("meta.sqlite is damaged"), "{stderr}");

    let origin = TestOrigin::spawn();
    let out = Command::new(binary("cairn-origin"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(origin.data_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("in use by another cairn-origin"),
        "{stderr}"
    );
}

#[tokio::test]
async fn metrics_count_operations_bytes_and_stored_objects() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("met").send().await.unwrap();
    let body = payload(10_000, 3);
    for key in ["a", "b"] {
        s3.put_object()
            .bucket("met")
            .key(key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
    }
    s3.get_object()
        .bucket("met")
        .key("a")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap();
    let _ = s3.get_object().bucket("met").key("missing").send().await;
    let text = reqwest::get(format!("{}/metrics", origin.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
    };
    assert_eq!(
        value("cairn_origin_requests_total{op=\"PutObject\",status=\"200\"}"),
        2.0
    );
    assert_eq!(
        value("cairn_origin_requests_total{op=\"GetObject\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("cairn_origin_requests_total{op=\"GetObject\",status=\"404\"}"),
        1.0
    );
    assert_eq!(
        value("cairn_origin_request_duration_seconds_count{op=\"PutObject\"}"),
        2.0
    );
    assert!(value("cairn_origin_bytes_in_total") >= 20_000.0);
    assert!(value("cairn_origin_bytes_out_total") >= 10_000.0);
    assert_eq!(value("cairn_origin_objects"), 2.0);
    assert_eq!(value("cairn_origin_object_bytes"), 20_000.0);
    assert_eq!(value("cairn_origin_blobs"), 1.0, "same bytes, one blob");
    assert_eq!(value("cairn_origin_blob_bytes"), 10_000.0);
    assert_eq!(value("cairn_origin_blobs_deduplicated"), 1.0);
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_the_id_the_client_sees() {
    let origin = TestOrigin::spawn_with(&["--log-format", "json"]);
    let resp = reqwest::get(format!("{}/nobucket/key", origin.url))
        .await
        .unwrap();
    let id = resp.headers()["x-amz-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(resp.status(), 404);
    let log = origin.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let mine: Vec<_> = lines
        .iter()
        .filter(|v| {
            v["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["request_id"] == id.as_str()))
        })
        .collect();
    assert!(
        mine.iter()
            .any(|v| v["message"] == "request" && v["status"] == 404),
        "the request line carries id {id}:\n{log}"
    );
}

#[tokio::test]
async fn gc_reclaims_unreferenced_blobs_beside_a_running_server() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("gcb").send().await.unwrap();
    let body = payload(50_000, 9);
    s3.put_object()
        .bucket("gcb")
        .key("kept")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    // A blob file no row names, as a crash between rename and commit leaves.
    let orphan = payload(12_345, 10);
    let hash = blake3::hash(&orphan).to_hex().to_string();
    let path = origin
        .data_dir()
        .join("blobs")
        .join(&hash[0..2])
        .join(&hash[2..4]);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join(&hash), &orphan).unwrap();

    let (code, out, err) = origin_cli(&["gc"], &origin.data_dir());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("freed 1 unreferenced (12.1 KiB)"), "{out}");
    assert!(!path.join(&hash).exists());
    let got = s3
        .get_object()
        .bucket("gcb")
        .key("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes(), body);
    // Nothing left to free.
    let (_, out, _) = origin_cli(&["gc"], &origin.data_dir());
    assert!(out.contains("freed 0 unreferenced"), "{out}");
}

#[tokio::test]
async fn check_passes_a_healthy_store_and_names_a_corrupted_blob() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("chk").send().await.unwrap();
    let body = payload(70_000, 4);
    s3.put_object()
        .bucket("chk")
        .key("x")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let (code, out, err) = origin_cli(&["check"], &origin.data_dir());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 blobs verified"), "{out}");
    assert!(out.contains("0 damaged"), "{out}");

    let hash = blake3::hash(&body).to_hex().to_string();
    let path = origin
        .data_dir()
        .join("blobs")
        .join(&hash[0..2])
        .join(&hash[2..4])
        .join(&hash);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let (code, out, _) = origin_cli(&["check"], &origin.data_dir());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "DAMAGE: blob {hash} does not match its BLAKE3 name"
        )),
        "{out}"
    );
}
