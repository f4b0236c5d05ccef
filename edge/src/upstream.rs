//! The client side: requests to the upstream (origin, parent edge or any S3
//! endpoint) over HTTP. Anonymous for public objects; signed with the edge
//! key (SigV4, via `aws-sigv4`) for private fetches and the change feed.

use std::sync::Arc;

use cairn_shared::request_signer::RequestSigner;
use cairn_shared::target;

/// The origin refused the edge key (deleted, or a wrong secret): the
/// edge's own authority, signed URLs, is revoked with it.
#[derive(Debug, thiserror::Error)]
#[error("the origin refused this edge's key: {0}")]
pub struct KeyRefused(pub String);

/// How long an idle upstream connection is kept.
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(8);

/// How often [`Upstream::keep_warm`] uses the connections it keeps.
pub const WARM_EVERY: std::time::Duration = std::time::Duration::from_secs(4);

/// Connections [`Upstream::keep_warm`] keeps open: a first request for a
/// bucket fetches the object and the bucket's CORS rules side by side.
pub const WARM_CONNECTIONS: usize = 2;

pub struct Upstream {
    client: reqwest::Client,
    /// How long a fetch may wait for the upstream's response head (and a
    /// connect may take): a black-holed upstream must fail the fetch, so
    /// waiters get a stale copy or a 504, not a hang.
    timeout: std::time::Duration,
    base: String,
    signer: RequestSigner,
}

/// What a fetch asks for.
#[derive(Debug, Clone, Default)]
pub struct Fetch {
    pub if_none_match: Option<String>,
    /// Sign with the edge key (the object is private).
    pub signed: bool,
    /// Fetch only these bytes (inclusive), for a slice.
    pub range: Option<(u64, u64)>,
    /// The answer is here already (an object the change feed carried):
    /// no request goes upstream.
    pub preloaded: Option<Arc<Preloaded>>,
}

/// A whole object as the origin's change feed carries it: the headers and
/// body of the anonymous GET it answered.
#[derive(Debug)]
pub struct Preloaded {
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

impl Preloaded {
    /// Reads a feed change's `object` (`{"headers": [[n, v]...], "body":
    /// base64}`); `None` if it is not one.
    pub fn from_change(object: &serde_json::Value) -> Option<Self> {
        use base64::Engine;
        let headers = object
            .get("headers")?
            .as_array()?
            .iter()
            .filter_map(|pair| {
                let pair = pair.as_array()?;
                Some((
                    pair.first()?.as_str()?.to_owned(),
                    pair.get(1)?.as_str()?.to_owned(),
                ))
            })
            .collect();
        let body = base64::engine::general_purpose::STANDARD
            .decode(object.get("body")?.as_str()?)
            .ok()?;
        Some(Self {
            headers,
            body: body.into(),
        })
    }

    /// As a 200 response from the upstream.
    fn response(&self) -> anyhow::Result<reqwest::Response> {
        let mut b = http::Response::builder().status(200);
        for (n, v) in &self.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        Ok(reqwest::Response::from(b.body(self.body.clone())?))
    }
}

/// Reads a PEM file of CA certificates an upstream's certificate may
/// chain to (beside the system's roots).
pub fn load_roots(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("upstream CA file {}: {e}", path.display()))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| anyhow::anyhow!("upstream CA file {}: {e}", path.display()))?;
    anyhow::ensure!(
        !roots.is_empty(),
        "upstream CA file {}: no certificate in it",
        path.display()
    );
    Ok(roots)
}

