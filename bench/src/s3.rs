//! The target: an S3 endpoint (requests signed with SigV4, path or
//! virtual-hosted style) or a plain HTTP base URL (an edge, nginx, a CDN),
//! GETs only.

use anyhow::Context;
use cairn_shared::request_signer::RequestSigner;

pub struct Target {
    pub base: String,
    pub bucket: String,
    /// `None` for a plain HTTP target.
    signer: Option<RequestSigner>,
    /// Buckets as `BUCKET.HOST` rather than `HOST/BUCKET`.
    virtual_host: bool,
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
            virtual_host: false,
        })
    }

    pub fn virtual_host(mut self, on: bool) -> Self {
        self.virtual_host = on;
        self
    }

    pub fn is_virtual_host(&self) -> bool {
        self.virtual_host
    }

    /// `BUCKET.HOST` and the address the endpoint's host resolves to, for
    /// sending virtual-hosted requests to the endpoint.
    pub fn bucket_host(&self) -> anyhow::Result<(String, Vec<std::net::SocketAddr>)> {
        use std::net::ToSocketAddrs;
        let url = reqwest::Url::parse(&self.base)?;
        let host = url.host_str().context("endpoint host")?;
        let port = url.port_or_known_default().context("endpoint port")?;
        let addrs: Vec<_> = (host, port).to_socket_addrs()?.collect();
        anyhow::ensure!(!addrs.is_empty(), "{host} does not resolve");
        Ok((format!("{}.{host}", self.bucket), addrs))
    }

    /// `BASE/BUCKET/KEY?QUERY`, or `SCHEME://BUCKET.HOST/KEY?QUERY`
    /// virtual-hosted (the key is ASCII: `prefix-N`).
    pub fn url(&self, key: Option<&str>, query: &str) -> String {
        let mut u = match self.base.split_once("://") {
            Some((scheme, rest)) if self.virtual_host => {
                format!("{scheme}://{}.{rest}", self.bucket)
            }
            _ => format!("{}/{}", self.base, self.bucket),
        };
        if let Some(k) = key {
            u.push('/');
            u.push_str(k);
        } else if self.virtual_host {
            u.push('/');
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_path_and_virtual_hosted_style() {
        let path = Target::http("http://127.0.0.1:9000", "photos").unwrap();
        assert_eq!(
            path.url(Some("a-1"), ""),
            "http://127.0.0.1:9000/photos/a-1"
        );
        assert_eq!(
            path.url(None, "list-type=2"),
            "http://127.0.0.1:9000/photos?list-type=2"
        );
        let vhost = Target::s3("http://localhost:9000", "photos", "ak", "sk", "us-east-1")
            .unwrap()
            .virtual_host(true);
        assert_eq!(
            vhost.url(Some("a-1"), ""),
            "http://photos.localhost:9000/a-1"
        );
        assert_eq!(
            vhost.url(None, "list-type=2"),
            "http://photos.localhost:9000/?list-type=2"
        );
        let (name, addrs) = vhost.bucket_host().unwrap();
        assert_eq!(name, "photos.localhost");
        assert!(addrs
            .iter()
            .all(|a| a.port() == 9000 && a.ip().is_loopback()));
    }
}
