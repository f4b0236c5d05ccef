//! Bucket policies: IAM's JSON (Allow and Deny statements, principals,
//! actions and resources with `*` and `?` wildcards, `Not*` elements and
//! conditions), parsed whole when stored and evaluated per request.
//!
//! How they combine with Cairn's own rules (`ops::authorize_*`):
//! - an explicit Deny that matches refuses the request, whoever sends it,
//!   the bucket's owner included, except that the owner can always read,
//!   replace and delete the policy itself (so no policy locks it out);
//! - otherwise the owner may do anything, as before;
//! - another key may do what an Allow grants it;
//! - an anonymous caller may only read (`s3:GetObject*`, `s3:ListBucket*`
//!   and the other `Get`/`List` actions), and only through an Allow
//!   without conditions: every write needs a signature, and an edge,
//!   which fetches public objects anonymously and caches them for
//!   everyone, must never cache what a condition (a Referer, an address)
//!   granted one request.

use serde_json::Value;

use crate::error::{Code, S3Error, S3Result};

/// A parsed policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    /// `Principal` (true) or `NotPrincipal` (false) and its values.
    principal: Option<(bool, Vec<String>)>,
    action: (bool, Vec<String>),
    resource: (bool, Vec<String>),
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
struct Condition {
    op: Op,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    Bool,
    Null,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    IpAddress,
    NotIpAddress,
}

impl Op {
    fn parse(name: &str) -> Option<Self> {
        use Op::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "Bool" => Bool,
            "Null" => Null,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            _ => return None,
        })
    }

    /// The negated operators match when no value matches.
    fn negated(self) -> bool {
        use Op::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | ArnNotEquals
                | ArnNotLike
                | NotIpAddress
        )
    }

    fn test(self, want: &str, got: &str) -> bool {
        use Op::*;
        let num = |f: fn(f64, f64) -> bool| match (got.parse::<f64>(), want.parse::<f64>()) {
            (Ok(g), Ok(w)) => f(g, w),
            _ => false,
        };
        match self {
            StringEquals | StringNotEquals | ArnEquals | ArnNotEquals => want == got,
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => want.eq_ignore_ascii_case(got),
            StringLike | StringNotLike | ArnLike | ArnNotLike => wildcard(want, got),
            NumericEquals | NumericNotEquals => num(|g, w| g == w),
            NumericLessThan => num(|g, w| g < w),
            NumericLessThanEquals => num(|g, w| g <= w),
            NumericGreaterThan => num(|g, w| g > w),
            NumericGreaterThanEquals => num(|g, w| g >= w),
            Bool => want.eq_ignore_ascii_case(got),
            IpAddress | NotIpAddress => in_cidr(want, got),
            Null => unreachable!("Null is decided by presence"),
        }
    }
}

/// Who is asking, as a policy sees it.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Anonymous,
    /// A key: its access key id and canonical id.
    Key {
        access_key: &'a str,
        canonical_id: &'a str,
    },
}

/// One request as a policy sees it: who, what action on which resource
/// (`arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`), and the values
/// of condition keys (`None`: the request has no such value).
pub struct Request<'a> {
    pub caller: Caller<'a>,
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a dyn Fn(&str) -> Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Deny,
    Allow,
    /// No statement matched: Cairn's own rules decide.
    Default,
}

impl Policy {
    /// What the policy says of `req`: Deny wins over Allow.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let mut decision = Decision::Default;
        for st in &self.statements {
            // Anonymous callers are granted only by unconditional Allows.
            if st.allow && !st.conditions.is_empty() && matches!(req.caller, Caller::Anonymous) {
                continue;
            }
            if st.matches(req) {
                if !st.allow {
                    return Decision::Deny;
                }
                decision = Decision::Allow;
            }
        }
        decision
    }

    /// Whether a condition asks for the object's tags (so a decision
    /// needs the object row).
    pub fn needs_object_tags(&self) -> bool {
        self.statements.iter().any(|s| {
            s.conditions
                .iter()
                .any(|c| c.key.starts_with("s3:existingobjecttag/"))
        })
    }

    /// Whether any statement lets anyone at all (`"*"`) in without a
    /// condition: GetBucketPolicyStatus's `IsPublic`, and what
    /// BlockPublicPolicy refuses.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.allow
                && s.conditions.is_empty()
                && matches!(&s.principal, Some((true, p)) if p.iter().any(|p| p == "*"))
        })
    }
}

