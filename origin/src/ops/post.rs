//! POST Object: browser form uploads (`multipart/form-data`) authorized by
//! a signed policy document instead of a signed request.
//!
//! The policy (base64 JSON) is signed with SigV4 or SigV2; its conditions
//! (exact values, `starts-with`, `content-length-range`) must all hold, and
//! every form field must be covered by one, before the file is stored.

use std::time::SystemTime;

use axum::body::Body;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

use super::access::authorize_form;
use super::put::{commit, single_blob_row, WriteConditions, STORED_HEADERS};
use super::{empty, xml_response};
use crate::auth::post_policy::PolicyCredentials;
use crate::auth::Principal;
use crate::checksum::ChecksumAlgo;
use crate::error::{Code, S3Error, S3Result};
use crate::state::AppState;
use crate::store::blob::BlobWriter;
use crate::store::meta::buckets;
use crate::xml::XmlWriter;
use cairn_shared::names::ObjectKey;

/// Largest non-file form field.
const MAX_FIELD: usize = 64 * 1024;
/// Most fields before the file, and most bytes they may hold together:
/// they are read before the signature can be checked, so they are bounded.
const MAX_FIELDS: usize = 64;
const MAX_FIELDS_BYTES: usize = 128 * 1024;
/// Fields a policy need not mention.
const EXEMPT: &[&str] = &[
    "x-amz-signature",
    "signature",
    "awsaccesskeyid",
    "file",
    "policy",
];

fn denied(msg: impl Into<String>) -> S3Error {
    S3Error::msg(Code::AccessDenied, msg.into())
}

/// A policy document that is not one (400, as S3), unlike a valid one
/// whose conditions the form fails (403).
fn invalid_policy(msg: impl Into<String>) -> S3Error {
    S3Error::msg(Code::InvalidPolicyDocument, msg.into())
}

/// The form fields before the file, lowercase names.
struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Checks the policy's signature (in `auth`) and returns who signed it.
async fn verify_signature(state: &AppState, form: &Form, policy_b64: &str) -> S3Result<Principal> {
    let Some(credentials) = PolicyCredentials::parse(|n| form.get(n))? else {
        return Err(denied("Anonymous uploads are not allowed; sign the policy"));
    };
    let key = state
        .keys
        .get(&state.meta, credentials.access_key())
        .await?;
    credentials.verify(policy_b64, key.as_ref(), state.config.signed_region())
}

/// Checks a decoded policy document (JSON) against form fields (lowercase
/// names), as a POST upload does after its signature; the fuzz target's
/// way in.
pub fn check_form_policy(
    policy_json: &[u8],
    fields: &[(String, String)],
    bucket: &str,
    key: &str,
) -> S3Result<Option<(u64, u64)>> {
    let policy: Value = serde_json::from_slice(policy_json)
        .map_err(|_| S3Error::msg(Code::InvalidPolicyDocument, "Invalid Policy: Invalid JSON."))?;
    let form = Form {
        fields: fields.to_vec(),
    };
    check_policy(&policy, &form, bucket, key)
}

/// The policy's conditions, checked against the form. Returns the
/// content-length range it sets, if any.
fn check_policy(
    policy: &Value,
    form: &Form,
    bucket: &str,
    key: &str,
) -> S3Result<Option<(u64, u64)>> {
    let expiration = policy
        .get("expiration")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_policy("Invalid Policy: Policy missing expiration."))?;
    // ISO 8601 as S3 wants it (`2026-12-07T12:00:00Z`), not RFC 3339's
    // space-separated variant.
    let expires = Some(expiration)
        .filter(|e| e.as_bytes().get(10) == Some(&b'T'))
        .and_then(|e| {
            time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
        })
        .ok_or_else(|| invalid_policy("Invalid Policy: Invalid 'expiration' value."))?;
    if SystemTime::from(expires) < SystemTime::now() {
        return Err(denied("Invalid according to Policy: Policy expired."));
    }
    let conditions = policy
        .get("conditions")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_policy("Invalid Policy: Policy missing conditions."))?;
    let value_of = |field: &str| -> String {
        match field {
            "bucket" => bucket.to_owned(),
            "key" => key.to_owned(),
            f => form.get(f).unwrap_or_default().to_owned(),
        }
    };
    let failed = |c: &Value| {
        denied(format!(
            "Invalid according to Policy: Policy Condition failed: {c}"
        ))
    };
    let mut covered: Vec<String> = Vec::new();
    let mut range = None;
    for c in conditions {
        match c {
            Value::Object(o) if o.is_empty() => {
                return Err(invalid_policy(format!(
                    "Invalid Policy: Invalid Simple-Condition: {c}"
                )))
            }
            Value::Object(o) => {
                for (k, v) in o {
                    let field = k.to_ascii_lowercase();
                    if Some(value_of(&field).as_str()) != v.as_str() {
                        return Err(failed(c));
                    }
                    covered.push(field);
                }
            }
            Value::Array(a) => match (a.first().and_then(Value::as_str), a.get(1), a.get(2)) {
                (Some("content-length-range"), min, max) => {
                    let (Some(min), Some(max), 3) = (
                        min.and_then(Value::as_u64),
                        max.and_then(Value::as_u64),
                        a.len(),
                    ) else {
                        return Err(invalid_policy(format!(
                            "Invalid Policy: Invalid content-length-range: {c}"
                        )));
                    };
                    range = Some((min, max));
                }
                (Some(op), Some(Value::String(field)), Some(Value::String(want))) => {
                    let field = field.trim_start_matches('$').to_ascii_lowercase();
                    let have = value_of(&field);
                    let ok = match op.to_ascii_lowercase().as_str() {
                        "eq" => have == *want,
                        "starts-with" if field == "content-type" => {
                            have.split(',').all(|v| v.trim().starts_with(want.as_str()))
                        }
                        "starts-with" => have.starts_with(want.as_str()),
                        _ => false,
                    };
                    if !ok {
                        return Err(failed(c));
                    }
                    covered.push(field);
                }
                _ => {
                    return Err(invalid_policy(format!(
                        "Invalid Policy: Invalid Condition: {c}"
                    )))
                }
            },
            _ => {
                return Err(invalid_policy(format!(
                    "Invalid Policy: Invalid Condition: {c}"
                )))
            }
        }
    }
    for (name, _) in &form.fields {
        if !EXEMPT.contains(&name.as_str())
            && !name.starts_with("x-ignore-")
            && !name.starts_with("x-amz-checksum-")
            && !covered.contains(name)
        {
            return Err(denied(format!(
                "Invalid according to Policy: Extra input fields: {name}"
            )));
        }
    }
    Ok(range)
}

