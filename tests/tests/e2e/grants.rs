//! Keys scoped as an operator scopes them with the CLI: bucket grants
//! (`bucket allow` / `deny`), read-only keys and expiring keys, checked
//! with the AWS SDK as the app holding the key would see them.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use cairn_tests::{code, TestOrigin};

type Outcome = Result<(), String>;

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Outcome {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Outcome {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn list(s3: &aws_sdk_s3::Client, bucket: &str) -> Outcome {
    s3.list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn delete(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Outcome {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn version(s3: &aws_sdk_s3::Client, bucket: &str) -> Outcome {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn bucket_names(s3: &aws_sdk_s3::Client) -> Vec<String> {
    s3.list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect()
}

fn denied() -> Outcome {
    Err("AccessDenied".into())
}

#[tokio::test]
async fn a_bucket_grant_admits_what_it_names_and_is_taken_back() {
    let origin = TestOrigin::spawn();
    let root = origin.client();
    root.create_bucket().bucket("team").send().await.unwrap();
    put(&root, "team", "seed").await.unwrap();
    let (ak, sk) = origin.create_key("app");
    let app = origin.client_with(&ak, &sk);

    assert_eq!(get(&app, "team", "seed").await, denied());
    assert_eq!(list(&app, "team").await, denied());
    assert!(bucket_names(&app).await.is_empty());

    let line = origin.cli(&["bucket", "allow", "team", "--key", &ak, "--read"]);
    assert_eq!(line.trim(), format!("team\t{ak}\tread"));
    assert_eq!(get(&app, "team", "seed").await, Ok(()));
    assert_eq!(list(&app, "team").await, Ok(()));
    assert_eq!(bucket_names(&app).await, vec!["team".to_owned()]);
    assert_eq!(put(&app, "team", "new").await, denied());
    assert_eq!(delete(&app, "team", "seed").await, denied());

    origin.cli(&["bucket", "allow", "team", "--key", &ak, "--write"]);
    assert_eq!(put(&app, "team", "new").await, Ok(()));
    assert_eq!(delete(&app, "team", "new").await, Ok(()));
    // Writing objects is not managing the bucket.
    assert_eq!(version(&app, "team").await, denied());
    assert_eq!(
        app.delete_bucket()
            .bucket("team")
            .send()
            .await
            .map_err(|e| code(&e))
            .err(),
        Some("AccessDenied".to_owned())
    );

    origin.cli(&["bucket", "allow", "team", "--key", &ak, "--owner"]);
    assert_eq!(version(&app, "team").await, Ok(()));
    let info = origin.cli(&["bucket", "info", "team"]);
    assert!(
        info.contains(&format!("grant\t{ak}\tread,write,owner")),
        "{info}"
    );

    // `deny` with no permission named takes everything back.
    let line = origin.cli(&["bucket", "deny", "team", "--key", &ak]);
    assert_eq!(line.trim(), format!("team\t{ak}\tnone"));
    assert_eq!(get(&app, "team", "seed").await, denied());
    assert!(bucket_names(&app).await.is_empty());
    // The creator is untouched by all of it.
    assert_eq!(get(&root, "team", "seed").await, Ok(()));
}

#[tokio::test]
async fn grants_and_policies_naming_a_key_give_the_same_answers() {
    let origin = TestOrigin::spawn();
    let root = origin.client();
    root.create_bucket().bucket("same").send().await.unwrap();
    put(&root, "same", "seed").await.unwrap();
    let (granted_ak, granted_sk) = origin.create_key("granted");
    let (policy_ak, policy_sk) = origin.create_key("by-policy");
    origin.cli(&["bucket", "allow", "same", "--key", &granted_ak, "--read"]);
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{policy_ak}:root"}},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::same","arn:aws:s3:::same/*"]}}]}}"#
    );
    root.put_bucket_policy()
        .bucket("same")
        .policy(doc)
        .send()
        .await
        .unwrap();

    let mut answers = Vec::new();
    for (ak, sk) in [(&granted_ak, &granted_sk), (&policy_ak, &policy_sk)] {
        let s3 = origin.client_with(ak, sk);
        answers.push(vec![
            get(&s3, "same", "seed").await,
            get(&s3, "same", "missing").await,
            list(&s3, "same").await,
            put(&s3, "same", "x").await,
            delete(&s3, "same", "seed").await,
            version(&s3, "same").await,
        ]);
    }
    assert_eq!(
        answers[0],
        vec![
            Ok(()),
            Err("NoSuchKey".into()),
            Ok(()),
            denied(),
            denied(),
            denied()
        ]
    );
    assert_eq!(answers[0], answers[1]);

    // A policy's Deny wins over a grant, as over an ACL.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::same/seed"}]}"#;
    root.put_bucket_policy()
        .bucket("same")
        .policy(deny)
        .send()
        .await
        .unwrap();
    let granted = origin.client_with(&granted_ak, &granted_sk);
    assert_eq!(get(&granted, "same", "seed").await, denied());
}

