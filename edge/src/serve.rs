//! Serving a request: decide from the cache entry's freshness whether to
//! answer from cache (HIT, STALE), revalidate (REVALIDATED, EXPIRED) or
//! fetch (MISS), then answer with ranges and conditional requests applied.
//!
//! This is the one place that combines `cache` and `flight`/`fetch`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::answer::{passed_on, query_pairs, Code, EdgeError};
use crate::cache::MEMORY_OBJECT_MAX;
use crate::flight::{self, Head, Progress};
use crate::metrics::add;
use crate::miss::start_or_join;
use crate::object::{Entry, Freshness};
use crate::upstream::Fetch;
use crate::EdgeState;
use cairn_shared::conditional::{Outcome, Preconditions};
use cairn_shared::{range, target};

pub async fn handle(State(state): State<Arc<EdgeState>>, req: Request) -> Response {
    let started = Instant::now();
    let hsts = hsts_for(&state, &req);
    let logged = state
        .access_log
        .as_ref()
        .filter(|log| log.sampled())
        .map(|log| (log.clone(), log_record(&state, &req)));
    let mut resp = respond(state.clone(), req).await;
    if let Some(v) = hsts {
        resp.headers_mut()
            .insert(http::header::STRICT_TRANSPORT_SECURITY, v);
    }
    let cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| {
            crate::metrics::CACHE_STATUSES
                .iter()
                .find(|s| **s == c)
                .copied()
        });
    state
        .metrics
        .observe(resp.status().as_u16(), cache, started.elapsed());
    if let Some((log, mut rec)) = logged {
        rec.status = resp.status().as_u16();
        rec.cache = cache;
        rec.upstream = resp.extensions().get::<UpstreamWait>().map(|w| w.0);
        if let Ok(id) = HeaderValue::from_str(&rec.request_id) {
            resp.headers_mut().insert("x-request-id", id);
        }
        let (parts, body) = resp.into_parts();
        resp = Response::from_parts(parts, log.wrap(body, rec, started));
    }
    resp
}

/// How long a request waited for the upstream's response head (a
/// response extension, for the access log).
#[derive(Clone, Copy)]
struct UpstreamWait(Duration);

/// The access log's line for a request, before its response is known.
fn log_record(state: &EdgeState, req: &Request) -> crate::access_log::Record {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let (bucket, key) = match crate::sites::bucket_for(state, req.headers()) {
        // A site's path is its key (before index documents are applied).
        Some(site) => (
            Some(site),
            percent_encoding::percent_decode_str(req.uri().path().trim_start_matches('/'))
                .decode_utf8()
                .ok()
                .map(|k| k.into_owned()),
        ),
        None => target::target(host, req.uri().path(), state.config.domain.as_deref())
            .ok()
            .map_or((None, None), |t| (t.bucket, t.key)),
    };
    crate::access_log::Record {
        time: SystemTime::now(),
        client: req
            .extensions()
            .get::<cairn_shared::listen::Peer>()
            .and_then(|p| p.addr)
            .map(|a| a.ip()),
        method: req.method().clone(),
        bucket,
        key,
        status: 0,
        bytes: 0,
        cache: None,
        upstream: None,
        total: Duration::ZERO,
        request_id: state
            .access_log
            .as_ref()
            .map(|l| l.request_id())
            .unwrap_or_default(),
    }
}

/// The site's `Strict-Transport-Security`, for a request that came over
/// HTTPS (browsers ignore it over plain HTTP, and RFC 6797 says not to
/// send it there).
fn hsts_for(state: &EdgeState, req: &Request) -> Option<HeaderValue> {
    let sites = &state.config.hsts;
    if sites.is_empty() {
        return None;
    }
    let tls = req
        .extensions()
        .get::<cairn_shared::listen::Peer>()
        .is_some_and(|p| p.tls);
    if !tls {
        return None;
    }
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':')
                .map_or(h, |(name, _)| name)
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    sites
        .iter()
        .find(|(site, _)| *site == host)
        .or_else(|| sites.iter().find(|(site, _)| site == "*"))
        .map(|(_, v)| v.clone())
}

