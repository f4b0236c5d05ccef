//! Entity tags: quoting and the comparisons RFC 9110 §8.8.3 defines.
//!
//! S3 ETags are strong validators (`"<hex md5>"` or `"<hex>-N"` for
//! multipart). Clients send them quoted, unquoted, or weak-prefixed in
//! `If-Match`/`If-None-Match`; these helpers accept all three forms.

/// Returns the ETag in its quoted wire form, adding quotes if missing.
pub fn quoted(etag: &str) -> String {
    if etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"') {
        etag.to_owned()
    } else {
        format!("\"{etag}\"")
    }
}

/// The opaque part of an entity tag: no `W/` prefix, no quotes.
pub fn opaque(etag: &str) -> &str {
    let t = etag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"')
}

/// Whether an `If-Match`/`If-None-Match` list matches `current`.
///
/// `*` matches any existing representation. The list is comma separated.
/// Comparison is on the opaque part, which is the weak comparison that
/// `If-None-Match` uses; S3 applies the same to `If-Match`.
pub fn list_matches(list: &str, current: &str) -> bool {
    let current = opaque(current);
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .any(|t| t == "*" || opaque(t) == current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("\"abc\""), "\"abc\"");
    }

    #[test]
    fn matching() {
        let cases = [
            ("\"abc\"", "\"abc\"", true),
            ("abc", "\"abc\"", true),
            ("W/\"abc\"", "\"abc\"", true),
            ("\"x\", \"abc\"", "\"abc\"", true),
            ("*", "\"abc\"", true),
            ("\"abd\"", "\"abc\"", false),
            ("", "\"abc\"", false),
        ];
        for (list, cur, want) in cases {
            assert_eq!(list_matches(list, cur), want, "{list} vs {cur}");
        }
    }
}
