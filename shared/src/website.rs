//! A bucket's website configuration (PutBucketWebsite) and what it says to
//! do with a request: which object answers a path, and where a path is
//! redirected. The origin checks and stores it; the edge, which serves
//! sites, reads it back with GetBucketWebsite and asks [`Website::route`].

use serde::{Deserialize, Serialize};

/// A checked website configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Website {
    /// `index.html`: the object that answers a path ending in `/`.
    pub index_suffix: Option<String>,
    /// The object served (with the error's status) when a page is missing.
    pub error_key: Option<String>,
    /// Every request goes to this host instead.
    pub redirect_all: Option<RedirectAll>,
    pub rules: Vec<RoutingRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectAll {
    pub host: String,
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    pub key_prefix: Option<String>,
    /// The rule applies only when serving the key failed with this status.
    pub error_code: Option<u16>,
    pub redirect: Redirect,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub host: Option<String>,
    pub protocol: Option<String>,
    pub replace_key_prefix: Option<String>,
    pub replace_key: Option<String>,
    /// 301 unless given.
    pub code: Option<u16>,
}

/// Why a configuration was refused (S3 answers InvalidArgument or
/// MalformedXML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Malformed,
    Argument(&'static str),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlConfig {
    index_document: Option<XmlIndex>,
    error_document: Option<XmlError>,
    redirect_all_requests_to: Option<XmlRedirectAll>,
    routing_rules: Option<XmlRules>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlIndex {
    suffix: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlError {
    key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlRedirectAll {
    host_name: String,
    protocol: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlRules {
    #[serde(default)]
    routing_rule: Vec<XmlRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlRule {
    condition: Option<XmlCondition>,
    redirect: XmlRedirect,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlCondition {
    key_prefix_equals: Option<String>,
    http_error_code_returned_equals: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XmlRedirect {
    host_name: Option<String>,
    protocol: Option<String>,
    replace_key_prefix_with: Option<String>,
    replace_key_with: Option<String>,
    http_redirect_code: Option<String>,
}

/// Routing rules a configuration may hold (S3's limit).
const MAX_RULES: usize = 50;

fn protocol(p: Option<String>) -> Result<Option<String>, Invalid> {
    match p.as_deref().map(str::trim) {
        None => Ok(None),
        Some("http") | Some("https") => Ok(p.map(|s| s.trim().to_owned())),
        Some(_) => Err(Invalid::Argument(
            "Invalid protocol, protocol can be http or https.",
        )),
    }
}

impl Website {
    /// Parses and checks a WebsiteConfiguration body.
    pub fn parse(body: &[u8]) -> Result<Website, Invalid> {
        let x: XmlConfig = crate::xml::parse(body).map_err(|_| Invalid::Malformed)?;
        if let Some(all) = x.redirect_all_requests_to {
            if x.index_document.is_some() || x.error_document.is_some() || x.routing_rules.is_some()
            {
                return Err(Invalid::Argument(
                    "RedirectAllRequestsTo cannot be provided in conjunction with other Routing/Redirect configurations.",
                ));
            }
            let host = all.host_name.trim().to_owned();
            if host.is_empty() {
                return Err(Invalid::Argument("A host name must be provided."));
            }
            return Ok(Website {
                index_suffix: None,
                error_key: None,
                redirect_all: Some(RedirectAll {
                    host,
                    protocol: protocol(all.protocol)?,
                }),
                rules: Vec::new(),
            });
        }
        let suffix = x.index_document.map(|i| i.suffix).ok_or(Invalid::Argument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        ))?;
        let mut site = Website::documents(suffix, x.error_document.map(|e| e.key))?;
        let mut rules = Vec::new();
        for r in x.routing_rules.map(|r| r.routing_rule).unwrap_or_default() {
            let (key_prefix, error_code) = match r.condition {
                Some(c) => {
                    let code = c
                        .http_error_code_returned_equals
                        .map(|c| c.trim().parse::<u16>())
                        .transpose()
                        .map_err(|_| {
                            Invalid::Argument("The provided HTTP error code is not valid.")
                        })?;
                    if code.is_some_and(|c| !(400..600).contains(&c)) {
                        return Err(Invalid::Argument(
                            "The provided HTTP error code is not valid.",
                        ));
                    }
                    (c.key_prefix_equals, code)
                }
                None => (None, None),
            };
            let d = r.redirect;
            if d.replace_key_prefix_with.is_some() && d.replace_key_with.is_some() {
                return Err(Invalid::Argument(
                    "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
                ));
            }
            let code = d
                .http_redirect_code
                .map(|c| c.trim().parse::<u16>())
                .transpose()
                .map_err(|_| Invalid::Argument("The provided HTTP redirect code is not valid."))?;
            if code.is_some_and(|c| !(300..400).contains(&c) || c == 300) {
                return Err(Invalid::Argument(
                    "The provided HTTP redirect code is not valid. It should be a 3XX code.",
                ));
            }
            rules.push(RoutingRule {
                key_prefix,
                error_code,
                redirect: Redirect {
                    host: d.host_name.map(|h| h.trim().to_owned()),
                    protocol: protocol(d.protocol)?,
                    replace_key_prefix: d.replace_key_prefix_with,
                    replace_key: d.replace_key_with,
                    code,
                },
            });
            if rules.len() > MAX_RULES {
                return Err(Invalid::Argument("Too many routing rules."));
            }
        }
        site.rules = rules;
        Ok(site)
    }

    /// A site of index and error documents only, checked as S3 checks them.
    pub fn documents(index_suffix: String, error_key: Option<String>) -> Result<Website, Invalid> {
        if index_suffix.is_empty() || index_suffix.contains('/') {
            return Err(Invalid::Argument(
                "The IndexDocument Suffix is not well formed",
            ));
        }
        if error_key.as_deref().is_some_and(str::is_empty) {
            return Err(Invalid::Argument(
                "The ErrorDocument Key is not well formed",
            ));
        }
        Ok(Website {
            index_suffix: Some(index_suffix),
            error_key,
            redirect_all: None,
            rules: Vec::new(),
        })
    }

    /// The object key a request path names: the path without its leading
    /// `/` (already percent-decoded), with the index suffix after a
    /// trailing `/` (or for the root).
    pub fn key_for(&self, path_key: &str) -> String {
        match &self.index_suffix {
            Some(suffix) if path_key.is_empty() || path_key.ends_with('/') => {
                format!("{path_key}{suffix}")
            }
            _ => path_key.to_owned(),
        }
    }

    /// Where to send a request for `key` before anything is served: every
    /// request (RedirectAllRequestsTo), or a rule without an error
    /// condition whose prefix matches.
    pub fn redirect_before(&self, key: &str, host: &str, tls: bool) -> Option<Target> {
        if let Some(all) = &self.redirect_all {
            let scheme = all
                .protocol
                .clone()
                .unwrap_or_else(|| if tls { "https" } else { "http" }.to_owned());
            return Some(Target {
                code: 301,
                location: format!("{scheme}://{}/{key}", all.host),
            });
        }
        self.rule_for(key, None, host, tls)
    }

    /// Where to send a request whose key failed with `status`, if a rule
    /// with that error condition (and a matching prefix) says so.
    pub fn redirect_after(&self, key: &str, status: u16, host: &str, tls: bool) -> Option<Target> {
        self.rule_for(key, Some(status), host, tls)
    }

    fn rule_for(&self, key: &str, status: Option<u16>, host: &str, tls: bool) -> Option<Target> {
        let rule = self.rules.iter().find(|r| {
            r.error_code == status && r.key_prefix.as_deref().is_none_or(|p| key.starts_with(p))
        })?;
        let d = &rule.redirect;
        let new_key = match (&d.replace_key, &d.replace_key_prefix) {
            (Some(k), _) => k.clone(),
            (None, Some(p)) => {
                let rest = rule
                    .key_prefix
                    .as_deref()
                    .and_then(|old| key.strip_prefix(old))
                    .unwrap_or(key);
                format!("{p}{rest}")
            }
            (None, None) => key.to_owned(),
        };
        let scheme = d
            .protocol
            .clone()
            .unwrap_or_else(|| if tls { "https" } else { "http" }.to_owned());
        let host = d.host.as_deref().unwrap_or(host);
        Some(Target {
            code: d.code.unwrap_or(301),
            location: format!("{scheme}://{host}/{new_key}"),
        })
    }
}

/// A redirect to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub code: u16,
    pub location: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(rules: &str) -> Website {
        Website::parse(
            format!(
                "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument>\
                 <ErrorDocument><Key>404.html</Key></ErrorDocument>{rules}</WebsiteConfiguration>"
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn paths_name_keys_and_folders_their_index() {
        let w = site("");
        assert_eq!(w.key_for(""), "index.html");
        assert_eq!(w.key_for("docs/"), "docs/index.html");
        assert_eq!(w.key_for("app.js"), "app.js");
        assert_eq!(w.error_key.as_deref(), Some("404.html"));
    }

    #[test]
    fn routing_rules_redirect_by_prefix_and_by_error() {
        let w = site(
            "<RoutingRules><RoutingRule><Condition><KeyPrefixEquals>blog/</KeyPrefixEquals></Condition>\
             <Redirect><ReplaceKeyPrefixWith>news/</ReplaceKeyPrefixWith></Redirect></RoutingRule>\
             <RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>\
             <Redirect><HostName>old.example.com</HostName><Protocol>https</Protocol><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule></RoutingRules>",
        );
        assert_eq!(
            w.redirect_before("blog/a.html", "www.example.com", false),
            Some(Target {
                code: 301,
                location: "http://www.example.com/news/a.html".into()
            })
        );
        assert_eq!(
            w.redirect_before("docs/a.html", "www.example.com", false),
            None
        );
        assert_eq!(
            w.redirect_after("gone.html", 404, "www.example.com", false),
            Some(Target {
                code: 302,
                location: "https://old.example.com/gone.html".into()
            })
        );
        assert_eq!(
            w.redirect_after("gone.html", 403, "www.example.com", false),
            None
        );
    }

    #[test]
    fn bad_configurations_are_refused() {
        let bad: &[&str] = &[
            "<WebsiteConfiguration></WebsiteConfiguration>",
            "<WebsiteConfiguration><IndexDocument><Suffix></Suffix></IndexDocument></WebsiteConfiguration>",
            "<WebsiteConfiguration><IndexDocument><Suffix>a/b</Suffix></IndexDocument></WebsiteConfiguration>",
            "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>x</HostName></RedirectAllRequestsTo><IndexDocument><Suffix>i</Suffix></IndexDocument></WebsiteConfiguration>",
            "<WebsiteConfiguration><RedirectAllRequestsTo><HostName>x</HostName><Protocol>ftp</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>",
            "<WebsiteConfiguration><IndexDocument><Suffix>i</Suffix></IndexDocument><RoutingRules><RoutingRule><Redirect><HttpRedirectCode>200</HttpRedirectCode></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>",
            "<WebsiteConfiguration><IndexDocument>",
        ];
        for b in bad {
            assert!(Website::parse(b.as_bytes()).is_err(), "{b}");
        }
        let all = Website::parse(
            b"<WebsiteConfiguration><RedirectAllRequestsTo><HostName>example.com</HostName><Protocol>https</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>",
        )
        .unwrap();
        assert_eq!(
            all.redirect_before("a/b", "x", false).unwrap().location,
            "https://example.com/a/b"
        );
    }
}
