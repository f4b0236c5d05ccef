//! Bucket operations through the AWS SDK for Rust.

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{code, TestOrigin};

#[tokio::test]
async fn create_head_list_locate_and_delete() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("photos").send().await.unwrap();
    s3.head_bucket().bucket("photos").send().await.unwrap();
    let list = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = list.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["photos"]);
    let owner = list.owner().unwrap();
    assert_eq!(owner.display_name(), Some("root"));
    assert!(owner.id().is_some_and(|id| id.len() == 64));

    let loc = s3
        .get_bucket_location()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    assert!(loc
        .location_constraint()
        .is_none_or(|c| c.as_str().is_empty()));
    let v = s3
        .get_bucket_versioning()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    assert!(v.status().is_none(), "versioning was never enabled");

    s3.delete_bucket().bucket("photos").send().await.unwrap();
    let err = s3.head_bucket().bucket("photos").send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn naming_rules_and_conflicts() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    for bad in [
        "ab",
        "Upper",
        "bad_underscore",
        "192.168.0.1",
        "-dash",
        "a..b",
    ] {
        let err = s3.create_bucket().bucket(bad).send().await.unwrap_err();
        assert_eq!(code(&err), "InvalidBucketName", "{bad}");
    }
    s3.create_bucket().bucket("taken").send().await.unwrap();
    s3.put_object()
        .bucket("taken")
        .key("kept")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    // us-east-1 answers the owner's repeat with success and changes
    // nothing, as S3 does there; other regions say BucketAlreadyOwnedByYou.
    s3.create_bucket().bucket("taken").send().await.unwrap();
    s3.head_object()
        .bucket("taken")
        .key("kept")
        .send()
        .await
        .unwrap();
    let elsewhere = TestOrigin::spawn_with(&["--region", "eu-west-1"]);
    let eu = elsewhere.client();
    let eu_conf = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    eu.create_bucket()
        .bucket("taken")
        .create_bucket_configuration(eu_conf.clone())
        .send()
        .await
        .unwrap();
    let err = eu
        .create_bucket()
        .bucket("taken")
        .create_bucket_configuration(eu_conf)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BucketAlreadyOwnedByYou");

    let (ak, sk) = origin.create_key("alice");
    let alice = origin.client_with(&ak, &sk);
    let err = alice
        .create_bucket()
        .bucket("taken")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BucketAlreadyExists");
}

#[tokio::test]
async fn not_empty_buckets_cannot_be_deleted() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("full").send().await.unwrap();
    s3.put_object()
        .bucket("full")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let err = s3.delete_bucket().bucket("full").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty");
    let err = s3
        .delete_bucket()
        .bucket("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test]
async fn another_key_is_denied_on_my_bucket() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mine").send().await.unwrap();
    s3.put_object()
        .bucket("mine")
        .key("secret")
        .body(ByteStream::from_static(b"s"))
        .send()
        .await
        .unwrap();
    let (ak, sk) = origin.create_key("mallory");
    let other = origin.client_with(&ak, &sk);
    let err = other
        .get_object()
        .bucket("mine")
        .key("secret")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let err = other
        .put_object()
        .bucket("mine")
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let err = other
        .list_objects_v2()
        .bucket("mine")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let err = other
        .delete_bucket()
        .bucket("mine")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // The other key's own listing does not show my bucket.
    assert!(other
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .is_empty());
}

#[tokio::test]
async fn virtual_hosted_style_addressing() {
    // `localhost` resolves to 127.0.0.1; bucket.localhost does too (RFC 6761),
    // but to keep resolution out of it we send the Host header by hand.
    let origin = TestOrigin::spawn_with(&["--domain", "s3.cairn.test"]);
    let s3 = origin.client();
    s3.create_bucket().bucket("vhost").send().await.unwrap();
    s3.put_object()
        .bucket("vhost")
        .key("dir/file.txt")
        .body(ByteStream::from_static(b"hello vhost"))
        .send()
        .await
        .unwrap();

    // A presigned URL made for virtual-hosted style, sent with that Host.
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(format!(
            "http://s3.cairn.test:{}",
            origin.addr.rsplit(':').next().unwrap()
        ))
        .credentials_provider(aws_credential_types::Credentials::new(
            cairn_tests::ROOT_AK,
            cairn_tests::ROOT_SK,
            None,
            None,
            "t",
        ))
        .force_path_style(false)
        .build();
    let vs3 = aws_sdk_s3::Client::from_conf(conf);
    let presigned = vs3
        .get_object()
        .bucket("vhost")
        .key("dir/file.txt")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                60,
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let url: reqwest::Url = presigned.uri().parse().unwrap();
    assert_eq!(url.host_str(), Some("vhost.s3.cairn.test"));
    let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let direct = format!("{}{}?{}", origin.url, url.path(), url.query().unwrap());
    let resp = reqwest::Client::new()
        .get(direct)
        .header("host", host)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"hello vhost");
}

#[tokio::test]
async fn list_buckets_pages_and_filters_by_prefix() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    for name in ["app-one", "app-two", "logs"] {
        s3.create_bucket().bucket(name).send().await.unwrap();
    }
    let first = s3.list_buckets().max_buckets(2).send().await.unwrap();
    let names: Vec<_> = first.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["app-one", "app-two"]);
    let token = first.continuation_token().expect("more buckets follow");
    let rest = s3
        .list_buckets()
        .max_buckets(2)
        .continuation_token(token)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = rest.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["logs"]);
    assert_eq!(rest.continuation_token(), None);
    let apps = s3.list_buckets().prefix("app-").send().await.unwrap();
    assert_eq!(apps.buckets().len(), 2);
    let err = s3.list_buckets().max_buckets(0).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
}

#[tokio::test]
async fn an_expected_bucket_owner_that_is_not_the_owner_is_refused() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mine").send().await.unwrap();
    let acl = s3.get_bucket_acl().bucket("mine").send().await.unwrap();
    let owner = acl.owner().and_then(|o| o.id()).unwrap().to_owned();
    let put = |expected: &str| {
        s3.put_object()
            .bucket("mine")
            .key("k")
            .expected_bucket_owner(expected)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
    };
    put(&owner).await.unwrap();
    let err = put(&format!("{owner}0")).await.unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let err = s3
        .get_object()
        .bucket("mine")
        .key("k")
        .expected_bucket_owner("123456789012")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let err = s3
        .list_objects_v2()
        .bucket("mine")
        .expected_bucket_owner("123456789012")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
}
