//! The HTTP front: one handler that gives every request an id, parses it
//! into an [`endpoint::Endpoint`], authenticates it, dispatches it to
//! `ops`, and turns any error into S3's XML answer.
//!
//! Requests flow one way: `http → auth → ops → store`.

pub mod endpoint;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, Method};
use http_body_util::BodyExt;
use tracing::Instrument;

use crate::auth::{self, encode};
use crate::error::{Code, S3Error, S3Result};
use crate::metrics::Metrics;
use crate::ops::{self, Ctx};
use crate::state::AppState;
use endpoint::{BucketOp, Endpoint, ObjectOp, Operation, ServiceOp, Target};

/// The single axum handler for every path.
pub async fn handle(State(state): State<AppState>, req: Request) -> Response {
    let unsigned_get = req.method() == Method::GET
        && req.uri().query().is_none()
        && !req.headers().contains_key(http::header::AUTHORIZATION);
    if unsigned_get && req.uri().path() == "/health" {
        return Response::new(Body::from("ok\n"));
    }
    if unsigned_get && req.uri().path() == "/metrics" {
        return metrics(&state).await;
    }
    let request_id = format!("{:016X}", rand::random::<u64>());
    // Every log line of this request, wherever it is written, carries the
    // id the client gets back in x-amz-request-id.
    let span = tracing::info_span!("request", request_id = %request_id);
    let metrics = state.metrics.clone();
    let req = req.map(|b| count_in(b, metrics.clone()));
    let resp = respond(state, req, request_id).instrument(span).await;
    let egress = resp.extensions().get::<Egress>().cloned();
    resp.map(|b| count_out(b, metrics, egress))
}

/// Where a response's body bytes count beside the totals: its bucket's
/// traffic, by operation class.
#[derive(Clone)]
struct Egress(Arc<crate::metrics::Traffic>, crate::metrics::OpClass);

/// Counts response body bytes into `bytes_out` and the bucket's egress.
fn count_out(body: Body, metrics: Arc<Metrics>, egress: Option<Egress>) -> Body {
    Body::new(body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            let n = data.len() as u64;
            metrics.bytes_out.fetch_add(n, Ordering::Relaxed);
            if let Some(Egress(t, class)) = &egress {
                t.egress[*class as usize].fetch_add(n, Ordering::Relaxed);
            }
        }
        frame
    }))
}

async fn respond(state: AppState, req: Request, request_id: String) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let head = method == Method::HEAD;
    let (parts, body) = req.into_parts();
    // A request that came with a body the handler may not have read (an
    // early error, maybe after `Expect: 100-continue`): the connection
    // cannot carry another request reliably, so the client is told.
    let sent_body = parts.headers.contains_key(http::header::TRANSFER_ENCODING)
        || parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let mut op = "Unknown";
    // The bucket the request named, once an operation found it.
    let mut bucket_found: Option<String> = None;
    // What CORS needs once the request itself has been consumed.
    let origin = parts
        .headers
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cors_bucket = origin.as_ref().and_then(|_| {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        endpoint::target(host, parts.uri.path(), state.config.domain.as_deref())
            .ok()
            .and_then(|t| t.bucket)
    });
    let result = serve(&state, parts, body, &mut op, &mut bucket_found).await;
    let mut resp = match result {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(code = e.code.as_str(), message = %e.message, "request failed");
            e.to_response(&request_id, &encode::decode(&path), head)
        }
    };
    if let (Some(origin), Some(bucket)) = (&origin, &cors_bucket) {
        if method != Method::OPTIONS {
            ops::cors::decorate(&state, bucket, origin, &method, &mut resp).await;
        }
    }
    let failed = resp.status().is_client_error() || resp.status().is_server_error();
    let headers = resp.headers_mut();
    if sent_body && failed {
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amz-request-id", v.clone());
        headers.insert("x-amz-id-2", v);
    }
    headers.insert(http::header::SERVER, HeaderValue::from_static("Cairn"));
    let elapsed = started.elapsed();
    state.metrics.record(op, resp.status().as_u16(), elapsed);
    if op == "DeleteBucket" && resp.status().is_success() {
        if let Some(bucket) = bucket_found.take() {
            state.metrics.forget_bucket(&bucket);
        }
    }
    if let Some(bucket) = &bucket_found {
        let class = crate::metrics::OpClass::of(op);
        let traffic = state.metrics.bucket_request(bucket, class);
        resp.extensions_mut().insert(Egress(traffic, class));
    }
    tracing::info!(
        method = %method,
        path,
        op,
        status = resp.status().as_u16(),
        ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

/// Counts request body bytes as they pass, into `bytes_in`.
fn count_in(body: Body, metrics: Arc<Metrics>) -> Body {
    Body::new(body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            metrics
                .bytes_in
                .fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        frame
    }))
}