impl Statement {
    fn matches(&self, req: &Request<'_>) -> bool {
        let principal = match &self.principal {
            None => false,
            Some((positive, list)) => list.iter().any(|p| principal_is(p, req.caller)) == *positive,
        };
        let (pos, actions) = &self.action;
        let action = actions.iter().any(|a| {
            a == "*" || wildcard(&a.to_ascii_lowercase(), &req.action.to_ascii_lowercase())
        }) == *pos;
        let (pos, resources) = &self.resource;
        let resource = resources.iter().any(|r| wildcard(r, req.resource)) == *pos;
        principal && action && resource && self.conditions.iter().all(|c| c.holds(req))
    }
}

impl Condition {
    fn holds(&self, req: &Request<'_>) -> bool {
        let got = (req.context)(&self.key);
        if self.op == Op::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return got.is_none() == want_absent;
        }
        let Some(got) = got else {
            // IfExists: a missing key satisfies the condition; otherwise a
            // negated operator holds (nothing equals) and the rest fail.
            return self.if_exists || self.op.negated();
        };
        let any = got
            .iter()
            .any(|g| self.values.iter().any(|w| self.op.test(w, g)));
        if self.op.negated() {
            !any
        } else {
            any
        }
    }
}

/// Whether a policy principal names the caller: `*` names everyone; a
/// key is named by its access key id, its canonical id, or an ARN whose
/// last part is either (`arn:aws:iam::ID:root`, `...:user/ACCESS_KEY`).
fn principal_is(p: &str, caller: Caller<'_>) -> bool {
    if p == "*" {
        return true;
    }
    let Caller::Key {
        access_key,
        canonical_id,
    } = caller
    else {
        return false;
    };
    let named = |id: &str| id == access_key || id == canonical_id;
    if named(p) {
        return true;
    }
    match p.strip_prefix("arn:aws:iam::") {
        Some(rest) => {
            let (account, who) = rest.split_once(':').unwrap_or((rest, ""));
            (who == "root" && named(account)) || who.strip_prefix("user/").is_some_and(named)
        }
        None => false,
    }
}

/// Whether address `ip` lies in `cidr` (`10.0.0.0/8`, `::1/128`, or a
/// bare address).
fn in_cidr(cidr: &str, ip: &str) -> bool {
    use std::net::IpAddr;
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let (Ok(net), Ok(ip)) = (net.parse::<IpAddr>(), ip.parse::<IpAddr>()) else {
        return false;
    };
    let to_bits = |a: IpAddr| match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    };
    let ((n, width), (i, iw)) = (to_bits(net), to_bits(ip));
    if width != iw {
        return false;
    }
    let bits = bits.unwrap_or(width).min(width);
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    n & mask == i & mask
}

/// `*` matches any run of characters, `?` any one (IAM's wildcards).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn malformed(why: impl Into<String>) -> S3Error {
    S3Error::msg(Code::MalformedPolicy, why.into())
}

/// One value or a list of values, as IAM JSON allows.
fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Bool(b) => Some(vec![b.to_string()]),
        Value::Number(n) => Some(vec![n.to_string()]),
        Value::Array(a) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// `X` or `NotX` (exactly one of them), as (positive, values).
fn either(
    st: &serde_json::Map<String, Value>,
    name: &str,
) -> S3Result<Option<(bool, Vec<String>)>> {
    let not = format!("Not{name}");
    match (st.get(name), st.get(&not)) {
        (Some(_), Some(_)) => Err(malformed(format!("{name} and {not} cannot both be given"))),
        (Some(v), None) => Ok(Some((true, values(v, name)?))),
        (None, Some(v)) => Ok(Some((false, values(v, &not)?))),
        (None, None) => Ok(None),
    }
}

fn values(v: &Value, name: &str) -> S3Result<Vec<String>> {
    strings(v)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| malformed(format!("Invalid {name}")))
}

fn principals(v: &Value, name: &str) -> S3Result<Vec<String>> {
    match v {
        Value::String(s) if s == "*" => Ok(vec!["*".into()]),
        Value::Object(o) if !o.is_empty() => {
            let mut out = Vec::new();
            for (kind, list) in o {
                match kind.as_str() {
                    "AWS" | "CanonicalUser" => out.extend(values(list, name)?),
                    // Service principals (log delivery) name no Cairn key.
                    "Service" | "Federated" => {
                        values(list, name)?;
                    }
                    _ => return Err(malformed(format!("Invalid principal type {kind}"))),
                }
            }
            Ok(out)
        }
        _ => Err(malformed("Invalid principal in policy")),
    }
}

/// Parsed policies by bucket, so a request to a bucket with a policy (a
/// site published by one, on every GET) does not parse its JSON again.
/// An entry is used only while the bucket's stored text is the one it
/// was parsed from; bounded, least recently used out first.
pub struct PolicyCache {
    parsed: moka::sync::Cache<String, std::sync::Arc<(String, Policy)>>,
}

