//! The edge's upstream URLs on generated keys (bounded cases, run by CI):
//! whatever a key holds, the URL reqwest sends names exactly that bucket
//! and key, or the edge refuses to send it. This is the property whose
//! absence let one tenant read another's objects (issue 13).

use cairn_edge::upstream::Upstream;
use cairn_shared::target;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn upstream_urls_name_exactly_the_authorized_object(
        bucket in "[a-z0-9][a-z0-9.-]{1,12}[a-z0-9]",
        key in proptest::string::string_regex(r"[a-z./%?#\\+ é_]{1,24}").unwrap(),
        base in prop::sample::select(vec!["http://127.0.0.1:9000", "http://origin.internal:9000/", "https://s3.example/prefix"]),
    ) {
        let up = Upstream::new(base, "AK", "SK", "us-east-1", std::time::Duration::from_secs(1), &[]).unwrap();
        let Ok(url) = up.object_url(&bucket, &key) else {
            prop_assert!(key == "." || key == ".." || !target::plausible_bucket(&bucket));
            return Ok(());
        };
        let sent = reqwest::Url::parse(&url).unwrap();
        let base_path = reqwest::Url::parse(base).unwrap().path().trim_end_matches('/').to_owned();
        let path = sent.path().strip_prefix(base_path.as_str()).unwrap();
        let t = target::target(None, path, None).unwrap();
        prop_assert_eq!(t.bucket.as_deref(), Some(bucket.as_str()));
        prop_assert_eq!(t.key.as_deref(), Some(key.as_str()));
        prop_assert!(sent.query().is_none());
    }
}