/// `GET /metrics` (unsigned, no query; a bucket named `metrics` is still
/// reachable with any signed or queried request).
async fn metrics(state: &AppState) -> Response {
    let cap = state.config.metrics_buckets;
    let stored = state
        .meta
        .read(move |c| -> S3Result<_> {
            Ok((
                crate::store::meta::audit::totals(c)?,
                crate::store::meta::changes::bounds(c)?.1,
                crate::store::meta::usage::top(c, cap)?,
            ))
        })
        .await;
    match stored {
        Ok((totals, head, (top, rest))) => {
            let mut text = state.metrics.render(totals, head);
            text.push_str(&state.metrics.render_buckets(&top, &rest));
            text.push_str(&crate::notify::render_metrics(&state.notify));
            let mut resp = Response::new(Body::from(text));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            resp
        }
        Err(e) => e.to_response("metrics", "/metrics", false),
    }
}

async fn serve(
    state: &AppState,
    parts: http::request::Parts,
    body: Body,
    op: &mut &'static str,
    bucket_found: &mut Option<String>,
) -> S3Result<Response> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let target: Target = endpoint::target(host, parts.uri.path(), state.config.domain.as_deref())
        .map_err(|_| {
        S3Error::msg(
            Code::InvalidURI,
            "Couldn't parse the specified URI: object keys must be UTF-8.",
        )
    })?;
    let pairs = encode::query_pairs(parts.uri.query().unwrap_or(""));
    let vhost_bucket = target.vhost.then(|| target.bucket.clone()).flatten();
    let operation = Endpoint::parse(
        &parts.method,
        target,
        &pairs,
        parts.headers.contains_key("x-amz-copy-source"),
    )?;
    let endpoint = match operation {
        Operation::Preflight { bucket } => {
            *op = "CorsPreflight";
            // Preflights carry no credentials; the bucket's rules decide.
            return ops::cors::preflight(state, &bucket, &parts.headers).await;
        }
        Operation::PostObject { bucket } => {
            *op = "PostObject";
            // Browser form uploads are authenticated by their signed policy.
            return ops::post::post_object(state, &bucket, parts, body).await;
        }
        Operation::Signed(endpoint) => endpoint,
    };
    *op = endpoint.name();

    let credentials = auth::parse(&parts, &pairs)?;
    let key = match credentials.access_key() {
        Some(ak) => state.keys.get(&state.meta, ak).await?,
        None => None,
    };
    let verified = credentials.verify(
        &parts,
        &pairs,
        vhost_bucket.as_deref(),
        key.as_ref(),
        state.config.signed_region(),
        SystemTime::now(),
    )?;

    ops::access::refuse_read_only(&verified.principal, endpoint.action())?;
    ops::unsupported::refuse(&endpoint, &parts.headers)?;
    crate::sse::check_channel(
        &parts.headers,
        parts.extensions.get().copied(),
        state.config.sse_c_over_http,
    )?;
    let ctx = Ctx {
        state: state.clone(),
        verified,
        parts,
        pairs,
        action: endpoint.action(),
        object_key: endpoint.key().map(str::to_owned),
        bucket_found: Default::default(),
    };
    let bucket = endpoint.bucket().map(str::to_owned);
    let result = dispatch(&ctx, endpoint, body).await;
    if ctx.bucket_found.load(Ordering::Relaxed) {
        *bucket_found = bucket;
    }
    result
}

/// Runs the operation.
async fn dispatch(ctx: &Ctx, endpoint: Endpoint, body: Body) -> S3Result<Response> {
    match endpoint {
        Endpoint::Service(op) => match op {
            ServiceOp::ListBuckets => ops::bucket::list_buckets(ctx).await,
            ServiceOp::ChangeFeed => ops::feed::follow(ctx).await,
            ServiceOp::SignEdgeUrl => ops::feed::sign_url(ctx).await,
        },
        Endpoint::Bucket { bucket, op } => bucket_op(ctx, &bucket, op, body).await,
        Endpoint::Object { bucket, key, op } => object_op(ctx, &bucket, &key, op, body).await,
    }
}

