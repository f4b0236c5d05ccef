//! Bucket policies, in the one shape Cairn grants: anonymous `s3:GetObject`
//! on `arn:aws:s3:::BUCKET/PREFIX*`. That is what a CDN origin needs, and
//! accepting only it means a policy is either applied whole or refused with
//! a clear error, never half-understood.

use serde_json::Value;

use crate::error::{Code, S3Error, S3Result};

/// Key prefixes a policy makes publicly readable (`""` is the whole bucket).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicReads {
    pub prefixes: Vec<String>,
}

impl PublicReads {
    pub fn allows(&self, key: &str) -> bool {
        self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }
}

fn refuse(why: &str) -> S3Error {
    S3Error::msg(
        Code::MalformedPolicy,
        format!("{why}. Cairn accepts only statements that Allow Principal \"*\" the action s3:GetObject on arn:aws:s3:::BUCKET/* (or BUCKET/PREFIX*)."),
    )
}

/// One value or a list of values, as IAM JSON allows.
fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Validates a policy for `bucket` and returns what it grants.
pub fn parse(bucket: &str, text: &str) -> S3Result<PublicReads> {
    let doc: Value = serde_json::from_str(text).map_err(|_| S3Error::new(Code::MalformedPolicy))?;
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err(refuse("Missing required field Statement")),
    };
    let mut out = PublicReads::default();
    for st in &statements {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            return Err(refuse("Only Effect \"Allow\" is supported"));
        }
        if st.get("Condition").is_some()
            || st.get("NotPrincipal").is_some()
            || st.get("NotAction").is_some()
            || st.get("NotResource").is_some()
        {
            return Err(refuse("Conditions and Not* elements are not supported"));
        }
        let principal_ok = match st.get("Principal") {
            Some(Value::String(s)) => s == "*",
            Some(Value::Object(o)) => {
                o.len() == 1 && o.get("AWS").and_then(strings).is_some_and(|v| v == ["*"])
            }
            _ => false,
        };
        if !principal_ok {
            return Err(refuse("Only Principal \"*\" is supported"));
        }
        let actions = st
            .get("Action")
            .and_then(strings)
            .ok_or_else(|| refuse("Missing Action"))?;
        if actions.iter().any(|a| *a != "s3:GetObject") {
            return Err(refuse("Only the action s3:GetObject is supported"));
        }
        let resources = st
            .get("Resource")
            .and_then(strings)
            .ok_or_else(|| refuse("Missing Resource"))?;
        for r in resources {
            let rest = r
                .strip_prefix("arn:aws:s3:::")
                .and_then(|r| r.strip_prefix(bucket))
                .and_then(|r| r.strip_prefix('/'))
                .ok_or_else(|| refuse("Policy has invalid resource"))?;
            let prefix = rest
                .strip_suffix('*')
                .ok_or_else(|| refuse("Resources must end with '*'"))?;
            if prefix.contains('*') || prefix.contains('?') {
                return Err(refuse(
                    "Wildcards are supported only at the end of a resource",
                ));
            }
            out.prefixes.push(prefix.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_shapes() {
        let whole = r#"{"Version":"2012-10-17","Statement":[{"Sid":"P","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;
        assert_eq!(parse("site", whole).unwrap().prefixes, [""]);
        let listed = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::site/public/*"]}}"#;
        let p = parse("site", listed).unwrap();
        assert!(p.allows("public/a.css") && !p.allows("private/a"));
    }

    #[test]
    fn refused_shapes() {
        let cases = [
            "not json",
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::site/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/a*b*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Condition":{}}]}"#,
        ];
        for c in cases {
            assert_eq!(
                parse("site", c).unwrap_err().code,
                Code::MalformedPolicy,
                "{c}"
            );
        }
    }
}
