//! Lifecycle rules through the AWS SDK, with a lifecycle "day" of two
//! seconds (`--lifecycle-day 2s`, what ceph/s3-tests calls
//! `lc_debug_interval`): configuration checked whole and answered back,
//! `x-amz-expiration`, and the worker expiring current versions (a delete
//! marker in a versioned bucket), noncurrent versions, lone delete markers
//! and old multipart uploads, while a locked version stays.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use cairn_tests::{code, TestOrigin};

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"data"))
        .send()
        .await
        .unwrap()
}

/// Waits (at most 30 s) until `done` holds.
async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn configurations_are_checked_and_answered_back() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("rules").send().await.unwrap();
    let err = s3
        .get_bucket_lifecycle_configuration()
        .bucket("rules")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchLifecycleConfiguration");
    let conf = BucketLifecycleConfiguration::builder()
        .rules(
            rule("logs", "logs/")
                .expiration(LifecycleExpiration::builder().days(30).build())
                .build()
                .unwrap(),
        )
        .rules(
            rule("uploads", "")
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(2)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket("rules")
        .lifecycle_configuration(conf.clone())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket("rules")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), conf.rules());

    // Refused whole: a zero-day expiration, a duplicate id.
    for bad in [
        vec![rule("z", "a/")
            .expiration(LifecycleExpiration::builder().days(0).build())
            .build()
            .unwrap()],
        vec![
            rule("same", "a/")
                .expiration(LifecycleExpiration::builder().days(1).build())
                .build()
                .unwrap(),
            rule("same", "b/")
                .expiration(LifecycleExpiration::builder().days(2).build())
                .build()
                .unwrap(),
        ],
    ] {
        let err = s3
            .put_bucket_lifecycle_configuration()
            .bucket("rules")
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(bad))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidArgument");
    }
    let still = s3
        .get_bucket_lifecycle_configuration()
        .bucket("rules")
        .send()
        .await
        .unwrap();
    assert_eq!(
        still.rules(),
        conf.rules(),
        "a refused document changes nothing"
    );

    // With real days, a covered object says when it expires.
    let put_logs = put(&s3, "rules", "logs/a").await;
    let header = put_logs.expiration().expect("x-amz-expiration");
    assert!(header.contains("rule-id=\"logs\""), "{header}");
    let head = s3
        .head_object()
        .bucket("rules")
        .key("logs/a")
        .send()
        .await
        .unwrap();
    assert!(head.expiration().is_some());
    let other = put(&s3, "rules", "other").await;
    assert_eq!(other.expiration(), None);

    s3.delete_bucket_lifecycle()
        .bucket("rules")
        .send()
        .await
        .unwrap();
    let err = s3
        .get_bucket_lifecycle_configuration()
        .bucket("rules")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchLifecycleConfiguration");
}

#[tokio::test]
async fn the_worker_expires_what_the_rules_say_and_nothing_locked() {
    let origin = TestOrigin::spawn_with(&["--lifecycle-day", "2s"]);
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("aging")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let gone_v = put(&s3, "aging", "tmp/gone").await.version_id.unwrap();
    put(&s3, "aging", "keep/me").await;
    // A noncurrent version under a legal hold must survive.
    let held_v = put(&s3, "aging", "tmp/held").await.version_id.unwrap();
    s3.put_object_legal_hold()
        .bucket("aging")
        .key("tmp/held")
        .legal_hold(
            aws_sdk_s3::types::ObjectLockLegalHold::builder()
                .status(aws_sdk_s3::types::ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap();
    put(&s3, "aging", "tmp/held").await;
    s3.create_multipart_upload()
        .bucket("aging")
        .key("tmp/upload")
        .send()
        .await
        .unwrap();
    let conf = BucketLifecycleConfiguration::builder()
        .rules(
            rule("tmp", "tmp/")
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(1)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .rules(
            rule("expire", "tmp/gone")
                .expiration(LifecycleExpiration::builder().days(1).build())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket("aging")
        .lifecycle_configuration(conf)
        .send()
        .await
        .unwrap();

    // The expired current version becomes a delete marker, then its
    // version (noncurrent for a day) goes, then the lone marker.
    until("tmp/gone expires to nothing", || async {
        let l = s3
            .list_object_versions()
            .bucket("aging")
            .prefix("tmp/gone")
            .send()
            .await
            .unwrap();
        l.versions().is_empty() && l.delete_markers().is_empty()
    })
    .await;
    let err = s3
        .get_object()
        .bucket("aging")
        .key("tmp/gone")
        .version_id(&gone_v)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchVersion");
    until("the upload is aborted", || async {
        let l = s3
            .list_multipart_uploads()
            .bucket("aging")
            .send()
            .await
            .unwrap();
        l.uploads().is_empty()
    })
    .await;
    // The held version is past its noncurrent day too, and stays.
    let listed = s3
        .list_object_versions()
        .bucket("aging")
        .prefix("tmp/held")
        .send()
        .await
        .unwrap();
    assert!(listed
        .versions()
        .iter()
        .any(|v| v.version_id() == Some(held_v.as_str())));
    s3.head_object()
        .bucket("aging")
        .key("keep/me")
        .send()
        .await
        .unwrap();
}
