//! Serving HTTP connections within bounds, for both daemons: HTTP/1.1 in
//! clear, and HTTP/1.1 or HTTP/2 over TLS ([`crate::tls`]).
//!
//! A server that keeps every connection a client opens, for as long as the
//! client likes, is one `for` loop away from being stopped: 20,000 idle
//! sockets exhaust its file descriptors, and a few thousand clients that
//! send their headers a byte at a time hold it just as well. So:
//!
//! - at most [`Limits::max_connections`] connections are served at once; a
//!   connection beyond that is answered at once with the caller's `shed`
//!   response (503) and closed, so the server keeps descriptors to accept
//!   with and clients learn to back off;
//! - a request's head must arrive within [`Limits::header_timeout`], counted
//!   from when the connection opened or the previous response was sent, so
//!   it also closes idle keep-alive connections;
//! - a connection on which no byte moves either way for
//!   [`Limits::idle_timeout`] is closed: a stalled upload, a client that
//!   stopped reading its download.
//!
//! The soft limit on open files is raised to the hard limit at start
//! ([`raise_file_limit`]), and the default connection cap leaves room below
//! it for the files the server itself opens.
//!
//! This module knows sockets and hyper, nothing of S3 or caching.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// The bounds every connection is served within.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// Give each request its connection's [`Peer`] (an allocation per
    /// request: only for servers that ask, the origin).
    pub peer_info: bool,
    /// Plain listeners also speak HTTP/2 to clients that open with its
    /// preface (h2c, "prior knowledge"); off, they speak HTTP/1.1 only.
    pub h2c: bool,
}

/// Refused connections that may linger at once (see [`refuse`]).
const LINGERING: usize = 256;

/// Files kept free for what the server opens itself (blobs, SQLite, logs,
/// cache bodies, upstream connections).
const RESERVED_FILES: u64 = 1024 + LINGERING as u64;

impl Limits {
    /// The defaults: a cap below the open-file limit, 10 s for a head
    /// (and for an idle keep-alive connection), 60 s without progress.
    pub fn defaults(file_limit: u64) -> Self {
        Self {
            max_connections: default_max_connections(file_limit),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            peer_info: false,
            h2c: false,
        }
    }
}

impl Limits {
    /// The limits a daemon runs with: the settings given, the cap by
    /// default what the open-file limit (raised first) allows.
    pub fn configured(
        max_connections: Option<usize>,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        let mut limits = Self::defaults(raise_file_limit());
        limits.header_timeout = header_timeout;
        limits.idle_timeout = idle_timeout;
        if let Some(n) = max_connections {
            limits.max_connections = n.max(1);
        }
        tracing::info!(max_connections = limits.max_connections, "serving");
        limits
    }
}

/// The connection cap for a process allowed `file_limit` open files.
pub fn default_max_connections(file_limit: u64) -> usize {
    let usable = file_limit.saturating_sub(RESERVED_FILES).max(64);
    usize::try_from(usable.min(100_000)).unwrap_or(100_000)
}

/// Raises the soft limit on open files to the hard limit; returns the
/// limit now in force.
pub fn raise_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024)
        }
    }
}

/// What [`serve`] serves (an axum `Router` is one).
pub trait HttpService<B>:
    tower_service::Service<
        http::Request<Incoming>,
        Response = http::Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Unpin
    + 'static
{
}

impl<T, B> HttpService<B> for T where
    T: tower_service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Unpin
        + 'static
{
}

/// The response bodies [`serve`] can send.
pub trait ResponseBody:
    http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + 'static
{
}

impl<T> ResponseBody for T where
    T: http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static
{
}

/// A socket to serve on: in clear, or TLS with this configuration.
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl From<TcpListener> for Listener {
    fn from(tcp: TcpListener) -> Self {
        Self { tcp, tls: None }
    }
}

/// What every accept loop of one server shares.
struct Shared {
    limits: Limits,
    shed: bytes::Bytes,
    /// One per connection served, across all listeners.
    permits: Arc<Semaphore>,
    lingering: Arc<Semaphore>,
    /// Tells every connection to finish its request in flight and close.
    stop: tokio::sync::watch::Receiver<bool>,
}

