//! Buckets served as static sites: a request whose `Host` names a site
//! (the `sites` map, or with `site_by_host` a host that is a bucket's own
//! name, as S3 website endpoints do) is answered as S3's website endpoint
//! would: `/` and `/docs/` by the folder's index document, a missing page
//! by the error document with the error's status, redirects as the
//! bucket's rules and objects' `x-amz-website-redirect-location` say.
//!
//! Objects are served through the same cache as every other request
//! (`serve::serve_object`), public objects only. The website configuration
//! is read from the origin with the edge key (`GET /bucket?website`), kept
//! briefly in a bounded cache and dropped when the change feed reports a
//! bucket-level change.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode};

use crate::EdgeState;
use cairn_shared::target;
use cairn_shared::website::{Target, Website};

/// How long a configuration is trusted without a feed event.
const TTL: Duration = Duration::from_secs(30);
/// The longest a request waits for a site's configuration.
const FETCH: Duration = Duration::from_secs(2);
/// Sites whose configuration is kept.
const SITES: u64 = 10_000;

/// Website configurations by bucket (`None`: the bucket has none, or the
/// origin could not say).
pub struct Sites {
    known: moka::sync::Cache<String, Option<Arc<Website>>>,
}

impl Default for Sites {
    fn default() -> Self {
        Self {
            known: moka::sync::Cache::builder()
                .max_capacity(SITES)
                .time_to_live(TTL)
                .build(),
        }
    }
}

impl Sites {
    pub fn forget(&self, bucket: &str) {
        self.known.invalidate(bucket);
    }

    /// The bucket's website configuration, read from the origin when not
    /// known (waiting at most [`FETCH`]).
    async fn get(&self, state: &EdgeState, bucket: &str) -> Option<Arc<Website>> {
        if let Some(known) = self.known.get(bucket) {
            return known;
        }
        let fetched =
            tokio::time::timeout(FETCH, state.feed.bucket_config(bucket, "website")).await;
        let site = match fetched {
            Ok(Ok(Some(xml))) => Website::parse(&xml).ok().map(Arc::new),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::debug!(bucket, error = %e, "cannot read the website configuration");
                None
            }
            Err(_) => None,
        };
        self.known.insert(bucket.to_owned(), site.clone());
        site
    }
}

/// The host a request names, lowercase and without a port.
fn host_name(headers: &http::HeaderMap) -> Option<String> {
    let host = headers.get(http::header::HOST)?.to_str().ok()?;
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    Some(name.to_ascii_lowercase())
}

/// The bucket a request's host serves as a site, if it names one.
pub fn bucket_for(state: &EdgeState, headers: &http::HeaderMap) -> Option<String> {
    let c = &state.config;
    if c.sites.is_empty() && !c.site_by_host {
        return None;
    }
    let host = host_name(headers)?;
    if let Some((_, bucket)) = c.sites.iter().find(|(h, _)| *h == host) {
        return Some(bucket.clone());
    }
    let under_domain = c
        .domain
        .as_deref()
        .is_some_and(|d| host == d || host.ends_with(&format!(".{d}")));
    let by_name = c.site_by_host
        && host.contains('.')
        && !under_domain
        && host.parse::<std::net::IpAddr>().is_err()
        && target::plausible_bucket(&host);
    by_name.then_some(host)
}

