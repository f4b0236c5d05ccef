//! SigV4 and SigV2 credentials from headers and query strings, and POST
//! form signatures.
#![no_main]
use cairn_origin::auth::post_policy::PolicyCredentials;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str, &str, &str)| {
    let (authorization, date, sha, query) = data;
    let mut req = http::Request::builder().uri("/b/k");
    for (n, v) in [("authorization", authorization), ("x-amz-date", date), ("x-amz-content-sha256", sha), ("date", date)] {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            req = req.header(n, v);
        }
    }
    let (parts, _) = req.body(()).unwrap().into_parts();
    let pairs = cairn_origin::auth::encode::query_pairs(query);
    let _ = cairn_origin::auth::parse(&parts, &pairs);
    let fields = [
        ("x-amz-signature", sha),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", authorization),
        ("x-amz-date", date),
        ("awsaccesskeyid", query),
        ("signature", sha),
    ];
    let _ = PolicyCredentials::parse(|n| fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v));
});
