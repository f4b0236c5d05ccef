//! Reading a request body as the client framed it: raw, or aws-chunked
//! with chunk signatures and trailers. Enforces the declared length and
//! the size limit so that no handler has to.

use axum::body::{Body, BodyDataStream};
use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use crate::auth::chunked::{ChunkedBody, Trailers};
use crate::auth::Payload;
use crate::error::{Code, S3Error, S3Result};

enum Inner {
    Raw(BodyDataStream),
    Chunked(Box<ChunkedBody<BodyDataStream>>),
}

pub struct BodyReader {
    inner: Inner,
    /// What the client declared: Content-Length, or for aws-chunked
    /// `x-amz-decoded-content-length`.
    declared: Option<u64>,
    limit: u64,
    read: u64,
    /// The slowest average an upload may keep up after [`RATE_GRACE`]
    /// (bytes a second; 0: no minimum).
    min_rate: u64,
    started: std::time::Instant,
}

/// How long an upload may go before its average rate is held to the
/// minimum: a slow start (a phone waking its radio) is not a slow client.
pub const RATE_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

fn header_u64(headers: &HeaderMap, name: &str) -> S3Result<Option<u64>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| S3Error::msg(Code::InvalidArgument, format!("Invalid {name}"))),
    }
}

/// True when the body uses aws-chunked framing, by either signal.
pub fn is_aws_chunked(headers: &HeaderMap, payload: &Payload) -> bool {
    matches!(payload, Payload::Chunked { .. })
        || headers
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("aws-chunked"))
            })
}

impl BodyReader {
    /// Chooses the framing and checks the declared size against `limit`
    /// before a byte is read (EntityTooLarge).
    pub fn new(body: Body, headers: &HeaderMap, payload: &Payload, limit: u64) -> S3Result<Self> {
        let stream = body.into_data_stream();
        let chunked = is_aws_chunked(headers, payload);
        let (inner, declared) = if chunked {
            let signer = match payload {
                Payload::Chunked { signer, .. } => signer.clone(),
                _ => None,
            };
            let declared = header_u64(headers, "x-amz-decoded-content-length")?;
            (
                Inner::Chunked(Box::new(ChunkedBody::new(stream, signer))),
                declared,
            )
        } else {
            (Inner::Raw(stream), header_u64(headers, "content-length")?)
        };
        if declared.is_some_and(|d| d > limit) {
            return Err(
                S3Error::new(Code::EntityTooLarge).with("MaxSizeAllowed", limit.to_string())
            );
        }
        Ok(Self {
            inner,
            declared,
            limit,
            read: 0,
            min_rate: 0,
            started: std::time::Instant::now(),
        })
    }

    /// Refuses the body (RequestTimeout) once, past [`RATE_GRACE`], it has
    /// come slower than `bytes_per_sec` on average: a client trickling an
    /// upload holds a connection and an upload slot for nothing.
    pub fn min_rate(mut self, bytes_per_sec: u64) -> Self {
        self.min_rate = bytes_per_sec;
        self
    }

    fn check_rate(&self) -> S3Result<()> {
        let elapsed = self.started.elapsed();
        if self.min_rate == 0 || elapsed < RATE_GRACE {
            return Ok(());
        }
        let due = (elapsed.as_secs_f64() * self.min_rate as f64) as u64;
        if self.read < due {
            return Err(S3Error::msg(
                Code::RequestTimeout,
                format!(
                    "Your upload came slower than {} bytes a second; the connection was closed.",
                    self.min_rate
                ),
            ));
        }
        Ok(())
    }

    /// The next piece of the body, or `None` once all declared bytes came.
    pub async fn next(&mut self) -> S3Result<Option<Bytes>> {
        let piece = match &mut self.inner {
            Inner::Raw(s) => match futures_util::StreamExt::next(s).await {
                Some(Ok(b)) => Some(b),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "body read failed");
                    return Err(S3Error::new(Code::IncompleteBody));
                }
                None => None,
            },
            Inner::Chunked(c) => c.next().await?,
        };
        match piece {
            Some(b) => {
                self.read += b.len() as u64;
                self.check_rate()?;
                if self.read > self.limit {
                    return Err(S3Error::new(Code::EntityTooLarge)
                        .with("MaxSizeAllowed", self.limit.to_string()));
                }
                if self.declared.is_some_and(|d| self.read > d) {
                    return Err(S3Error::msg(
                        Code::InvalidRequest,
                        "The body is longer than its declared length.",
                    ));
                }
                Ok(Some(b))
            }
            None => {
                if self.declared.is_some_and(|d| self.read < d) {
                    return Err(S3Error::new(Code::IncompleteBody));
                }
                Ok(None)
            }
        }
    }

    /// Trailing headers of an aws-chunked body (empty otherwise).
    pub fn trailers(&self) -> &[(String, String)] {
        match &self.inner {
            Inner::Chunked(c) => &c.trailers,
            Inner::Raw(_) => &[],
        }
    }

    /// Reads a small body (an XML document) whole, up to `limit` bytes.
    pub async fn collect(mut self) -> S3Result<(Bytes, Trailers)> {
        let mut buf = BytesMut::new();
        while let Some(b) = self.next().await? {
            buf.extend_from_slice(&b);
        }
        let trailers = self.trailers().to_vec();
        Ok((buf.freeze(), trailers))
    }
}
