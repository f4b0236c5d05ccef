//! Object ACLs: `x-amz-acl: public-read` on a write or through
//! PutObjectAcl makes one object of a private bucket readable by anyone,
//! at the origin and through an edge; making it private again reaches the
//! edge through the change feed.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectCannedAcl;
use cairn_tests::{code, TestEdge, TestOrigin};

async fn anonymous_status(url: &str) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_public_read_object_of_a_private_bucket_is_served_to_anyone() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("mixed").send().await.unwrap();
    s3.put_object()
        .bucket("mixed")
        .key("open.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"for everyone"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("mixed")
        .key("closed.txt")
        .body(ByteStream::from_static(b"owner only"))
        .send()
        .await
        .unwrap();
    let open = format!("{}/mixed/open.txt", origin.url);
    let closed = format!("{}/mixed/closed.txt", origin.url);
    assert_eq!(anonymous_status(&open).await, 200);
    assert_eq!(anonymous_status(&closed).await, 403);
    assert_eq!(
        anonymous_status(&format!("{}/mixed/missing", origin.url)).await,
        403
    );

    let acl = s3
        .get_object_acl()
        .bucket("mixed")
        .key("open.txt")
        .send()
        .await
        .unwrap();
    let uris: Vec<_> = acl
        .grants()
        .iter()
        .filter_map(|g| g.grantee().and_then(|g| g.uri()))
        .collect();
    assert_eq!(uris, ["http://acs.amazonaws.com/groups/global/AllUsers"]);

    // Through an edge, which reads as anyone does.
    let edge = TestEdge::spawn(&origin, &[]);
    let at_edge = format!("{}/mixed/open.txt", edge.url);
    assert_eq!(anonymous_status(&at_edge).await, 200);
    assert_eq!(
        anonymous_status(&format!("{}/mixed/closed.txt", edge.url)).await,
        403
    );

    // Made private again: the origin refuses at once, the edge once the
    // change reaches it.
    s3.put_object_acl()
        .bucket("mixed")
        .key("open.txt")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_status(&open).await, 403);
    let deadline = Instant::now() + Duration::from_secs(10);
    while anonymous_status(&at_edge).await != 403 {
        assert!(
            Instant::now() < deadline,
            "the edge kept serving a private object"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // authenticated-read: every key reads it, anonymous callers do not,
    // so neither does an edge serve it.
    s3.put_object()
        .bucket("mixed")
        .key("auth.txt")
        .acl(ObjectCannedAcl::AuthenticatedRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let (ak, sk) = origin.create_key("member");
    origin
        .client_with(&ak, &sk)
        .get_object()
        .bucket("mixed")
        .key("auth.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous_status(&format!("{}/mixed/auth.txt", origin.url)).await,
        403
    );
    assert_eq!(
        anonymous_status(&format!("{}/mixed/auth.txt", edge.url)).await,
        403
    );
}

#[tokio::test]
async fn a_public_access_block_overrides_acls_and_policies() {
    use aws_sdk_s3::types::{BucketCannedAcl, PublicAccessBlockConfiguration};
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("guarded")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("guarded")
        .key("page.html")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let page = format!("{}/guarded/page.html", origin.url);
    let listing = format!("{}/guarded", origin.url);
    assert_eq!(anonymous_status(&page).await, 200);
    assert_eq!(anonymous_status(&listing).await, 200);
    let err = s3
        .get_public_access_block()
        .bucket("guarded")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchPublicAccessBlockConfiguration");

    let block = |acls: bool, ignore: bool, policy: bool, restrict: bool| {
        PublicAccessBlockConfiguration::builder()
            .block_public_acls(acls)
            .ignore_public_acls(ignore)
            .block_public_policy(policy)
            .restrict_public_buckets(restrict)
            .build()
    };
    // IgnorePublicAcls: the bucket's public-read counts for nothing.
    s3.put_public_access_block()
        .bucket("guarded")
        .public_access_block_configuration(block(true, true, true, false))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_public_access_block()
        .bucket("guarded")
        .send()
        .await
        .unwrap();
    let conf = got.public_access_block_configuration().unwrap();
    assert_eq!(conf.ignore_public_acls(), Some(true));
    assert_eq!(conf.restrict_public_buckets(), Some(false));
    assert_eq!(anonymous_status(&page).await, 403);
    assert_eq!(anonymous_status(&listing).await, 403);
    // BlockPublicAcls and BlockPublicPolicy: setting either is refused.
    let err = s3
        .put_object()
        .bucket("guarded")
        .key("open.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let err = s3
        .put_bucket_acl()
        .bucket("guarded")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::guarded/*"}]}"#;
    let err = s3
        .put_bucket_policy()
        .bucket("guarded")
        .policy(policy)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
    // RestrictPublicBuckets: a public policy that is in place is ignored.
    s3.put_public_access_block()
        .bucket("guarded")
        .public_access_block_configuration(block(false, true, false, false))
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy()
        .bucket("guarded")
        .policy(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous_status(&page).await,
        200,
        "the policy publishes it"
    );
    s3.put_public_access_block()
        .bucket("guarded")
        .public_access_block_configuration(block(false, true, false, true))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_status(&page).await, 403);
    s3.delete_public_access_block()
        .bucket("guarded")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_status(&page).await, 200);
}

#[tokio::test]
async fn bucket_owner_enforced_turns_acls_off() {
    use aws_sdk_s3::types::{
        BucketCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    };
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket()
        .bucket("owned")
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap();
    let rule = &got.ownership_controls().unwrap().rules()[0];
    assert_eq!(
        rule.object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
    let err = s3
        .put_object()
        .bucket("owned")
        .key("k")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessControlListNotSupported");
    // What is true anyway is accepted.
    s3.put_object()
        .bucket("owned")
        .key("k")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    s3.delete_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap();
    let err = s3
        .get_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "OwnershipControlsNotFoundError");

    // A bucket with a public ACL cannot turn ACLs off until it is private.
    s3.create_bucket()
        .bucket("pubacl")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let enforced = OwnershipControls::builder()
        .rules(
            OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = s3
        .put_bucket_ownership_controls()
        .bucket("pubacl")
        .ownership_controls(enforced.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidBucketAclWithObjectOwnership");
    s3.put_bucket_acl()
        .bucket("pubacl")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    s3.put_bucket_ownership_controls()
        .bucket("pubacl")
        .ownership_controls(enforced)
        .send()
        .await
        .unwrap();
}

/// The canonical id Cairn reports for an access key.
fn canonical_id(access_key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("cairn-owner:{access_key}")))
}

#[tokio::test]
async fn grants_to_keys_and_groups_are_kept_shown_and_enforced() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    let (ak, sk) = origin.create_key("app");
    let app = origin.client_with(&ak, &sk);
    let app_id = canonical_id(&ak);

    // WRITE (not READ) for one key, by header.
    s3.create_bucket()
        .bucket("inbox")
        .grant_write(format!("id=\"{app_id}\""))
        .send()
        .await
        .unwrap();
    app.put_object()
        .bucket("inbox")
        .key("drop")
        .body(ByteStream::from_static(b"from the app"))
        .send()
        .await
        .unwrap();
    let err = app
        .list_objects_v2()
        .bucket("inbox")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied", "WRITE does not list");
    // Without ownership controls the writer owns what it wrote (S3's
    // ObjectWriter), so it may read it back; the bucket's owner may too.
    let acl = app
        .get_object_acl()
        .bucket("inbox")
        .key("drop")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(app_id.as_str()));
    app.get_object()
        .bucket("inbox")
        .key("drop")
        .send()
        .await
        .unwrap();
    s3.get_object()
        .bucket("inbox")
        .key("drop")
        .send()
        .await
        .unwrap();
    let acl = s3.get_bucket_acl().bucket("inbox").send().await.unwrap();
    let shown: Vec<_> = acl
        .grants()
        .iter()
        .map(|g| {
            (
                g.grantee().and_then(|g| g.id()).map(str::to_owned),
                g.grantee()
                    .and_then(|g| g.display_name())
                    .map(str::to_owned),
                g.permission().map(|p| p.as_str().to_owned()),
            )
        })
        .collect();
    assert!(shown.contains(&(
        Some(app_id.clone()),
        Some("app".into()),
        Some("WRITE".into())
    )));

    // authenticated-read: every key lists, anonymous callers do not.
    s3.create_bucket()
        .bucket("members")
        .acl(aws_sdk_s3::types::BucketCannedAcl::AuthenticatedRead)
        .send()
        .await
        .unwrap();
    app.list_objects_v2()
        .bucket("members")
        .send()
        .await
        .unwrap();
    let anon = reqwest::get(format!("{}/members", origin.url))
        .await
        .unwrap();
    assert_eq!(anon.status(), 403);

    // public-read-write: keys may write; no one writes unsigned.
    s3.create_bucket()
        .bucket("open-rw")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap();
    app.put_object()
        .bucket("open-rw")
        .key("k")
        .body(ByteStream::from_static(b"signed"))
        .send()
        .await
        .unwrap();
    let put = reqwest::Client::new()
        .put(format!("{}/open-rw/anon", origin.url))
        .body("unsigned")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);

    // Grantees Cairn cannot resolve are refused.
    let err = s3
        .put_bucket_acl()
        .bucket("inbox")
        .grant_read("emailAddress=\"someone@example.com\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnresolvableGrantByEmailAddress");
    let err = s3
        .put_bucket_acl()
        .bucket("inbox")
        .grant_read("id=\"no-such-user\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = s3
        .put_bucket_acl()
        .bucket("inbox")
        .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
        .grant_read(format!("id=\"{app_id}\""))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest", "canned and grants together");

    // An object's READ_ACP lets the key read its ACL, nothing more.
    s3.put_object()
        .bucket("inbox")
        .key("report")
        .grant_read_acp(format!("id=\"{app_id}\""))
        .body(ByteStream::from_static(b"numbers"))
        .send()
        .await
        .unwrap();
    app.get_object_acl()
        .bucket("inbox")
        .key("report")
        .send()
        .await
        .unwrap();
    let err = app
        .get_object()
        .bucket("inbox")
        .key("report")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AccessDenied");
}
