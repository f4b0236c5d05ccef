//! Signing outgoing requests with SigV4 (`UNSIGNED-PAYLOAD`, as SDKs send
//! over TLS), for the clients inside Cairn: the edge asking its upstream,
//! and the bench. Wraps `aws-sigv4`, so the signature is AWS's own.

use std::time::SystemTime;

/// An access key pair and the region it signs for.
#[derive(Clone)]
pub struct RequestSigner {
    identity: aws_credential_types::Credentials,
    region: String,
}

impl RequestSigner {
    pub fn new(access_key: &str, secret_key: &str, region: &str) -> Self {
        Self {
            identity: aws_credential_types::Credentials::new(
                access_key, secret_key, None, None, "cairn",
            ),
            region: region.to_owned(),
        }
    }

    /// The headers to add to `method url` (host, date, payload hash and
    /// Authorization).
    pub fn headers(&self, method: &str, url: &str) -> Result<Vec<(String, String)>, String> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest};
        let host = host_of(url).ok_or_else(|| format!("no host in {url}"))?;
        let identity = self.identity.clone().into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(s3_settings())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let req = SignableRequest::new(
            method,
            url,
            [
                ("host", host.as_str()),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ]
            .into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(req, &params).map_err(|e| e.to_string())?.into_parts();
        let mut out: Vec<(String, String)> = instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        out.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
        Ok(out)
    }
}

/// S3's signing rules: the path is signed as sent (encoded once, never
/// normalized). The defaults (for other AWS services) encode it twice and
/// fold `.`/`..` segments, so a key with `%2F` or `..` in it would be
/// signed as another path than the one requested.
fn s3_settings() -> aws_sigv4::http_request::SigningSettings {
    use aws_sigv4::http_request::{PercentEncodingMode, SigningSettings, UriPathNormalizationMode};
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

/// `host[:port]` of an `http(s)://host[:port]/...` URL.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    (!authority.is_empty()).then(|| authority.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_a_signature() {
        assert_eq!(
            host_of("http://127.0.0.1:9000/b/k?x=1").as_deref(),
            Some("127.0.0.1:9000")
        );
        assert_eq!(
            host_of("https://s3.example/b").as_deref(),
            Some("s3.example")
        );
        assert_eq!(host_of("no-scheme"), None);
        let h = RequestSigner::new("AK", "SK", "us-east-1")
            .headers("GET", "http://127.0.0.1:9000/b/k")
            .unwrap();
        let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AK/"),
            "{auth}"
        );
        assert!(auth.contains("/us-east-1/s3/aws4_request"), "{auth}");
    }
}
