//! Versioning and object tags through the AWS SDK: version ids on every
//! kind of write, delete markers, `null` versions while suspended, reads
//! and deletes by id, ListObjectVersions paging, and tags with S3's limits.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, Tag,
    Tagging, VersioningConfiguration,
};
use cairn_tests::{code, payload, TestOrigin};

async fn versioned(origin: &TestOrigin, name: &str) -> aws_sdk_s3::Client {
    let s3 = origin.client();
    s3.create_bucket().bucket(name).send().await.unwrap();
    set_versioning(&s3, name, BucketVersioningStatus::Enabled).await;
    s3
}

async fn set_versioning(s3: &aws_sdk_s3::Client, bucket: &str, status: BucketVersioningStatus) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) -> Option<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap()
        .version_id
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, version: Option<&str>) -> String {
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(Into::into))
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn every_version_stays_readable_and_delete_markers_hide_the_key() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("vers").send().await.unwrap();
    let status = s3
        .get_bucket_versioning()
        .bucket("vers")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), None, "never versioned");
    // An object written before versioning is the `null` version.
    assert_eq!(put(&s3, "vers", "k", "zero").await, None);
    set_versioning(&s3, "vers", BucketVersioningStatus::Enabled).await;
    let status = s3
        .get_bucket_versioning()
        .bucket("vers")
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Enabled));

    let v1 = put(&s3, "vers", "k", "one").await.expect("a version id");
    let v2 = put(&s3, "vers", "k", "two").await.expect("a version id");
    assert_ne!(v1, v2);
    assert_eq!(read(&s3, "vers", "k", None).await, "two");
    assert_eq!(read(&s3, "vers", "k", Some(&v1)).await, "one");
    assert_eq!(read(&s3, "vers", "k", Some("null")).await, "zero");

    // A plain DELETE makes a delete marker; every version survives it.
    let del = s3
        .delete_object()
        .bucket("vers")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del.version_id().unwrap().to_owned();
    let err = s3
        .get_object()
        .bucket("vers")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let raw = err.raw_response().unwrap();
    assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("true"));
    let err = s3
        .get_object()
        .bucket("vers")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 405);
    assert_eq!(read(&s3, "vers", "k", Some(&v2)).await, "two");
    let listed = s3.list_objects_v2().bucket("vers").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "a deleted key is not listed");
    let err = s3.delete_bucket().bucket("vers").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty", "versions keep the bucket");

    // Removing the marker brings the newest version back.
    s3.delete_object()
        .bucket("vers")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(read(&s3, "vers", "k", None).await, "two");
    // Removing the current version makes the one before it current.
    s3.delete_object()
        .bucket("vers")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(read(&s3, "vers", "k", None).await, "one");
    let err = s3
        .get_object()
        .bucket("vers")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchVersion");
    let err = s3
        .get_object()
        .bucket("vers")
        .key("k")
        .version_id("not/a-version")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");

    // Emptied version by version, the bucket can go.
    for v in [v1.as_str(), "null"] {
        s3.delete_object()
            .bucket("vers")
            .key("k")
            .version_id(v)
            .send()
            .await
            .unwrap();
    }
    let left = s3
        .list_object_versions()
        .bucket("vers")
        .send()
        .await
        .unwrap();
    assert!(left.versions().is_empty() && left.delete_markers().is_empty());
    s3.delete_bucket().bucket("vers").send().await.unwrap();
    // Every blob reference was released with its version (check runs
    // beside the live server).
    let check = std::process::Command::new(cairn_tests::binary("cairn-origin"))
        .args(["check", "--data-dir"])
        .arg(origin.data_dir())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[tokio::test]
async fn suspended_versioning_writes_and_replaces_the_null_version() {
    let origin = TestOrigin::spawn();
    let s3 = versioned(&origin, "susp").await;
    let v1 = put(&s3, "susp", "k", "one").await.unwrap();
    set_versioning(&s3, "susp", BucketVersioningStatus::Suspended).await;
    // Suspended writes make `null` versions, and S3 names none.
    assert_eq!(put(&s3, "susp", "k", "two").await, None);
    assert_eq!(put(&s3, "susp", "k", "three").await, None);
    let listed = s3
        .list_object_versions()
        .bucket("susp")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = listed
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(
        ids,
        ["null", v1.as_str()],
        "the second null replaced the first"
    );
    assert_eq!(listed.versions()[0].is_latest(), Some(true));
    assert_eq!(listed.versions()[1].is_latest(), Some(false));
    assert_eq!(read(&s3, "susp", "k", Some("null")).await, "three");
    // A delete while suspended replaces the null version with a marker.
    let del = s3
        .delete_object()
        .bucket("susp")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(del.version_id(), Some("null"));
    let listed = s3
        .list_object_versions()
        .bucket("susp")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.versions().len(), 1);
    assert_eq!(listed.delete_markers().len(), 1);
    assert_eq!(read(&s3, "susp", "k", Some(&v1)).await, "one");
}

