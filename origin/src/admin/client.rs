//! The admin operations as `cairn-origin`'s commands run them: on a local
//! data dir, or through a remote origin's admin API (`--endpoint`,
//! `--token`), with the same answers either way.

use std::time::Duration;

use anyhow::{bail, Context};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::jobs::{JobInfo, JobKind};
use super::{
    BucketInfo, EdgeInfo, GrantChange, GrantInfo, KeyChange, KeyInfo, KeySpec, NewKey, Quota,
};
use crate::state::AppState;

/// Where admin commands act.
pub enum Admin {
    /// The data dir itself (beside a running server, or without one).
    Local(AppState),
    /// A server's admin API.
    Remote(Remote),
}

/// A client of the admin API.
pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// Every call's bound: the API answers at once (jobs run in the server).
const TIMEOUT: Duration = Duration::from_secs(30);

impl Remote {
    pub fn new(endpoint: &str, token: &str) -> anyhow::Result<Remote> {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            bail!("--endpoint must be an http:// or https:// URL, not {endpoint:?}");
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .context("cannot build an HTTP client")?;
        Ok(Remote {
            base: endpoint.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .context("reading the admin API's answer")?;
        if !status.is_success() {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let message = v["message"].as_str().unwrap_or(text.as_str());
            bail!("{message} ({status})");
        }
        serde_json::from_str(&text).with_context(|| format!("unexpected answer from {url}: {text}"))
    }

    async fn send<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<()> {
        let _: serde_json::Value = self
            .call(method, path, Some(serde_json::to_value(body)?))
            .await?;
        Ok(())
    }
}

fn seg(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn local<T>(r: crate::error::S3Result<T>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("{}", e.message))
}

impl Admin {
    pub async fn list_keys(&self) -> anyhow::Result<Vec<KeyInfo>> {
        match self {
            Admin::Local(s) => local(super::list_keys(s).await),
            Admin::Remote(r) => r.call(reqwest::Method::GET, "/v1/keys", None).await,
        }
    }

    pub async fn create_key(&self, spec: KeySpec) -> anyhow::Result<NewKey> {
        match self {
            Admin::Local(s) => local(super::create_key(s, spec).await),
            Admin::Remote(r) => {
                r.call(
                    reqwest::Method::POST,
                    "/v1/keys",
                    Some(serde_json::to_value(spec)?),
                )
                .await
            }
        }
    }

    pub async fn change_key(&self, access_key: &str, change: KeyChange) -> anyhow::Result<()> {
        match self {
            Admin::Local(s) => local(super::change_key(s, access_key, change).await),
            Admin::Remote(r) => {
                r.send(
                    reqwest::Method::PATCH,
                    &format!("/v1/keys/{}", seg(access_key)),
                    &change,
                )
                .await
            }
        }
    }

    pub async fn delete_key(&self, access_key: &str) -> anyhow::Result<()> {
        match self {
            Admin::Local(s) => local(super::delete_key(s, access_key).await),
            Admin::Remote(r) => {
                let path = format!("/v1/keys/{}", seg(access_key));
                let _: serde_json::Value = r.call(reqwest::Method::DELETE, &path, None).await?;
                Ok(())
            }
        }
    }

    pub async fn bucket_info(&self, bucket: &str) -> anyhow::Result<BucketInfo> {
        match self {
            Admin::Local(s) => local(super::bucket_info(s, bucket).await),
            Admin::Remote(r) => {
                r.call(
                    reqwest::Method::GET,
                    &format!("/v1/buckets/{}", seg(bucket)),
                    None,
                )
                .await
            }
        }
    }

    pub async fn list_buckets(&self) -> anyhow::Result<Vec<BucketInfo>> {
        match self {
            Admin::Local(s) => local(super::list_buckets(s).await),
            Admin::Remote(r) => r.call(reqwest::Method::GET, "/v1/buckets", None).await,
        }
    }

    pub async fn create_bucket(&self, bucket: &str, owner: &str) -> anyhow::Result<()> {
        match self {
            Admin::Local(s) => local(super::create_bucket(s, bucket, owner).await),
            Admin::Remote(r) => {
                let body = serde_json::json!({"name": bucket, "owner": owner});
                r.send(reqwest::Method::POST, "/v1/buckets", &body).await
            }
        }
    }

    pub async fn delete_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        match self {
            Admin::Local(s) => local(super::delete_bucket(s, bucket).await),
            Admin::Remote(r) => {
                let path = format!("/v1/buckets/{}", seg(bucket));
                let _: serde_json::Value = r.call(reqwest::Method::DELETE, &path, None).await?;
                Ok(())
            }
        }
    }

    pub async fn change_grant(
        &self,
        bucket: &str,
        change: GrantChange,
    ) -> anyhow::Result<GrantInfo> {
        match self {
            Admin::Local(s) => local(super::change_grant(s, bucket, change).await),
            Admin::Remote(r) => {
                let path = format!("/v1/buckets/{}/grants", seg(bucket));
                r.call(
                    reqwest::Method::POST,
                    &path,
                    Some(serde_json::to_value(change)?),
                )
                .await
            }
        }
    }

    pub async fn set_quota(&self, bucket: &str, quota: Quota) -> anyhow::Result<()> {
        match self {
            Admin::Local(s) => local(super::set_quota(s, bucket, quota).await),
            Admin::Remote(r) => {
                let path = format!("/v1/buckets/{}/quota", seg(bucket));
                r.send(reqwest::Method::PUT, &path, &quota).await
            }
        }
    }

    pub async fn notifications(&self) -> anyhow::Result<Vec<super::NotifyInfo>> {
        match self {
            Admin::Local(s) => local(super::notifications(s).await),
            Admin::Remote(r) => {
                r.call(reqwest::Method::GET, "/v1/notifications", None)
                    .await
            }
        }
    }

    pub async fn set_website(
        &self,
        bucket: &str,
        spec: Option<super::SiteSpec>,
    ) -> anyhow::Result<()> {
        match self {
            Admin::Local(s) => local(super::set_website(s, bucket, spec).await),
            Admin::Remote(r) => {
                let path = format!("/v1/buckets/{}/website", seg(bucket));
                match spec {
                    Some(spec) => r.send(reqwest::Method::PUT, &path, &spec).await,
                    None => {
                        let _: serde_json::Value =
                            r.call(reqwest::Method::DELETE, &path, None).await?;
                        Ok(())
                    }
                }
            }
        }
    }

    pub async fn list_edges(&self) -> anyhow::Result<Vec<EdgeInfo>> {
        match self {
            Admin::Local(s) => local(super::list_edges(s).await),
            Admin::Remote(r) => r.call(reqwest::Method::GET, "/v1/edges", None).await,
        }
    }

    /// Runs a job to its end, reporting `progress(done, total, unit)`.
    pub async fn run_job(
        &self,
        kind: JobKind,
        mut progress: impl FnMut(u64, u64, &str) + Send + 'static,
    ) -> anyhow::Result<JobInfo> {
        match self {
            Admin::Local(s) => {
                let jobs = std::sync::Arc::new(super::jobs::Jobs::default());
                let id = jobs.start(s, kind).id;
                poll(|| async { Ok(jobs.get(id)) }, &mut progress).await
            }
            Admin::Remote(r) => {
                let started: JobInfo = r
                    .call(
                        reqwest::Method::POST,
                        "/v1/jobs",
                        Some(serde_json::json!({"kind": kind})),
                    )
                    .await?;
                let path = format!("/v1/jobs/{}", started.id);
                poll(
                    || async { r.call(reqwest::Method::GET, &path, None).await.map(Some) },
                    &mut progress,
                )
                .await
            }
        }
    }
}

/// Polls a job until it is no longer running.
async fn poll<F, Fut>(
    mut get: F,
    progress: &mut (impl FnMut(u64, u64, &str) + Send),
) -> anyhow::Result<JobInfo>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<JobInfo>>>,
{
    loop {
        let job = get().await?.context("the job was forgotten")?;
        progress(job.done, job.total, &job.unit);
        if job.state != "running" {
            return Ok(job);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
