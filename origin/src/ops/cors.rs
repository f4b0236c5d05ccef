//! CORS for browsers: the bucket's rules (parsed here from S3's XML),
//! OPTIONS preflight answers, and the headers added to actual responses.
//! Rule evaluation itself is `cairn_shared::cors`.

use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::empty;
use crate::error::{Code, S3Error, S3Result};
use crate::state::AppState;
use crate::store::meta::buckets;
use crate::xml::XmlWriter;
use cairn_shared::cors::{self, CorsRule};

/// Parses and validates a CORS configuration document.
pub fn parse(xml_body: &[u8]) -> S3Result<Vec<CorsRule>> {
    cors::parse_config(xml_body).map_err(|e| match e {
        cors::ConfigError::Malformed => S3Error::new(Code::MalformedXML),
        cors::ConfigError::Invalid(why) => S3Error::msg(Code::InvalidRequest, why),
    })
}

/// Writes rules back as a `CORSConfiguration` document.
pub fn to_xml(rules: &[CorsRule]) -> Vec<u8> {
    let mut w = XmlWriter::new();
    w.root("CORSConfiguration");
    for r in rules {
        w.open("CORSRule");
        for o in &r.origins {
            w.elem("AllowedOrigin", o);
        }
        for m in &r.methods {
            w.elem("AllowedMethod", m);
        }
        for h in &r.headers {
            w.elem("AllowedHeader", h);
        }
        for e in &r.expose {
            w.elem("ExposeHeader", e);
        }
        if let Some(a) = r.max_age {
            w.elem("MaxAgeSeconds", &a.to_string());
        }
        w.close("CORSRule");
    }
    w.close("CORSConfiguration");
    w.finish()
}

async fn bucket_rules(state: &AppState, bucket: &str) -> S3Result<Option<Vec<CorsRule>>> {
    let b = bucket.to_owned();
    let row = state.meta.read(move |c| buckets::get(c, &b)).await?;
    Ok(row
        .and_then(|r| r.cors)
        .and_then(|xml| parse(xml.as_bytes()).ok()))
}

/// Answers an OPTIONS preflight from the bucket's rules. Preflights carry
/// no credentials, so this runs before authentication.
pub async fn preflight(state: &AppState, bucket: &str, headers: &HeaderMap) -> S3Result<Response> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (h("origin"), h("access-control-request-method")) else {
        return Err(S3Error::msg(
            Code::InvalidRequest,
            "Insufficient information. Origin request header needed.",
        ));
    };
    let requested = cors::request_headers(h("access-control-request-headers"));
    let rules = bucket_rules(state, bucket).await?.unwrap_or_default();
    let rule = cors::find(&rules, origin, method, &requested)
        .ok_or_else(|| S3Error::new(Code::AccessForbidden))?;
    let mut resp = empty(StatusCode::OK);
    apply(
        resp.headers_mut(),
        rule.preflight_headers(origin, method, &requested),
    );
    Ok(resp)
}

/// Adds CORS headers to an actual response when the request came with an
/// `Origin` that the bucket's rules allow for this method.
pub async fn decorate(
    state: &AppState,
    bucket: &str,
    origin: &str,
    method: &http::Method,
    resp: &mut Response,
) {
    let Ok(Some(rules)) = bucket_rules(state, bucket).await else {
        return;
    };
    if let Some(rule) = cors::find(&rules, origin, method.as_str(), &[]) {
        apply(resp.headers_mut(), rule.response_headers(origin));
    }
}

fn apply(headers: &mut HeaderMap, values: Vec<(&'static str, String)>) {
    for (name, value) in values {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
}
