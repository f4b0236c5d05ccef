//! CORS rules as S3 evaluates them: the first rule whose origin, method
//! and requested headers all match wins. Origins and headers may hold one
//! `*` wildcard; header names compare case-insensitively. Also the parser
//! for S3's `CORSConfiguration` XML, which the origin stores and edges read.

use serde::Deserialize;

/// One rule of a bucket's CORS configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsRule {
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub expose: Vec<String>,
    pub max_age: Option<u32>,
}

#[derive(Deserialize)]
struct CorsConfiguration {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<XmlRule>,
}

#[derive(Deserialize)]
struct XmlRule {
    #[serde(rename = "AllowedOrigin", default)]
    origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose: Vec<String>,
    #[serde(rename = "MaxAgeSeconds")]
    max_age: Option<u32>,
}

/// Why a CORS document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Not the expected XML shape (S3's MalformedXML).
    Malformed,
    /// Well-formed but not allowed (S3's InvalidRequest), with the reason.
    Invalid(String),
}

const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];
const MAX_RULES: usize = 100;

/// Parses and validates a `CORSConfiguration` document.
pub fn parse_config(xml: &[u8]) -> Result<Vec<CorsRule>, ConfigError> {
    let conf: CorsConfiguration = crate::xml::parse(xml).map_err(|_| ConfigError::Malformed)?;
    if conf.rules.is_empty() || conf.rules.len() > MAX_RULES {
        return Err(ConfigError::Malformed);
    }
    let mut out = Vec::new();
    for r in conf.rules {
        if r.origins.is_empty() || r.methods.is_empty() {
            return Err(ConfigError::Malformed);
        }
        if let Some(m) = r.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err(ConfigError::Invalid(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        if let Some(o) = r
            .origins
            .iter()
            .chain(&r.headers)
            .find(|o| o.matches('*').count() > 1)
        {
            return Err(ConfigError::Invalid(format!(
                "{o} can not have more than one wildcard."
            )));
        }
        out.push(CorsRule {
            origins: r.origins,
            methods: r.methods,
            headers: r.headers,
            expose: r.expose,
            max_age: r.max_age,
        });
    }
    Ok(out)
}

/// Matches `value` against a pattern with at most one `*`.
pub fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), value.to_owned())
    };
    match p.split_once('*') {
        None => p == v,
        Some((pre, post)) => {
            v.len() >= pre.len() + post.len() && v.starts_with(pre) && v.ends_with(post)
        }
    }
}

impl CorsRule {
    pub fn matches(&self, origin: &str, method: &str, request_headers: &[&str]) -> bool {
        self.origins.iter().any(|o| wildcard(o, origin, false))
            && self.methods.iter().any(|m| m == method)
            && request_headers
                .iter()
                .all(|h| self.headers.iter().any(|a| wildcard(a, h, true)))
    }

    /// The headers of a successful preflight answer.
    pub fn preflight_headers(
        &self,
        origin: &str,
        method: &str,
        request_headers: &[&str],
    ) -> Vec<(&'static str, String)> {
        let mut out = self.allow_origin(origin);
        out.push(("access-control-allow-methods", self.methods.join(", ")));
        let _ = method;
        if !request_headers.is_empty() {
            out.push(("access-control-allow-headers", request_headers.join(", ")));
        }
        if let Some(age) = self.max_age {
            out.push(("access-control-max-age", age.to_string()));
        }
        if !self.expose.is_empty() {
            out.push(("access-control-expose-headers", self.expose.join(", ")));
        }
        out
    }

    /// The headers added to an actual (non-preflight) response.
    pub fn response_headers(&self, origin: &str) -> Vec<(&'static str, String)> {
        let mut out = self.allow_origin(origin);
        out.push(("access-control-allow-methods", self.methods.join(", ")));
        if !self.expose.is_empty() {
            out.push(("access-control-expose-headers", self.expose.join(", ")));
        }
        if let Some(age) = self.max_age {
            out.push(("access-control-max-age", age.to_string()));
        }
        out
    }

    /// `*` when the rule allows any origin, else the origin itself (with
    /// credentials allowed), as S3 answers.
    fn allow_origin(&self, origin: &str) -> Vec<(&'static str, String)> {
        let mut out = vec![(
            "vary",
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_owned(),
        )];
        if self.origins.iter().any(|o| o == "*") {
            out.push(("access-control-allow-origin", "*".to_owned()));
        } else {
            out.push(("access-control-allow-origin", origin.to_owned()));
            out.push(("access-control-allow-credentials", "true".to_owned()));
        }
        out
    }
}

/// The first rule that allows this origin, method and header set.
pub fn find<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    request_headers: &[&str],
) -> Option<&'a CorsRule> {
    rules
        .iter()
        .find(|r| r.matches(origin, method, request_headers))
}

/// Splits an `Access-Control-Request-Headers` value into header names.
pub fn request_headers(value: Option<&str>) -> Vec<&str> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            origins: origins.iter().map(|s| s.to_string()).collect(),
            methods: methods.iter().map(|s| s.to_string()).collect(),
            headers: headers.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    #[test]
    fn wildcards() {
        let cases = [
            ("*", "http://a.com", true),
            ("http://*.example.com", "http://cdn.example.com", true),
            ("http://*.example.com", "http://example.com", false),
            ("http://*.example.com", "https://cdn.example.com", false),
            ("http://exact.com", "http://exact.com", true),
            ("http://exact.com", "http://exact.com.evil", false),
        ];
        for (p, v, want) in cases {
            assert_eq!(wildcard(p, v, false), want, "{p} vs {v}");
        }
        assert!(wildcard("x-amz-*", "X-Amz-Date", true));
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = [
            rule(&["http://a.com"], &["GET"], &[]),
            rule(&["*"], &["GET", "PUT"], &["content-type"]),
        ];
        assert_eq!(find(&rules, "http://a.com", "GET", &[]), Some(&rules[0]));
        assert_eq!(
            find(&rules, "http://b.com", "PUT", &["Content-Type"]),
            Some(&rules[1])
        );
        assert_eq!(find(&rules, "http://b.com", "PUT", &["x-custom"]), None);
        assert_eq!(find(&rules, "http://b.com", "DELETE", &[]), None);
        let h = rules[0].response_headers("http://a.com");
        assert!(h.contains(&("access-control-allow-origin", "http://a.com".into())));
        assert!(h.contains(&("access-control-allow-credentials", "true".into())));
    }
}
