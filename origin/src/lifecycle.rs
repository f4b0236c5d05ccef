//! Lifecycle rules: the configuration document, validated whole, and the
//! pure questions the worker and `x-amz-expiration` ask of it (does a rule
//! apply to this object, and when does it expire).
//!
//! No I/O here. The rules are stored on the bucket as JSON of [`Rule`]s
//! (`store::meta::buckets`), answered back as XML by [`to_xml`], and
//! applied by `ops::lifecycle::apply`. A "day" is `Config::lifecycle_day`:
//! a real day (expiry at the midnight UTC after, as S3 rounds it) or, for
//! tests, a few seconds (no rounding).

use serde::{Deserialize, Serialize};

use crate::error::{Code, S3Error, S3Result};
use crate::xml::XmlWriter;

/// S3's limits: rules per configuration and characters per rule id.
const MAX_RULES: usize = 1000;
const MAX_ID: usize = 255;
const DAY_MS: i64 = 86_400_000;

/// Which objects a rule covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub prefix: String,
    /// Every tag must be on the object.
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
    /// How the client wrote the filter, to answer it back the same way:
    /// a rule-level `<Prefix>` (the legacy form), or a `<Filter>`...
    pub legacy_prefix: bool,
    /// ...and whether it named a prefix at all (an empty one included).
    pub prefix_set: bool,
}

/// One lifecycle rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    /// Current versions expire this many days after they were written...
    pub expiration_days: Option<u32>,
    /// ...or on this date (midnight UTC, in ms).
    pub expiration_date_ms: Option<i64>,
    /// Delete markers with no version left behind them are removed.
    pub expired_object_delete_marker: bool,
    /// Noncurrent versions are removed this many days after they became
    /// noncurrent.
    pub noncurrent_days: Option<u32>,
    /// Multipart uploads are aborted this many days after they started.
    pub abort_multipart_days: Option<u32>,
}

impl Rule {
    /// Whether the rule covers an object with this key, size and tags.
    pub fn covers(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        let f = &self.filter;
        key.starts_with(&f.prefix)
            && f.size_greater_than.is_none_or(|n| size > n)
            && f.size_less_than.is_none_or(|n| size < n)
            && f.tags.iter().all(|t| tags.contains(t))
    }

    /// When a current version written at `modified_ms` expires under this
    /// rule, if the rule expires current versions.
    pub fn expiry_ms(&self, modified_ms: i64, day_ms: i64) -> Option<i64> {
        if !self.enabled {
            return None;
        }
        if let Some(date) = self.expiration_date_ms {
            return Some(date);
        }
        self.expiration_days
            .map(|d| after_days(modified_ms, d, day_ms))
    }
}

/// `days` lifecycle days after `from_ms`: with real days, the midnight UTC
/// that follows, as S3 computes it.
pub fn after_days(from_ms: i64, days: u32, day_ms: i64) -> i64 {
    let t = from_ms.saturating_add(i64::from(days).saturating_mul(day_ms));
    if day_ms == DAY_MS {
        (t.div_euclid(DAY_MS) + 1) * DAY_MS
    } else {
        t
    }
}

/// The earliest expiry of a current version among `rules`, with the id of
/// the rule that sets it (for `x-amz-expiration`).
pub fn expiry<'a>(
    rules: &'a [Rule],
    key: &str,
    size: u64,
    tags: &[(String, String)],
    modified_ms: i64,
    day_ms: i64,
) -> Option<(i64, &'a str)> {
    rules
        .iter()
        .filter(|r| r.covers(key, size, tags))
        .filter_map(|r| r.expiry_ms(modified_ms, day_ms).map(|t| (t, r.id.as_str())))
        .min_by_key(|(t, _)| *t)
}

