//! Event notifications: bucket rules (PutBucketNotificationConfiguration)
//! that send S3's event JSON to webhooks when objects are created or
//! removed.
//!
//! Webhook targets are named by the operator (`webhooks = ["NAME=URL"]`);
//! a bucket's rules name a target by ARN (`arn:cairn:webhook::NAME`), never
//! a URL, so no key holder can make the origin POST wherever it likes.
//!
//! Delivery follows the change feed, which already orders every change and
//! commits with it: one worker per target reads changes after its cursor
//! (kept in SQLite), POSTs what its rules match, one event at a time, and
//! moves the cursor only once the target answered 2xx. So delivery is at
//! least once, in feed order (so in order per key), retried with back-off
//! for as long as the target fails, and resumed after a restart. The feed
//! keeps changes a cursor still needs, up to [`MAX_BACKLOG`] behind the
//! newest; past that the oldest are dropped and counted as lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Code, S3Error, S3Result};
use crate::state::AppState;
use crate::store::meta::notify as store;
use crate::xml::{self, XmlWriter};

/// Changes the feed keeps for a lagging target before dropping the oldest.
pub const MAX_BACKLOG: i64 = 1_000_000;

/// The longest wait between two attempts at one event.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Each delivery attempt's bound.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Rules a bucket may hold.
const MAX_RULES: usize = 100;

/// The events Cairn can send, and the wildcards that cover them.
const EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
];

/// One rule: events, a key filter and the target they go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    /// The target's name (from its ARN).
    pub target: String,
    /// As written in the rule, for GetBucketNotificationConfiguration.
    pub arn: String,
    /// `Queue`, `Topic`: which element the rule came in.
    pub kind: String,
    pub events: Vec<String>,
    pub prefix: String,
    pub suffix: String,
}

