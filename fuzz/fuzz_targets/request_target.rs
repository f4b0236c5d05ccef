//! Host and path into bucket and key, operation parsing, and the one way
//! an edge turns a bucket and key back into a URL path.
#![no_main]
use cairn_origin::http::endpoint::Endpoint;
use cairn_shared::target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str, &str, u8)| {
    let (host, path, query, method) = data;
    let Ok(t) = target::target(Some(host), path, Some("s3.local")) else {
        return;
    };
    let methods = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS"];
    let m = http::Method::from_bytes(methods[usize::from(method) % methods.len()].as_bytes()).unwrap();
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    let _ = Endpoint::parse(&m, t.clone(), &pairs, method % 2 == 0);
    if let (Some(b), Some(k)) = (&t.bucket, &t.key) {
        if let Some(p) = target::object_path(b, k) {
            let back = target::target(None, &p, None).unwrap();
            assert_eq!(back.bucket.as_deref(), Some(b.as_str()));
            assert_eq!(back.key.as_deref(), Some(k.as_str()));
        }
    }
});
