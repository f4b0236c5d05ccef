//! Bucket policies in general form with the AWS SDK: Allow and Deny,
//! principals naming other keys, conditions, and the rules Cairn keeps
//! around them (anonymous callers only read, and only through an Allow
//! without conditions; the owner can always change the policy).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ServerSideEncryption, Tag, Tagging};
use cairn_tests::{code, TestEdge, TestOrigin};

fn policy(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

#[tokio::test]
async fn a_policy_grants_another_key_what_it_names_and_nothing_more() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("shared").send().await.unwrap();
    put(&s3, "shared", "seed").await.unwrap();
    let (ak, sk) = origin.create_key("app");
    let app = origin.client_with(&ak, &sk);
    assert_eq!(put(&app, "shared", "x").await, Err("AccessDenied".into()));

    let doc = policy(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ak}:root"}},"Action":["s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/uploads/*"]}}"#
    ));
    s3.put_bucket_policy()
        .bucket("shared")
        .policy(doc)
        .send()
        .await
        .unwrap();
    put(&app, "shared", "uploads/a").await.unwrap();
    assert_eq!(
        put(&app, "shared", "elsewhere").await,
        Err("AccessDenied".into()),
        "outside the resource"
    );
    let listed = app.list_objects_v2().bucket("shared").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(2));
    let err = app
        .delete_object()
        .bucket("shared")
        .key("uploads/a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied", "DeleteObject was not granted");
    let err = app
        .get_object()
        .bucket("shared")
        .key("seed")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        "AccessDenied",
        "nor GetObject of others' objects"
    );
    // What it wrote it owns (ObjectWriter, with no ownership controls).
    app.get_object()
        .bucket("shared")
        .key("uploads/a")
        .send()
        .await
        .unwrap();
    // Missing keys: who may list them learns 404, others 403.
    let head = |c: aws_sdk_s3::Client, k: &'static str| async move {
        c.head_object()
            .bucket("shared")
            .key(k)
            .send()
            .await
            .unwrap_err()
            .raw_response()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(head(app.clone(), "nothing-here").await, 404);
    let (ak2, sk2) = origin.create_key("stranger");
    assert_eq!(
        head(origin.client_with(&ak2, &sk2), "nothing-here").await,
        403
    );
}

#[tokio::test]
async fn anonymous_callers_only_read_and_never_through_a_condition() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("site").send().await.unwrap();
    put(&s3, "site", "page.html").await.unwrap();
    let doc = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::site","arn:aws:s3:::site/*"]},
           {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/refer/*","Condition":{"StringLike":{"aws:Referer":"https://example.com/*"}}}"#,
    );
    s3.put_bucket_policy()
        .bucket("site")
        .policy(doc)
        .send()
        .await
        .unwrap();
    let url = |k: &str| format!("{}/site/{k}", origin.url);
    let anon = reqwest::Client::new();
    assert_eq!(
        anon.get(url("page.html")).send().await.unwrap().status(),
        200
    );
    let written = anon
        .put(url("new.html"))
        .body("anonymous write")
        .send()
        .await
        .unwrap();
    assert_eq!(
        written.status(),
        403,
        "s3:* to * never lets anyone write unsigned"
    );
    let del = anon.delete(url("page.html")).send().await.unwrap();
    assert_eq!(del.status(), 403);

    // A conditional Allow would let an edge cache for everyone what one
    // request's Referer earned: it grants signed callers only.
    s3.delete_bucket_policy()
        .bucket("site")
        .send()
        .await
        .unwrap();
    put(&s3, "site", "refer/x").await.unwrap();
    let doc = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/refer/*","Condition":{"StringLike":{"aws:Referer":"https://example.com/*"}}}"#,
    );
    s3.put_bucket_policy()
        .bucket("site")
        .policy(doc)
        .send()
        .await
        .unwrap();
    let r = anon
        .get(url("refer/x"))
        .header("referer", "https://example.com/page")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let edge = TestEdge::spawn(&origin, &[]);
    let r = reqwest::Client::new()
        .get(format!("{}/site/refer/x", edge.url))
        .header("referer", "https://example.com/page")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn deny_statements_bind_the_owner_but_never_lock_the_policy() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("strict").send().await.unwrap();
    let doc = policy(
        r#"{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::strict/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
           {"Effect":"Deny","Principal":"*","Action":["s3:GetBucketPolicy","s3:DeleteBucketPolicy","s3:PutBucketPolicy"],"Resource":"arn:aws:s3:::strict"}"#,
    );
    s3.put_bucket_policy()
        .bucket("strict")
        .policy(doc)
        .send()
        .await
        .unwrap();
    assert_eq!(
        put(&s3, "strict", "plain").await,
        Err("AccessDenied".into())
    );
    s3.put_object()
        .bucket("strict")
        .key("sealed")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap();
    s3.get_bucket_policy()
        .bucket("strict")
        .send()
        .await
        .unwrap();
    s3.delete_bucket_policy()
        .bucket("strict")
        .send()
        .await
        .unwrap();
    put(&s3, "strict", "plain").await.unwrap();
}

#[tokio::test]
async fn a_condition_on_an_objects_tags_decides_per_object() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("tagged").send().await.unwrap();
    for (key, value) in [("open", "public"), ("closed", "private")] {
        put(&s3, "tagged", key).await.unwrap();
        s3.put_object_tagging()
            .bucket("tagged")
            .key(key)
            .tagging(
                Tagging::builder()
                    .tag_set(Tag::builder().key("security").value(value).build().unwrap())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let doc = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject","s3:GetObjectTagging"],"Resource":"arn:aws:s3:::tagged/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/security":"public"}}}"#,
    );
    s3.put_bucket_policy()
        .bucket("tagged")
        .policy(doc)
        .send()
        .await
        .unwrap();
    let (ak, sk) = origin.create_key("reader");
    let reader = origin.client_with(&ak, &sk);
    reader
        .get_object()
        .bucket("tagged")
        .key("open")
        .send()
        .await
        .unwrap();
    reader
        .get_object_tagging()
        .bucket("tagged")
        .key("open")
        .send()
        .await
        .unwrap();
    let err = reader
        .get_object()
        .bucket("tagged")
        .key("closed")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // Not for anonymous callers: the Allow has a condition.
    let r = reqwest::get(format!("{}/tagged/open", origin.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn malformed_policies_are_refused_whole() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("checked").send().await.unwrap();
    for bad in [
        r#"{"Statement":[]}"#,
        r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::checked/*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::checked/*","Condition":{"Perhaps":{"a":"b"}}}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::checked/*"}]}"#,
    ] {
        let err = s3
            .put_bucket_policy()
            .bucket("checked")
            .policy(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "MalformedPolicy", "{bad}");
    }
    let err = s3
        .get_bucket_policy()
        .bucket("checked")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucketPolicy");
}
