//! Which bucket and key a request addresses: path style
//! (`/bucket/key`) or virtual-hosted style (`bucket.BASE/key`).

use percent_encoding::percent_decode_str;

/// The bucket and key a request addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The bucket came from the Host header (virtual-hosted style).
    pub vhost: bool,
}

/// Finds bucket and key. With a base domain configured, `bucket.BASE` in
/// the Host header selects the bucket and the whole path is the key;
/// otherwise the first path segment is the bucket.
pub fn target(host: Option<&str>, raw_path: &str, domain: Option<&str>) -> Target {
    let path = percent_decode_str(raw_path)
        .decode_utf8_lossy()
        .into_owned();
    let path = path.strip_prefix('/').unwrap_or(&path);
    if let (Some(host), Some(domain)) = (host, domain) {
        let host = strip_port(host).to_ascii_lowercase();
        if let Some(bucket) = host.strip_suffix(domain).and_then(|h| h.strip_suffix('.')) {
            if !bucket.is_empty() {
                return Target {
                    bucket: Some(bucket.to_owned()),
                    key: (!path.is_empty()).then(|| path.to_owned()),
                    vhost: true,
                };
            }
        }
    }
    match path.split_once('/') {
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
    }
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
        for (host, path, domain, want) in cases {
            assert_eq!(target(host, path, domain), want, "{host:?} {path}");
        }
    }
}