impl Rule {
    /// Whether this rule sends `event` (`ObjectCreated:Put`) for `key`.
    pub fn matches(&self, event: &str, key: &str) -> bool {
        let family = event.split(':').next().unwrap_or(event);
        let wants = self.events.iter().any(|e| {
            let e = e.strip_prefix("s3:").unwrap_or(e);
            e == event || e.strip_suffix(":*") == Some(family)
        });
        wants && key.starts_with(&self.prefix) && key.ends_with(&self.suffix)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Configuration {
    #[serde(default)]
    queue_configuration: Vec<TargetConfiguration>,
    #[serde(default)]
    topic_configuration: Vec<TargetConfiguration>,
    #[serde(default)]
    cloud_function_configuration: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    lambda_function_configuration: Vec<serde::de::IgnoredAny>,
    event_bridge_configuration: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetConfiguration {
    id: Option<String>,
    queue: Option<String>,
    topic: Option<String>,
    #[serde(default)]
    event: Vec<String>,
    filter: Option<Filter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Filter {
    #[serde(rename = "S3Key")]
    s3_key: Option<KeyFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyFilter {
    #[serde(default)]
    filter_rule: Vec<FilterRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterRule {
    name: String,
    value: String,
}

fn invalid(message: impl Into<String>) -> S3Error {
    S3Error::msg(Code::InvalidArgument, message.into())
}

/// The target an ARN names: `arn:cairn:webhook::NAME`, or MinIO's
/// `arn:minio:sqs::NAME:webhook`.
fn target_of(arn: &str) -> Option<&str> {
    let arn = arn.trim();
    arn.strip_prefix("arn:cairn:webhook::").or_else(|| {
        arn.strip_prefix("arn:minio:sqs::")
            .and_then(|r| r.strip_suffix(":webhook"))
    })
}

/// Parses a NotificationConfiguration body into rules, checking every ARN
/// against the configured `targets`.
pub fn parse(body: &[u8], targets: &[Target]) -> S3Result<Vec<Rule>> {
    let conf: Configuration = xml::parse(body)?;
    if !conf.cloud_function_configuration.is_empty()
        || !conf.lambda_function_configuration.is_empty()
        || conf.event_bridge_configuration.is_some()
    {
        return Err(S3Error::msg(
            Code::NotImplemented,
            "Only webhook targets (QueueConfiguration or TopicConfiguration) are supported.",
        ));
    }
    let mut rules = Vec::new();
    let all = conf
        .queue_configuration
        .into_iter()
        .map(|c| ("Queue", c))
        .chain(conf.topic_configuration.into_iter().map(|c| ("Topic", c)));
    for (kind, c) in all {
        let arn = match kind {
            "Queue" => c.queue,
            _ => c.topic,
        }
        .ok_or_else(|| S3Error::new(Code::MalformedXML))?;
        let target = target_of(&arn)
            .filter(|t| targets.iter().any(|x| x.name == *t))
            .ok_or_else(|| {
                invalid(format!(
                    "Unable to validate the following destination configurations: {arn} (targets are arn:cairn:webhook::NAME for a NAME in the origin's webhooks setting)"
                ))
            })?;
        if c.event.is_empty() {
            return Err(invalid("A rule must name at least one event."));
        }
        for e in &c.event {
            if !EVENTS.contains(&e.trim()) {
                return Err(invalid(format!(
                    "The event is not supported for notifications: {e}"
                )));
            }
        }
        let (mut prefix, mut suffix) = (None, None);
        for r in c
            .filter
            .and_then(|f| f.s3_key)
            .map(|k| k.filter_rule)
            .unwrap_or_default()
        {
            let slot = match r.name.to_ascii_lowercase().as_str() {
                "prefix" => &mut prefix,
                "suffix" => &mut suffix,
                _ => return Err(invalid("FilterRule names must be 'prefix' or 'suffix'.")),
            };
            if slot.replace(r.value).is_some() {
                return Err(invalid(
                    "Cannot specify more than one prefix or suffix rule in a filter.",
                ));
            }
        }
        let id =
            c.id.filter(|i| !i.trim().is_empty())
                .unwrap_or_else(|| format!("rule-{}", rules.len() + 1));
        rules.push(Rule {
            id,
            target: target.to_owned(),
            arn: arn.trim().to_owned(),
            kind: kind.to_owned(),
            events: c.event.iter().map(|e| e.trim().to_owned()).collect(),
            prefix: prefix.unwrap_or_default(),
            suffix: suffix.unwrap_or_default(),
        });
        if rules.len() > MAX_RULES {
            return Err(invalid("Too many notification rules."));
        }
    }
    Ok(rules)
}

/// The rules as GetBucketNotificationConfiguration answers them.
pub fn to_xml(rules: &[Rule]) -> Vec<u8> {
    let mut w = XmlWriter::new();
    w.root("NotificationConfiguration");
    for r in rules {
        let element = format!("{}Configuration", r.kind);
        w.open(&element);
        w.elem("Id", &r.id);
        w.elem(&r.kind, &r.arn);
        for e in &r.events {
            w.elem("Event", e);
        }
        if !r.prefix.is_empty() || !r.suffix.is_empty() {
            w.open("Filter");
            w.open("S3Key");
            for (name, value) in [("prefix", &r.prefix), ("suffix", &r.suffix)] {
                if !value.is_empty() {
                    w.open("FilterRule");
                    w.elem("Name", name);
                    w.elem("Value", value);
                    w.close("FilterRule");
                }
            }
            w.close("S3Key");
            w.close("Filter");
        }
        w.close(&element);
    }
    w.close("NotificationConfiguration");
    w.finish()
}

/// A webhook the operator configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub url: String,
}

impl Target {
    /// `NAME=URL` (an http or https URL).
    pub fn parse(s: &str) -> Result<Target, String> {
        let bad = || format!("webhook {s:?}: want NAME=http(s)://HOST/PATH");
        let (name, url) = s.split_once('=').ok_or_else(bad)?;
        let (name, url) = (name.trim(), url.trim());
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let url_ok = (url.starts_with("http://") || url.starts_with("https://"))
            && reqwest::Url::parse(url).is_ok();
        if !name_ok || !url_ok {
            return Err(bad());
        }
        Ok(Target {
            name: name.to_owned(),
            url: url.to_owned(),
        })
    }
}

/// How one target's deliveries are going, for the admin API and `/metrics`.
#[derive(Debug, Default)]
pub struct TargetStatus {
    pub delivered: AtomicU64,
    pub failures: AtomicU64,
    /// Events dropped from a backlog past [`MAX_BACKLOG`].
    pub lost: AtomicU64,
    /// The feed position delivered up to.
    pub cursor: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// Every target's status, by name.
#[derive(Debug, Default)]
pub struct Status {
    pub targets: Mutex<HashMap<String, Arc<TargetStatus>>>,
}

impl Status {
    pub fn of(&self, name: &str) -> Arc<TargetStatus> {
        self.targets
            .lock()
            .map(|mut m| m.entry(name.to_owned()).or_default().clone())
            .unwrap_or_default()
    }

    pub fn all(&self) -> Vec<(String, Arc<TargetStatus>)> {
        let mut v: Vec<_> = self
            .targets
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// One of a target's counters.
type Counter = fn(&TargetStatus) -> u64;

/// Per-target delivery counters in Prometheus' text format.
pub fn render_metrics(status: &Status) -> String {
    use std::fmt::Write;
    let all = status.all();
    let mut out = String::new();
    let families: [(&str, &str, Counter); 3] = [
        (
            "cairn_origin_notifications_delivered_total",
            "Events a webhook target took.",
            |s| s.delivered.load(Ordering::Relaxed),
        ),
        (
            "cairn_origin_notification_failures_total",
            "Delivery attempts that failed (each is retried).",
            |s| s.failures.load(Ordering::Relaxed),
        ),
        (
            "cairn_origin_notifications_lost_total",
            "Events dropped from a backlog past its bound.",
            |s| s.lost.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (target, s) in &all {
            let _ = writeln!(out, "{name}{{target=\"{target}\"}} {}", value(s));
        }
    }
    out
}

/// S3's event JSON for one change.
fn event_json(state: &AppState, change: &store::FeedChange, rule: &Rule, event: &str) -> String {
    let key: String = form_urlencoded(change.key.as_deref().unwrap_or_default());
    let mut object = serde_json::json!({
        "key": key,
        "sequencer": format!("{:016X}", change.seq),
    });
    if let Some(etag) = &change.etag {
        object["eTag"] = etag.clone().into();
        object["size"] = change.size.unwrap_or(0).into();
    }
    if let Some(v) = change
        .version
        .as_deref()
        .filter(|v| *v != "null" && !v.is_empty())
    {
        object["versionId"] = v.into();
    }
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "cairn:s3",
            "awsRegion": state.config.region,
            "eventTime": crate::ops::iso8601(change.created_ms),
            "eventName": event,
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": rule.id,
                "bucket": {
                    "name": change.bucket,
                    "arn": format!("arn:aws:s3:::{}", change.bucket),
                },
                "object": object,
            }
        }]
    })
    .to_string()
}

/// Keys in S3 events are form-encoded (space as `+`).
fn form_urlencoded(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Starts one delivery worker per configured target, after forgetting
/// the cursors of targets no longer configured.
pub fn spawn_workers(state: &AppState) {
    let names: Vec<String> = state
        .config
        .webhooks
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let s = state.clone();
    tokio::spawn(async move {
        if let Err(e) = s
            .meta
            .write(move |c, _| store::keep_cursors(c, &names))
            .await
        {
            tracing::warn!(error = %e, "cannot forget old notification cursors");
        }
        for target in s.config.webhooks.clone() {
            tokio::spawn(deliver(s.clone(), target));
        }
    });
}

/// One target's worker: never returns.
async fn deliver(state: AppState, target: Target) {
    let status = state.notify.of(&target.name);
    let http = match reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(target = target.name, error = %e, "no HTTP client: notifications off");
            return;
        }
    };
    let name = target.name.clone();
    let mut cursor = match state
        .meta
        .write(move |c, _| store::cursor_or_head(c, &name))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(target = target.name, error = %e, "cannot read the notification cursor");
            return;
        }
    };
    // Rules by bucket, read once per batch.
    loop {
        status.cursor.store(cursor.max(0) as u64, Ordering::Relaxed);
        let after = cursor;
        let batch = match state
            .meta
            .read(move |c| store::feed_after(c, after, 100))
            .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "notification worker cannot read the feed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(first) = batch.first() else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if first.seq > cursor + 1 {
            // Either a gap in the sequence, or the feed was trimmed past
            // us (a backlog beyond MAX_BACKLOG): only the latter leaves
            // nothing at or before the cursor.
            let oldest = state
                .meta
                .read(crate::store::meta::changes::bounds)
                .await
                .map(|b| b.0)
                .unwrap_or(0);
            if oldest > cursor + 1 {
                let lost = u64::try_from(oldest - cursor - 1).unwrap_or(0);
                status.lost.fetch_add(lost, Ordering::Relaxed);
                tracing::warn!(
                    target = target.name,
                    lost,
                    "notifications lost to the feed's backlog bound"
                );
            }
        }
        let mut rules: HashMap<String, Vec<Rule>> = HashMap::new();
        let saved = cursor;
        for change in &batch {
            let Some(key) = change.key.as_deref() else {
                cursor = change.seq;
                continue;
            };
            if !rules.contains_key(&change.bucket) {
                let b = change.bucket.clone();
                let found = state
                    .meta
                    .read(move |c| store::rules(c, &b))
                    .await
                    .unwrap_or_default();
                rules.insert(change.bucket.clone(), found);
            }
            let event = if change.etag.is_some() {
                "ObjectCreated:Put"
            } else {
                "ObjectRemoved:Delete"
            };
            let mut sent = false;
            for rule in rules[&change.bucket]
                .iter()
                .filter(|r| r.target == target.name && r.matches(event, key))
            {
                let body = event_json(&state, change, rule, event);
                send(&http, &target, &status, body).await;
                sent = true;
            }
            cursor = change.seq;
            // Saved after each delivery (a restart repeats at most the
            // event in flight); changes no rule wanted only move the
            // position in memory, saved once per batch below.
            if sent {
                save_cursor(&state, &target.name, cursor).await;
            }
        }
        if cursor != saved {
            save_cursor(&state, &target.name, cursor).await;
        }
    }
}

