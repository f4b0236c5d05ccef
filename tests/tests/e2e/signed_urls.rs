//! Signed URLs for private objects across a deployment: a URL the origin
//! signs with its URL key works at every edge (each with its own edge
//! key), as a user sent to another region by GeoDNS needs; keys rotate
//! without breaking URLs already handed out, and a retired key's URLs stop
//! working at every edge within seconds.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{signed_get, TestEdge, TestOrigin, ROOT_AK, ROOT_SK};

/// A deployment URL's path and query from `GET /_cairn/sign`, asked for by
/// the bucket's owner.
async fn sign(origin: &TestOrigin, key: &str) -> String {
    let url = format!(
        "{}/_cairn/sign?bucket=priv&key={key}&expires-in=3600",
        origin.url
    );
    let resp = signed_get(&url, &origin.addr, (ROOT_AK, ROOT_SK)).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["path"].as_str().unwrap().to_owned()
}

async fn status(url: &str) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_signed_url_works_at_every_edge_and_keys_rotate() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("priv").send().await.unwrap();
    s3.put_object()
        .bucket("priv")
        .key("report.pdf")
        .cache_control("max-age=3600")
        .body(ByteStream::from_static(b"quarterly numbers"))
        .send()
        .await
        .unwrap();
    // Two regions, each edge with its own key (the secret of one never
    // reaches the other).
    let local = TestEdge::spawn(&origin, &["--region", "local"]);
    let eu = TestEdge::spawn(&origin, &["--region", "eu-west"]);
    assert_ne!(local.access_key, eu.access_key);
    let edges = [&local, &eu];

    let path = sign(&origin, "report.pdf").await;
    assert!(path.contains("&kid=k1&sig="), "{path}");
    for edge in edges {
        assert_eq!(status(&format!("{}/priv/report.pdf", edge.url)).await, 403);
        let resp = reqwest::get(format!("{}{path}", edge.url)).await.unwrap();
        assert_eq!(resp.status(), 200, "{}", edge.url);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), b"quarterly numbers");
        // Tampered: another key, a later expiry, a forged key id.
        let other = path.replace("report.pdf", "other.pdf");
        assert_eq!(status(&format!("{}{other}", edge.url)).await, 403);
        let later = path.replacen("expires=", "expires=9", 1);
        assert_eq!(status(&format!("{}{later}", edge.url)).await, 403);
        let forged = path.replace("kid=k1", "kid=k9");
        assert_eq!(status(&format!("{}{forged}", edge.url)).await, 403);
    }
    // The CLI signs the same way, for any edge's address.
    let cli = origin.cli(&["sign-url", "priv", "report.pdf", "--edge", &eu.url]);
    assert!(
        cli.trim().starts_with(&eu.url) && cli.contains("kid=k1"),
        "{cli}"
    );
    assert_eq!(status(cli.trim()).await, 200);

    // Rotation: new URLs are signed by k2; URLs already out keep working.
    let out = origin.cli(&["url-keys", "rotate"]);
    assert!(out.contains("k2"), "{out}");
    let new_path = sign(&origin, "report.pdf").await;
    assert!(new_path.contains("&kid=k2&"), "{new_path}");
    for edge in edges {
        wait_for_status(&format!("{}{new_path}", edge.url), 200).await;
        assert_eq!(status(&format!("{}{path}", edge.url)).await, 200);
    }
    let list = origin.cli(&["url-keys", "list"]);
    assert!(
        list.contains("k2\tsigns") && list.contains("k1\tverifies"),
        "{list}"
    );

    // Retiring k1 ends its URLs at every edge, even for a cached object.
    origin.cli(&["url-keys", "retire", "k1"]);
    for edge in edges {
        wait_for_status(&format!("{}{path}", edge.url), 403).await;
        assert_eq!(status(&format!("{}{new_path}", edge.url)).await, 200);
    }
    let list = origin.cli(&["url-keys", "list"]);
    assert!(list.contains("k1\tretired"), "{list}");
}

/// Polls `url` until it answers `want` (the key set travels on the change
/// feed, whose poll ends within a second or two of a change).
async fn wait_for_status(url: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status(url).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} answered {got}, not {want}, 10 s after the key change"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
