//! A bucket served as a static site through the edge: the website API on
//! the origin (with the AWS SDK), then index and error documents,
//! redirects and routing rules as a browser would meet them.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Condition, ErrorDocument, IndexDocument, Redirect, RoutingRule, WebsiteConfiguration,
};
use cairn_tests::{code, TestEdge, TestOrigin};

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: &'static str, redirect: Option<&str>) {
    s3.put_object()
        .bucket("site")
        .key(key)
        .content_type("text/html")
        .body(ByteStream::from_static(body.as_bytes()))
        .set_website_redirect_location(redirect.map(str::to_owned))
        .send()
        .await
        .unwrap();
}

struct Page {
    status: u16,
    location: Option<String>,
    xcache: Option<String>,
    body: String,
}

/// GET `path` on the edge as `host` (redirects not followed).
async fn visit(edge: &TestEdge, host: &str, path: &str) -> Page {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}{path}", edge.url))
        .header("host", host)
        .send()
        .await
        .unwrap();
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Page {
        status: resp.status().as_u16(),
        location: h("location"),
        xcache: h("x-cache"),
        body: String::new(),
    }
    .with_body(resp)
    .await
}

impl Page {
    async fn with_body(mut self, resp: reqwest::Response) -> Page {
        self.body = resp.text().await.unwrap();
        self
    }
}

#[tokio::test]
async fn a_bucket_is_served_as_a_site_with_index_error_and_redirects() {
    let origin = TestOrigin::spawn();
    let s3 = origin.public_bucket("site").await;
    put(&s3, "index.html", "<h1>home</h1>", None).await;
    put(&s3, "docs/index.html", "<h1>docs</h1>", None).await;
    put(&s3, "404.html", "<h1>not here</h1>", None).await;
    put(&s3, "style.css", "body{}", None).await;
    put(&s3, "old.html", "", Some("/new.html")).await;

    // A configuration S3 would refuse is refused.
    let bad = s3
        .put_bucket_website()
        .bucket("site")
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(IndexDocument::builder().suffix("a/b").build().unwrap())
                .build(),
        )
        .send()
        .await;
    assert_eq!(
        bad.map_err(|e| code(&e)).err(),
        Some("InvalidArgument".into())
    );
    let missing = s3.get_bucket_website().bucket("site").send().await;
    assert_eq!(
        missing.map_err(|e| code(&e)).err(),
        Some("NoSuchWebsiteConfiguration".into())
    );

    let config = WebsiteConfiguration::builder()
        .index_document(
            IndexDocument::builder()
                .suffix("index.html")
                .build()
                .unwrap(),
        )
        .error_document(ErrorDocument::builder().key("404.html").build().unwrap())
        .routing_rules(
            RoutingRule::builder()
                .condition(Condition::builder().key_prefix_equals("blog/").build())
                .redirect(Redirect::builder().replace_key_prefix_with("news/").build())
                .build(),
        )
        .build();
    s3.put_bucket_website()
        .bucket("site")
        .website_configuration(config)
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_website().bucket("site").send().await.unwrap();
    assert_eq!(got.index_document().unwrap().suffix(), "index.html");
    assert_eq!(got.error_document().unwrap().key(), "404.html");
    assert_eq!(
        got.routing_rules()[0]
            .redirect()
            .unwrap()
            .replace_key_prefix_with(),
        Some("news/")
    );

    let edge = TestEdge::spawn(
        &origin,
        &[
            "--sites",
            "www.example.test=site,app.example.test=site",
            "--spa-sites",
            "app.example.test",
        ],
    );
    let www = "www.example.test";
    let home = visit(&edge, www, "/").await;
    assert_eq!((home.status, home.body.as_str()), (200, "<h1>home</h1>"));
    let docs = visit(&edge, www, "/docs/").await;
    assert_eq!((docs.status, docs.body.as_str()), (200, "<h1>docs</h1>"));
    let folder = visit(&edge, www, "/docs").await;
    assert_eq!(
        (folder.status, folder.location.as_deref()),
        (302, Some("/docs/"))
    );
    let lost = visit(&edge, www, "/missing.html").await;
    assert_eq!(
        (lost.status, lost.body.as_str()),
        (404, "<h1>not here</h1>")
    );
    let moved = visit(&edge, www, "/old.html").await;
    assert_eq!(
        (moved.status, moved.location.as_deref()),
        (301, Some("http://www.example.test/new.html"))
    );
    let blog = visit(&edge, www, "/blog/first-post").await;
    assert_eq!(
        (blog.status, blog.location.as_deref()),
        (301, Some("http://www.example.test/news/first-post"))
    );
    visit(&edge, www, "/style.css").await;
    let again = visit(&edge, www, "/style.css").await;
    assert_eq!(
        again.xcache.as_deref(),
        Some("HIT"),
        "site assets are cached"
    );

    // A single-page app gets its index for any path it routes itself.
    let route = visit(&edge, "app.example.test", "/users/42").await;
    assert_eq!((route.status, route.body.as_str()), (200, "<h1>home</h1>"));
    // Other hosts are the plain object API, as before.
    let plain = visit(&edge, &edge.addr, "/site/docs/index.html").await;
    assert_eq!(plain.status, 200);

    // Without its configuration the bucket is no longer a site, as soon
    // as the change reaches the edge.
    s3.delete_bucket_website()
        .bucket("site")
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = visit(&edge, www, "/").await;
        if page.status == 404 && page.body.contains("NoSuchWebsiteConfiguration") {
            break;
        }
        assert!(Instant::now() < deadline, "still served: {}", page.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn private_objects_are_not_served_by_a_site_and_redirect_all_applies() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("private-site")
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("private-site")
        .key("index.html")
        .body(ByteStream::from_static(b"secret"))
        .send()
        .await
        .unwrap();
    s3.put_bucket_website()
        .bucket("private-site")
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(
                    IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.create_bucket()
        .bucket("old.example.test")
        .send()
        .await
        .unwrap();
    s3.put_bucket_website()
        .bucket("old.example.test")
        .website_configuration(
            WebsiteConfiguration::builder()
                .redirect_all_requests_to(
                    aws_sdk_s3::types::RedirectAllRequestsTo::builder()
                        .host_name("new.example.test")
                        .protocol(aws_sdk_s3::types::Protocol::Https)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let edge = TestEdge::spawn(
        &origin,
        &["--sites", "p.example.test=private-site", "--site-by-host"],
    );
    let private = visit(&edge, "p.example.test", "/").await;
    assert_eq!(private.status, 403);
    assert!(!private.body.contains("secret"));
    // A host that is a bucket's own name is its site (--site-by-host).
    let old = visit(&edge, "old.example.test", "/a/b.html").await;
    assert_eq!(
        (old.status, old.location.as_deref()),
        (301, Some("https://new.example.test/a/b.html"))
    );
}