async fn save_cursor(state: &AppState, target: &str, seq: i64) {
    let name = target.to_owned();
    if let Err(e) = state
        .meta
        .write(move |c, _| store::set_cursor(c, &name, seq))
        .await
    {
        tracing::warn!(error = %e, "cannot save the notification cursor");
    }
}

/// POSTs one event until the target takes it (2xx), backing off from
/// 250 ms to a minute between attempts.
async fn send(http: &reqwest::Client, target: &Target, status: &TargetStatus, body: String) {
    let mut wait = Duration::from_millis(250);
    loop {
        let outcome = http
            .post(&target.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        let error = match outcome {
            Ok(r) if r.status().is_success() => {
                status.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) => format!("{} answered {}", target.url, r.status()),
            Err(e) => format!("{}: {e}", target.url),
        };
        status.failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            target = target.name,
            error,
            "notification delivery failed; retrying"
        );
        if let Ok(mut last) = status.last_error.lock() {
            *last = Some(error);
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Vec<Target> {
        vec![Target::parse("thumbs=http://127.0.0.1:1/hook").unwrap()]
    }

    #[test]
    fn rules_parse_match_and_print_back() {
        let body = br#"<NotificationConfiguration>
            <QueueConfiguration><Id>t</Id><Queue>arn:cairn:webhook::thumbs</Queue>
              <Event>s3:ObjectCreated:*</Event>
              <Filter><S3Key><FilterRule><Name>prefix</Name><Value>img/</Value></FilterRule>
                <FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter>
            </QueueConfiguration></NotificationConfiguration>"#;
        let rules = parse(body, &targets()).unwrap();
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        assert!(r.matches("ObjectCreated:Put", "img/a.jpg"));
        assert!(!r.matches("ObjectRemoved:Delete", "img/a.jpg"));
        assert!(!r.matches("ObjectCreated:Put", "img/a.png"));
        assert!(!r.matches("ObjectCreated:Put", "doc/a.jpg"));
        assert_eq!(parse(&to_xml(&rules), &targets()).unwrap(), rules);
    }

    #[test]
    fn unknown_targets_events_and_kinds_are_refused() {
        let with =
            |inner: &str| format!("<NotificationConfiguration>{inner}</NotificationConfiguration>");
        let cases = [
            (with("<QueueConfiguration><Queue>arn:cairn:webhook::other</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>"), Code::InvalidArgument),
            (with("<QueueConfiguration><Queue>http://10.0.0.1/</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>"), Code::InvalidArgument),
            (with("<QueueConfiguration><Queue>arn:cairn:webhook::thumbs</Queue><Event>s3:ObjectRestore:*</Event></QueueConfiguration>"), Code::InvalidArgument),
            (with("<CloudFunctionConfiguration><CloudFunction>x</CloudFunction><Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration>"), Code::NotImplemented),
        ];
        for (body, code) in cases {
            assert_eq!(
                parse(body.as_bytes(), &targets()).unwrap_err().code,
                code,
                "{body}"
            );
        }
        assert!(parse(b"<NotificationConfiguration/>", &targets())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn targets_are_names_and_http_urls() {
        assert!(Target::parse("a=https://example.com/x").is_ok());
        for bad in [
            "a",
            "=http://x/",
            "a b=http://x/",
            "a=file:///etc/passwd",
            "a=ftp://x/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_keys_are_form_encoded() {
        assert_eq!(form_urlencoded("a b/ü+c"), "a+b/%C3%BC%2Bc");
    }
}
