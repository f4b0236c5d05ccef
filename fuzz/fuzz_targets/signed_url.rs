//! Signed edge URLs: the query an edge reads and the signature check.
#![no_main]
use cairn_shared::signed_url;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str, &str, u64, u64)| {
    let (key, expires, sig, exp, now) = data;
    if let Ok(e) = expires.parse::<u64>() {
        let _ = signed_url::verify("secret", "bucket", key, e, sig, now);
    }
    let good = signed_url::sign("secret", "bucket", key, exp);
    assert_eq!(signed_url::verify("secret", "bucket", key, exp, &good, exp), Ok(()));
    if let Some(path) = signed_url::path("secret", "bucket", key, exp) {
        let (p, q) = path.split_once('?').unwrap();
        let t = cairn_shared::target::target(None, p, None).unwrap();
        assert_eq!(t.key.as_deref(), Some(key));
        assert!(q.starts_with("expires="));
    }
});