#[tokio::test]
async fn a_read_only_key_reads_what_it_may_and_writes_nothing() {
    let origin = TestOrigin::spawn();
    let root = origin.client();
    root.create_bucket().bucket("docs").send().await.unwrap();
    put(&root, "docs", "page").await.unwrap();
    let (ak, sk) = origin.create_key_with("reader", &["--read-only"]);
    // Even a write grant does not let a read-only key write.
    origin.cli(&["bucket", "allow", "docs", "--key", &ak, "--read", "--write"]);
    let reader = origin.client_with(&ak, &sk);

    assert_eq!(get(&reader, "docs", "page").await, Ok(()));
    assert_eq!(list(&reader, "docs").await, Ok(()));
    assert_eq!(put(&reader, "docs", "page").await, denied());
    assert_eq!(delete(&reader, "docs", "page").await, denied());
    let create = reader.create_bucket().bucket("mine").send().await;
    assert_eq!(
        create.map_err(|e| code(&e)).err(),
        Some("AccessDenied".into())
    );
    assert_eq!(
        bucket_names(&root).await,
        vec!["docs".to_owned()],
        "the refused create made no bucket"
    );
    assert_eq!(
        get(&root, "docs", "page").await,
        Ok(()),
        "nothing was deleted"
    );
    let keys = origin.cli(&["key", "list"]);
    let line = keys.lines().find(|l| l.starts_with(&ak)).unwrap();
    assert!(line.contains("\treader\tuser\tyes\tnever"), "{line}");
}

#[tokio::test]
async fn an_expired_key_signs_nothing_until_it_is_renewed() {
    let origin = TestOrigin::spawn();
    let root = origin.client();
    root.create_bucket().bucket("temp").send().await.unwrap();
    let (ak, sk) = origin.create_key_with("contractor", &["--expires-in", "1h"]);
    origin.cli(&["bucket", "allow", "temp", "--key", &ak, "--write"]);
    let app = origin.client_with(&ak, &sk);
    assert_eq!(put(&app, "temp", "a").await, Ok(()));

    origin.cli(&["key", "set", &ak, "--expires-in", "0s"]);
    // The server caches keys for at most 2 s; it must refuse within that.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match put(&app, "temp", "b").await {
            Err(c) if c == "ExpiredToken" => break,
            Ok(()) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("an expired key was not refused in time: {other:?}"),
        }
    }
    // A wrong secret for the expired key learns nothing about expiry.
    let forged = origin.client_with(&ak, "not-the-secret-not-the-secret-not-the-se");
    assert_eq!(
        put(&forged, "temp", "c").await,
        Err("SignatureDoesNotMatch".into())
    );

    origin.cli(&["key", "set", &ak, "--no-expiry"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while put(&app, "temp", "d").await.is_err() {
        assert!(Instant::now() < deadline, "a renewed key stayed refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let keys: Vec<String> = root
        .list_objects_v2()
        .bucket("temp")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    // `b` may have landed before the cache let go of the old key.
    assert!(keys.contains(&"a".to_owned()) && keys.contains(&"d".to_owned()));
    assert!(!keys.contains(&"c".to_owned()), "{keys:?}");
}
