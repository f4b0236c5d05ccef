//! cairn-bench against the real origin and edge: its answers are only worth
//! quoting if what it reads is checked, so every GET here verifies bytes.

use std::process::Command;

use aws_sdk_s3::types::BucketCannedAcl;
use cairn_tests::{binary, TestEdge, TestOrigin, ROOT_AK, ROOT_SK};

/// Runs cairn-bench with `args` and returns its `--json` report.
fn bench(args: &[&str]) -> serde_json::Value {
    let out = Command::new(binary("cairn-bench"))
        .args(args)
        .args(["--json", "--quiet"])
        .env("AWS_ACCESS_KEY_ID", ROOT_AK)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SK)
        .output()
        .expect("run cairn-bench");
    assert!(
        out.status.success(),
        "cairn-bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

fn assert_clean(report: &serde_json::Value, ops: u64) {
    assert_eq!(report["ops"], ops, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
}

#[tokio::test]
async fn verified_gets_from_the_origin_and_the_edge_and_a_collapsed_stampede() {
    let origin = TestOrigin::spawn();
    let edge = TestEdge::spawn(&origin, &[]);
    origin
        .client()
        .create_bucket()
        .bucket("benched")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let common = ["--endpoint", &origin.url, "--bucket", "benched"];
    let put = bench(
        &[
            &common[..],
            &[
                "put",
                "--size",
                "1KiB-300KiB",
                "--ops",
                "40",
                "--keys",
                "40",
            ],
        ]
        .concat(),
    );
    assert_clean(&put, 40);

    // Signed GETs from the origin, then plain ones through the edge (twice:
    // misses, then hits), all through the lean client and verified.
    let get = [
        "get",
        "--size",
        "1KiB-300KiB",
        "--ops",
        "80",
        "--keys",
        "40",
        "--verify",
    ];
    assert_clean(&bench(&[&common[..], &get[..]].concat()), 80);
    let via_edge = [&common[..], &get[..], &["--http", &edge.url]].concat();
    let first = bench(&via_edge);
    assert_clean(&first, 80);
    let again = bench(&via_edge);
    assert_clean(&again, 80);
    assert_eq!(again["x_cache"]["HIT"], 1.0, "{again}");

    // 50 clients at once on a cold object: one origin fetch, 50 verified
    // bodies, and first-byte times reported.
    let metrics = format!("{}/metrics", edge.url);
    let stampede = bench(
        &[
            &common[..],
            &[
                "stampede",
                "--http",
                &edge.url,
                "--size",
                "3MiB",
                "--concurrency",
                "50",
                "--metrics",
                &metrics,
            ],
        ]
        .concat(),
    );
    assert_clean(&stampede, 50);
    assert_eq!(stampede["extra"]["origin_fetches"], 1, "{stampede}");
    assert!(
        stampede["extra"]["first_byte_wait_p99_ms"].is_number()
            && stampede["extra"]["first_byte_seen_wait_p99_ms"].is_number(),
        "{stampede}"
    );
}

#[tokio::test]
async fn virtual_hosted_style_requests_are_signed_for_the_bucket_host() {
    let origin = TestOrigin::spawn_with(&["--domain", "localhost"]);
    let endpoint = origin.url.replace("127.0.0.1", "localhost");
    let common = [
        "--endpoint",
        &endpoint,
        "--virtual-host",
        "--bucket",
        "vhosted",
    ];
    let put = ["put", "--size", "1KiB-64KiB", "--ops", "20", "--keys", "20"];
    assert_clean(&bench(&[&common[..], &put[..]].concat()), 20);
    let get = [
        "get",
        "--size",
        "1KiB-64KiB",
        "--ops",
        "40",
        "--keys",
        "20",
        "--verify",
    ];
    assert_clean(&bench(&[&common[..], &get[..]].concat()), 40);
    let list = ["list", "--ops", "5", "--keys", "20"];
    assert_clean(&bench(&[&common[..], &list[..]].concat()), 5);
    // The objects are where a path-style client finds them.
    let listed = origin
        .client()
        .list_objects_v2()
        .bucket("vhosted")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(20));
}
