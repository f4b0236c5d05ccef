//! The leaf every request path answers through: the edge's own S3-style
//! XML errors (one type, [`EdgeError`], each code's status mapped in
//! [`Code::status`]), upstream errors passed on, and query decoding. It imports nothing of the crate, so the
//! router (`serve`), `cors`, `purge`, `sites` and `slices` can all use it
//! without importing each other.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

/// The S3 error codes the edge answers with itself, each with its HTTP
/// status: mapped here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    AccessDenied,
    AccessForbidden,
    GatewayTimeout,
    InternalError,
    InvalidArgument,
    InvalidRequest,
    InvalidURI,
    MethodNotAllowed,
    NoSuchKey,
    ServiceUnavailable,
    SignatureDoesNotMatch,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::AccessDenied => "AccessDenied",
            Code::AccessForbidden => "AccessForbidden",
            Code::GatewayTimeout => "GatewayTimeout",
            Code::InternalError => "InternalError",
            Code::InvalidArgument => "InvalidArgument",
            Code::InvalidRequest => "InvalidRequest",
            Code::InvalidURI => "InvalidURI",
            Code::MethodNotAllowed => "MethodNotAllowed",
            Code::NoSuchKey => "NoSuchKey",
            Code::ServiceUnavailable => "ServiceUnavailable",
            Code::SignatureDoesNotMatch => "SignatureDoesNotMatch",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::AccessDenied | Code::AccessForbidden | Code::SignatureDoesNotMatch => {
                StatusCode::FORBIDDEN
            }
            Code::InvalidArgument | Code::InvalidRequest | Code::InvalidURI => {
                StatusCode::BAD_REQUEST
            }
            Code::NoSuchKey => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            // The edge's own failures are its upstream's: a copy it could
            // neither use nor fetch again.
            Code::InternalError => StatusCode::BAD_GATEWAY,
            Code::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// An error the edge answers itself: one S3 code and a fixed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeError {
    pub code: Code,
    pub message: &'static str,
}

impl EdgeError {
    pub const fn new(code: Code, message: &'static str) -> Self {
        Self { code, message }
    }
}

impl IntoResponse for EdgeError {
    fn into_response(self) -> Response {
        xml_error(self.code.status(), self.code.as_str(), self.message)
    }
}

/// An upstream's error passed on: its status and S3 code (checked by the
/// caller to be letters only), with a generic message.
pub fn passed_on(status: StatusCode, code: &str, message: &str) -> Response {
    xml_error(status, code, message)
}

/// The S3-style XML error body every error of the edge is.
fn xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>");
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// Decoded `name=value` pairs of a query string.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect()
}