/// Serves `service` on every listener until `shutdown` resolves, then
/// lets the requests in flight finish (idle connections close at once).
///
/// `shed` is the whole HTTP response (status line, headers, body) written
/// to a connection refused because `max_connections` are open across all
/// listeners ([`shed_response`]).
///
/// On a TLS listener the handshake must finish within `header_timeout`;
/// the connection then speaks HTTP/2 or HTTP/1.1 as ALPN chose.
pub async fn serve<S, B>(
    listeners: Vec<Listener>,
    service: S,
    limits: Limits,
    shed: bytes::Bytes,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()>
where
    S: HttpService<B>,
    B: ResponseBody,
{
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Shared {
        limits,
        shed,
        permits: Arc::new(Semaphore::new(limits.max_connections)),
        lingering: Arc::new(Semaphore::new(LINGERING)),
        stop,
    });
    let mut loops = tokio::task::JoinSet::new();
    for listener in listeners {
        loops.spawn(accept_loop(listener, service.clone(), shared.clone()));
    }
    shutdown.await;
    // Stop accepting (the listeners close with their loops).
    loops.abort_all();
    while loops.join_next().await.is_some() {}
    // Idle connections close now; the others after their response.
    let _ = stop_tx.send(true);
    shared
        .permits
        .acquire_many(u32::try_from(limits.max_connections).unwrap_or(u32::MAX))
        .await
        .map(drop)
        .ok();
    Ok(())
}

async fn accept_loop<S, B>(listener: Listener, service: S, shared: Arc<Shared>)
where
    S: HttpService<B>,
    B: ResponseBody,
{
    let limits = shared.limits;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let secure = listener.tls.map(|config| {
        (
            tokio_rustls::TlsAcceptor::from(config),
            tls_builder(&limits),
        )
    });
    // h2c: the same HTTP/1.1-or-HTTP/2 builder as TLS, chosen by preface.
    let h2c = limits.h2c.then(|| tls_builder(&limits));
    let mut last_accept_error: Option<Instant> = None;
    loop {
        let tcp = match listener.tcp.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of descriptors (or a connection reset before accept):
                // say so at most once a second, and give closing connections
                // a moment instead of spinning.
                if last_accept_error.is_none_or(|at| at.elapsed() > Duration::from_secs(1)) {
                    tracing::warn!(error = %e, "accept failed");
                    last_accept_error = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let addr = tcp.peer_addr().ok();
        let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
            refuse(tcp, &shared.shed, &shared.lingering);
            continue;
        };
        let mut stopping = shared.stop.clone();
        if let Some((acceptor, builder)) = &secure {
            let (acceptor, builder, service) = (acceptor.clone(), builder.clone(), service.clone());
            let io = IdleTimeout::new(tcp, limits.idle_timeout);
            tokio::spawn(async move {
                match tokio::time::timeout(limits.header_timeout, acceptor.accept(io)).await {
                    Ok(Ok(stream)) => {
                        let peer = limits.peer_info.then_some(Peer { addr, tls: true });
                        let service = Boxed(service, peer);
                        serve_auto(&builder, TokioIo::new(stream), service, &mut stopping).await;
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
                drop(permit);
            });
            continue;
        }
        let peer = limits.peer_info.then_some(Peer { addr, tls: false });
        if let Some(builder) = &h2c {
            let (builder, service) = (builder.clone(), service.clone());
            let io = TokioIo::new(IdleTimeout::new(tcp, limits.idle_timeout));
            tokio::spawn(async move {
                serve_auto(&builder, io, Boxed(service, peer), &mut stopping).await;
                drop(permit);
            });
            continue;
        }
        let io = TokioIo::new(IdleTimeout::new(tcp, limits.idle_timeout));
        let mut conn = builder.serve_connection(io, Boxed(service.clone(), peer));
        tokio::spawn(async move {
            let served = loop {
                tokio::select! {
                    r = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break r,
                    _ = stopping.changed() => Pin::new(&mut conn).graceful_shutdown(),
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            let tcp = conn.into_parts().io.into_inner().inner;
            linger(tcp).await;
            drop(permit);
        });
    }
}

/// Serves one connection with the HTTP/1.1-or-HTTP/2 builder (TLS, h2c)
/// until it ends or, once `stopping` changes, its requests in flight are
/// done.
async fn serve_auto<I, S, B>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: Boxed<S>,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: HttpService<B>,
    B: ResponseBody,
{
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let served = loop {
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = stopping.changed() => conn.as_mut().graceful_shutdown(),
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// HTTP/1.1 and HTTP/2 for TLS connections (ALPN decides; a client
/// without ALPN gets HTTP/1.1 unless it opens with the HTTP/2 preface).
fn tls_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        // Bounds per connection: streams at once, and header bytes.
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST)
        // A connection that stops answering pings is closed.
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout);
    builder
}

/// HTTP/2 streams one connection may have open at once.
const MAX_STREAMS: u32 = 256;
/// The most header bytes an HTTP/2 request may carry.
const MAX_HEADER_LIST: u32 = 64 * 1024;

/// A whole `503` response with an S3-style XML error, for [`serve`].
pub fn shed_response(code: &str, message: &str) -> bytes::Bytes {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>\n"
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into()
}

/// A tower service as a hyper one whose futures are boxed: hyper hands a
/// connection back (for the lingering close) only when they are `Unpin`.
/// Each request is given its connection's [`Peer`] when asked for.
struct Boxed<S>(S, Option<Peer>);

/// Where a request came from, in its extensions: the client's address
/// and whether the connection is TLS. Policies and SSE-C ask.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: Option<std::net::SocketAddr>,
    pub tls: bool,
}

impl Peer {
    /// Whether what the client sends cannot have crossed a network in the
    /// clear: a TLS connection, or one from this host.
    pub fn private_channel(&self) -> bool {
        self.tls || self.addr.is_some_and(|a| a.ip().is_loopback())
    }
}

type BoxedResponse<B> = Pin<Box<dyn Future<Output = Result<http::Response<B>, Infallible>> + Send>>;

impl<S, B> hyper::service::Service<http::Request<Incoming>> for Boxed<S>
where
    S: tower_service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = BoxedResponse<B>;

    fn call(&self, mut req: http::Request<Incoming>) -> Self::Future {
        with_host(&mut req);
        if let Some(peer) = self.1 {
            req.extensions_mut().insert(peer);
        }
        let mut service = self.0.clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(req).await
        })
    }
}