/// Answers a request to a site.
pub async fn serve(state: &Arc<EdgeState>, parts: &http::request::Parts, bucket: &str) -> Response {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let mut resp = page(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed");
        resp.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let Some(site) = state.sites.get(state, bucket).await else {
        return page(
            StatusCode::NOT_FOUND,
            "404 Not Found: NoSuchWebsiteConfiguration",
        );
    };
    let Ok(path_key) = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8()
        .map(|p| p.trim_start_matches('/').to_owned())
    else {
        return page(StatusCode::BAD_REQUEST, "400 Bad Request");
    };
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(bucket)
        .to_owned();
    let tls = parts
        .extensions
        .get::<cairn_shared::listen::Peer>()
        .is_some_and(|p| p.tls);
    if let Some(t) = site.redirect_before(&path_key, &host, tls) {
        return redirect(&t);
    }
    let key = site.key_for(&path_key);
    if target::object_path(bucket, &key).is_none() {
        return page(StatusCode::BAD_REQUEST, "400 Bad Request");
    }
    let resp = crate::serve::serve_object(state, parts, bucket, &key, false).await;
    let status = resp.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        if let Some(to) = resp
            .headers()
            .get("x-amz-website-redirect-location")
            .and_then(|v| v.to_str().ok())
        {
            let location = if to.starts_with('/') {
                format!("{}://{host}{to}", if tls { "https" } else { "http" })
            } else {
                to.to_owned()
            };
            return redirect(&Target {
                code: 301,
                location,
            });
        }
        return resp;
    }
    if status != StatusCode::NOT_FOUND && status != StatusCode::FORBIDDEN {
        return resp;
    }
    // `/docs` when `docs/index.html` exists: to the folder, as S3 does.
    if !path_key.is_empty() && !path_key.ends_with('/') {
        if let Some(suffix) = &site.index_suffix {
            let folder = format!("{path_key}/{suffix}");
            if target::object_path(bucket, &folder).is_some() {
                let index =
                    crate::serve::serve_object(state, &plain(parts), bucket, &folder, false).await;
                if index.status().is_success() {
                    return redirect(&Target {
                        code: 302,
                        location: format!("/{}/", encode_path(&path_key)),
                    });
                }
            }
        }
    }
    if let Some(t) = site.redirect_after(&path_key, status.as_u16(), &host, tls) {
        return redirect(&t);
    }
    let spa = host_name(&parts.headers).is_some_and(|h| state.config.spa_sites.contains(&h));
    if spa && status == StatusCode::NOT_FOUND {
        let index = site.key_for("");
        return crate::serve::serve_object(state, &plain(parts), bucket, &index, false).await;
    }
    if let Some(error_key) = &site.error_key {
        let mut doc =
            crate::serve::serve_object(state, &plain(parts), bucket, error_key, false).await;
        if doc.status().is_success() {
            *doc.status_mut() = status;
            // The page stands for a missing one: no validators to reuse.
            doc.headers_mut().remove(http::header::ETAG);
            doc.headers_mut().remove(http::header::LAST_MODIFIED);
            return doc;
        }
    }
    page(
        status,
        if status == StatusCode::NOT_FOUND {
            "404 Not Found"
        } else {
            "403 Forbidden"
        },
    )
}

/// The request without range and conditional headers, for serving another
/// object in its place (an error or index document).
fn plain(parts: &http::request::Parts) -> http::request::Parts {
    let mut p = http::Request::new(()).into_parts().0;
    p.method = parts.method.clone();
    p.uri = parts.uri.clone();
    p.version = parts.version;
    p.headers = parts.headers.clone();
    for h in [
        http::header::RANGE,
        http::header::IF_MATCH,
        http::header::IF_NONE_MATCH,
        http::header::IF_MODIFIED_SINCE,
        http::header::IF_UNMODIFIED_SINCE,
        http::header::IF_RANGE,
    ] {
        p.headers.remove(h);
    }
    p
}

fn encode_path(key: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'?')
        .add(b'<')
        .add(b'>');
    percent_encoding::utf8_percent_encode(key, SET).to_string()
}

fn redirect(t: &Target) -> Response {
    let status = StatusCode::from_u16(t.code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    let mut resp = page(status, "Moved");
    if let Ok(v) = HeaderValue::from_str(&t.location) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

/// A small HTML page, as a website endpoint answers (not S3's XML).
fn page(status: StatusCode, title: &str) -> Response {
    let body =
        format!("<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n");
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}