#[tokio::test]
async fn copies_multipart_and_batch_deletes_carry_version_ids() {
    let origin = TestOrigin::spawn();
    let s3 = versioned(&origin, "copies").await;
    let v1 = put(&s3, "copies", "src", "first").await.unwrap();
    put(&s3, "copies", "src", "second").await.unwrap();
    // Copying an older version by id.
    let copied = s3
        .copy_object()
        .bucket("copies")
        .key("dst")
        .copy_source(format!("copies/src?versionId={v1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.copy_source_version_id(), Some(v1.as_str()));
    let dst_version = copied.version_id().unwrap().to_owned();
    assert_eq!(
        read(&s3, "copies", "dst", Some(&dst_version)).await,
        "first"
    );

    // A multipart object per version, each with its own parts.
    let mut mp_versions = Vec::new();
    for seed in 0..2u64 {
        let up = s3
            .create_multipart_upload()
            .bucket("copies")
            .key("mp")
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap();
        let part = s3
            .upload_part()
            .bucket("copies")
            .key("mp")
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from(payload(5 * 1024 * 1024 + 7, seed)))
            .send()
            .await
            .unwrap();
        let done = s3
            .complete_multipart_upload()
            .bucket("copies")
            .key("mp")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .e_tag(part.e_tag().unwrap())
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        mp_versions.push(done.version_id().expect("a version id").to_owned());
    }
    for (seed, v) in mp_versions.iter().enumerate() {
        let got = s3
            .get_object()
            .bucket("copies")
            .key("mp")
            .version_id(v)
            .send()
            .await
            .unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.as_ref(), payload(5 * 1024 * 1024 + 7, seed as u64));
    }

    // DeleteObjects by version id, and without one (a marker).
    let del = s3
        .delete_objects()
        .bucket("copies")
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("mp")
                        .version_id(&mp_versions[0])
                        .build()
                        .unwrap(),
                )
                .objects(ObjectIdentifier::builder().key("dst").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let deleted = del.deleted();
    assert_eq!(deleted.len(), 2);
    assert_eq!(deleted[0].version_id(), Some(mp_versions[0].as_str()));
    assert_eq!(deleted[1].delete_marker(), Some(true));
    let err = s3
        .get_object()
        .bucket("copies")
        .key("mp")
        .version_id(&mp_versions[0])
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchVersion");
}

