//! The admin API: JSON over HTTP on its own listener (`admin_listen`, off
//! by default), every request authenticated by a bearer token listed in
//! the tokens file (read on each request, so a token removed from it stops
//! working at once). README lists the routes with examples.

use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::jobs::{JobKind, Jobs};
use crate::error::{Code, S3Error};
use crate::state::AppState;

/// Largest request body the admin API reads.
const MAX_BODY: usize = 64 * 1024;

/// An admin API answer: JSON, or an error as `{"error", "message"}` with
/// the status its S3 code has.
pub enum Reply {
    Json(StatusCode, serde_json::Value),
    Error(S3Error),
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let (status, value) = match self {
            Reply::Json(status, v) => (status, v),
            Reply::Error(e) => (
                e.code.status(),
                serde_json::json!({"error": e.code.as_str(), "message": e.message}),
            ),
        };
        let mut resp = Response::new(Body::from(value.to_string()));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

fn ok<T: Serialize>(v: Result<T, S3Error>) -> Reply {
    match v.and_then(|v| serde_json::to_value(v).map_err(S3Error::internal)) {
        Ok(v) => Reply::Json(StatusCode::OK, v),
        Err(e) => Reply::Error(e),
    }
}

fn created<T: Serialize>(v: Result<T, S3Error>) -> Reply {
    match ok(v) {
        Reply::Json(_, v) => Reply::Json(StatusCode::CREATED, v),
        e => e,
    }
}

fn done(v: Result<(), S3Error>) -> Reply {
    match v {
        Ok(()) => Reply::Json(StatusCode::OK, serde_json::json!({"ok": true})),
        Err(e) => Reply::Error(e),
    }
}

/// A JSON body into `T` (unknown fields refused), or a 400.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, S3Error> {
    if body.len() > MAX_BODY {
        return Err(S3Error::new(Code::EntityTooLarge));
    }
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        &body[..]
    };
    serde_json::from_slice(text)
        .map_err(|e| S3Error::msg(Code::InvalidArgument, format!("bad JSON body: {e}")))
}

/// What the admin router shares.
#[derive(Clone)]
pub struct AdminState {
    pub app: AppState,
    pub tokens_file: PathBuf,
    pub jobs: std::sync::Arc<Jobs>,
}

/// The admin API's routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/v1/keys", get(list_keys).post(create_key))
        .route(
            "/v1/keys/{access_key}",
            axum::routing::patch(change_key).delete(delete_key),
        )
        .route("/v1/buckets", get(list_buckets).post(create_bucket))
        .route(
            "/v1/buckets/{bucket}",
            get(bucket_info).delete(delete_bucket),
        )
        .route("/v1/buckets/{bucket}/grants", post(change_grant))
        .route("/v1/buckets/{bucket}/quota", put(set_quota))
        .route(
            "/v1/buckets/{bucket}/website",
            put(set_website).delete(delete_website),
        )
        .route("/v1/edges", get(list_edges))
        .route("/v1/notifications", get(notifications))
        .route("/v1/jobs", get(list_jobs).post(start_job))
        .route("/v1/jobs/{id}", get(job))
        .fallback(|| async { Reply::Error(S3Error::msg(Code::NoSuchKey, "no such admin route")) })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

/// Refuses requests without a listed bearer token (401), before routing.
async fn authenticate(State(s): State<AdminState>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let listed = std::fs::read_to_string(&s.tokens_file).unwrap_or_default();
    let valid = given.is_some_and(|g| {
        listed
            .lines()
            .map(str::trim)
            .filter(|t| t.len() >= 16 && !t.starts_with('#'))
            .any(|t| crate::auth::sigv4::constant_time_eq(t.as_bytes(), g.as_bytes()))
    });
    if !valid {
        let mut resp = Reply::Error(S3Error::msg(
            Code::AccessDenied,
            "an admin token is required: Authorization: Bearer TOKEN",
        ))
        .into_response();
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        return resp;
    }
    next.run(req).await
}

async fn list_keys(State(s): State<AdminState>) -> Reply {
    ok(super::list_keys(&s.app).await)
}

async fn create_key(State(s): State<AdminState>, body: Bytes) -> Reply {
    match parse(&body) {
        Ok(spec) => created(super::create_key(&s.app, spec).await),
        Err(e) => Reply::Error(e),
    }
}

async fn change_key(
    State(s): State<AdminState>,
    Path(access_key): Path<String>,
    body: Bytes,
) -> Reply {
    match parse(&body) {
        Ok(change) => done(super::change_key(&s.app, &access_key, change).await),
        Err(e) => Reply::Error(e),
    }
}

async fn delete_key(State(s): State<AdminState>, Path(access_key): Path<String>) -> Reply {
    done(super::delete_key(&s.app, &access_key).await)
}

