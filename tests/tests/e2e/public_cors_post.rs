//! Public reads (canned ACL and bucket policy), CORS, and POST Object.

use std::time::SystemTime;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketCannedAcl, CorsConfiguration, CorsRule};
use base64::Engine;
use cairn_tests::{code, TestOrigin, ROOT_AK, ROOT_SK};

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &'static [u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap();
}

async fn anon(method: reqwest::Method, url: String) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn canned_public_read_acl() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("site")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&s3, "site", "index.html", b"<h1>public</h1>").await;
    let url = |k: &str| format!("{}/site/{k}", origin.url);
    assert_eq!(
        anon(reqwest::Method::GET, url("index.html")).await,
        (200, b"<h1>public</h1>".to_vec())
    );
    assert_eq!(anon(reqwest::Method::HEAD, url("index.html")).await.0, 200);
    assert_eq!(anon(reqwest::Method::GET, url("missing")).await.0, 404);
    assert_eq!(
        anon(reqwest::Method::PUT, url("new")).await.0,
        403,
        "anonymous writes stay denied"
    );
    assert_eq!(
        anon(reqwest::Method::DELETE, url("index.html")).await.0,
        403
    );
    // As in S3, public-read on a bucket grants READ, which lists it; a
    // bucket policy for s3:GetObject publishes objects without listing.
    let (st, listing) = anon(reqwest::Method::GET, format!("{}/site", origin.url)).await;
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&listing).contains("<Key>index.html</Key>"));

    let acl = s3.get_bucket_acl().bucket("site").send().await.unwrap();
    assert!(acl
        .grants()
        .iter()
        .any(|g| g.grantee().and_then(|g| g.uri())
            == Some("http://acs.amazonaws.com/groups/global/AllUsers")
            && g.permission().map(|p| p.as_str()) == Some("READ")));
    s3.put_bucket_acl()
        .bucket("site")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anon(reqwest::Method::GET, url("index.html")).await.0, 403);
    // public-read-write lets keys write, never anonymous callers.
    s3.put_bucket_acl()
        .bucket("site")
        .acl(BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap();
    assert_eq!(anon(reqwest::Method::PUT, url("defaced.html")).await.0, 403);
    assert_eq!(
        anon(reqwest::Method::DELETE, url("index.html")).await.0,
        403
    );
    assert_eq!(anon(reqwest::Method::GET, url("index.html")).await.0, 200);
}

