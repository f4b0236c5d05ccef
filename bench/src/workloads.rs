//! The workloads: what one operation of each does, and the set-up
//! (bucket, prefill, cold object) they need before measuring.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context};
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use reqwest::Method;

use crate::run::{self, Plan};
use crate::s3::Target;
use crate::stats::{kind, Outcome, Stats};
use crate::{body, wire, Args, Payload, Workload};

mod stampede;

/// Object sizes: fixed, or uniform in a range (fixed per key, so a GET
/// knows what a PUT wrote).
#[derive(Debug, Clone, Copy)]
pub enum Sizes {
    Fixed(u64),
    Range(u64, u64),
}

impl Sizes {
    pub fn parse(s: &str) -> Result<Self, String> {
        use cairn_shared::units::parse_size;
        match s.split_once('-') {
            Some((a, b)) => {
                let (lo, hi) = (parse_size(a)?, parse_size(b)?);
                if lo > hi {
                    return Err(format!("size range {s}: the low end is above the high end"));
                }
                Ok(Sizes::Range(lo, hi))
            }
            None => Ok(Sizes::Fixed(parse_size(s)?)),
        }
    }

    fn of(&self, key: u64) -> u64 {
        match *self {
            Sizes::Fixed(n) => n,
            Sizes::Range(lo, hi) => lo + mix(key) % (hi - lo + 1),
        }
    }
}

/// A 64-bit mixer (splitmix64's finaliser): key → well-spread number.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[derive(Clone)]
pub struct Bench {
    pub args: Arc<Args>,
    inner: Arc<Inner>,
}

struct Inner {
    sizes: Sizes,
    client: reqwest::Client,
    /// Where reads go (the S3 endpoint or a plain HTTP base).
    read: Target,
    /// GETs to a plain `http://` read target go through the lean client.
    wire: Option<wire::Pool>,
    /// Where writes and set-up go (`None` without keys).
    s3: Option<Target>,
    zipf: rand_distr::Zipf<f64>,
    /// mixed: cumulative weights of get, put, delete, list.
    mix: [u32; 4],
    /// stampede: the cold key.
    cold: String,
}

