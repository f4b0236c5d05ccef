//! Authentication: SigV4 (header, presigned, streaming chunks, trailers,
//! unsigned payload), SigV2 (header and presigned), and every refusal.
//!
//! Requests no SDK would send on purpose (skewed clocks, tampered chunks,
//! SigV2) are signed here with `aws-sigv4` or HMAC-SHA1 and sent raw.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use bytes::Bytes;
use cairn_tests::{code, sign_v4, TestOrigin, ROOT_AK, ROOT_SK};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

async fn setup() -> (TestOrigin, aws_sdk_s3::Client) {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("auth").send().await.unwrap();
    (origin, s3)
}

async fn get_bytes(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let got = s3
        .get_object()
        .bucket("auth")
        .key(key)
        .send()
        .await
        .unwrap();
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

fn error_code(body: &str) -> &str {
    body.split("<Code>")
        .nth(1)
        .and_then(|s| s.split("</Code>").next())
        .unwrap_or("<none>")
}

#[tokio::test]
async fn presigned_get_and_put_over_plain_http() {
    let (origin, s3) = setup().await;
    let cfg = || PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = s3
        .put_object()
        .bucket("auth")
        .key("from browser.txt")
        .presigned(cfg())
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .put(put.uri())
        .body("browser bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let get = s3
        .get_object()
        .bucket("auth")
        .key("from browser.txt")
        .presigned(cfg())
        .await
        .unwrap();
    let resp = reqwest::get(get.uri()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"browser bytes");
    // The JS and Go SDKs put an empty-body CRC32 in presigned PUT URLs; a
    // browser then uploads real bytes, and the upload must still succeed.
    let url = format!("{}/auth/js-sdk.bin?x-id=PutObject&x-amz-sdk-checksum-algorithm=CRC32&x-amz-checksum-crc32=AAAAAA%3D%3D", origin.url);
    let presigned = cairn_tests::presign_v4("PUT", &url, &origin.addr, Duration::from_secs(300));
    let resp = reqwest::Client::new()
        .put(&presigned)
        .body("not empty")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(get_bytes(&s3, "js-sdk.bin").await, b"not empty");
    // A tampered presigned URL is refused.
    let tampered = get.uri().replace("from%20browser.txt", "other.txt");
    let resp = reqwest::get(tampered).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        error_code(&resp.text().await.unwrap()),
        "SignatureDoesNotMatch"
    );
}

#[tokio::test]
async fn expired_presigned_url_is_refused() {
    let (_origin, s3) = setup().await;
    s3.put_object()
        .bucket("auth")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let cfg = PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(3600))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let url = s3
        .get_object()
        .bucket("auth")
        .key("k")
        .presigned(cfg)
        .await
        .unwrap();
    let resp = reqwest::get(url.uri()).await.unwrap();
    assert_eq!(resp.status(), 403);
    let body = resp.text().await.unwrap();
    assert_eq!(error_code(&body), "AccessDenied");
    assert!(body.contains("Request has expired"), "{body}");
}

#[tokio::test]
async fn bad_credentials_are_refused() {
    let (origin, _s3) = setup().await;
    let wrong = origin.client_with(ROOT_AK, "not-the-secret");
    let err = wrong.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "SignatureDoesNotMatch");
    let unknown = origin.client_with("CKUNKNOWNKEY00000000", ROOT_SK);
    let err = unknown.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidAccessKeyId");
}

#[tokio::test]
async fn any_region_is_accepted_unless_the_origin_is_strict() {
    let (origin, _s3) = setup().await;
    // R2 clients sign for `auto`, git-annex for the endpoint's host: the
    // secret derives the signing key whatever the region, so these are as
    // strong as any signature.
    for region in ["auto", "127.0.0.1", "eu-west-1"] {
        let s3 = origin.client_config(ROOT_AK, ROOT_SK, region, true);
        s3.put_object()
            .bucket("auth")
            .key(format!("from-{region}"))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{region}: {e:?}"));
        s3.list_objects_v2().bucket("auth").send().await.unwrap();
    }
    // A wrong secret is still refused, whatever the region.
    let wrong = origin.client_config(ROOT_AK, "not-the-secret", "auto", true);
    let err = wrong.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "SignatureDoesNotMatch");

    // --strict-region gives AWS's answer.
    let strict = TestOrigin::spawn_with(&["--strict-region"]);
    strict
        .client()
        .create_bucket()
        .bucket("auth")
        .send()
        .await
        .unwrap();
    let region = strict.client_config(ROOT_AK, ROOT_SK, "eu-west-1", true);
    let err = region
        .list_objects_v2()
        .bucket("auth")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "AuthorizationHeaderMalformed");
    let raw =
        String::from_utf8_lossy(err.raw_response().unwrap().body().bytes().unwrap()).into_owned();
    assert!(
        raw.contains("<Region>us-east-1</Region>"),
        "names the expected region: {raw}"
    );
}