impl Upstream {
    /// A client for `base` (`http://` or `https://`; an https upstream's
    /// certificate is verified against the system roots and `roots`).
    pub fn new(
        base: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        timeout: std::time::Duration,
        roots: &[reqwest::Certificate],
    ) -> anyhow::Result<Self> {
        let url =
            reqwest::Url::parse(base).map_err(|e| anyhow::anyhow!("upstream URL {base}: {e}"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https") && url.host().is_some(),
            "upstream URL {base}: must be http://HOST[:PORT] or https://HOST[:PORT]"
        );
        let mut client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            // Below the origin's keep-alive (10 s): the client lets an idle
            // connection go before the server closes it, so no request is
            // sent on a connection that is closing (and retried on a new
            // one, a round trip later).
            .pool_idle_timeout(POOL_IDLE)
            .connect_timeout(timeout);
        for root in roots {
            client = client.add_root_certificate(root.clone());
        }
        Ok(Self {
            client: client
                .build()
                .map_err(|e| anyhow::anyhow!("upstream client: {e}"))?,
            timeout,
            base: base.trim_end_matches('/').to_owned(),
            signer: RequestSigner::new(access_key, secret_key, region),
        })
    }

    /// Checks at start that an https upstream's certificate verifies: a
    /// certificate this edge cannot trust would fail every miss, so it
    /// stops the start with one line. An upstream that is merely down is
    /// not an error here (it may start later); any HTTP answer will do.
    pub async fn check_tls(&self) -> anyhow::Result<()> {
        if !self.base.starts_with("https://") {
            return Ok(());
        }
        let probe = self
            .client
            .get(format!("{}/health", self.base))
            .timeout(self.timeout)
            .send()
            .await;
        match probe {
            Ok(_) => Ok(()),
            Err(e) => {
                let chain = format!("{:#}", anyhow::Error::new(e));
                if chain.to_ascii_lowercase().contains("certificate") {
                    anyhow::bail!(
                        "cannot verify the TLS certificate of {} ({chain}); give its CA with --upstream-ca",
                        self.base
                    )
                }
                tracing::warn!(upstream = %self.base, error = %chain, "upstream not reachable at start");
                Ok(())
            }
        }
    }

    /// Keeps [`WARM_CONNECTIONS`] connections to the upstream open and
    /// ready, forever: a cold miss then costs one round trip of the link,
    /// not two (TCP's handshake, then the request). Small requests every
    /// [`WARM_EVERY`], inside the keep-alive time servers give an idle
    /// connection (the origin's is 10 s); any answer will do.
    pub async fn keep_warm(&self) {
        let url = format!("{}/health", self.base);
        let mut tick = tokio::time::interval(WARM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ping = || async {
            if let Ok(resp) = self.client.get(&url).timeout(self.timeout).send().await {
                // Read to the end, so the connection goes back to the pool.
                let _ = resp.bytes().await;
            }
        };
        loop {
            tick.tick().await;
            // At once, so each takes its own connection.
            futures_util::future::join_all((0..WARM_CONNECTIONS).map(|_| ping())).await;
        }
    }

    /// The URL of `key` in `bucket`, which must address exactly that
    /// object: the edge key reads every bucket, so a key that a URL parser
    /// could fold into another path (`../other-bucket/k`) must never be
    /// sent as one. Checked here against the parser reqwest itself uses.
    pub fn object_url(&self, bucket: &str, key: &str) -> anyhow::Result<String> {
        let path = target::object_path(bucket, key)
            .ok_or_else(|| anyhow::anyhow!("the key {key:?} cannot be sent in a URL"))?;
        let url = format!("{}{path}", self.base);
        let parsed = reqwest::Url::parse(&url)?;
        let base_path = reqwest::Url::parse(&self.base)?
            .path()
            .trim_end_matches('/')
            .to_owned();
        anyhow::ensure!(
            parsed.path() == format!("{base_path}{path}") && parsed.query().is_none(),
            "the key {key:?} would not reach its own object"
        );
        Ok(url)
    }

    /// The longest wait for a response head, or between body chunks.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// SigV4 headers for a GET of `url` (`UNSIGNED-PAYLOAD`).
    fn sign(&self, url: &str) -> anyhow::Result<Vec<(String, String)>> {
        self.signer.headers("GET", url).map_err(anyhow::Error::msg)
    }

    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        fetch: &Fetch,
    ) -> anyhow::Result<reqwest::Response> {
        if let Some(preloaded) = &fetch.preloaded {
            return preloaded.response();
        }
        let url = self.object_url(bucket, key)?;
        let mut req = self.client.get(&url);
        if let Some(etag) = &fetch.if_none_match {
            req = req.header("if-none-match", etag);
        }
        if let Some((a, b)) = fetch.range {
            req = req.header("range", format!("bytes={a}-{b}"));
        }
        if fetch.signed {
            for (k, v) in self.sign(&url)? {
                req = req.header(k, v);
            }
        }
        match tokio::time::timeout(self.timeout, req.send()).await {
            Ok(resp) => Ok(resp?),
            Err(_) => anyhow::bail!("no answer from upstream within {:?}", self.timeout),
        }
    }

    /// A bucket's CORS configuration XML (`None` when it has none).
    pub async fn bucket_cors(&self, bucket: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.bucket_config(bucket, "cors").await
    }

    /// A bucket's configuration XML by subresource (`cors`, `website`);
    /// `None` when it has none.
    pub async fn bucket_config(&self, bucket: &str, sub: &str) -> anyhow::Result<Option<Vec<u8>>> {
        anyhow::ensure!(target::plausible_bucket(bucket), "no such bucket");
        let url = format!("{}/{bucket}?{sub}", self.base);
        let mut req = self
            .client
            .get(&url)
            .timeout(std::time::Duration::from_secs(5));
        for (k, v) in self.sign(&url)? {
            req = req.header(k, v);
        }
        let resp = req.send().await?;
        match resp.status().as_u16() {
            200 => Ok(Some(resp.bytes().await?.to_vec())),
            404 => Ok(None),
            s => anyhow::bail!("GET ?{sub} answered {s}"),
        }
    }

    /// One long poll of the origin's change feed.
    /// One long poll of the change feed; `region` tells the origin where
    /// this follower serves (`cairn-origin edges`).
    pub async fn feed(
        &self,
        after: &str,
        wait_secs: u64,
        region: &str,
        url_keys_tag: &str,
    ) -> anyhow::Result<serde_json::Value> {
        let enc = |v| percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC);
        let (region, tag) = (enc(region), enc(url_keys_tag));
        let url = format!(
            "{}/_cairn/feed?after={after}&region={region}&wait={wait_secs}&url-keys={tag}&inline=1",
            self.base
        );
        let mut req = self
            .client
            .get(&url)
            .timeout(std::time::Duration::from_secs(wait_secs + 10));
        for (k, v) in self.sign(&url)? {
            req = req.header(k, v);
        }
        let resp = req.send().await?;
        if resp.status() == reqwest::StatusCode::FORBIDDEN {
            return Err(anyhow::Error::new(KeyRefused(
                resp.text().await.unwrap_or_default(),
            )));
        }
        if !resp.status().is_success() {
            anyhow::bail!(
                "feed answered {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(serde_json::from_slice(&resp.bytes().await?)?)
    }
}