/// An HTTP/2 request names its host in `:authority`, which hyper puts in
/// the URI, not in a `Host` header. Everything above this module (virtual
/// hosts, the host a signature covers) reads `Host`: give it one.
fn with_host<B>(req: &mut http::Request<B>) {
    if req.headers().contains_key(http::header::HOST) {
        return;
    }
    let host = req
        .uri()
        .authority()
        .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok());
    if let Some(host) = host {
        req.headers_mut().insert(http::header::HOST, host);
    }
}

/// Answers a connection over the cap. The socket is new, so its send
/// buffer takes the few hundred bytes at once. A few refused connections
/// at a time get a lingering close; the rest are closed at once.
fn refuse(tcp: TcpStream, shed: &bytes::Bytes, lingering: &Arc<Semaphore>) {
    let _ = tcp.try_write(shed);
    let Ok(permit) = lingering.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        linger(tcp).await;
        drop(permit);
    });
}

/// Closes a connection the way nginx's lingering close does: the server
/// may have answered (an early error) before reading all the client sent,
/// and closing a socket with unread bytes resets it, which can destroy the
/// answer before the client reads it. So: end our side, then read and
/// discard what still comes, for a moment, and close.
async fn linger(mut tcp: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if tcp.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 16 * 1024];
    let mut left = LINGER_BYTES;
    let drain = async {
        while left > 0 {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The most a closing connection reads and discards, and for how long.
const LINGER_BYTES: usize = 1 << 20;
const LINGER: Duration = Duration::from_secs(2);

/// A stream that fails with `TimedOut` once neither a read nor a write
/// has made progress for `timeout`. Progress only records the time; the
/// timer is re-armed when it fires, so the hot path costs a clock read.
pub struct IdleTimeout<T> {
    inner: T,
    timeout: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    pub fn new(inner: T, timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            timeout,
            last: now,
            timer: Box::pin(tokio::time::sleep_until(now + timeout)),
        }
    }

    /// Called when the inner stream is not ready: `Ready(Err)` once the
    /// connection has been idle too long, else `Pending` with the timer
    /// armed for the deadline.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            ready!(self.timer.as_mut().poll(cx));
            let deadline = self.last + self.timeout;
            if Instant::now() >= deadline {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle for too long",
                ));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<T> IdleTimeout<T> {
    /// What the inner stream answered: progress is noted; not ready, the
    /// idle deadline is checked.
    fn progress<R>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match r {
            Poll::Ready(r) => {
                self.last = Instant::now();
                Poll::Ready(r)
            }
            Poll::Pending => self.poll_idle(cx).map(Err),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.progress(cx, r)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.progress(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.progress(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn idle_streams_time_out_and_busy_ones_do_not() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut a = IdleTimeout::new(a, Duration::from_secs(10));
        let mut buf = [0u8; 8];
        // Bytes every 6 s keep it open past 10 s.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            b.write_all(b"x").await.unwrap();
            assert_eq!(a.read(&mut buf).await.unwrap(), 1);
        }
        // Then silence: the read fails 10 s after the last byte.
        let started = Instant::now();
        let err = a.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[test]
    fn the_cap_leaves_room_below_the_file_limit() {
        assert_eq!(default_max_connections(20_000), 18_720);
        assert_eq!(default_max_connections(1024), 64);
        assert_eq!(default_max_connections(10_000_000), 100_000);
    }
}