impl Bench {
    pub fn new(args: Args, sizes: Sizes, read: Target) -> anyhow::Result<Self> {
        let s3 = if args.access_key.is_empty() {
            None
        } else {
            Some(args.s3_target()?)
        };
        let mut client = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency.max(1))
            .tcp_nodelay(true);
        if let Some(s3) = s3.as_ref().filter(|t| t.is_virtual_host()) {
            // BUCKET.DOMAIN need not resolve: send it to the endpoint.
            let (name, addrs) = s3.bucket_host()?;
            client = client.resolve_to_addrs(&name, &addrs);
        }
        let client = client.build()?;
        let zipf = rand_distr::Zipf::new(args.keys(), args.zipf)
            .map_err(|e| anyhow::anyhow!("--zipf: {e:?}"))?;
        let mix = parse_mix(&args.mix).map_err(anyhow::Error::msg)?;
        let cold = format!("{}-cold-{:016x}", args.prefix, rand::random::<u64>());
        Ok(Self {
            args: Arc::new(args),
            inner: Arc::new(Inner {
                sizes,
                client,
                wire: wire::Pool::new(&read.base),
                read,
                s3,
                zipf,
                mix,
                cold,
            }),
        })
    }

    fn key(&self, n: u64) -> String {
        format!("{}-{n}", self.args.prefix)
    }

    fn seed(&self, n: u64) -> u64 {
        match self.args.payload {
            Payload::Random => n + 1,
            Payload::Repeated => 0,
        }
    }

    fn writer(&self) -> anyhow::Result<&Target> {
        self.inner
            .s3
            .as_ref()
            .context("this workload writes: give S3 keys (--access-key/--secret-key)")
    }

    /// Creates the bucket, prefills keys, uploads the stampede's object.
    pub async fn setup(&self) -> anyhow::Result<()> {
        let needs_writes = matches!(
            self.args.workload,
            Workload::Put | Workload::Mixed | Workload::Multipart | Workload::Stampede
        ) || self.args.prefill;
        if !needs_writes {
            return Ok(());
        }
        let s3 = self.writer()?;
        let resp = s3
            .request(&self.inner.client, Method::PUT, &s3.url(None, ""))?
            .send()
            .await?;
        if !resp.status().is_success() && resp.status() != 409 {
            bail!(
                "cannot create bucket {}: {}",
                self.args.bucket,
                resp.status()
            );
        }
        if self.args.prefill || self.args.workload == Workload::Mixed {
            let keys = self.args.keys();
            let plan = Plan {
                ops: Some(keys),
                duration: None,
                rate: None,
                ..self.args.plan()
            };
            let me = self.clone();
            let (stats, secs) = run::run("prefill", plan, move |i| {
                let me = me.clone();
                async move { me.put(i).await }
            })
            .await;
            if stats.error_count() > 0 {
                bail!(
                    "prefill: {} of {keys} PUTs failed: {:?}",
                    stats.error_count(),
                    stats.errors
                );
            }
            if !self.args.json {
                eprintln!("prefilled {keys} keys in {secs:.1}s");
            }
        }
        if self.args.workload == Workload::Stampede {
            let size = self.inner.sizes.of(0);
            let url = s3.url(Some(&self.inner.cold), "");
            let resp = s3
                .request(&self.inner.client, Method::PUT, &url)?
                .header("content-length", size)
                .header("cache-control", "public, max-age=3600")
                .body(body::stream(size, 42))
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("cannot upload the stampede object: {}", resp.status());
            }
        }
        Ok(())
    }

    /// Runs the chosen workload under `plan`.
    pub async fn measure(self, label: &str, plan: Plan) -> (Stats, f64) {
        let me = self.clone();
        run::run(label, plan, move |i| {
            let me = me.clone();
            async move {
                match me.args.workload {
                    Workload::Put => me.put(i).await,
                    Workload::Get => me.get(i % me.args.keys()).await,
                    Workload::Hot => {
                        let mut rng = rand::rngs::SmallRng::seed_from_u64(mix(i));
                        let rank = rng.sample(me.inner.zipf) as u64;
                        me.get(rank.saturating_sub(1)).await
                    }
                    Workload::Mixed => me.mixed(i).await,
                    Workload::List => me.list(i).await,
                    Workload::Multipart => me.multipart(i).await,
                    Workload::Stampede | Workload::DiskBaseline => {
                        Outcome::failed("not a per-operation workload")
                    }
                }
            }
        })
        .await
    }

    /// The measured run: (label, stats, seconds, extra numbers).
    pub async fn main_run(
        self,
    ) -> anyhow::Result<(
        String,
        Stats,
        f64,
        Option<BTreeMap<String, serde_json::Value>>,
    )> {
        let a = &self.args;
        let label = format!(
            "{:?} size={} concurrency={}{}",
            a.workload,
            a.size,
            a.concurrency,
            a.rate.map(|r| format!(" rate={r}/s")).unwrap_or_default()
        )
        .to_lowercase();
        if a.workload == Workload::Stampede {
            let (stats, secs, extra) = self.stampede().await?;
            return Ok((label, stats, secs, Some(extra)));
        }
        let (stats, secs) = self.clone().measure(&label, a.plan()).await;
        Ok((label, stats, secs, None))
    }

    async fn put(&self, n: u64) -> Outcome {
        let Ok(s3) = self.writer() else {
            return Outcome::failed("no keys");
        };
        let key = n % self.args.keys();
        let size = self.inner.sizes.of(key);
        let url = s3.url(Some(&self.key(key)), "");
        let req = match s3.request(&self.inner.client, Method::PUT, &url) {
            Ok(r) => r,
            Err(_) => return Outcome::failed("sign"),
        };
        let sent = req
            .header("content-length", size)
            .body(body::stream(size, self.seed(key)))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Outcome {
                bytes: size,
                ..Outcome::default()
            },
            Ok(r) => Outcome::failed(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Outcome::failed(kind(&e)),
        }
    }

    async fn get(&self, key: u64) -> Outcome {
        self.get_key(&self.key(key), self.inner.sizes.of(key), self.seed(key))
            .await
    }

    async fn get_key(&self, key: &str, size: u64, seed: u64) -> Outcome {
        let t = &self.inner.read;
        let url = t.url(Some(key), "");
        if let Some(pool) = &self.inner.wire {
            return self.get_wire(pool, &url, size, seed).await;
        }
        let req = match t.request(&self.inner.client, Method::GET, &url) {
            Ok(r) => r,
            Err(_) => return Outcome::failed("sign"),
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::failed(kind(&e)),
        };
        let x_cache = resp
            .headers()
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if !resp.status().is_success() {
            return Outcome {
                error: Some(format!("HTTP {}", resp.status().as_u16())),
                x_cache,
                bytes: 0,
            };
        }
        let mut verifier = self.args.verify.then(|| body::Verifier::new(size, seed));
        let mut n = 0u64;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => {
                    n += c.len() as u64;
                    if let Some(v) = verifier.as_mut() {
                        v.update(&c);
                    }
                }
                Err(e) => return Outcome::failed(kind(&e)),
            }
        }
        Outcome::read(n, x_cache, verifier.is_none_or(|v| v.finish()))
    }

    /// [`Self::get_key`] through the lean client.
    async fn get_wire(&self, pool: &wire::Pool, url: &str, size: u64, seed: u64) -> Outcome {
        let headers = match self.inner.read.signed_headers("GET", url) {
            Ok(h) => h,
            Err(_) => return Outcome::failed("sign"),
        };
        let (mut conn, head) = match pool.get(url, &headers).await {
            Ok(r) => r,
            Err(kind) => return Outcome::failed(kind),
        };
        let mut verifier = self.args.verify.then(|| body::Verifier::new(size, seed));
        let read = conn
            .body(head.len, |c| {
                if let Some(v) = verifier.as_mut() {
                    v.update(c);
                }
            })
            .await;
        if let Err(kind) = read {
            return Outcome::failed(kind);
        }
        if !head.close {
            pool.give_back(conn);
        }
        if !(200..300).contains(&head.status) {
            return Outcome {
                error: Some(format!("HTTP {}", head.status)),
                x_cache: head.x_cache,
                bytes: 0,
            };
        }
        Outcome::read(head.len, head.x_cache, verifier.is_none_or(|v| v.finish()))
    }

    async fn mixed(&self, i: u64) -> Outcome {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(mix(i));
        let key = rng.gen_range(0..self.args.keys());
        let pick = rng.gen_range(0..self.inner.mix[3].max(1));
        if pick < self.inner.mix[0] {
            let o = self.get(key).await;
            // A key a DELETE removed is an expected answer, not an error.
            if o.error.as_deref() == Some("HTTP 404") {
                return Outcome::default();
            }
            o
        } else if pick < self.inner.mix[1] {
            self.put(key).await
        } else if pick < self.inner.mix[2] {
            self.simple(Method::DELETE, Some(&self.key(key)), "").await
        } else {
            self.list_page(None).await
        }
    }

    async fn list(&self, i: u64) -> Outcome {
        if self.args.page == "deep" {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(mix(i));
            let after = self.key(rng.gen_range(0..self.args.keys()));
            self.list_page(Some(&after)).await
        } else {
            self.list_page(None).await
        }
    }

    async fn list_page(&self, start_after: Option<&str>) -> Outcome {
        let mut q = "list-type=2&max-keys=1000".to_owned();
        if let Some(a) = start_after {
            q.push_str("&start-after=");
            q.push_str(a);
        }
        self.simple(Method::GET, None, &q).await
    }

    /// A signed request whose answer is read whole and only checked for
    /// success.
    async fn simple(&self, method: Method, key: Option<&str>, query: &str) -> Outcome {
        let Ok(s3) = self.writer() else {
            return Outcome::failed("no keys");
        };
        let url = s3.url(key, query);
        let sent = match s3.request(&self.inner.client, method, &url) {
            Ok(r) => r.send().await,
            Err(_) => return Outcome::failed("sign"),
        };
        match sent {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => Outcome {
                    bytes: b.len() as u64,
                    ..Outcome::default()
                },
                Err(e) => Outcome::failed(kind(&e)),
            },
            Ok(r) => Outcome::failed(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Outcome::failed(kind(&e)),
        }
    }

    async fn multipart(&self, i: u64) -> Outcome {
        match self.multipart_upload(i % self.args.keys()).await {
            Ok(n) => Outcome {
                bytes: n,
                ..Outcome::default()
            },
            Err(e) => Outcome::failed(format!("multipart: {e}")),
        }
    }

    async fn multipart_upload(&self, key: u64) -> anyhow::Result<u64> {
        let s3 = self.writer()?;
        let client = &self.inner.client;
        let name = self.key(key);
        let size = self.inner.sizes.of(key);
        let created = s3
            .request(client, Method::POST, &s3.url(Some(&name), "uploads"))?
            .send()
            .await?;
        if !created.status().is_success() {
            bail!("create {}", created.status());
        }
        let xml = created.text().await?;
        let upload_id = between(&xml, "<UploadId>", "</UploadId>").context("no UploadId")?;
        let part = self.args.part_size.max(5 << 20);
        let parts = size.div_ceil(part).max(1);
        let seed = self.seed(key);
        let etags: Vec<anyhow::Result<(u64, String)>> = futures_util::stream::iter(1..=parts)
            .map(|p| {
                let len = (size - (p - 1) * part).min(part);
                let url = s3.url(Some(&name), &format!("partNumber={p}&uploadId={upload_id}"));
                async move {
                    let resp = s3
                        .request(client, Method::PUT, &url)?
                        .header("content-length", len)
                        .body(body::stream(len, seed.wrapping_mul(10_007) + p))
                        .send()
                        .await?;
                    if !resp.status().is_success() {
                        bail!("part {p}: {}", resp.status());
                    }
                    let etag = resp
                        .headers()
                        .get("etag")
                        .and_then(|v| v.to_str().ok())
                        .context("part without ETag")?
                        .to_owned();
                    Ok((p, etag))
                }
            })
            .buffer_unordered(self.args.part_concurrency.max(1))
            .collect()
            .await;
        let mut etags = etags.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        etags.sort();
        let mut doc = String::from("<CompleteMultipartUpload>");
        for (p, e) in &etags {
            doc.push_str(&format!(
                "<Part><PartNumber>{p}</PartNumber><ETag>{e}</ETag></Part>"
            ));
        }
        doc.push_str("</CompleteMultipartUpload>");
        let done = s3
            .request(
                client,
                Method::POST,
                &s3.url(Some(&name), &format!("uploadId={upload_id}")),
            )?
            .body(doc)
            .send()
            .await?;
        let status = done.status();
        let text = done.text().await?;
        if !status.is_success() || text.contains("<Error>") {
            bail!("complete {status}");
        }
        Ok(size)
    }
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let start = s.find(a)? + a.len();
    let end = s[start..].find(b)? + start;
    Some(&s[start..end])
}

