//! Properties of the parsers that read client and upstream bytes, checked
//! on generated input (a bounded number of cases, so CI runs them; the
//! coverage-guided fuzz targets in `fuzz/` go further). Each parser must
//! answer every input without panicking, and the round trips must hold.

use std::time::{Duration, SystemTime};

use cairn_shared::conditional::Preconditions;
use cairn_shared::{freshness, range, signed_url, target, xml};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(512)
}

/// Strings rich in the bytes that matter to each parser.
fn tricky() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[a-z0-9 ./%=,;:\-_*\x22'<>&\t\\\u{0}-\u{1F}\u{FFFD}é🦀]{0,40}")
        .unwrap()
}

#[derive(serde::Deserialize)]
struct Delete {
    #[serde(rename = "Object", default)]
    objects: Vec<Object>,
}

#[derive(serde::Deserialize)]
struct Object {
    #[serde(rename = "Key")]
    key: String,
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ranges_resolve_inside_the_object(header in tricky(), len in 0u64..u64::MAX) {
        let header = format!("bytes={header}");
        for h in [header.as_str(), "bytes=18446744073709551615-", "bytes=-18446744073709551615"] {
            if let Some(r) = range::parse(h) {
                if let Some(span) = r.resolve(len) {
                    prop_assert!(span.start <= span.end && span.end < len);
                }
            }
        }
    }

    #[test]
    fn numeric_ranges_never_panic(a in any::<u64>(), b in any::<u64>(), len in any::<u64>()) {
        for h in [format!("bytes={a}-{b}"), format!("bytes={a}-"), format!("bytes=-{a}")] {
            if let Some(span) = range::parse(&h).and_then(|r| r.resolve(len)) {
                prop_assert!(span.start <= span.end && span.end < len);
            }
        }
    }

    #[test]
    fn cache_control_is_bounded(cc in tricky(), n in any::<u64>(), date in tricky()) {
        let cc = format!("{cc}, max-age={n}, stale-while-revalidate={n}0, stale-if-error=99999999999999999999");
        let p = freshness::policy(Some(&cc), Some(&date), Some(&date), freshness::Defaults {
            ttl: Duration::from_secs(60),
            stale_if_error: Duration::from_secs(300),
        });
        let cap = Duration::from_secs(freshness::MAX_DELTA_SECONDS);
        prop_assert!(p.ttl <= cap && p.stale_while_revalidate <= cap && p.stale_if_error <= cap);
    }

    #[test]
    fn preconditions_answer_anything(a in tricky(), b in tricky(), c in tricky(), d in tricky()) {
        let pre = Preconditions {
            if_match: Some(&a),
            if_none_match: Some(&b),
            if_modified_since: Some(&c),
            if_unmodified_since: Some(&d),
        };
        let _ = pre.evaluate("\"etag\"", SystemTime::UNIX_EPOCH, true);
    }

    #[test]
    fn object_paths_come_back_as_the_same_bucket_and_key(
        bucket in "[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]",
        key in proptest::string::string_regex(r"[a-z./%?#+ é\u{0}]{1,30}").unwrap(),
    ) {
        match target::object_path(&bucket, &key) {
            None => prop_assert!(key == "." || key == ".." || !target::plausible_bucket(&bucket)),
            Some(path) => {
                // No dot segment survives for a URL parser to fold.
                prop_assert!(path.split('/').all(|s| s != "." && s != ".."), "{}", path);
                let t = target::target(Some("edge.example"), &path, None).unwrap();
                prop_assert_eq!(t.bucket.as_deref(), Some(bucket.as_str()));
                prop_assert_eq!(t.key.as_deref(), Some(key.as_str()));
            }
        }
    }

    #[test]
    fn targets_answer_any_path(path in tricky(), host in tricky()) {
        let _ = target::target(Some(&host), &format!("/{path}"), Some("s3.local"));
    }

    #[test]
    fn xml_parses_or_refuses_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = xml::parse::<Delete>(&body);
    }

    #[test]
    fn xml_keys_arrive_byte_for_byte(
        key in proptest::string::string_regex(r"[a-z \t<>&\x22'\]\[!é🦀]{0,30}").unwrap()
    ) {
        let escaped = key
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let doc = format!("<Delete>\n  <Object><Key>{escaped}</Key></Object>\n</Delete>");
        let parsed: Delete = xml::parse(doc.as_bytes()).unwrap();
        prop_assert_eq!(&parsed.objects[0].key, &key);
    }

    #[test]
    fn signed_urls_verify_only_what_was_signed(
        key in tricky(),
        other in tricky(),
        sig in tricky(),
        expires in any::<u64>(),
    ) {
        let good = signed_url::sign("secret", "bkt", &key, expires);
        prop_assert!(signed_url::verify("secret", "bkt", &key, expires, &good, 0).is_ok() || expires == 0);
        if other != key {
            prop_assert!(signed_url::verify("secret", "bkt", &other, expires, &good, 0).is_err());
        }
        let _ = signed_url::verify("secret", "bkt", &key, expires, &sig, expires);
    }
}
