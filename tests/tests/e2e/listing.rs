//! ListObjectsV2, ListObjects (v1) and ListObjectVersions.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;
use cairn_tests::{code, TestOrigin};

const KEYS: &[&str] = &[
    "a.txt", "b/1", "b/2", "b/3/x", "c/1", "c/2", "d", "e/f/g", "e/h", "z y+z",
];

async fn filled(origin: &TestOrigin) -> aws_sdk_s3::Client {
    let s3 = origin.client();
    s3.create_bucket().bucket("list").send().await.unwrap();
    for k in KEYS {
        s3.put_object()
            .bucket("list")
            .key(*k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    s3
}

#[tokio::test]
async fn v2_prefix_delimiter_and_pagination() {
    let origin = TestOrigin::spawn();
    let s3 = filled(&origin).await;
    let all = s3.list_objects_v2().bucket("list").send().await.unwrap();
    let keys: Vec<_> = all.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, KEYS);
    assert_eq!(all.is_truncated(), Some(false));
    let first = &all.contents()[0];
    assert_eq!(first.e_tag(), Some("\"9dd4e461268c8034f5c8564e155c67a6\""));
    assert_eq!(first.size(), Some(1));
    assert!(first.owner().is_none(), "no owner without fetch-owner");

    let top = s3
        .list_objects_v2()
        .bucket("list")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = top.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<_> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["a.txt", "d", "z y+z"]);
    assert_eq!(prefixes, ["b/", "c/", "e/"]);
    assert_eq!(top.key_count(), Some(6));

    let b = s3
        .list_objects_v2()
        .bucket("list")
        .prefix("b/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = b.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<_> = b
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!((keys, prefixes), (vec!["b/1", "b/2"], vec!["b/3/"]));

    // Pages of two, rolled up by delimiter: every entry exactly once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("list")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_owned),
        );
        seen.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .map(str::to_owned),
        );
        assert!(page.key_count().unwrap() <= 2);
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["a.txt", "b/", "c/", "d", "e/", "z y+z"]);

    let after = s3
        .list_objects_v2()
        .bucket("list")
        .start_after("c/1")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["c/2", "d", "e/f/g", "e/h", "z y+z"]);

    let owned = s3
        .list_objects_v2()
        .bucket("list")
        .fetch_owner(true)
        .max_keys(1)
        .send()
        .await
        .unwrap();
    let list_owner = owned.contents()[0]
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    let buckets_owner = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .owner()
        .unwrap()
        .id()
        .unwrap()
        .to_owned();
    assert_eq!(list_owner, buckets_owner, "owner ID is the same everywhere");
    let acl = s3.get_bucket_acl().bucket("list").send().await.unwrap();
    assert_eq!(acl.owner().unwrap().id(), Some(buckets_owner.as_str()));
    let grant = &acl.grants()[0];
    assert_eq!(grant.grantee().unwrap().id(), Some(buckets_owner.as_str()));
    assert_eq!(grant.permission().map(|p| p.as_str()), Some("FULL_CONTROL"));
    let object_acl = s3
        .get_object_acl()
        .bucket("list")
        .key("d")
        .send()
        .await
        .unwrap();
    assert_eq!(
        object_acl.owner().unwrap().id(),
        Some(buckets_owner.as_str())
    );

    let err = s3
        .list_objects_v2()
        .bucket("list")
        .continuation_token("!!!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
}

#[tokio::test]
async fn paginator_walks_every_key() {
    let origin = TestOrigin::spawn();
    let s3 = filled(&origin).await;
    let mut pages = s3
        .list_objects_v2()
        .bucket("list")
        .max_keys(3)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        keys.extend(
            page.unwrap()
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_owned),
        );
    }
    assert_eq!(keys, KEYS);
}

#[tokio::test]
async fn v1_markers_and_common_prefix_next_marker() {
    let origin = TestOrigin::spawn();
    let s3 = filled(&origin).await;
    let page = s3
        .list_objects()
        .bucket("list")
        .delimiter("/")
        .max_keys(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    // The page ends on the common prefix "b/": NextMarker is that prefix.
    assert_eq!(page.next_marker(), Some("b/"));
    let next = s3
        .list_objects()
        .bucket("list")
        .delimiter("/")
        .marker("b/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = next.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<_> = next
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["d", "z y+z"]);
    assert_eq!(
        prefixes,
        ["c/", "e/"],
        "b/ is not repeated after its marker"
    );
    assert!(
        page.contents()[0].owner().is_some(),
        "v1 always names the owner"
    );
}

#[tokio::test]
async fn url_encoding_type() {
    let origin = TestOrigin::spawn();
    let s3 = filled(&origin).await;
    let page = s3
        .list_objects_v2()
        .bucket("list")
        .prefix("z")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(page.encoding_type(), Some(&EncodingType::Url));
    assert_eq!(page.contents()[0].key(), Some("z%20y%2Bz"));
}

#[tokio::test]
async fn versions_of_an_unversioned_bucket() {
    let origin = TestOrigin::spawn();
    let s3 = filled(&origin).await;
    let v = s3
        .list_object_versions()
        .bucket("list")
        .send()
        .await
        .unwrap();
    assert_eq!(v.versions().len(), KEYS.len());
    for ver in v.versions() {
        assert_eq!(ver.version_id(), Some("null"));
        assert_eq!(ver.is_latest(), Some(true));
    }
    assert!(v.delete_markers().is_empty());
    let page = s3
        .list_object_versions()
        .bucket("list")
        .max_keys(4)
        .send()
        .await
        .unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_key_marker(), Some("b/3/x"));
    let uploads = s3
        .list_multipart_uploads()
        .bucket("list")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
}
