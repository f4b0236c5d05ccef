//! A link that is slow for the change feed only: an HTTP proxy in front of
//! an upstream that forwards every request at once but holds each feed
//! response back. A test can then make a change's event reach an edge
//! after the edge has fetched the changed object, as happens across a WAN
//! whenever an object is fetched while the feed's next poll is in flight.
//! Bodies are passed whole: the proxy is meant for small objects.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

pub struct SlowFeed {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowFeed {
    /// Proxies to `upstream` (`http://host:port`), delaying feed responses
    /// by `delay`.
    pub fn start(upstream: &str, delay: Duration) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream.trim_end_matches('/').to_owned();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let client = reqwest::Client::new();
                loop {
                    let stream = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let (client, upstream) = (client.clone(), upstream.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            forward(client.clone(), upstream.clone(), delay, req)
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        SlowFeed {
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for SlowFeed {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

async fn forward(
    client: reqwest::Client,
    upstream: String,
    delay: Duration,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let answer = async {
        let body = body.collect().await?.to_bytes();
        let mut out = client.request(parts.method.clone(), format!("{upstream}{path}"));
        // Host included: the signature covers the host the client used.
        for (name, value) in &parts.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                out = out.header(name, value);
            }
        }
        let resp = out.body(body).send().await?;
        let mut back = http::Response::builder().status(resp.status());
        for (name, value) in resp.headers() {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                back = back.header(name, value);
            }
        }
        let bytes = resp.bytes().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(back.body(Full::new(bytes))?)
    }
    .await;
    if path.starts_with("/_cairn/feed") {
        tokio::time::sleep(delay).await;
    }
    Ok(answer.unwrap_or_else(|e| {
        let mut resp = http::Response::new(Full::new(Bytes::from(e.to_string())));
        *resp.status_mut() = http::StatusCode::BAD_GATEWAY;
        resp
    }))
}