/// `get=70,put=20,delete=5,list=5` → cumulative weights.
fn parse_mix(s: &str) -> Result<[u32; 4], String> {
    let mut w = [0u32; 4];
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (name, v) = part
            .split_once('=')
            .ok_or_else(|| format!("--mix: '{part}' is not NAME=WEIGHT"))?;
        let v: u32 = v
            .parse()
            .map_err(|_| format!("--mix: bad weight in '{part}'"))?;
        let i = match name {
            "get" => 0,
            "put" => 1,
            "delete" => 2,
            "list" => 3,
            other => return Err(format!("--mix: unknown operation '{other}'")),
        };
        w[i] = v;
    }
    for i in 1..4 {
        w[i] += w[i - 1];
    }
    if w[3] == 0 {
        return Err("--mix: all weights are zero".into());
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_and_sizes() {
        assert_eq!(
            parse_mix("get=70,put=20,delete=5,list=5"),
            Ok([70, 90, 95, 100])
        );
        assert_eq!(parse_mix("put=1"), Ok([0, 1, 1, 1]));
        assert!(parse_mix("get=0").is_err());
        assert!(parse_mix("head=3").is_err());
        assert!(parse_mix("get").is_err());
        assert!(matches!(Sizes::parse("4KiB"), Ok(Sizes::Fixed(4096))));
        let range = Sizes::parse("1KiB-64KiB").unwrap();
        for key in 0..1000 {
            let n = range.of(key);
            assert!((1024..=65536).contains(&n));
            assert_eq!(n, range.of(key), "a key's size never changes");
        }
        assert!(Sizes::parse("64KiB-1KiB").is_err());
    }
}
