//! Object Lock through the AWS SDK: lock-enabled buckets, default
//! retention, retention and legal holds on versions, and deletes refused
//! while a lock holds (single and batch), with the governance bypass.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, Delete, ObjectIdentifier, ObjectLockConfiguration,
    ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockRetention,
    ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};
use cairn_tests::{code, TestOrigin};

fn years_from_now(years: i64) -> DateTime {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    DateTime::from_secs(now + years * 365 * 86_400)
}

fn retention(mode: ObjectLockRetentionMode, until: DateTime) -> ObjectLockRetention {
    ObjectLockRetention::builder()
        .mode(mode)
        .retain_until_date(until)
        .build()
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap()
}

#[tokio::test]
async fn locked_versions_cannot_be_removed_until_their_lock_ends() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("vault")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let v = s3
        .get_bucket_versioning()
        .bucket("vault")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let err = s3
        .put_bucket_versioning()
        .bucket("vault")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidBucketState");

    // GOVERNANCE: refused without the bypass, allowed with it.
    let gov = put(&s3, "vault", "gov").await;
    s3.put_object_retention()
        .bucket("vault")
        .key("gov")
        .retention(retention(
            ObjectLockRetentionMode::Governance,
            years_from_now(1),
        ))
        .send()
        .await
        .unwrap();
    let head = s3
        .head_object()
        .bucket("vault")
        .key("gov")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("GOVERNANCE")
    );
    let err = s3
        .delete_object()
        .bucket("vault")
        .key("gov")
        .version_id(&gov)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // Shortening needs the bypass too.
    let err = s3
        .put_object_retention()
        .bucket("vault")
        .key("gov")
        .retention(retention(
            ObjectLockRetentionMode::Governance,
            years_from_now(0),
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // A delete without a version id only adds a marker.
    let marker = s3
        .delete_object()
        .bucket("vault")
        .key("gov")
        .send()
        .await
        .unwrap();
    assert_eq!(marker.delete_marker(), Some(true));
    s3.delete_object()
        .bucket("vault")
        .key("gov")
        .version_id(&gov)
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap();

    // COMPLIANCE and legal holds: no bypass.
    let comp = put(&s3, "vault", "comp").await;
    s3.put_object_retention()
        .bucket("vault")
        .key("comp")
        .retention(retention(
            ObjectLockRetentionMode::Compliance,
            years_from_now(1),
        ))
        .send()
        .await
        .unwrap();
    let held = put(&s3, "vault", "held").await;
    s3.put_object_legal_hold()
        .bucket("vault")
        .key("held")
        .legal_hold(
            ObjectLockLegalHold::builder()
                .status(ObjectLockLegalHoldStatus::On)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let free = put(&s3, "vault", "free").await;
    let ids = [("comp", &comp), ("held", &held), ("free", &free)];
    let mut batch = Delete::builder();
    for (k, v) in ids {
        batch = batch.objects(
            ObjectIdentifier::builder()
                .key(k)
                .version_id(v)
                .build()
                .unwrap(),
        );
    }
    let out = s3
        .delete_objects()
        .bucket("vault")
        .bypass_governance_retention(true)
        .delete(batch.build().unwrap())
        .send()
        .await
        .unwrap();
    let refused: Vec<_> = out
        .errors()
        .iter()
        .map(|e| (e.key().unwrap(), e.code().unwrap()))
        .collect();
    assert_eq!(
        refused,
        [("comp", "AccessDenied"), ("held", "AccessDenied")]
    );
    assert_eq!(out.deleted().len(), 1);
    assert_eq!(out.deleted()[0].key(), Some("free"));
    for (k, v) in [("comp", &comp), ("held", &held)] {
        let got = s3
            .get_object()
            .bucket("vault")
            .key(k)
            .version_id(v)
            .send()
            .await;
        assert!(got.is_ok(), "{k} is still there");
    }
    let err = s3.delete_bucket().bucket("vault").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty");
}

#[tokio::test]
async fn a_default_retention_applies_to_new_versions() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("plain").send().await.unwrap();
    let conf = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(
                    DefaultRetention::builder()
                        .mode(ObjectLockRetentionMode::Governance)
                        .days(1)
                        .build(),
                )
                .build(),
        )
        .build();
    // Not on an unversioned bucket...
    let err = s3
        .put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(conf.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidBucketState");
    let err = s3
        .get_object_lock_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ObjectLockConfigurationNotFoundError");
    // ...and lock headers on a bucket without a lock are refused.
    let err = s3
        .put_object()
        .bucket("plain")
        .key("k")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");

    s3.put_bucket_versioning()
        .bucket("plain")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(conf.clone())
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object_lock_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(got.object_lock_configuration(), Some(&conf));
    let v = put(&s3, "plain", "k").await;
    let r = s3
        .get_object_retention()
        .bucket("plain")
        .key("k")
        .send()
        .await
        .unwrap();
    let r = r.retention().unwrap();
    assert_eq!(r.mode(), Some(&ObjectLockRetentionMode::Governance));
    let err = s3
        .delete_object()
        .bucket("plain")
        .key("k")
        .version_id(&v)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
}
