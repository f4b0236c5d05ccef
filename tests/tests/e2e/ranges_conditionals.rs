//! Range GETs and conditional requests, as S3 answers them.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use cairn_tests::{code, status, TestOrigin};

async fn setup() -> (TestOrigin, aws_sdk_s3::Client, String) {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("rng").send().await.unwrap();
    let put = s3
        .put_object()
        .bucket("rng")
        .key("digits")
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    (origin, s3, etag)
}

#[tokio::test]
async fn ranges() {
    let (_origin, s3, _) = setup().await;
    for (range, body, content_range) in [
        ("bytes=2-5", "2345", "bytes 2-5/10"),
        ("bytes=7-", "789", "bytes 7-9/10"),
        ("bytes=-3", "789", "bytes 7-9/10"),
        ("bytes=8-100", "89", "bytes 8-9/10"),
    ] {
        let got = s3
            .get_object()
            .bucket("rng")
            .key("digits")
            .range(range)
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_range(), Some(content_range), "{range}");
        assert_eq!(got.content_length(), Some(body.len() as i64));
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            body.as_bytes(),
            "{range}"
        );
    }
    let err = s3
        .get_object()
        .bucket("rng")
        .key("digits")
        .range("bytes=10-20")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRange");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 416);
    // A range S3 cannot parse is ignored: the whole object, 200.
    let whole = s3
        .get_object()
        .bucket("rng")
        .key("digits")
        .range("bytes=5-2")
        .send()
        .await
        .unwrap();
    assert_eq!(whole.content_range(), None);
    assert_eq!(
        whole.body.collect().await.unwrap().into_bytes().as_ref(),
        b"0123456789"
    );
}

#[tokio::test]
async fn conditional_reads() {
    let (_origin, s3, etag) = setup().await;
    let get = || s3.get_object().bucket("rng").key("digits");
    get().if_match(&etag).send().await.unwrap();
    assert_eq!(
        status(&get().if_match("\"nope\"").send().await.unwrap_err()),
        412
    );
    assert_eq!(
        status(&get().if_none_match(&etag).send().await.unwrap_err()),
        304
    );
    get().if_none_match("\"other\"").send().await.unwrap();
    let future = DateTime::from_secs(4_000_000_000);
    let past = DateTime::from_secs(1_000_000_000);
    assert_eq!(
        status(&get().if_modified_since(future).send().await.unwrap_err()),
        304
    );
    get().if_modified_since(past).send().await.unwrap();
    assert_eq!(
        status(&get().if_unmodified_since(past).send().await.unwrap_err()),
        412
    );
    get().if_unmodified_since(future).send().await.unwrap();
    // RFC 9110 order: If-Match true makes If-Unmodified-Since irrelevant.
    get()
        .if_match(&etag)
        .if_unmodified_since(past)
        .send()
        .await
        .unwrap();
    // If-None-Match false with If-Modified-Since true: 304 (S3 documents this).
    assert_eq!(
        status(
            &get()
                .if_none_match(&etag)
                .if_modified_since(past)
                .send()
                .await
                .unwrap_err()
        ),
        304
    );
    let head = s3
        .head_object()
        .bucket("rng")
        .key("digits")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(head.raw_response().unwrap().status().as_u16(), 304);
}