#[tokio::test]
async fn bucket_policy_for_anonymous_get() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("assets").send().await.unwrap();
    put(&s3, "assets", "public/app.js", b"js").await;
    put(&s3, "assets", "private/secret", b"s").await;
    let url = |k: &str| format!("{}/assets/{k}", origin.url);
    assert_eq!(
        anon(reqwest::Method::GET, url("public/app.js")).await.0,
        403
    );

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::assets/public/*"}]}"#;
    s3.put_bucket_policy()
        .bucket("assets")
        .policy(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anon(reqwest::Method::GET, url("public/app.js")).await,
        (200, b"js".to_vec())
    );
    assert_eq!(
        anon(reqwest::Method::GET, url("private/secret")).await.0,
        403
    );
    assert_eq!(
        anon(reqwest::Method::GET, format!("{}/assets", origin.url))
            .await
            .0,
        403,
        "a GetObject policy does not list the bucket"
    );
    assert_eq!(
        s3.get_bucket_policy()
            .bucket("assets")
            .send()
            .await
            .unwrap()
            .policy(),
        Some(policy)
    );
    let status = s3
        .get_bucket_policy_status()
        .bucket("assets")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.policy_status().and_then(|s| s.is_public()),
        Some(true)
    );

    let elsewhere = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#;
    let err = s3
        .put_bucket_policy()
        .bucket("assets")
        .policy(elsewhere)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedPolicy");
    assert_eq!(
        anon(reqwest::Method::GET, url("private/secret")).await.0,
        403,
        "a refused policy changes nothing"
    );
    assert_eq!(
        anon(reqwest::Method::GET, url("public/app.js")).await.0,
        200
    );

    s3.delete_bucket_policy()
        .bucket("assets")
        .send()
        .await
        .unwrap();
    assert_eq!(
        anon(reqwest::Method::GET, url("public/app.js")).await.0,
        403
    );
    let err = s3
        .get_bucket_policy()
        .bucket("assets")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucketPolicy");
}

#[tokio::test]
async fn cors_rules_preflight_and_actual_responses() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("web")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&s3, "web", "a.txt", b"a").await;
    let http = reqwest::Client::new();
    let preflight = |from: &str, method: &str, headers: &str| {
        let mut req = http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/web/a.txt", origin.url),
            )
            .header("origin", from)
            .header("access-control-request-method", method);
        if !headers.is_empty() {
            req = req.header("access-control-request-headers", headers);
        }
        req.send()
    };
    assert_eq!(
        preflight("http://app.example", "GET", "")
            .await
            .unwrap()
            .status(),
        403,
        "no rules, no CORS"
    );

    let rules = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("http://app.example")
                .allowed_methods("GET")
                .allowed_methods("PUT")
                .allowed_headers("content-type")
                .allowed_headers("x-amz-*")
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        )
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("http://*.other.test")
                .allowed_methods("GET")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_cors()
        .bucket("web")
        .cors_configuration(rules)
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_cors().bucket("web").send().await.unwrap();
    assert_eq!(got.cors_rules().len(), 2);
    assert_eq!(got.cors_rules()[0].max_age_seconds(), Some(600));

    let ok = preflight("http://app.example", "PUT", "Content-Type, X-Amz-Date")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://app.example"
    );
    assert_eq!(ok.headers()["access-control-allow-methods"], "GET, PUT");
    assert_eq!(ok.headers()["access-control-max-age"], "600");
    assert_eq!(
        preflight("http://app.example", "PUT", "x-custom")
            .await
            .unwrap()
            .status(),
        403,
        "header not allowed"
    );
    assert_eq!(
        preflight("http://app.example", "DELETE", "")
            .await
            .unwrap()
            .status(),
        403,
        "method not allowed"
    );
    assert_eq!(
        preflight("http://evil.test", "GET", "")
            .await
            .unwrap()
            .status(),
        403,
        "origin not allowed"
    );
    assert_eq!(
        preflight("http://cdn.other.test", "GET", "")
            .await
            .unwrap()
            .status(),
        200,
        "wildcard origin"
    );
    assert_eq!(
        preflight("http://cdn.other.test", "PUT", "")
            .await
            .unwrap()
            .status(),
        403
    );

    let actual = http
        .get(format!("{}/web/a.txt", origin.url))
        .header("origin", "http://cdn.other.test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        actual.headers()["access-control-allow-origin"],
        "http://cdn.other.test"
    );
    let actual = http
        .get(format!("{}/web/a.txt", origin.url))
        .header("origin", "http://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(actual.headers()["access-control-expose-headers"], "ETag");
    let plain = http
        .get(format!("{}/web/a.txt", origin.url))
        .send()
        .await
        .unwrap();
    assert!(!plain.headers().contains_key("access-control-allow-origin"));
    let foreign = http
        .get(format!("{}/web/a.txt", origin.url))
        .header("origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert!(!foreign
        .headers()
        .contains_key("access-control-allow-origin"));

    let bad = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("PATCH")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert!(s3
        .put_bucket_cors()
        .bucket("web")
        .cors_configuration(bad)
        .send()
        .await
        .is_err());
    assert_eq!(
        preflight("http://app.example", "GET", "")
            .await
            .unwrap()
            .status(),
        200,
        "bad config changed nothing"
    );
    s3.delete_bucket_cors().bucket("web").send().await.unwrap();
    assert_eq!(
        preflight("http://app.example", "GET", "")
            .await
            .unwrap()
            .status(),
        403
    );
    let err = s3.get_bucket_cors().bucket("web").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchCORSConfiguration");
}

/// A SigV4-signed POST policy and the form fields that go with it.
fn post_form(conditions: serde_json::Value, expires_in: i64) -> Vec<(String, String)> {
    let now = SystemTime::now();
    let date = aws_smithy_types::DateTime::from(now)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    let amz_date = date
        .replace(['-', ':'], "")
        .split('.')
        .next()
        .unwrap()
        .trim_end_matches('Z')
        .to_owned()
        + "Z";
    let day = &amz_date[..8];
    let credential = format!("{ROOT_AK}/{day}/us-east-1/s3/aws4_request");
    let expiration = aws_smithy_types::DateTime::from_secs(
        now.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + expires_in,
    )
    .fmt(aws_smithy_types::date_time::Format::DateTime)
    .unwrap();
    let mut conds = conditions.as_array().unwrap().clone();
    conds.push(serde_json::json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}));
    conds.push(serde_json::json!({"x-amz-credential": credential}));
    conds.push(serde_json::json!({"x-amz-date": amz_date}));
    let policy = serde_json::json!({"expiration": expiration, "conditions": conds});
    let b64 = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let key = aws_sigv4::sign::v4::generate_signing_key(ROOT_SK, now, "us-east-1", "s3");
    let sig = aws_sigv4::sign::v4::calculate_signature(key, b64.as_bytes());
    vec![
        ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("x-amz-credential".into(), credential),
        ("x-amz-date".into(), amz_date),
        ("policy".into(), b64),
        ("x-amz-signature".into(), sig),
    ]
}

async fn post(
    origin: &TestOrigin,
    fields: &[(String, String)],
    file: Vec<u8>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(file)
            .file_name("photo.png")
            .mime_str("image/png")
            .unwrap(),
    );
    reqwest::Client::new()
        .post(format!("{}/forms", origin.url))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn post_object_with_a_signed_policy() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("forms").send().await.unwrap();
    let conditions = serde_json::json!([
        {"bucket": "forms"},
        ["starts-with", "$key", "uploads/"],
        ["content-length-range", 1, 1000],
        ["starts-with", "$Content-Type", "image/"],
        {"success_action_status": "201"},
    ]);
    let signed = post_form(conditions.clone(), 300);
    let with = |extra: &[(&str, &str)]| {
        let mut f: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f.extend(signed.clone());
        f
    };
    let resp = post(
        &origin,
        &with(&[
            ("key", "uploads/${filename}"),
            ("Content-Type", "image/png"),
            ("success_action_status", "201"),
        ]),
        b"png bytes".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let body = resp.text().await.unwrap();
    assert!(body.contains("<Key>uploads/photo.png</Key>"), "{body}");
    let got = s3
        .get_object()
        .bucket("forms")
        .key("uploads/photo.png")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("image/png"));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"png bytes"
    );

    let denied =
        |r: reqwest::Response| async move { (r.status().as_u16(), r.text().await.unwrap()) };
    let (status, body) = denied(
        post(
            &origin,
            &with(&[
                ("key", "elsewhere/x"),
                ("Content-Type", "image/png"),
                ("success_action_status", "201"),
            ]),
            b"x".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "key outside the allowed prefix: {body}");
    let (status, body) = denied(
        post(
            &origin,
            &with(&[
                ("key", "uploads/big"),
                ("Content-Type", "image/png"),
                ("success_action_status", "201"),
            ]),
            vec![0; 2000],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body.contains("EntityTooLarge")),
        (400, true),
        "{body}"
    );
    let (status, _) = denied(
        post(
            &origin,
            &with(&[
                ("key", "uploads/t"),
                ("Content-Type", "text/html"),
                ("success_action_status", "201"),
            ]),
            b"x".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "content type outside the policy");
    let (status, body) = denied(
        post(
            &origin,
            &with(&[
                ("key", "uploads/e"),
                ("Content-Type", "image/png"),
                ("success_action_status", "201"),
                ("x-amz-meta-sneaky", "1"),
            ]),
            b"x".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "a field the policy does not cover: {body}");
    let mut tampered = with(&[
        ("key", "uploads/s"),
        ("Content-Type", "image/png"),
        ("success_action_status", "201"),
    ]);
    tampered
        .iter_mut()
        .find(|(k, _)| k == "x-amz-signature")
        .unwrap()
        .1 = "0".repeat(64);
    let (status, _) = denied(post(&origin, &tampered, b"x".to_vec()).await).await;
    assert_eq!(status, 403);
    let expired = post_form(conditions, -10);
    let mut f: Vec<(String, String)> = vec![
        ("key".into(), "uploads/old".into()),
        ("Content-Type".into(), "image/png".into()),
        ("success_action_status".into(), "201".into()),
    ];
    f.extend(expired);
    let (status, body) = denied(post(&origin, &f, b"x".to_vec()).await).await;
    assert_eq!(status, 403, "{body}");
    for k in [
        "elsewhere/x",
        "uploads/big",
        "uploads/t",
        "uploads/e",
        "uploads/s",
        "uploads/old",
    ] {
        assert!(
            s3.head_object()
                .bucket("forms")
                .key(k)
                .send()
                .await
                .is_err(),
            "{k} must not exist"
        );
    }

    // A redirect after success, as browsers use it.
    let redirect = post_form(
        serde_json::json!([{"bucket": "forms"}, ["starts-with", "$key", ""], {"success_action_redirect": "http://app.example/done"}]),
        300,
    );
    let mut f: Vec<(String, String)> = vec![
        ("key".into(), "r.png".into()),
        (
            "success_action_redirect".into(),
            "http://app.example/done".into(),
        ),
    ];
    f.extend(redirect);
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in &f {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(b"r".to_vec()).file_name("r.png"),
    );
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/forms", origin.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://app.example/done?bucket=forms&key=r.png&etag="),
        "{location}"
    );
}
