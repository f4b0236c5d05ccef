//! The target: an S3 endpoint (requests signed with SigV4, path style) or a
//! plain HTTP base URL (an edge, nginx, a CDN), GETs only.

use std::time::SystemTime;

use anyhow::Context;

pub struct Target {
    pub base: String,
    pub bucket: String,
    /// `None` for a plain HTTP target.
    signer: Option<Signer>,
    host: String,
}

struct Signer {
    identity: aws_credential_types::Credentials,
    region: String,
}

impl Target {
    pub fn s3(
        endpoint: &str,
        bucket: &str,
        ak: &str,
        sk: &str,
        region: &str,
    ) -> anyhow::Result<Self> {
        let mut t = Self::http(endpoint, bucket)?;
        t.signer = Some(Signer {
            identity: aws_credential_types::Credentials::new(ak, sk, None, None, "bench"),
            region: region.to_owned(),
        });
        Ok(t)
    }

    pub fn http(base: &str, bucket: &str) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(base).context("target URL")?;
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_owned(),
        };
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            bucket: bucket.to_owned(),
            signer: None,
            host,
        })
    }

    /// `BASE/BUCKET/KEY?QUERY` (the key is ASCII: `prefix-N`).
    pub fn url(&self, key: Option<&str>, query: &str) -> String {
        let mut u = format!("{}/{}", self.base, self.bucket);
        if let Some(k) = key {
            u.push('/');
            u.push_str(k);
        }
        if !query.is_empty() {
            u.push('?');
            u.push_str(query);
        }
        u
    }

    /// A request with SigV4 headers (`UNSIGNED-PAYLOAD`, as SDKs send over
    /// TLS) when the target is S3.
    pub fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        url: &str,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let mut req = client.request(method.clone(), url);
        if let Some(s) = &self.signer {
            for (k, v) in s.headers(method.as_str(), url, &self.host)? {
                req = req.header(k, v);
            }
        }
        Ok(req)
    }
}

impl Signer {
    fn headers(
        &self,
        method: &str,
        url: &str,
        host: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let identity = self.identity.clone().into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let req = SignableRequest::new(
            method,
            url,
            [("host", host), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")].into_iter(),
            SignableBody::UnsignedPayload,
        )?;
        let (instructions, _) = sign(req, &params)?.into_parts();
        let mut out: Vec<(String, String)> = instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        out.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
        Ok(out)
    }
}