#[tokio::test]
async fn anonymous_writes_are_denied() {
    let (origin, _s3) = setup().await;
    let resp = reqwest::Client::new()
        .put(format!("{}/auth/anon", origin.url))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(&resp.text().await.unwrap()), "AccessDenied");
    let resp = reqwest::Client::new()
        .put(format!("{}/anonbucket", origin.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

/// Sends a PUT signed by hand; returns status and body.
async fn signed_put(
    origin: &TestOrigin,
    key: &str,
    body: Vec<u8>,
    payload: &str,
    time: SystemTime,
    extra: &[(&str, &str)],
) -> (u16, String) {
    let url = format!("{}/auth/{key}", origin.url);
    let mut headers: Vec<(&str, &str)> = vec![("host", origin.addr.as_str())];
    headers.extend_from_slice(extra);
    let (signed, _) = sign_v4(
        "PUT",
        &url,
        &headers,
        payload,
        time,
        "us-east-1",
        "s3",
        (ROOT_AK, ROOT_SK),
    );
    let mut req = reqwest::Client::new().put(&url).body(body);
    for (k, v) in extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(signed)
    {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn payload_hash_forms() {
    let (origin, s3) = setup().await;
    let now = SystemTime::now();
    let (status, body) = signed_put(
        &origin,
        "unsigned",
        b"unsigned body".to_vec(),
        "UNSIGNED-PAYLOAD",
        now,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get_bytes(&s3, "unsigned").await, b"unsigned body");

    let hash = hex::encode(Sha256::digest(b"hashed body"));
    let (status, body) =
        signed_put(&origin, "hashed", b"hashed body".to_vec(), &hash, now, &[]).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) =
        signed_put(&origin, "mismatch", b"other body".to_vec(), &hash, now, &[]).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "XAmzContentSHA256Mismatch")
    );
    assert!(
        s3.head_object()
            .bucket("auth")
            .key("mismatch")
            .send()
            .await
            .is_err(),
        "nothing stored"
    );

    let skewed = now - Duration::from_secs(20 * 60);
    let (status, body) = signed_put(
        &origin,
        "skewed",
        b"x".to_vec(),
        "UNSIGNED-PAYLOAD",
        skewed,
        &[],
    )
    .await;
    assert_eq!((status, error_code(&body)), (403, "RequestTimeTooSkewed"));
}

/// Builds an aws-chunked body with every chunk signed over the previous
/// signature, exactly as SigV4 streaming defines.
fn signed_chunks(
    data: &[u8],
    chunk: usize,
    seed: &str,
    time: SystemTime,
    trailer: Option<(&str, &str)>,
) -> Vec<u8> {
    use aws_sigv4::http_request::SigningSettings;
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(ROOT_AK, ROOT_SK, None, None, "t").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap();
    let mut out = Vec::new();
    let mut prev = seed.to_owned();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(&[]);
    for piece in pieces {
        let sig = v4::sign_chunk(&Bytes::copy_from_slice(piece), &prev, &params)
            .unwrap()
            .signature()
            .to_owned();
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        if !piece.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
        prev = sig;
    }
    if let Some((name, value)) = trailer {
        let mut headers = aws_smithy_runtime_api::http::Headers::new();
        headers.insert(name.to_owned(), value.to_owned());
        let sig = v4::sign_trailer(&headers, &prev, &params)
            .unwrap()
            .signature()
            .to_owned();
        out.extend_from_slice(
            format!("{name}:{value}\r\nx-amz-trailer-signature:{sig}\r\n").as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[tokio::test]
async fn streaming_signed_chunks_and_signed_trailers() {
    let (origin, s3) = setup().await;
    let data = cairn_tests::payload(200_000, 3);
    let now = SystemTime::now();
    let len = data.len().to_string();
    let url = format!("{}/auth/streamed", origin.url);
    let send = |key: &'static str,
                payload: &'static str,
                trailer: Option<(&'static str, String)>,
                tamper: bool| {
        let url = url.replace("streamed", key);
        let origin_addr = origin.addr.clone();
        let data = data.clone();
        let len = len.clone();
        async move {
            let mut headers = vec![
                ("host", origin_addr.as_str()),
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", len.as_str()),
            ];
            if let Some((name, _)) = &trailer {
                headers.push(("x-amz-trailer", name));
            }
            let (signed, seed) = sign_v4(
                "PUT",
                &url,
                &headers,
                payload,
                now,
                "us-east-1",
                "s3",
                (ROOT_AK, ROOT_SK),
            );
            let mut body = signed_chunks(
                &data,
                65536,
                &seed,
                now,
                trailer.as_ref().map(|(n, v)| (*n, v.as_str())),
            );
            if tamper {
                body[1000] ^= 1;
            }
            let mut req = reqwest::Client::new().put(&url).body(body);
            for (k, v) in headers
                .iter()
                .filter(|(k, _)| *k != "host")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain(signed)
            {
                req = req.header(k, v);
            }
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, body) = send(
        "streamed",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        None,
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get_bytes(&s3, "streamed").await, data);

    let (status, body) = send("tampered", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", None, true).await;
    assert_eq!((status, error_code(&body)), (403, "SignatureDoesNotMatch"));
    assert!(
        s3.head_object()
            .bucket("auth")
            .key("tampered")
            .send()
            .await
            .is_err(),
        "a refused upload is not visible"
    );

    let mut crc = crc32fast::Hasher::new();
    crc.update(&data);
    let sum = base64::engine::general_purpose::STANDARD.encode(crc.finalize().to_be_bytes());
    let (status, body) = send(
        "trailer",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        Some(("x-amz-checksum-crc32", sum)),
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let head = s3
        .head_object()
        .bucket("auth")
        .key("trailer")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert!(head.checksum_crc32().is_some(), "{head:?}");
    assert_eq!(get_bytes(&s3, "trailer").await, data);

    let (status, body) = send(
        "badtrailer",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        Some(("x-amz-checksum-crc32", "AAAAAA==".into())),
        false,
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "BadDigest"));
}

fn v2_sign(string_to_sign: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(ROOT_SK.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn signature_v2_header_and_presigned_query() {
    let (origin, s3) = setup().await;
    let date = httpdate::fmt_http_date(SystemTime::now());
    let sts = format!("PUT\n\ntext/plain\n{date}\nx-amz-meta-via:v2\n/auth/v2%20key");
    let resp = reqwest::Client::new()
        .put(format!("{}/auth/v2%20key", origin.url))
        .header("date", &date)
        .header("content-type", "text/plain")
        .header("x-amz-meta-via", "v2")
        .header("authorization", format!("AWS {ROOT_AK}:{}", v2_sign(&sts)))
        .body("signed with v2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(get_bytes(&s3, "v2 key").await, b"signed with v2");

    // boto3's default presigned URL against a custom endpoint.
    let expires = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    let sig = v2_sign(&format!("GET\n\n\n{expires}\n/auth/v2%20key"));
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let url = format!(
        "{}/auth/v2%20key?AWSAccessKeyId={ROOT_AK}&Expires={expires}&Signature={}",
        origin.url,
        enc(&sig)
    );
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"signed with v2");

    let old = expires - 600;
    let sig = v2_sign(&format!("GET\n\n\n{old}\n/auth/v2%20key"));
    let url = format!(
        "{}/auth/v2%20key?AWSAccessKeyId={ROOT_AK}&Expires={old}&Signature={}",
        origin.url,
        enc(&sig)
    );
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 403, "expired v2 URL");
    let bad = format!(
        "{}/auth/v2%20key?AWSAccessKeyId={ROOT_AK}&Expires={expires}&Signature=bm9wZQ%3D%3D",
        origin.url
    );
    let resp = reqwest::get(&bad).await.unwrap();
    assert_eq!(
        error_code(&resp.text().await.unwrap()),
        "SignatureDoesNotMatch"
    );

    // boto's `s3` signer names a path-style bucket `/bucket/` while it
    // sends `/bucket`, as S3 accepts; another secret is still refused.
    let date = httpdate::fmt_http_date(SystemTime::now());
    let sts = format!(
        "PUT


{date}
x-amz-acl:private
/v2bucket/"
    );
    let create = |sig: String| {
        reqwest::Client::new()
            .put(format!("{}/v2bucket", origin.url))
            .header("date", &date)
            .header("x-amz-acl", "private")
            .header("authorization", format!("AWS {ROOT_AK}:{sig}"))
            .send()
    };
    let resp = create(v2_sign(&sts)).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = create("bm9wZQ==".into()).await.unwrap();
    assert_eq!(resp.status(), 403);
    s3.head_bucket().bucket("v2bucket").send().await.unwrap();
}

#[tokio::test]
async fn other_aws_services_get_a_fast_client_error() {
    let (origin, _s3) = setup().await;
    for (service, action) in [("iam", "ListUsers"), ("sts", "GetCallerIdentity")] {
        let body = format!("Action={action}&Version=2011-06-15");
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        let url = format!("{}/", origin.url);
        let headers = [
            ("host", origin.addr.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        let (signed, _) = sign_v4(
            "POST",
            &url,
            &headers,
            &hash,
            SystemTime::now(),
            "us-east-1",
            service,
            (ROOT_AK, ROOT_SK),
        );
        let mut req = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let status = req.send().await.unwrap().status().as_u16();
        assert!((400..500).contains(&status), "{service}: {status}");
    }
}
