//! The target: an S3 endpoint (requests signed with SigV4, path style) or a
//! plain HTTP base URL (an edge, nginx, a CDN), GETs only.

use anyhow::Context;
use cairn_shared::request_signer::RequestSigner;

pub struct Target {
    pub base: String,
    pub bucket: String,
    /// `None` for a plain HTTP target.
    signer: Option<RequestSigner>,
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
        t.signer = Some(RequestSigner::new(ak, sk, region));
        Ok(t)
    }

    pub fn http(base: &str, bucket: &str) -> anyhow::Result<Self> {
        reqwest::Url::parse(base).context("target URL")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            bucket: bucket.to_owned(),
            signer: None,
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

    /// The SigV4 headers for `method url` (none for a plain HTTP target).
    pub fn signed_headers(&self, method: &str, url: &str) -> anyhow::Result<Vec<(String, String)>> {
        match &self.signer {
            Some(s) => s.headers(method, url).map_err(anyhow::Error::msg),
            None => Ok(Vec::new()),
        }
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
        for (k, v) in self.signed_headers(method.as_str(), url)? {
            req = req.header(k, v);
        }
        Ok(req)
    }
}