async fn bucket_op(ctx: &Ctx, bucket: &str, op: BucketOp, body: Body) -> S3Result<Response> {
    use BucketOp::*;
    match op {
        CreateBucket => ops::bucket::create(ctx, bucket, body).await,
        HeadBucket => ops::bucket::head(ctx, bucket).await,
        DeleteBucket => ops::bucket::delete(ctx, bucket).await,
        GetBucketLocation => ops::bucket::location(ctx, bucket).await,
        GetBucketVersioning => ops::versioning::get(ctx, bucket).await,
        PutBucketVersioning => ops::versioning::put(ctx, bucket, body).await,
        GetBucketAcl => ops::settings::get_acl(ctx, bucket, None).await,
        PutBucketAcl => ops::settings::put_acl(ctx, bucket, body).await,
        GetBucketPolicy => ops::settings::get_policy(ctx, bucket).await,
        PutBucketPolicy => ops::settings::put_policy(ctx, bucket, body).await,
        DeleteBucketPolicy => ops::settings::delete_policy(ctx, bucket).await,
        GetBucketPolicyStatus => ops::settings::policy_status(ctx, bucket).await,
        GetBucketOwnershipControls => ops::ownership::get(ctx, bucket).await,
        PutBucketOwnershipControls => ops::ownership::put(ctx, bucket, body).await,
        DeleteBucketOwnershipControls => ops::ownership::delete(ctx, bucket).await,
        GetBucketEncryption => ops::encryption::get(ctx, bucket).await,
        PutBucketEncryption => ops::encryption::put(ctx, bucket, body).await,
        DeleteBucketEncryption => ops::encryption::delete(ctx, bucket).await,
        GetPublicAccessBlock => ops::public_access::get(ctx, bucket).await,
        PutPublicAccessBlock => ops::public_access::put(ctx, bucket, body).await,
        DeletePublicAccessBlock => ops::public_access::delete(ctx, bucket).await,
        GetBucketLifecycleConfiguration => ops::lifecycle::get(ctx, bucket).await,
        PutBucketLifecycleConfiguration => ops::lifecycle::put(ctx, bucket, body).await,
        DeleteBucketLifecycle => ops::lifecycle::delete(ctx, bucket).await,
        GetObjectLockConfiguration => ops::object_lock::get_config(ctx, bucket).await,
        PutObjectLockConfiguration => ops::object_lock::put_config(ctx, bucket, body).await,
        GetBucketTagging => ops::settings::get_tagging(ctx, bucket).await,
        PutBucketTagging => ops::settings::put_tagging(ctx, bucket, body).await,
        DeleteBucketTagging => ops::settings::delete_tagging(ctx, bucket).await,
        GetBucketNotificationConfiguration => ops::notification::get(ctx, bucket).await,
        PutBucketNotificationConfiguration => ops::notification::put(ctx, bucket, body).await,
        GetBucketWebsite => ops::website::get(ctx, bucket).await,
        PutBucketWebsite => ops::website::put(ctx, bucket, body).await,
        DeleteBucketWebsite => ops::website::delete(ctx, bucket).await,
        GetBucketCors => ops::settings::get_cors(ctx, bucket).await,
        PutBucketCors => ops::settings::put_cors(ctx, bucket, body).await,
        DeleteBucketCors => ops::settings::delete_cors(ctx, bucket).await,
        ListObjects => ops::list::list_v1(ctx, bucket).await,
        ListObjectsV2 => ops::list::list_v2(ctx, bucket).await,
        ListObjectVersions => ops::list_versions::list_versions(ctx, bucket).await,
        ListMultipartUploads => ops::multipart::list_uploads(ctx, bucket).await,
        DeleteObjects => ops::delete::delete_objects(ctx, bucket, body).await,
    }
}

async fn object_op(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    op: ObjectOp,
    body: Body,
) -> S3Result<Response> {
    use ops::{multipart, object_lock, settings, tagging};
    use ObjectOp::*;
    // The upload a multipart request names, on this very bucket and key.
    let named = |id| multipart::Upload { id, bucket, key };
    match op {
        PutObject => ops::put::put_object(ctx, bucket, key, body).await,
        CopyObject => ops::copy::copy_object(ctx, bucket, key).await,
        GetObject { version, part } => {
            let read = ops::get::Read {
                version,
                part,
                head: false,
            };
            ops::get::get_object(ctx, bucket, key, read).await
        }
        HeadObject { version, part } => {
            let read = ops::get::Read {
                version,
                part,
                head: true,
            };
            ops::get::get_object(ctx, bucket, key, read).await
        }
        DeleteObject { version } => ops::delete::delete_object(ctx, bucket, key, version).await,
        GetObjectAcl { version } => settings::get_acl(ctx, bucket, Some((key, version))).await,
        PutObjectAcl { version } => settings::put_object_acl(ctx, bucket, key, version, body).await,
        GetObjectTagging { version } => tagging::get(ctx, bucket, key, version).await,
        PutObjectTagging { version } => tagging::put(ctx, bucket, key, version, body).await,
        DeleteObjectTagging { version } => tagging::delete(ctx, bucket, key, version).await,
        GetObjectAttributes { version } => ops::attributes::get(ctx, bucket, key, version).await,
        GetObjectRetention { version } => {
            object_lock::get_retention(ctx, bucket, key, version).await
        }
        PutObjectRetention { version } => {
            object_lock::put_retention(ctx, bucket, key, version, body).await
        }
        GetObjectLegalHold { version } => {
            object_lock::get_legal_hold(ctx, bucket, key, version).await
        }
        PutObjectLegalHold { version } => {
            object_lock::put_legal_hold(ctx, bucket, key, version, body).await
        }
        CreateMultipartUpload => multipart::create(ctx, bucket, key).await,
        UploadPart { upload_id, part } => {
            multipart::upload_part(ctx, named(&upload_id), part, body).await
        }
        UploadPartCopy { upload_id, part } => {
            multipart::upload_part_copy(ctx, named(&upload_id), part).await
        }
        CompleteMultipartUpload { upload_id } => {
            multipart::complete(ctx, named(&upload_id), body).await
        }
        AbortMultipartUpload { upload_id } => multipart::abort(ctx, named(&upload_id)).await,
        ListParts { upload_id } => multipart::list_parts(ctx, named(&upload_id)).await,
    }
}
