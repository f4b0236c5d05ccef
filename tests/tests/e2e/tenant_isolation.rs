//! One tenant can never read another's private objects through an edge,
//! whatever its keys hold (issue 13): dot segments and empty segments are
//! literal parts of a key in the tenant's own bucket, cached, invalidated
//! and purged like any other key; and the purge credential reads nothing.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{raw_request, signed_get, TestEdge, TestOrigin, PURGE_TOKEN};

/// The keys an attacker tries: each would name another bucket or an edge
/// endpoint if a URL parser folded its segments.
const KEYS: [&str; 5] = [
    "../victim/k",
    "a/../../victim/k",
    "./k",
    "a//k",
    "../_cairn/feed",
];
const SECRET: &[u8] = b"the victim's private bytes";

/// A signed edge URL (path and query) from the origin's sign endpoint,
/// asked for by the bucket's owner.
async fn sign(origin: &TestOrigin, owner: (&str, &str), edge: &TestEdge, key: &str) -> String {
    let q = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let url = format!(
        "{}/_cairn/sign?bucket=tenant&key={}&edge-key={}",
        origin.url,
        q(key),
        edge.access_key
    );
    let resp = signed_get(&url, &origin.addr, owner).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "sign {key}: {text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["path"].as_str().unwrap().to_owned()
}

async fn get(url: &str) -> (u16, String, Vec<u8>) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let xcache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, xcache, resp.bytes().await.unwrap().to_vec())
}

fn leaks(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    body.windows(SECRET.len()).any(|w| w == SECRET)
        || text.contains("victim") && text.contains("ETag")
}

#[tokio::test]
async fn dot_segment_keys_stay_in_their_own_bucket() {
    let origin = TestOrigin::spawn();
    let (a_ak, a_sk) = origin.create_key("alice");
    let (b_ak, b_sk) = origin.create_key("bob");
    let alice = origin.client_with(&a_ak, &a_sk);
    let bob = origin.client_with(&b_ak, &b_sk);
    alice.create_bucket().bucket("victim").send().await.unwrap();
    alice
        .put_object()
        .bucket("victim")
        .key("k")
        .body(ByteStream::from_static(SECRET))
        .send()
        .await
        .unwrap();
    bob.create_bucket().bucket("tenant").send().await.unwrap();
    let edge = TestEdge::spawn(&origin, &[]);

    // Bob signs URLs for keys of his own bucket that do not exist: each is
    // a 404 for his bucket, never Alice's bytes or the change feed.
    let mut paths = Vec::new();
    for key in KEYS {
        let path = sign(&origin, (&b_ak, &b_sk), &edge, key).await;
        let (status, _, body) = get(&format!("{}{path}", edge.url)).await;
        assert_eq!(status, 404, "{key}: {}", String::from_utf8_lossy(&body));
        assert!(
            !leaks(&body),
            "{key} leaked: {}",
            String::from_utf8_lossy(&body)
        );
        // The same key sent with its dots and slashes as they are, as a
        // browser's address bar or `curl --path-as-is` would.
        let (_, query) = path.split_once('?').unwrap();
        let (status, body) = raw_request(&edge.addr, "GET", &format!("/tenant/{key}?{query}"), &[]);
        assert_eq!(status, 404, "raw {key}: {}", String::from_utf8_lossy(&body));
        assert!(
            !leaks(&body),
            "raw {key} leaked: {}",
            String::from_utf8_lossy(&body)
        );
        paths.push(path);
    }

    // Now Bob stores those keys: each is his own literal object, served,
    // cached, invalidated by the feed and purged like any other.
    for key in KEYS {
        bob.put_object()
            .bucket("tenant")
            .key(key)
            .body(ByteStream::from(format!("bob's {key}").into_bytes()))
            .cache_control("max-age=3600")
            .send()
            .await
            .unwrap();
    }
    for (key, path) in KEYS.iter().zip(&paths) {
        let url = format!("{}{path}", edge.url);
        let want = format!("bob's {key}").into_bytes();
        let (status, xcache, body) = get(&url).await;
        assert_eq!(
            (status, xcache.as_str(), &body),
            (200, "MISS", &want),
            "{key}"
        );
        let (status, xcache, body) = get(&url).await;
        assert_eq!(
            (status, xcache.as_str(), &body),
            (200, "HIT", &want),
            "{key}"
        );
        // Unsigned, the cached private copy is refused.
        let (status, _) = raw_request(&edge.addr, "GET", &format!("/tenant/{key}"), &[]);
        assert_eq!(status, 403, "{key} unsigned");
    }

    // An overwrite reaches the edge through the change feed.
    bob.put_object()
        .bucket("tenant")
        .key("../victim/k")
        .body(ByteStream::from_static(b"bob's second version"))
        .cache_control("max-age=3600")
        .send()
        .await
        .unwrap();
    let url = format!("{}{}", edge.url, paths[0]);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, body) = get(&url).await;
        assert_eq!(status, 200);
        if body == b"bob's second version" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the overwrite never reached the edge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A purge of a dot-segment key drops exactly that key.
    let q = percent_encoding::utf8_percent_encode("./k", percent_encoding::NON_ALPHANUMERIC);
    let resp = reqwest::Client::new()
        .post(format!("{}/_cairn/purge?bucket=tenant&key={q}", edge.url))
        .bearer_auth(PURGE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "{\"purged\":1}");
    let (_, xcache, _) = get(&format!("{}{}", edge.url, paths[2])).await;
    assert_eq!(xcache, "MISS", "purged");
    let (_, xcache, _) = get(&format!("{}{}", edge.url, paths[3])).await;
    assert_eq!(xcache, "HIT", "a//k was not purged with ./k");

    // Bob's key is not an edge key: the feed and signing with it as the
    // edge key are refused.
    let feed = signed_get(
        &format!("{}/_cairn/feed?after=now", origin.url),
        &origin.addr,
        (&b_ak, &b_sk),
    )
    .await;
    assert_eq!(feed.status(), 403);
    let own = signed_get(
        &format!(
            "{}/_cairn/sign?bucket=tenant&key=k&edge-key={b_ak}",
            origin.url
        ),
        &origin.addr,
        (&b_ak, &b_sk),
    )
    .await;
    assert_eq!(own.status(), 400, "only an edge key can sign edge URLs");

    // Alice's object is untouched and still hers alone.
    let got = alice
        .get_object()
        .bucket("victim")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        SECRET
    );
    let (status, body) = raw_request(&edge.addr, "GET", "/victim/k", &[]);
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn the_edge_refuses_what_no_upstream_url_can_name() {
    let origin = TestOrigin::spawn();
    let edge = TestEdge::spawn(&origin, &[]);
    for target in [
        "/tenant/..",
        "/tenant/.",
        "/_cairn/feed",
        "/../_cairn/feed",
        "/a%2Fb/k",
    ] {
        let (status, body) = raw_request(&edge.addr, "GET", target, &[]);
        assert!(
            status == 400 || status == 404,
            "{target}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            !String::from_utf8_lossy(&body).contains("\"changes\""),
            "{target}"
        );
    }
}