async fn read_field(field: &mut multer::Field<'_>) -> S3Result<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|_| S3Error::new(Code::IncompleteBody))?
    {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_FIELD {
            return Err(S3Error::msg(
                Code::InvalidArgument,
                "A form field is too large",
            ));
        }
    }
    String::from_utf8(buf)
        .map_err(|_| S3Error::msg(Code::InvalidArgument, "Form fields must be UTF-8"))
}

pub async fn post_object(
    state: &AppState,
    bucket: &str,
    parts: http::request::Parts,
    body: Body,
) -> S3Result<Response> {
    let peer = parts.extensions.get().copied();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        S3Error::msg(
            Code::InvalidRequest,
            "POST requires multipart/form-data with a boundary",
        )
    })?;
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut form = Form { fields: Vec::new() };
    let mut fields_bytes = 0usize;
    let mut file = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| S3Error::new(Code::MalformedPOSTRequest))?
    {
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name == "file" {
            file = Some(field);
            break;
        }
        if form.fields.len() >= MAX_FIELDS {
            return Err(S3Error::msg(
                Code::InvalidArgument,
                format!("A POST form may have at most {MAX_FIELDS} fields before the file."),
            ));
        }
        let value = read_field(&mut field).await?;
        fields_bytes += name.len() + value.len();
        if fields_bytes > MAX_FIELDS_BYTES {
            return Err(S3Error::new(Code::MaxPostPreDataLengthExceededError));
        }
        form.fields.push((name, value));
    }
    let mut file = file.ok_or_else(|| {
        S3Error::msg(
            Code::InvalidArgument,
            "POST requires exactly one file upload per request.",
        )
        .with("ArgumentName", "file")
    })?;

    let policy_b64 = form
        .get("policy")
        .ok_or_else(|| denied("Bucket POST must contain a field named 'policy'"))?
        .to_owned();
    let principal = verify_signature(state, &form, &policy_b64).await?;
    let b = bucket.to_owned();
    let row = state.meta.read(move |c| buckets::get(c, &b)).await?;
    let bucket_row = authorize_form(state, &principal, bucket, row)?;
    // The form's ACL and tags are checked before the file streams, so a
    // refused form stores nothing and reads no more than it must.
    let acl = match form.get("acl") {
        Some(name) => {
            let owners = super::settings::Owners::of_bucket(&bucket_row);
            let acl = crate::acl::Acl::canned(
                crate::acl::canned_name(name)?,
                &owners.owner,
                &owners.bucket,
            );
            super::settings::check_acl_allowed(&bucket_row, &acl, &owners)?;
            owners.column(&acl)
        }
        None => None,
    };
    let tags = match form.get("tagging") {
        Some(doc) => super::tagging::parse_document(doc.as_bytes())?,
        None => None,
    };
    let policy: Value = B64
        .decode(policy_b64.trim())
        .ok()
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .ok_or_else(|| {
            S3Error::msg(Code::InvalidPolicyDocument, "Invalid Policy: Invalid JSON.")
        })?;
    let filename = file.file_name().unwrap_or_default().to_owned();
    let key = form
        .get("key")
        .ok_or_else(|| {
            S3Error::msg(
                Code::InvalidArgument,
                "Bucket POST must contain a field named 'key'.",
            )
            .with("ArgumentName", "key")
        })?
        .replace("${filename}", &filename);
    let key = ObjectKey::parse(&key)?;
    let range = check_policy(&policy, &form, bucket, key.as_str())?;

    let (min, max) = range.unwrap_or((0, state.config.max_object_size));
    let max = max.min(state.config.max_object_size);
    // Encryption and checksum fields read as the headers of a PUT would be.
    let mut form_headers = HeaderMap::new();
    for (name, value) in &form.fields {
        if name.starts_with("x-amz-server-side-encryption") || name.starts_with("x-amz-checksum-") {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                form_headers.insert(n, v);
            }
        }
    }
    let sealing = crate::sse::requested(&form_headers, bucket_row.encryption.as_ref())?
        .map(|r| r.seal(&state.sse_keys))
        .transpose()?;
    crate::sse::check_channel(&form_headers, peer, state.config.sse_c_over_http)?;
    let sent = crate::checksum::expected(&form_headers)?;
    let _slot = super::upload_slot(state)?;
    let mut writer = BlobWriter::start(
        &state.blobs,
        false,
        Some(sent.algo.unwrap_or(ChecksumAlgo::Crc64Nvme)),
        sealing.as_ref().map(|(_, k)| k),
    )?;
    let mut size = 0u64;
    while let Some(chunk) = file
        .chunk()
        .await
        .map_err(|_| S3Error::new(Code::IncompleteBody))?
    {
        size += chunk.len() as u64;
        if size > max {
            return Err(S3Error::msg(
                Code::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size",
            )
            .with("MaxSizeAllowed", max.to_string()));
        }
        writer.write(chunk).await?;
    }
    if size < min {
        return Err(S3Error::msg(
            Code::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed size",
        )
        .with("MinSizeAllowed", min.to_string()));
    }
    let (temp, digests) = writer.finish().await?;
    if let (Some(want), Some(got)) = (&sent.value, &digests.checksum) {
        crate::checksum::verify(want, got)?;
    }

    let mut headers = Vec::new();
    let file_type = file.content_type().map(|m| m.to_string());
    for name in STORED_HEADERS {
        let value = form.get(name).map(str::to_owned).or_else(|| {
            (*name == "content-type")
                .then(|| file_type.clone())
                .flatten()
        });
        if let Some(v) = value {
            headers.push((name.to_string(), v.into_bytes()));
        }
    }
    for (name, value) in &form.fields {
        if name.starts_with("x-amz-meta-") {
            headers.push((name.clone(), value.clone().into_bytes()));
        }
    }
    let mut row = single_blob_row(key.as_str(), &digests, headers);
    row.acl = acl;
    row.tags = tags;
    if let Some((info, dek)) = sealing {
        row.etag = crate::sse::etag(Some(&info), Some(&dek), &digests.md5);
        row.sse = Some(info);
    }
    let sse = row.sse.clone();
    let etag = format!("\"{}\"", row.etag);
    let version = commit(
        state,
        bucket,
        row,
        temp,
        WriteConditions::from_headers(&HeaderMap::new())?,
    )
    .await?;
    let mut resp = respond(&form, bucket, key.as_str(), &etag)?;
    super::put::version_header(resp.headers_mut(), version.as_deref());
    if let Some(e) = sse {
        e.write_headers(resp.headers_mut());
    }
    Ok(resp)
}

