//! URI encoding exactly as SigV4 canonicalization defines it: every byte
//! except `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper-case hex).

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the unreserved characters.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// As `STRICT`, but `/` stays: for paths.
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// The path encoding set, for callers that build URLs.
pub const PATH_SET: &AsciiSet = PATH;

pub fn strict(s: &str) -> String {
    utf8_percent_encode(s, STRICT).to_string()
}

pub fn path(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

/// Percent-decodes; invalid UTF-8 is replaced, not refused (the signature
/// check then fails on its own).
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Splits a raw query string into decoded `(name, value)` pairs, in order.
/// `+` is kept literally: S3 clients encode spaces as `%20`.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(strict("a b+c/d~e"), "a%20b%2Bc%2Fd~e");
        assert_eq!(path("/a b/ü"), "/a%20b/%C3%BC");
        assert_eq!(
            query_pairs("a=1&b&c=%2B+"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "".into()),
                ("c".into(), "++".into())
            ]
        );
    }
}