impl Default for PolicyCache {
    fn default() -> Self {
        Self {
            parsed: moka::sync::Cache::new(4096),
        }
    }
}

impl PolicyCache {
    /// The parsed form of `text`, the stored policy of `bucket`; `None`
    /// if it does not parse (a stored policy always did when put).
    pub fn get(&self, bucket: &str, text: &str) -> Option<std::sync::Arc<(String, Policy)>> {
        if let Some(hit) = self.parsed.get(bucket) {
            if hit.0 == text {
                return Some(hit);
            }
        }
        let policy = parse(bucket, text).ok()?;
        let entry = std::sync::Arc::new((text.to_owned(), policy));
        self.parsed.insert(bucket.to_owned(), entry.clone());
        Some(entry)
    }
}

/// Validates a policy for `bucket` whole and returns it parsed.
pub fn parse(bucket: &str, text: &str) -> S3Result<Policy> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|_| malformed("Policies must be valid JSON and the first byte must be '{'"))?;
    let Value::Object(doc) = doc else {
        return Err(malformed("Policies must be a JSON object"));
    };
    if let Some(v) = doc.get("Version") {
        if !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17")) {
            return Err(malformed("Invalid policy version"));
        }
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err(malformed("Missing required field Statement")),
    };
    let mut out = Policy::default();
    for st in &statements {
        let Value::Object(st) = st else {
            return Err(malformed("Statements must be objects"));
        };
        let allow = match st.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err(malformed("Invalid effect (Allow or Deny)")),
        };
        let principal = match (st.get("Principal"), st.get("NotPrincipal")) {
            (Some(_), Some(_)) => {
                return Err(malformed("Principal and NotPrincipal cannot both be given"))
            }
            (Some(p), None) => Some((true, principals(p, "Principal")?)),
            (None, Some(_)) if allow => {
                return Err(malformed("NotPrincipal may only be used with Effect Deny"))
            }
            (None, Some(p)) => Some((false, principals(p, "NotPrincipal")?)),
            (None, None) => return Err(malformed("Missing required field Principal")),
        };
        let action =
            either(st, "Action")?.ok_or_else(|| malformed("Missing required field Action"))?;
        for a in &action.1 {
            if a != "*" && !a.to_ascii_lowercase().starts_with("s3:") {
                return Err(malformed(format!("Policy has invalid action {a}")));
            }
        }
        let resource =
            either(st, "Resource")?.ok_or_else(|| malformed("Missing required field Resource"))?;
        for r in &resource.1 {
            let rest = r
                .strip_prefix("arn:aws:s3:::")
                .ok_or_else(|| malformed(format!("Policy has invalid resource {r}")))?;
            // A resource must be able to name this bucket or its keys.
            let b = rest.split('/').next().unwrap_or_default();
            if resource.0 && !wildcard(b, bucket) {
                return Err(malformed("Policy has invalid resource"));
            }
        }
        let mut conditions = Vec::new();
        if let Some(c) = st.get("Condition") {
            let Value::Object(ops) = c else {
                return Err(malformed("Invalid Condition"));
            };
            for (op_name, keys) in ops {
                let (base, if_exists) = match op_name.strip_suffix("IfExists") {
                    Some(b) => (b, true),
                    None => (op_name.as_str(), false),
                };
                let op = Op::parse(base)
                    .ok_or_else(|| malformed(format!("Unknown condition operator {op_name}")))?;
                let Value::Object(keys) = keys else {
                    return Err(malformed("Invalid Condition"));
                };
                for (key, vals) in keys {
                    // Key names are case-insensitive; a tag's name is not.
                    let key = match key.split_once('/') {
                        Some((scope, name)) => format!("{}/{name}", scope.to_ascii_lowercase()),
                        None => key.to_ascii_lowercase(),
                    };
                    conditions.push(Condition {
                        op,
                        if_exists,
                        key,
                        values: values(vals, "Condition")?,
                    });
                }
            }
        }
        out.statements.push(Statement {
            allow,
            principal,
            action,
            resource,
            conditions,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(
        policy: &str,
        caller: Caller<'_>,
        action: &str,
        resource: &str,
        ctx: &[(&str, &str)],
    ) -> Decision {
        let p = parse("site", policy).unwrap();
        let lookup = |k: &str| {
            let v: Vec<String> = ctx
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.to_string())
                .collect();
            (!v.is_empty()).then_some(v)
        };
        p.evaluate(&Request {
            caller,
            action,
            resource,
            context: &lookup,
        })
    }

    const ALT: Caller<'static> = Caller::Key {
        access_key: "AKALT",
        canonical_id: "c0ffee",
    };

    #[test]
    fn allow_and_deny_match_principal_action_and_resource() {
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/public/*"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::AKALT:root"},"Action":["s3:Put*","s3:ListBucket"],"Resource":["arn:aws:s3:::site","arn:aws:s3:::site/*"]},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::site/secret/*"}]}"#;
        let get = "s3:GetObject";
        assert_eq!(
            decide(p, Caller::Anonymous, get, "arn:aws:s3:::site/public/a", &[]),
            Decision::Allow
        );
        assert_eq!(
            decide(p, Caller::Anonymous, get, "arn:aws:s3:::site/other", &[]),
            Decision::Default
        );
        assert_eq!(
            decide(p, ALT, "s3:PutObject", "arn:aws:s3:::site/x", &[]),
            Decision::Allow
        );
        assert_eq!(
            decide(p, ALT, "s3:ListBucket", "arn:aws:s3:::site", &[]),
            Decision::Allow
        );
        assert_eq!(
            decide(p, ALT, "s3:DeleteObject", "arn:aws:s3:::site/x", &[]),
            Decision::Default
        );
        assert_eq!(
            decide(p, ALT, "s3:PutObject", "arn:aws:s3:::site/secret/x", &[]),
            Decision::Deny
        );
    }

    #[test]
    fn conditions_and_their_missing_keys() {
        let p = r#"{"Statement":[
            {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::site/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
            {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Condition":{"StringLikeIfExists":{"aws:Referer":"http://www.example.com/*"}}}]}"#;
        let put = |ctx: &[(&str, &str)]| decide(p, ALT, "s3:PutObject", "arn:aws:s3:::site/k", ctx);
        assert_eq!(put(&[]), Decision::Deny, "no header: not equal");
        assert_eq!(
            put(&[("s3:x-amz-server-side-encryption", "aws:kms")]),
            Decision::Deny
        );
        assert_eq!(
            put(&[("s3:x-amz-server-side-encryption", "AES256")]),
            Decision::Default
        );
        let get =
            |c, ctx: &[(&str, &str)]| decide(p, c, "s3:GetObject", "arn:aws:s3:::site/k", ctx);
        assert_eq!(
            get(ALT, &[("aws:referer", "http://www.example.com/a")]),
            Decision::Allow
        );
        assert_eq!(get(ALT, &[]), Decision::Allow, "IfExists");
        assert_eq!(
            get(ALT, &[("aws:referer", "http://example.com")]),
            Decision::Default
        );
        assert_eq!(
            get(
                Caller::Anonymous,
                &[("aws:referer", "http://www.example.com/a")]
            ),
            Decision::Default,
            "a conditional Allow never grants anonymous callers"
        );
        let null = r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::site/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}}"#;
        assert_eq!(
            decide(null, ALT, "s3:PutObject", "arn:aws:s3:::site/k", &[]),
            Decision::Deny
        );
        assert_eq!(
            decide(
                null,
                ALT,
                "s3:PutObject",
                "arn:aws:s3:::site/k",
                &[("s3:x-amz-server-side-encryption", "AES256")]
            ),
            Decision::Default
        );
    }

    #[test]
    fn refused_documents() {
        for bad in [
            "not json",
            "[]",
            r#"{"Statement":[]}"#,
            r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"iam:CreateUser","Resource":"arn:aws:s3:::site/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}}"#,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Condition":{"Sometimes":{"a":"b"}}}}"#,
        ] {
            assert!(parse("site", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cache_answers_for_the_text_it_parsed() {
        let cache = PolicyCache::default();
        let public = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}}"#;
        let private = r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}}"#;
        assert!(cache.get("site", public).unwrap().1.is_public());
        assert!(
            !cache.get("site", private).unwrap().1.is_public(),
            "a new text is parsed again"
        );
        assert!(cache.get("site", "not json").is_none());
    }

    #[test]
    fn addresses_in_ranges() {
        assert!(in_cidr("10.0.0.0/8", "10.2.3.4") && in_cidr("10.0.0.1", "10.0.0.1"));
        assert!(!in_cidr("10.0.0.0/32", "10.0.0.1") && !in_cidr("10.0.0.0/8", "::1"));
        assert!(in_cidr("2001:db8::/32", "2001:db8::1") && in_cidr("0.0.0.0/0", "1.2.3.4"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("a*c", "abbbc") && wildcard("a?c", "abc") && wildcard("*", ""));
        assert!(!wildcard("a?c", "ac") && !wildcard("a*d", "abc"));
        assert!(wildcard("arn:aws:s3:::*/*", "arn:aws:s3:::b/k"));
    }
}