#[derive(Deserialize)]
struct LifecycleConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleXml {
    #[serde(rename = "ID")]
    id: Option<String>,
    prefix: Option<String>,
    filter: Option<FilterXml>,
    status: Option<String>,
    expiration: Option<ExpirationXml>,
    noncurrent_version_expiration: Option<NoncurrentXml>,
    abort_incomplete_multipart_upload: Option<AbortXml>,
    #[serde(rename = "Transition", default)]
    transitions: Vec<TransitionXml>,
    #[serde(rename = "NoncurrentVersionTransition", default)]
    noncurrent_transitions: Vec<TransitionXml>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct FilterXml {
    prefix: Option<String>,
    tag: Option<TagXml>,
    and: Option<AndXml>,
    object_size_greater_than: Option<String>,
    object_size_less_than: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AndXml {
    prefix: Option<String>,
    #[serde(rename = "Tag", default)]
    tags: Vec<TagXml>,
    object_size_greater_than: Option<String>,
    object_size_less_than: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagXml {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExpirationXml {
    days: Option<String>,
    date: Option<String>,
    expired_object_delete_marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NoncurrentXml {
    noncurrent_days: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AbortXml {
    days_after_initiation: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransitionXml {
    date: Option<String>,
}

fn invalid(msg: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::msg(Code::InvalidArgument, msg)
}

fn malformed() -> S3Error {
    S3Error::new(Code::MalformedXML)
}

/// A positive whole number of days.
fn days(text: &str, what: &'static str) -> S3Result<u32> {
    match text.trim().parse::<i64>() {
        Ok(n) if n > 0 && n <= i64::from(u32::MAX) => Ok(n as u32),
        Ok(_) => Err(invalid(format!("'{what}' must be a positive integer"))),
        Err(_) => Err(malformed()),
    }
}

fn size(text: Option<&str>) -> S3Result<Option<u64>> {
    text.map(|t| t.trim().parse::<u64>().map_err(|_| malformed()))
        .transpose()
}

/// An ISO 8601 date at midnight UTC, in ms.
fn midnight(text: &str) -> S3Result<i64> {
    let t = text.trim();
    let ms = crate::ops::parse_iso8601(t)
        .or_else(|| {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            let day = time::Date::parse(t, &fmt).ok()?;
            Some(day.midnight().assume_utc().unix_timestamp() * 1000)
        })
        .ok_or_else(|| invalid("Date must be in ISO 8601 format"))?;
    if ms.rem_euclid(DAY_MS) != 0 {
        return Err(invalid("'Date' must be at midnight GMT"));
    }
    Ok(ms)
}

/// Parses and validates a LifecycleConfiguration document whole.
pub fn parse(body: &[u8]) -> S3Result<Vec<Rule>> {
    let doc: LifecycleConfiguration = crate::xml::parse(body)?;
    if doc.rules.is_empty() || doc.rules.len() > MAX_RULES {
        return Err(malformed());
    }
    let mut rules = Vec::with_capacity(doc.rules.len());
    for (i, r) in doc.rules.into_iter().enumerate() {
        let id = r.id.unwrap_or_else(|| format!("rule-{}", i + 1));
        if id.chars().count() > MAX_ID {
            return Err(invalid("ID length should not exceed allowed limit of 255"));
        }
        if rules.iter().any(|x: &Rule| x.id == id) {
            return Err(invalid(
                "Rule ID must be unique. Found same ID for more than one rule",
            ));
        }
        let enabled = match r.status.as_deref() {
            Some("Enabled") => true,
            Some("Disabled") => false,
            _ => return Err(malformed()),
        };
        let filter = match (r.prefix, r.filter) {
            (Some(_), Some(_)) => return Err(malformed()),
            (Some(p), None) => Filter {
                prefix: p,
                legacy_prefix: true,
                prefix_set: true,
                ..Filter::default()
            },
            (None, f) => {
                let f = f.unwrap_or_default();
                let mut out = Filter {
                    prefix_set: f.prefix.is_some(),
                    prefix: f.prefix.unwrap_or_default(),
                    size_greater_than: size(f.object_size_greater_than.as_deref())?,
                    size_less_than: size(f.object_size_less_than.as_deref())?,
                    ..Filter::default()
                };
                if let Some(t) = f.tag {
                    out.tags.push((t.key, t.value));
                }
                if let Some(and) = f.and {
                    if !out.prefix.is_empty() || !out.tags.is_empty() {
                        return Err(malformed());
                    }
                    out.prefix_set = and.prefix.is_some();
                    out.prefix = and.prefix.unwrap_or_default();
                    out.tags = and.tags.into_iter().map(|t| (t.key, t.value)).collect();
                    out.size_greater_than = size(and.object_size_greater_than.as_deref())?;
                    out.size_less_than = size(and.object_size_less_than.as_deref())?;
                }
                out
            }
        };
        let mut rule = Rule {
            id,
            enabled,
            filter,
            expiration_days: None,
            expiration_date_ms: None,
            expired_object_delete_marker: false,
            noncurrent_days: None,
            abort_multipart_days: None,
        };
        if let Some(e) = r.expiration {
            let marker = e.expired_object_delete_marker.as_deref().map(str::trim);
            rule.expired_object_delete_marker = match marker {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(malformed()),
            };
            match (e.days.as_deref(), e.date.as_deref()) {
                (Some(_), Some(_)) => return Err(malformed()),
                (Some(d), None) => rule.expiration_days = Some(days(d, "Days")?),
                (None, Some(d)) => rule.expiration_date_ms = Some(midnight(d)?),
                (None, None) if rule.expired_object_delete_marker => {}
                (None, None) => return Err(malformed()),
            }
        }
        if let Some(n) = r.noncurrent_version_expiration {
            let d = n.noncurrent_days.ok_or_else(malformed)?;
            rule.noncurrent_days = Some(days(&d, "NoncurrentDays")?);
        }
        if let Some(a) = r.abort_incomplete_multipart_upload {
            let d = a.days_after_initiation.ok_or_else(malformed)?;
            rule.abort_multipart_days = Some(days(&d, "DaysAfterInitiation")?);
        }
        let transitions = r.transitions.iter().chain(&r.noncurrent_transitions);
        for t in transitions.clone() {
            if let Some(d) = &t.date {
                midnight(d)?;
            }
        }
        if transitions.count() > 0 {
            return Err(S3Error::msg(
                Code::NotImplemented,
                "Cairn has one storage class; lifecycle transitions are not supported.",
            ));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// The configuration as GetBucketLifecycleConfiguration answers it.
pub fn to_xml(rules: &[Rule]) -> Vec<u8> {
    let mut w = XmlWriter::new();
    w.root("LifecycleConfiguration");
    for r in rules {
        w.open("Rule");
        w.elem("ID", &r.id);
        let f = &r.filter;
        if f.legacy_prefix {
            w.elem("Prefix", &f.prefix);
        } else {
            w.open("Filter");
            let parts = usize::from(f.prefix_set)
                + f.tags.len()
                + usize::from(f.size_greater_than.is_some())
                + usize::from(f.size_less_than.is_some());
            let and = parts > 1;
            if and {
                w.open("And");
            }
            if f.prefix_set {
                w.elem("Prefix", &f.prefix);
            }
            for (k, v) in &f.tags {
                w.open("Tag");
                w.elem("Key", k);
                w.elem("Value", v);
                w.close("Tag");
            }
            if let Some(n) = f.size_greater_than {
                w.elem("ObjectSizeGreaterThan", &n.to_string());
            }
            if let Some(n) = f.size_less_than {
                w.elem("ObjectSizeLessThan", &n.to_string());
            }
            if and {
                w.close("And");
            }
            w.close("Filter");
        }
        w.elem("Status", if r.enabled { "Enabled" } else { "Disabled" });
        if r.expiration_days.is_some()
            || r.expiration_date_ms.is_some()
            || r.expired_object_delete_marker
        {
            w.open("Expiration");
            if let Some(d) = r.expiration_days {
                w.elem("Days", &d.to_string());
            }
            if let Some(ms) = r.expiration_date_ms {
                w.elem("Date", &crate::ops::iso8601(ms));
            }
            if r.expired_object_delete_marker {
                w.elem("ExpiredObjectDeleteMarker", "true");
            }
            w.close("Expiration");
        }
        if let Some(d) = r.noncurrent_days {
            w.open("NoncurrentVersionExpiration");
            w.elem("NoncurrentDays", &d.to_string());
            w.close("NoncurrentVersionExpiration");
        }
        if let Some(d) = r.abort_multipart_days {
            w.open("AbortIncompleteMultipartUpload");
            w.elem("DaysAfterInitiation", &d.to_string());
            w.close("AbortIncompleteMultipartUpload");
        }
        w.close("Rule");
    }
    w.close("LifecycleConfiguration");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> Vec<u8> {
        format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>").into_bytes()
    }

    #[test]
    fn documents_are_checked_whole() {
        let ok = parse(&doc("<Rule><ID>a</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>")).unwrap();
        assert_eq!(ok[0].expiration_days, Some(3));
        assert!(ok[0].filter.legacy_prefix);
        let code = |body: &str| parse(&doc(body)).unwrap_err().code;
        assert_eq!(code("<Rule><ID>a</ID><Status>enabled</Status><Expiration><Days>3</Days></Expiration></Rule>"), Code::MalformedXML);
        assert_eq!(code("<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>"), Code::InvalidArgument);
        assert_eq!(code(&format!("<Rule><ID>{}</ID><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>", "a".repeat(256))), Code::InvalidArgument);
        assert_eq!(code("<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>"), Code::InvalidArgument);
        assert_eq!(code("<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Date>2020-01-01T05:00:00Z</Date></Expiration></Rule>"), Code::InvalidArgument);
        assert_eq!(code("<Rule><ID>a</ID><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>"), Code::NotImplemented);
    }

    #[test]
    fn filters_and_expiry() {
        let rules = parse(&doc("<Rule><ID>t</ID><Filter><And><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>")).unwrap();
        let tags = vec![("k".to_owned(), "v".to_owned())];
        assert!(rules[0].covers("a/x", 11, &tags));
        assert!(!rules[0].covers("a/x", 10, &tags));
        assert!(!rules[0].covers("b/x", 11, &tags));
        assert!(!rules[0].covers("a/x", 11, &[]));
        // A real day rounds up to the next midnight; a test day does not.
        assert_eq!(after_days(DAY_MS / 2, 1, DAY_MS), 2 * DAY_MS);
        assert_eq!(after_days(500, 2, 1000), 2500);
        assert_eq!(expiry(&rules, "a/x", 11, &tags, 0, 1000), Some((1000, "t")));
        let xml = String::from_utf8(to_xml(&rules)).unwrap();
        assert_eq!(parse(xml.as_bytes()).unwrap(), rules, "{xml}");
    }
}