/// `success_action_redirect` (303), or `success_action_status` 200, 201
/// (with a PostResponse document) or the default 204.
fn respond(form: &Form, bucket: &str, key: &str, etag: &str) -> S3Result<Response> {
    let location = format!("/{bucket}/{}", crate::auth::encode::path(key));
    if let Some(url) = form
        .get("success_action_redirect")
        .or(form.get("redirect"))
        .filter(|u| !u.is_empty())
    {
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            crate::auth::encode::strict(bucket),
            crate::auth::encode::strict(key),
            crate::auth::encode::strict(etag)
        );
        let mut resp = empty(StatusCode::SEE_OTHER);
        resp.headers_mut().insert(
            http::header::LOCATION,
            HeaderValue::from_str(&target)
                .map_err(|_| S3Error::msg(Code::InvalidArgument, "Invalid redirect URL"))?,
        );
        return Ok(resp);
    }
    let mut resp = match form.get("success_action_status") {
        Some("200") => empty(StatusCode::OK),
        Some("201") => {
            let mut w = XmlWriter::new();
            w.open("PostResponse");
            w.elem("Location", &location);
            w.elem("Bucket", bucket);
            w.elem("Key", key);
            w.elem("ETag", etag);
            w.close("PostResponse");
            let mut r = xml_response(w.finish());
            *r.status_mut() = StatusCode::CREATED;
            r
        }
        _ => empty(StatusCode::NO_CONTENT),
    };
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(resp)
}