async fn respond(state: Arc<EdgeState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let path = parts.uri.path().to_owned();
    match (&parts.method, path.as_str()) {
        (&Method::GET, "/health") => return Response::new(Body::from("ok\n")),
        (&Method::GET, "/metrics") => {
            let gauges = crate::metrics::Gauges {
                entries: state.cache.len(),
                memory_bytes: state.cache.memory_bytes(),
                disk_bytes: state.cache.disk_bytes(),
                log_dropped: state
                    .access_log
                    .as_ref()
                    .map_or(0, |l| l.dropped.load(std::sync::atomic::Ordering::Relaxed)),
            };
            let text = state.metrics.render(&state.config.edge_region, gauges);
            return Response::new(Body::from(text));
        }
        (&Method::POST, "/_cairn/purge") => return crate::purge::handle(&state, &parts),
        (&Method::GET, p) if p.starts_with(crate::acme::CHALLENGE_PREFIX) => {
            let token = &p[crate::acme::CHALLENGE_PREFIX.len()..];
            if let Some(answer) = state.acme_challenges.answer(token) {
                let ct = [(http::header::CONTENT_TYPE, "application/octet-stream")];
                return axum::response::IntoResponse::into_response((ct, answer));
            }
        }
        _ => {}
    }
    if let Some(bucket) = crate::sites::bucket_for(&state, &parts.headers) {
        let mut resp = crate::sites::serve(&state, &parts, &bucket).await;
        if let Some(via) = &state.via {
            resp.headers_mut().append(http::header::VIA, via.clone());
        }
        return resp;
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let Ok(t) = target::target(host, &path, state.config.domain.as_deref()) else {
        return EdgeError::new(
            Code::InvalidURI,
            "Couldn't parse the specified URI: object keys must be UTF-8.",
        )
        .into_response();
    };
    if parts.method == Method::OPTIONS {
        if let Some(bucket) = t.bucket.as_ref().filter(|b| target::plausible_bucket(b)) {
            return crate::cors::preflight(&state, bucket, &parts.headers).await;
        }
    }
    if parts.method != Method::GET && parts.method != Method::HEAD {
        let mut resp = EdgeError::new(Code::MethodNotAllowed, "An edge serves only GET and HEAD.")
            .into_response();
        resp.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let (Some(bucket), Some(key)) = (t.bucket, t.key) else {
        return EdgeError::new(Code::NoSuchKey, "The edge serves objects: /bucket/key.")
            .into_response();
    };
    if target::object_path(&bucket, &key).is_none() {
        // Not a bucket any S3 endpoint can have, or a key (`.`, `..`)
        // that no URL to the upstream can carry.
        return EdgeError::new(
            Code::InvalidArgument,
            "The edge cannot serve this bucket and key.",
        )
        .into_response();
    }
    if query_pairs(parts.uri.query().unwrap_or_default())
        .iter()
        .any(|(k, _)| k == "versionId")
    {
        // The cache holds each key's current version only; serving it for
        // a request that named another version would be wrong bytes.
        return EdgeError::new(
            Code::InvalidArgument,
            "An edge serves current versions only; read older versions from the origin.",
        )
        .into_response();
    }
    let signed = match crate::signed::check(&state, &parts, &bucket, &key) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // The bucket's CORS rules (known at once but for a bucket's first
    // request) are read beside the object, never before it; a request
    // without `Origin` does not wait for them at all.
    let origin = parts.headers.get("origin").and_then(|v| v.to_str().ok());
    let (mut resp, rules) = if origin.is_some() {
        let (resp, rules) = tokio::join!(
            serve_object(&state, &parts, &bucket, &key, signed),
            state.cors.get(&state, &bucket)
        );
        (resp, Some(rules))
    } else {
        let resp = serve_object(&state, &parts, &bucket, &key, signed).await;
        (resp, state.cors.known(&state, &bucket))
    };
    crate::cors::decorate(rules.as_deref(), origin, &parts.method, &mut resp);
    if let Some(via) = &state.via {
        resp.headers_mut().append(http::header::VIA, via.clone());
    }
    resp
}

pub async fn serve_object(
    state: &Arc<EdgeState>,
    parts: &http::request::Parts,
    bucket: &str,
    key: &str,
    signed: bool,
) -> Response {
    let mut waited = None;
    let mut resp = serve_object_timed(state, parts, bucket, key, signed, &mut waited).await;
    if let Some(d) = waited {
        resp.extensions_mut().insert(UpstreamWait(d));
    }
    // Whoever caches this response must key it by Accept-Encoding too.
    let st = resp.status().as_u16();
    let varies = matches!(st, 200 | 206 | 304)
        && resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(crate::compress::compressible);
    if varies {
        crate::compress::add_vary(resp.headers_mut());
    }
    resp
}

/// A fresh hit served from its compressed variant, when the client takes
/// one of our encodings and the object is worth compressing; ranges get
/// the identity.
async fn respond_compressed(
    state: &Arc<EdgeState>,
    parts: &http::request::Parts,
    ck: &str,
    entry: &Entry,
) -> Option<Response> {
    if parts.headers.contains_key(http::header::RANGE) || !crate::compress::varies(entry) {
        return None;
    }
    let accept = parts
        .headers
        .get(http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())?;
    let enc = crate::compress::negotiate(accept)?;
    let (key, variant) = crate::compress::variant(state, ck, entry, enc).await?;
    let mut resp = respond_cached(state, parts, &key, &variant, "HIT").await?;
    crate::compress::add_vary(resp.headers_mut());
    Some(resp)
}

/// The wait for an upstream response head, added to `waited`.
async fn timed_head(
    rx: &mut tokio::sync::watch::Receiver<Progress>,
    waited: &mut Option<Duration>,
) -> Result<Arc<Head>, String> {
    let started = Instant::now();
    let head = flight::head(rx).await;
    *waited = Some(waited.unwrap_or_default() + started.elapsed());
    head
}

async fn serve_object_timed(
    state: &Arc<EdgeState>,
    parts: &http::request::Parts,
    bucket: &str,
    key: &str,
    signed: bool,
    waited: &mut Option<Duration>,
) -> Response {
    let ck = format!("{bucket}/{key}");
    // Two rounds at most: the second after a corrupt cached body was dropped.
    for _ in 0..2 {
        let entry = state.cache.get(&ck);
        if let Some(e) = &entry {
            if e.private && !signed {
                return EdgeError::new(Code::AccessDenied, "This object needs a signed URL.")
                    .into_response();
            }
        }
        match entry {
            Some(e) if e.freshness() == Freshness::Fresh => {
                if e.status == 404 {
                    add(&state.metrics.hits, 1);
                    return with_cache_headers(
                        EdgeError::new(Code::NoSuchKey, "The specified key does not exist.")
                            .into_response(),
                        &e,
                        "HIT",
                    );
                }
                add(&state.metrics.hits, 1);
                if let Some(r) = respond_compressed(state, parts, &ck, &e).await {
                    return r;
                }
                if let Some(r) = respond_cached(state, parts, &ck, &e, "HIT").await {
                    return r;
                }
            }
            Some(e) if e.freshness() == Freshness::StaleRevalidate && e.status == 200 => {
                // Serve at once; refresh in the background.
                let _ = start_or_join(
                    state,
                    &ck,
                    bucket,
                    key,
                    Fetch {
                        if_none_match: e.etag().map(str::to_owned),
                        signed,
                        range: None,
                        ..Fetch::default()
                    },
                );
                add(&state.metrics.stale, 1);
                if let Some(r) = respond_cached(state, parts, &ck, &e, "STALE").await {
                    return r;
                }
            }
            Some(e)
                if e.status == 200 && e.usable_on_error() && state.failing.contains_key(&ck) =>
            {
                // The upstream just failed for this key: serve the stale
                // copy now rather than wait for it to fail again.
                add(&state.metrics.stale, 1);
                if let Some(r) = respond_cached(state, parts, &ck, &e, "STALE").await {
                    return r;
                }
            }
            Some(e) => {
                let validator = (e.status == 200)
                    .then(|| e.etag().map(str::to_owned))
                    .flatten();
                let (mut rx, turn) = start_or_join(
                    state,
                    &ck,
                    bucket,
                    key,
                    Fetch {
                        if_none_match: validator,
                        signed,
                        range: None,
                        ..Fetch::default()
                    },
                );
                match timed_head(&mut rx, waited).await {
                    Ok(h) if h.status() == 304 => {
                        drop(turn);
                        add(&state.metrics.revalidated, 1);
                        if let Some(fresh) = state.cache.get(&ck) {
                            if let Some(r) =
                                respond_cached(state, parts, &ck, &fresh, "REVALIDATED").await
                            {
                                return r;
                            }
                        }
                    }
                    Ok(h) if h.status() < 500 => {
                        add(&state.metrics.expired, 1);
                        let resp = respond_head(parts, &h, rx, turn, "EXPIRED");
                        return on_the_fly(parts, &h, resp);
                    }
                    outcome => {
                        drop(turn);
                        if e.status == 200 && e.usable_on_error() {
                            add(&state.metrics.stale, 1);
                            if let Some(r) = respond_cached(state, parts, &ck, &e, "STALE").await {
                                return r;
                            }
                        }
                        return upstream_failed(outcome);
                    }
                }
            }
            None => {
                add(&state.metrics.misses, 1);
                // A closed range is served from slices when the upstream
                // slices; otherwise it falls through to a whole fetch.
                if wants_slices(state, parts) {
                    if let Some(r) =
                        crate::slices::serve(state, parts, &ck, bucket, key, signed).await
                    {
                        return r;
                    }
                }
                let (mut rx, turn) = start_or_join(
                    state,
                    &ck,
                    bucket,
                    key,
                    Fetch {
                        if_none_match: None,
                        signed,
                        range: None,
                        ..Fetch::default()
                    },
                );
                match timed_head(&mut rx, waited).await {
                    Ok(h) if h.status() == 304 => continue,
                    Ok(h) if h.status() < 500 => {
                        let resp = respond_head(parts, &h, rx, turn, "MISS");
                        return on_the_fly(parts, &h, resp);
                    }
                    outcome => return upstream_failed(outcome),
                }
            }
        }
    }
    EdgeError::new(
        Code::InternalError,
        "The cached copy was unusable and could not be refetched.",
    )
    .into_response()
}

/// A miss's response, compressed as it streams when it may be.
fn on_the_fly(parts: &http::request::Parts, h: &Head, resp: Response) -> Response {
    match h.streaming() {
        Some(s) => crate::compress::on_the_fly(parts, &s.entry, resp),
        None => resp,
    }
}

/// A closed `bytes=a-b` range of an object not cached whole.
fn wants_slices(state: &EdgeState, parts: &http::request::Parts) -> bool {
    state.config.slice_size > 0
        && parts.method == Method::GET
        && parts
            .headers
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(range::parse)
            .is_some_and(|r| matches!(r, range::ByteRange::FromTo(..)))
}

pub(crate) fn upstream_failed(outcome: Result<Arc<Head>, String>) -> Response {
    match outcome {
        Ok(h) => passthrough(&h),
        Err(e) => {
            tracing::warn!(error = %e, "upstream unavailable");
            EdgeError::new(
                Code::GatewayTimeout,
                "The origin could not be reached and no usable copy is cached.",
            )
            .into_response()
        }
    }
}

/// An upstream answer other than 200/304, passed on with its status and
/// S3 error code only. The upstream's error body was written for the edge
/// (whose key signed the request): it can name the edge's access key
/// (`<AWSAccessKeyId>`), the upstream's request ids and more, none of which
/// an anonymous browser may see.
fn passthrough(h: &Head) -> Response {
    let status = StatusCode::from_u16(h.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match h {
        Head::Other { body, .. } => body.as_ref(),
        _ => &[],
    };
    let code = upstream_code(body).unwrap_or(match status {
        StatusCode::FORBIDDEN => "AccessDenied",
        StatusCode::NOT_FOUND => "NoSuchKey",
        s if s.is_server_error() => "ServiceUnavailable",
        _ => "InvalidRequest",
    });
    let message = status.canonical_reason().unwrap_or("Upstream error");
    let mut resp = passed_on(status, code, message);
    resp.headers_mut()
        .insert("x-cache", HeaderValue::from_static("MISS"));
    resp
}

/// The `<Code>` of an S3 error body, if it looks like one (letters only).
fn upstream_code(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let (_, rest) = text.split_once("<Code>")?;
    let (code, _) = rest.split_once("</Code>")?;
    (!code.is_empty() && code.len() <= 64 && code.bytes().all(|c| c.is_ascii_alphanumeric()))
        .then_some(code)
}

/// Answers from a running (or just finished) fetch.
fn respond_head(
    parts: &http::request::Parts,
    h: &Arc<Head>,
    rx: tokio::sync::watch::Receiver<Progress>,
    turn: flight::Turn,
    xcache: &'static str,
) -> Response {
    let Some(streaming) = h.streaming() else {
        return passthrough(h);
    };
    let (entry, temp, head) = (&streaming.entry, streaming.temp.clone(), h.clone());
    if streaming.length.is_none() {
        // No declared length (a parent or other S3 endpoint streaming):
        // the whole body, as it comes, without Content-Length; ranges and
        // preconditions apply to the cached copy once it is complete.
        let mut resp = Response::new(if parts.method == Method::HEAD {
            Body::empty()
        } else {
            Body::from_stream(flight::body_stream(
                rx,
                turn,
                head,
                temp,
                0,
                flight::TO_THE_END,
            ))
        });
        *resp.headers_mut() = entry.replay().headers.clone();
        resp.headers_mut()
            .insert("x-cache", HeaderValue::from_static(xcache));
        return resp;
    }
    build(parts, entry, xcache, move |start, len| {
        Body::from_stream(flight::body_stream(rx, turn, head, temp, start, len))
    })
}

/// Answers from cache; `None` if the body turned out missing or corrupt
/// (the entry has been dropped and the caller refetches).
async fn respond_cached(
    state: &Arc<EdgeState>,
    parts: &http::request::Parts,
    ck: &str,
    entry: &Entry,
    xcache: &'static str,
) -> Option<Response> {
    let head_only = parts.method == Method::HEAD;
    if entry.size <= MEMORY_OBJECT_MAX {
        let body = if head_only {
            Bytes::new()
        } else if let Some(b) = state.cache.memory_body(entry) {
            b
        } else {
            let (st, ck2, e) = (state.clone(), ck.to_owned(), entry.clone());
            tokio::task::spawn_blocking(move || st.cache.read_small(&ck2, &e))
                .await
                .ok()?
                .ok()??
        };
        let resp = build(parts, entry, xcache, |start, len| {
            if head_only {
                return Body::empty();
            }
            add(&state.metrics.bytes_memory, len);
            Body::from(body.slice(start as usize..(start + len) as usize))
        });
        return Some(with_cache_headers(resp, entry, xcache));
    }
    if !head_only {
        let (st, ck2, e) = (state.clone(), ck.to_owned(), entry.clone());
        if !tokio::task::spawn_blocking(move || st.cache.verify_large(&ck2, &e))
            .await
            .ok()?
        {
            return None;
        }
    }
    let path = state
        .cache
        .layout()
        .body(entry.blake3.as_deref().unwrap_or_default());
    let file = tokio::fs::File::open(&path).await.ok()?;
    let metrics = state.clone();
    let resp = build(parts, entry, xcache, move |start, len| {
        if head_only {
            return Body::empty();
        }
        add(&metrics.metrics.bytes_disk, len);
        let stream = futures_util::stream::once(async move {
            let mut file = file;
            file.seek(std::io::SeekFrom::Start(start)).await?;
            Ok::<_, std::io::Error>(ReaderStream::with_capacity(file.take(len), 256 * 1024))
        });
        Body::from_stream(futures_util::TryStreamExt::try_flatten(stream))
    });
    Some(with_cache_headers(resp, entry, xcache))
}

/// Builds a 200/206/304/412/416 answer for `entry`; `body(start, len)`
/// supplies the bytes.
fn build(
    parts: &http::request::Parts,
    entry: &Entry,
    xcache: &'static str,
    body: impl FnOnce(u64, u64) -> Body,
) -> Response {
    let h = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let pre = Preconditions {
        if_match: h("if-match"),
        if_none_match: h("if-none-match"),
        if_modified_since: h("if-modified-since"),
        if_unmodified_since: h("if-unmodified-since"),
    };
    let replay = entry.replay();
    let mut resp = Response::new(Body::empty());
    *resp.headers_mut() = replay.headers.clone();
    resp.headers_mut()
        .insert("x-cache", HeaderValue::from_static(xcache));
    match pre.evaluate(entry.etag().unwrap_or_default(), replay.modified, true) {
        Outcome::Proceed => {}
        Outcome::NotModified => {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            return resp;
        }
        Outcome::PreconditionFailed => {
            *resp.status_mut() = StatusCode::PRECONDITION_FAILED;
            return resp;
        }
    }
    resp.headers_mut().insert(
        http::header::ACCEPT_RANGES,
        HeaderValue::from_static("bytes"),
    );
    let (start, len) = match h("range").and_then(range::parse) {
        None => (0, entry.size),
        Some(r) => match r.resolve(entry.size) {
            Some(span) => {
                *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
                if let Ok(v) = HeaderValue::from_str(&span.content_range(entry.size)) {
                    resp.headers_mut().insert(http::header::CONTENT_RANGE, v);
                }
                (span.start, span.len())
            }
            None => {
                *resp.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", entry.size)) {
                    resp.headers_mut().insert(http::header::CONTENT_RANGE, v);
                }
                return resp;
            }
        },
    };
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    *resp.body_mut() = if len == 0 {
        Body::empty()
    } else {
        body(start, len)
    };
    resp
}

/// `Age` on everything served from cache.
fn with_cache_headers(mut resp: Response, entry: &Entry, xcache: &'static str) -> Response {
    resp.headers_mut()
        .insert("age", HeaderValue::from(entry.age().as_secs()));
    resp.headers_mut()
        .insert("x-cache", HeaderValue::from_static(xcache));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upstream_errors_keep_only_their_code() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>m</Message><AWSAccessKeyId>CKEDGEKEY</AWSAccessKeyId><RequestId>R1</RequestId></Error>";
        for (status, body, code) in [
            (403, &body[..], "SignatureDoesNotMatch"),
            (403, &b"not xml"[..], "AccessDenied"),
            (404, &b"<Code>No<Such></Code>"[..], "NoSuchKey"),
            (503, &b""[..], "ServiceUnavailable"),
        ] {
            let head = Head::Other {
                status,
                body: Bytes::copy_from_slice(body),
            };
            assert_eq!(upstream_code(body).unwrap_or(code), code);
            let resp = passthrough(&head);
            assert_eq!(resp.status().as_u16(), status);
        }
        let resp = passthrough(&Head::Other {
            status: 403,
            body: Bytes::copy_from_slice(body),
        });
        let text = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{text}"
        );
        assert!(
            !text.contains("CKEDGEKEY") && !text.contains("R1"),
            "{text}"
        );
    }
}
