//! Which bucket and key a request addresses: path style
//! (`/bucket/key`) or virtual-hosted style (`bucket.BASE/key`).

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The bucket and key a request addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The bucket came from the Host header (virtual-hosted style).
    pub vhost: bool,
}

/// A path whose percent-decoded bytes are not UTF-8. S3 refuses such keys
/// (400): decoded lossily, `u%FF` and `u%FE` would be one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8;

/// Finds bucket and key. With a base domain configured, `bucket.BASE` in
/// the Host header selects the bucket and the whole path is the key;
/// otherwise the first path segment is the bucket.
pub fn target(host: Option<&str>, raw_path: &str, domain: Option<&str>) -> Result<Target, NotUtf8> {
    let path = percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| NotUtf8)?
        .into_owned();
    let path = path.strip_prefix('/').unwrap_or(&path);
    if let (Some(host), Some(domain)) = (host, domain) {
        let host = strip_port(host).to_ascii_lowercase();
        if let Some(bucket) = host.strip_suffix(domain).and_then(|h| h.strip_suffix('.')) {
            if !bucket.is_empty() {
                return Ok(Target {
                    bucket: Some(bucket.to_owned()),
                    key: (!path.is_empty()).then(|| path.to_owned()),
                    vhost: true,
                });
            }
        }
    }
    Ok(match path.split_once('/') {
        _ if path.is_empty() => Target::default(),
        None => Target {
            bucket: Some(path.to_owned()),
            ..Target::default()
        },
        Some((bucket, key)) => Target {
            bucket: Some(bucket.to_owned()),
            key: (!key.is_empty()).then(|| key.to_owned()),
            vhost: false,
        },
    })
}

/// The path of object `key` in `bucket` (`/bucket/key`, percent-encoded),
/// such that every URL library and proxy on the way hands a server exactly
/// that bucket and key back. S3 keys may hold `..`, `.` and empty
/// segments, which WHATWG URL parsers (reqwest's among them) fold away
/// (`/b/../a/k` becomes `/a/k`, another bucket) whatever their encoding
/// (`%2E%2E` counts as `..`). So when a key has such a segment, every `/`
/// in it is sent as `%2F`: the key is then one segment that is not a dot
/// segment, and servers that decode the path (Cairn, S3) see the same
/// key. `None` for the keys `.` and `..` (and the empty key), which no URL
/// can carry as an object.
pub fn object_path(bucket: &str, key: &str) -> Option<String> {
    if key.is_empty() || key == "." || key == ".." || !plausible_bucket(bucket) {
        return None;
    }
    let risky = key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..");
    let mut path = format!("/{}/", utf8_percent_encode(bucket, SEGMENT));
    for (i, segment) in key.split('/').enumerate() {
        if i > 0 {
            path.push_str(if risky { "%2F" } else { "/" });
        }
        path.extend(utf8_percent_encode(segment, SEGMENT));
    }
    Some(path)
}

/// Whether `bucket` can be a bucket of some S3 endpoint: S3's rules, or
/// the looser legacy ones (capitals, `_`). It excludes anything that would
/// not stay one path segment, and Cairn's own `/_cairn/` endpoints.
pub fn plausible_bucket(bucket: &str) -> bool {
    (3..=255).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map(|(h, _)| &host[..h.len() + 1])
            .unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(b: Option<&str>, k: Option<&str>, vhost: bool) -> Target {
        Target {
            bucket: b.map(Into::into),
            key: k.map(Into::into),
            vhost,
        }
    }

    #[test]
    fn object_paths_survive_url_parsers() {
        let cases = [
            ("bkt", "a/b c.txt", Some("/bkt/a/b%20c.txt")),
            ("bkt", "../X/k", Some("/bkt/..%2FX%2Fk")),
            ("bkt", "a/../../X/k", Some("/bkt/a%2F..%2F..%2FX%2Fk")),
            ("bkt", "./k", Some("/bkt/.%2Fk")),
            ("bkt", "a//k", Some("/bkt/a%2F%2Fk")),
            ("bkt", "/k", Some("/bkt/%2Fk")),
            ("bkt", "k/", Some("/bkt/k%2F")),
            ("bkt", "../_cairn/feed", Some("/bkt/..%2F_cairn%2Ffeed")),
            ("bkt", "...", Some("/bkt/...")),
            ("bkt", "a/..b/c.", Some("/bkt/a/..b/c.")),
            ("bkt", "%2e%2e", Some("/bkt/%252e%252e")),
            ("bkt", "ü?#", Some("/bkt/%C3%BC%3F%23")),
            ("bkt", "..", None),
            ("_cairn", "feed", None),
            ("..", "k", None),
            ("b/c", "k", None),
            ("bkt", ".", None),
        ];
        for (bucket, key, want) in cases {
            let got = object_path(bucket, key);
            assert_eq!(got.as_deref(), want, "{key:?}");
            // And the server side reads back exactly what was meant.
            if let Some(path) = got {
                let t = target(Some("edge"), &path, None).unwrap();
                assert_eq!(t.bucket.as_deref(), Some(bucket));
                assert_eq!(t.key.as_deref(), Some(key), "{path}");
            }
        }
    }

    #[test]
    fn targets() {
        let d = Some("s3.local");
        let cases = [
            (Some("localhost:9000"), "/", None, t(None, None, false)),
            (
                Some("localhost:9000"),
                "/bkt",
                None,
                t(Some("bkt"), None, false),
            ),
            (
                Some("localhost:9000"),
                "/bkt/",
                None,
                t(Some("bkt"), None, false),
            ),
            (
                Some("localhost:9000"),
                "/bkt//a%20b/c",
                None,
                t(Some("bkt"), Some("/a b/c"), false),
            ),
            (
                Some("bkt.s3.local:9000"),
                "/x/y%2Bz",
                d,
                t(Some("bkt"), Some("x/y+z"), true),
            ),
            (Some("bkt.s3.local"), "/", d, t(Some("bkt"), None, true)),
            (
                Some("s3.local:9000"),
                "/bkt/k",
                d,
                t(Some("bkt"), Some("k"), false),
            ),
            (
                Some("127.0.0.1:9000"),
                "/bkt/k",
                d,
                t(Some("bkt"), Some("k"), false),
            ),
        ];
        assert_eq!(target(None, "/b/u%FF", None), Err(NotUtf8));
        assert_eq!(
            target(None, "/b/u%EF%BF%BD", None).unwrap().key.as_deref(),
            Some("u\u{FFFD}")
        );
        for (host, path, domain, want) in cases {
            assert_eq!(target(host, path, domain), Ok(want), "{host:?} {path}");
        }
    }
}
