//! Put/Get/DeleteBucketEncryption: the encryption new objects of a bucket
//! get when their request asks for none (`crate::sse` does the rest).

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;

use super::{empty, xml_response, Ctx};
use crate::error::{Code, S3Error, S3Result};
use crate::sse::{BucketDefault, Kind};
use crate::store::meta::buckets::Setting;
use crate::xml::{self, XmlWriter};

#[derive(Deserialize)]
struct ServerSideEncryptionConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    apply_server_side_encryption_by_default: Option<ByDefault>,
    bucket_key_enabled: Option<String>,
}

#[derive(Deserialize)]
struct ByDefault {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
    #[serde(rename = "KMSMasterKeyID")]
    kms_key_id: Option<String>,
}

fn parse(bytes: &[u8]) -> S3Result<BucketDefault> {
    let doc: ServerSideEncryptionConfiguration = xml::parse(bytes)?;
    let [rule] = doc.rules.as_slice() else {
        return Err(S3Error::new(Code::MalformedXML));
    };
    let by_default = rule
        .apply_server_side_encryption_by_default
        .as_ref()
        .ok_or_else(|| S3Error::new(Code::MalformedXML))?;
    let kms_key_id = by_default
        .kms_key_id
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let kind = match by_default.algorithm.trim() {
        "AES256" if kms_key_id.is_none() => Kind::S3,
        "aws:kms" => Kind::Kms,
        _ => {
            return Err(S3Error::msg(
                Code::InvalidArgument,
                "The server side encryption algorithm is not valid (AES256 or aws:kms).",
            ))
        }
    };
    let bucket_key = match rule.bucket_key_enabled.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(S3Error::new(Code::MalformedXML)),
    };
    Ok(BucketDefault {
        kind,
        kms_key_id: kms_key_id.map(str::to_owned),
        bucket_key,
    })
}

pub async fn put(ctx: &Ctx, bucket: &str, raw: Body) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    let bytes = super::settings::body(ctx, raw).await?;
    let default = parse(&bytes)?;
    if let Some(id) = &default.kms_key_id {
        // A key that does not exist would make every later PUT fail.
        crate::sse::Requested::Kms(id.clone()).seal(&ctx.state.sse_keys)?;
    }
    let json = serde_json::to_string(&default).map_err(S3Error::internal)?;
    super::settings::set(ctx, bucket, Setting::Encryption, Some(json)).await?;
    Ok(empty(StatusCode::OK))
}

pub async fn get(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let row = ctx.owned_bucket(bucket).await?;
    let d = row.encryption.ok_or_else(|| {
        S3Error::new(Code::ServerSideEncryptionConfigurationNotFoundError)
            .with("BucketName", bucket)
    })?;
    let mut w = XmlWriter::new();
    w.root("ServerSideEncryptionConfiguration");
    w.open("Rule");
    w.open("ApplyServerSideEncryptionByDefault");
    w.elem(
        "SSEAlgorithm",
        match d.kind {
            Kind::Kms => "aws:kms",
            _ => "AES256",
        },
    );
    if let Some(id) = &d.kms_key_id {
        w.elem("KMSMasterKeyID", id);
    }
    w.close("ApplyServerSideEncryptionByDefault");
    w.elem(
        "BucketKeyEnabled",
        if d.bucket_key { "true" } else { "false" },
    );
    w.close("Rule");
    w.close("ServerSideEncryptionConfiguration");
    Ok(xml_response(w.finish()))
}

pub async fn delete(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    ctx.owned_bucket(bucket).await?;
    super::settings::set(ctx, bucket, Setting::Encryption, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `cairn-origin sse rotate`: makes a new master key and re-wraps every
/// SSE-S3 data key (objects, versions, uploads) under it, page by page.
/// Returns the new key's id and how many rows were re-wrapped. Old master
/// keys stay in the ring (a row written meanwhile may still use one).
pub async fn rotate_master(state: &crate::state::AppState) -> S3Result<(String, usize)> {
    use crate::store::meta::encryption;
    let ring = state.sse_keys.clone();
    let new_id = ring.rotate().map_err(S3Error::internal)?;
    let new_key = ring
        .get(&new_id)
        .ok_or_else(|| S3Error::internal("the new master key is not in the ring"))?;
    let (mut after, mut count) = (String::new(), 0);
    loop {
        let from = after.clone();
        let page = state
            .meta
            .read(move |c| encryption::find(c, "\"key_id\":\"master-", &from, 500))
            .await?;
        let Some(last) = page.last() else { break };
        after = last.clone();
        let mut updates = Vec::new();
        for old in page {
            let Some(e) = crate::sse::Encryption::from_json(&old) else {
                continue;
            };
            if e.kind != Kind::S3 || e.key_id.as_deref() == Some(new_id.as_str()) {
                continue;
            }
            let dek = e.data_key(None, &ring)?;
            let new = crate::sse::Encryption {
                key_id: Some(new_id.clone()),
                wrapped: crate::sse::wrap_b64(&new_key, &dek),
                ..e
            };
            updates.push((old, new));
        }
        count += state
            .meta
            .write(move |c, _| -> S3Result<_> {
                let mut n = 0;
                for (old, new) in &updates {
                    n += encryption::replace(c, old, new)?;
                }
                Ok(n)
            })
            .await?;
    }
    Ok((new_id, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_names_one_algorithm() {
        let doc = |inner: &str| {
            format!("<ServerSideEncryptionConfiguration><Rule>{inner}</Rule></ServerSideEncryptionConfiguration>")
        };
        let s3 = parse(doc("<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>").as_bytes()).unwrap();
        assert_eq!(s3.kind, Kind::S3);
        let kms = parse(doc("<ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>").as_bytes()).unwrap();
        assert_eq!(
            (kms.kind, kms.kms_key_id.as_deref(), kms.bucket_key),
            (Kind::Kms, Some("k"), true)
        );
        assert!(parse(doc("<ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault>").as_bytes()).is_err());
        assert!(parse(doc("").as_bytes()).is_err());
    }
}