async fn list_buckets(State(s): State<AdminState>) -> Reply {
    ok(super::list_buckets(&s.app).await)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBucket {
    name: String,
    /// The access key that will own it.
    owner: String,
}

async fn create_bucket(State(s): State<AdminState>, body: Bytes) -> Reply {
    let spec: NewBucket = match parse(&body) {
        Ok(spec) => spec,
        Err(e) => return Reply::Error(e),
    };
    match super::create_bucket(&s.app, &spec.name, &spec.owner).await {
        Ok(()) => created(super::bucket_info(&s.app, &spec.name).await),
        Err(e) => Reply::Error(e),
    }
}

async fn bucket_info(State(s): State<AdminState>, Path(bucket): Path<String>) -> Reply {
    ok(super::bucket_info(&s.app, &bucket).await)
}

async fn delete_bucket(State(s): State<AdminState>, Path(bucket): Path<String>) -> Reply {
    done(super::delete_bucket(&s.app, &bucket).await)
}

async fn change_grant(
    State(s): State<AdminState>,
    Path(bucket): Path<String>,
    body: Bytes,
) -> Reply {
    match parse(&body) {
        Ok(change) => ok(super::change_grant(&s.app, &bucket, change).await),
        Err(e) => Reply::Error(e),
    }
}

async fn set_quota(State(s): State<AdminState>, Path(bucket): Path<String>, body: Bytes) -> Reply {
    match parse(&body) {
        Ok(quota) => done(super::set_quota(&s.app, &bucket, quota).await),
        Err(e) => Reply::Error(e),
    }
}

async fn notifications(State(s): State<AdminState>) -> Reply {
    ok(super::notifications(&s.app).await)
}

async fn set_website(
    State(s): State<AdminState>,
    Path(bucket): Path<String>,
    body: Bytes,
) -> Reply {
    match parse(&body) {
        Ok(spec) => done(super::set_website(&s.app, &bucket, Some(spec)).await),
        Err(e) => Reply::Error(e),
    }
}

async fn delete_website(State(s): State<AdminState>, Path(bucket): Path<String>) -> Reply {
    done(super::set_website(&s.app, &bucket, None).await)
}

async fn list_edges(State(s): State<AdminState>) -> Reply {
    ok(super::list_edges(&s.app).await)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewJob {
    kind: JobKind,
}

async fn start_job(State(s): State<AdminState>, body: Bytes) -> Reply {
    match parse::<NewJob>(&body) {
        Ok(spec) => created(Ok(s.jobs.start(&s.app, spec.kind))),
        Err(e) => Reply::Error(e),
    }
}

async fn list_jobs(State(s): State<AdminState>) -> Reply {
    ok(Ok(s.jobs.list()))
}

async fn job(State(s): State<AdminState>, Path(id): Path<String>) -> Reply {
    match id.parse().ok().and_then(|id| s.jobs.get(id)) {
        Some(j) => ok(Ok(j)),
        None => Reply::Error(S3Error::msg(Code::NoSuchKey, "no such job")),
    }
}

/// Makes the tokens file with one new token if there is none (0600), so a
/// fresh deployment's operator finds a token to use there.
pub fn ensure_tokens(path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        return Ok(());
    }
    let token: String = {
        use rand::distributions::{Alphanumeric, DistString};
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("admin tokens file {}: {e}", path.display()))?;
    writeln!(
        f,
        "# admin API tokens, one per line (cairn-origin --endpoint URL with CAIRN_ADMIN_TOKEN)"
    )?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    Ok(())
}

/// Binds the admin listener and serves the API on it, with the same
/// connection bounds as the S3 listener; returns the bound address.
pub async fn spawn(
    state: &AppState,
    addr: std::net::SocketAddr,
) -> anyhow::Result<std::net::SocketAddr> {
    let tokens_file = state.config.admin_tokens_path();
    ensure_tokens(&tokens_file)?;
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (admin API): {e}"))?;
    let bound = tcp.local_addr()?;
    tracing::info!(addr = %bound, tokens = %tokens_file.display(), "serving the admin API");
    let app = router(AdminState {
        app: state.clone(),
        tokens_file,
        jobs: Default::default(),
    });
    let c = &state.config;
    let limits =
        cairn_shared::listen::Limits::configured(Some(64), c.header_timeout, c.idle_timeout);
    let shed =
        cairn_shared::listen::shed_response("ServiceUnavailable", "Too many connections; retry.");
    tokio::spawn(async move {
        let never = std::future::pending::<()>();
        if let Err(e) =
            cairn_shared::listen::serve(vec![tcp.into()], app, limits, shed, never).await
        {
            tracing::error!(error = %e, "the admin API stopped");
        }
    });
    Ok(bound)
}
