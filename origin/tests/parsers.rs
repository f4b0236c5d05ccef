//! Properties of the origin's request parsers on generated input (bounded
//! cases, run by CI; `fuzz/` has the coverage-guided targets): operation
//! parsing, credential parsing (header, query, POST form) and the
//! aws-chunked decoder answer every input with a value or an S3 error,
//! never a panic.

use bytes::Bytes;
use cairn_origin::auth::chunked::ChunkedBody;
use cairn_origin::auth::post_policy::PolicyCredentials;
use cairn_origin::http::endpoint::{Endpoint, Operation, Target};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(512)
}

fn tricky() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[A-Za-z0-9 ./%=,;:\-_*/\x22'<>&\t\u{FFFD}é]{0,60}").unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_request_line_is_an_operation_or_an_error(
        method in prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
        bucket in proptest::option::of(tricky()),
        key in proptest::option::of(tricky()),
        query in proptest::collection::vec((tricky(), tricky()), 0..4),
        copy in any::<bool>(),
    ) {
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let target = Target { bucket: bucket.clone(), key: key.clone(), vhost: false };
        // Whatever is parsed names the very bucket and key the path did.
        match Endpoint::parse(&method, target, &query, copy) {
            Ok(Operation::Signed(Endpoint::Object { bucket: b, key: k, .. })) => {
                prop_assert_eq!(Some(b), bucket);
                prop_assert_eq!(Some(k), key);
            }
            Ok(Operation::Signed(Endpoint::Bucket { bucket: b, .. })) => {
                prop_assert_eq!(Some(b), bucket);
                prop_assert_eq!(key, None);
            }
            _ => {}
        }
    }

    #[test]
    fn any_credentials_parse_or_are_refused(
        auth in tricky(),
        date in tricky(),
        sha in tricky(),
        query in proptest::collection::vec((tricky(), tricky()), 0..6),
    ) {
        for prefix in ["AWS4-HMAC-SHA256 Credential=", "AWS ", ""] {
            let value = format!("{prefix}{auth}");
            let mut req = http::Request::builder().uri("/b/k");
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                req = req.header("authorization", v);
            }
            for (n, v) in [("x-amz-date", &date), ("x-amz-content-sha256", &sha)] {
                if let Ok(v) = http::HeaderValue::from_str(v) {
                    req = req.header(n, v);
                }
            }
            let (parts, _) = req.body(()).unwrap().into_parts();
            let _ = cairn_origin::auth::parse(&parts, &query);
            let mut presigned = query.clone();
            presigned.push(("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()));
            presigned.push(("X-Amz-Credential".into(), auth.clone()));
            presigned.push(("X-Amz-Date".into(), date.clone()));
            presigned.push(("X-Amz-Expires".into(), sha.clone()));
            presigned.push(("X-Amz-SignedHeaders".into(), "host".into()));
            presigned.push(("X-Amz-Signature".into(), "00".into()));
            let (parts, _) = http::Request::builder().uri("/b/k").body(()).unwrap().into_parts();
            let _ = cairn_origin::auth::parse(&parts, &presigned);
        }
    }

    #[test]
    fn any_post_form_signature_parses_or_is_refused(
        cred in tricky(),
        date in tricky(),
        v2 in any::<bool>(),
    ) {
        let fields: Vec<(&str, &str)> = if v2 {
            vec![("awsaccesskeyid", cred.as_str()), ("signature", date.as_str())]
        } else {
            vec![
                ("x-amz-signature", "00"),
                ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
                ("x-amz-credential", cred.as_str()),
                ("x-amz-date", date.as_str()),
            ]
        };
        let _ = PolicyCredentials::parse(|n| fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v));
    }

    #[test]
    fn any_post_policy_is_checked_without_panicking(
        expiration in tricky(),
        op in prop::sample::select(vec!["eq", "starts-with", "content-length-range", "other"]),
        field in tricky(),
        want in tricky(),
        n in any::<i64>(),
        fields in proptest::collection::vec((tricky(), tricky()), 0..6),
        raw in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let policy = serde_json::json!({
            "expiration": expiration,
            "conditions": [[op, field, want], [op, n, n], {"bucket": "b"}, ["starts-with", "$key", ""]],
        });
        let policy = serde_json::to_vec(&policy).unwrap();
        let _ = cairn_origin::ops::post::check_form_policy(&policy, &fields, "b", &want);
        let _ = cairn_origin::ops::post::check_form_policy(&raw, &fields, "b", "k");
    }

    #[test]
    fn the_chunked_decoder_answers_any_bytes(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        framed in any::<bool>(),
    ) {
        let mut pieces: Vec<Bytes> = pieces.into_iter().map(Bytes::from).collect();
        if framed {
            // Plausible framing around the noise, to get past the first line.
            pieces.insert(0, Bytes::from_static(b"10;chunk-signature=00\r\n"));
        }
        let stream = futures_util::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut body = ChunkedBody::new(stream, None);
            for _ in 0..64 {
                match body.next().await {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
        });
    }
}