#[tokio::test]
async fn version_listings_page_by_key_and_version_markers() {
    let origin = TestOrigin::spawn();
    let s3 = versioned(&origin, "listing").await;
    let mut expected = Vec::new();
    for key in ["a", "b/x", "b/y", "copies"] {
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(
                put(&s3, "listing", key, &format!("{key}{i}"))
                    .await
                    .unwrap(),
            );
        }
        // Newest first within a key.
        ids.reverse();
        expected.extend(ids.into_iter().map(|id| (key.to_owned(), id)));
    }
    let mut seen = Vec::new();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_object_versions()
            .bucket("listing")
            .max_keys(2)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap();
        assert!(page.versions().len() <= 2);
        for v in page.versions() {
            seen.push((
                v.key().unwrap().to_owned(),
                v.version_id().unwrap().to_owned(),
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(Into::into);
        version_marker = page.next_version_id_marker().map(Into::into);
    }
    assert_eq!(seen, expected);

    // With a delimiter, `b/` rolls up into one common prefix.
    let page = s3
        .list_object_versions()
        .bucket("listing")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = page
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["b/"]);
    assert_eq!(page.versions().len(), 6, "a and c, three versions each");
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

#[tokio::test]
async fn tags_follow_their_version_and_keep_to_s3_limits() {
    let origin = TestOrigin::spawn();
    let s3 = versioned(&origin, "tags").await;
    let v1 = s3
        .put_object()
        .bucket("tags")
        .key("k")
        .tagging("team=web&tier=gold")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    let head = s3
        .head_object()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(head.tag_count(), Some(2));
    put(&s3, "tags", "k", "2").await.unwrap();
    s3.put_object_tagging()
        .bucket("tags")
        .key("k")
        .tagging(
            Tagging::builder()
                .tag_set(tag("new", "one"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let current = s3
        .get_object_tagging()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(current.tag_set(), [tag("new", "one")]);
    let old = s3
        .get_object_tagging()
        .bucket("tags")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(old.tag_set(), [tag("team", "web"), tag("tier", "gold")]);

    // Eleven tags, a 129-character key, a 257-character value: refused,
    // and the tags stay as they were.
    let too_many: Vec<Tag> = (0..11).map(|i| tag(&format!("k{i}"), "vers")).collect();
    for set in [
        too_many,
        vec![tag(&"k".repeat(129), "vers")],
        vec![tag("k", &"vers".repeat(257))],
    ] {
        let err = s3
            .put_object_tagging()
            .bucket("tags")
            .key("k")
            .tagging(Tagging::builder().set_tag_set(Some(set)).build().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidTag");
    }
    let err = s3
        .put_object()
        .bucket("tags")
        .key("other")
        .tagging("a=1&a=2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidTag");
    let err = s3
        .head_object()
        .bucket("tags")
        .key("other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.raw_response().unwrap().status().as_u16(),
        404,
        "nothing stored"
    );
    let current = s3
        .get_object_tagging()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(current.tag_set(), [tag("new", "one")]);

    // Copies keep the source's tags unless told to replace them.
    s3.copy_object()
        .bucket("tags")
        .key("copy")
        .copy_source("tags/k")
        .send()
        .await
        .unwrap();
    let copied = s3
        .get_object_tagging()
        .bucket("tags")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(copied.tag_set(), [tag("new", "one")]);
    s3.copy_object()
        .bucket("tags")
        .key("copy")
        .copy_source("tags/k")
        .tagging_directive(aws_sdk_s3::types::TaggingDirective::Replace)
        .tagging("x=y")
        .send()
        .await
        .unwrap();
    let copied = s3
        .get_object_tagging()
        .bucket("tags")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(copied.tag_set(), [tag("x", "y")]);

    s3.delete_object_tagging()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .unwrap();
    let current = s3
        .get_object_tagging()
        .bucket("tags")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(current.tag_set().is_empty());

    // Bucket tags.
    let err = s3
        .get_bucket_tagging()
        .bucket("tags")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchTagSet");
    s3.put_bucket_tagging()
        .bucket("tags")
        .tagging(
            Tagging::builder()
                .tag_set(tag("env", "prod"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_tagging().bucket("tags").send().await.unwrap();
    assert_eq!(got.tag_set(), [tag("env", "prod")]);
}

#[tokio::test]
async fn conditional_deletes_remove_only_the_version_they_name() {
    let origin = TestOrigin::spawn();
    let s3 = versioned(&origin, "cond").await;
    let put = s3
        .put_object()
        .bucket("cond")
        .key("k")
        .body(ByteStream::from_static(b"abc"))
        .send()
        .await
        .unwrap();
    let (etag, v1) = (
        put.e_tag().unwrap().to_owned(),
        put.version_id().unwrap().to_owned(),
    );
    let err = s3
        .delete_object()
        .bucket("cond")
        .key("k")
        .version_id(&v1)
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    assert_eq!(read(&s3, "cond", "k", Some(&v1)).await, "abc");
    let err = s3
        .delete_object()
        .bucket("cond")
        .key("k")
        .if_match_size(4)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    // Per key in a batch: the failed condition is that key's error only.
    let out = s3
        .delete_objects()
        .bucket("cond")
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("k")
                        .version_id(&v1)
                        .e_tag("\"ffffffffffffffffffffffffffffffff\"")
                        .build()
                        .unwrap(),
                )
                .objects(ObjectIdentifier::builder().key("other").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.errors().len(), 1);
    assert_eq!(out.errors()[0].code(), Some("PreconditionFailed"));
    assert_eq!(out.deleted().len(), 1);
    s3.delete_object()
        .bucket("cond")
        .key("k")
        .version_id(&v1)
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    let err = s3
        .get_object()
        .bucket("cond")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchVersion");
    // A version that is gone is no error, whatever the condition.
    s3.delete_object()
        .bucket("cond")
        .key("k")
        .version_id(&v1)
        .if_match(&etag)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn object_attributes_name_size_etag_parts_and_version() {
    use aws_sdk_s3::types::ObjectAttributes;
    let origin = TestOrigin::spawn();
    let s3 = versioned(&origin, "attrs").await;
    let first = put(&s3, "attrs", "k", "foo").await.unwrap();
    put(&s3, "attrs", "k", "longer").await.unwrap();
    let got = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("k")
        .version_id(&first)
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::ObjectParts)
        .send()
        .await
        .unwrap();
    assert_eq!(got.object_size(), Some(3));
    assert_eq!(got.version_id(), Some(first.as_str()));
    assert_eq!(got.e_tag(), Some("acbd18db4cc2f85cedef654fccc4a4d8"));
    assert!(
        got.object_parts().is_none(),
        "a single-part object has no parts"
    );
    let err = s3
        .get_object_attributes()
        .bucket("attrs")
        .key("missing")
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
}
