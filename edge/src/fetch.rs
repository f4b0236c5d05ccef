//! One upstream fetch, run in its own task for a [`crate::flight`]: sends
//! the request, announces the headers, writes and hashes the body while
//! announcing progress, verifies it against `x-cairn-blake3`, and stores
//! what may be stored.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::flight::{Head, Lead, Streaming, PREFIX};
use crate::metrics::add;
use crate::object::{now_ms, Entry, REPLAYED};
use crate::upstream::Fetch;
use crate::EdgeState;
use cairn_shared::freshness;

/// Most bytes of a non-200 body passed on.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Runs the fetch for cache key `key`, registered in the flights map as
/// `flight`, and leaves the map once every waiter has its answer.
pub async fn run(
    state: Arc<EdgeState>,
    flight: String,
    key: String,
    bucket: String,
    object: String,
    fetch: Fetch,
    lead: Lead,
) {
    let mut temp = None;
    let result = fetch_into(&state, &key, &bucket, &object, &fetch, &lead, &mut temp).await;
    let tx = lead.tx;
    if let Err(e) = &result {
        tracing::warn!(key, error = %e, "upstream fetch failed");
        add(&state.metrics.upstream_errors, 1);
        state.failing.insert(key.clone(), ());
    }
    tx.send_modify(|p| p.done = Some(result.map_err(|e| e.to_string())));
    state.flights.finish(&flight);
    // Waiters may still be reading the temp file (a stored body was linked
    // into place, not moved): remove it once the last one lets go.
    if let Some(temp) = temp {
        tx.closed().await;
        let _ = tokio::fs::remove_file(&temp).await;
    }
}

/// The next piece of an upstream body; an upstream that sends nothing for
/// `gap` fails the fetch instead of holding its waiters forever.
async fn next_chunk(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin),
    gap: std::time::Duration,
) -> anyhow::Result<Option<Bytes>> {
    match tokio::time::timeout(gap, stream.next()).await {
        Ok(Some(chunk)) => Ok(Some(chunk?)),
        Ok(None) => Ok(None),
        Err(_) => anyhow::bail!("the upstream sent nothing for {gap:?}"),
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn policy(state: &EdgeState, resp: &reqwest::Response) -> freshness::Policy {
    freshness::policy(
        header(resp, "cache-control").as_deref(),
        header(resp, "expires").as_deref(),
        header(resp, "date").as_deref(),
        freshness::Defaults {
            ttl: state.config.default_ttl,
            stale_if_error: state.config.stale_if_error,
        },
    )
}

async fn fetch_into(
    state: &Arc<EdgeState>,
    key: &str,
    bucket: &str,
    object: &str,
    fetch: &Fetch,
    lead: &Lead,
    temp: &mut Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let tx = &lead.tx;
    if fetch.preloaded.is_none() {
        add(&state.metrics.upstream_fetches, 1);
    }
    let started = Instant::now();
    let resp = state
        .upstream_for(bucket, object)
        .get(bucket, object, fetch)
        .await?;
    add(
        &state.metrics.upstream_micros,
        started.elapsed().as_micros() as u64,
    );
    let status = resp.status().as_u16();
    let announce = |head: Head| tx.send_modify(|p| p.head = Some(Arc::new(head)));
    match status {
        304 => {
            let policy = policy(state, &resp);
            let version = header(&resp, cairn_shared::feed::VERSION_HEADER);
            state.cache.update(key, |e| {
                e.refresh(&policy);
                if version.is_some() {
                    e.version = version.clone();
                }
            });
            announce(Head::NotModified);
            Ok(())
        }
        200 if fetch.range.is_none() => receive(state, key, fetch, resp, lead, temp).await,
        206 if fetch.range.is_some() => receive(state, key, fetch, resp, lead, temp).await,
        200 => anyhow::bail!("upstream ignored the range of a slice fetch"),
        _ => {
            if status >= 500 {
                add(&state.metrics.upstream_errors, 1);
                state.failing.insert(key.to_owned(), ());
            }
            let content_type = header(&resp, "content-type");
            let mut body = BytesMut::new();
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = next_chunk(&mut stream, state.upstream.timeout()).await? {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_ERROR_BODY {
                    break;
                }
            }
            if status == 404 {
                // Remember the miss briefly so a storm of 404s stays here.
                let entry = Entry {
                    status,
                    headers: content_type
                        .iter()
                        .map(|c| ("content-type".to_owned(), c.clone()))
                        .collect(),
                    size: 0,
                    blake3: None,
                    stored_ms: now_ms(),
                    ttl_ms: state.config.negative_ttl.as_millis() as i64,
                    swr_ms: 0,
                    sie_ms: 0,
                    private: false,
                    total: None,
                    version: None,
                    replay: Default::default(),
                };
                state.cache.insert(key, entry);
            }
            announce(Head::Other {
                status,
                body: body.freeze(),
            });
            Ok(())
        }
    }
}

async fn receive(
    state: &Arc<EdgeState>,
    key: &str,
    fetch: &Fetch,
    resp: reqwest::Response,
    lead: &Lead,
    temp_out: &mut Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let tx = &lead.tx;
    let policy = policy(state, &resp);
    let mut headers = Vec::new();
    for (name, value) in resp.headers() {
        let n = name.as_str();
        if REPLAYED.contains(&n) || n.starts_with("x-amz-meta-") {
            if let Ok(v) = value.to_str() {
                headers.push((n.to_owned(), v.to_owned()));
            }
        }
    }
    let declared = resp.content_length();
    // x-cairn-blake3 names the whole object, so only a whole body is
    // checked against it; a slice is hashed for the disk tier alone.
    let expected_hash = if fetch.range.is_none() {
        header(&resp, "x-cairn-blake3")
    } else {
        None
    };
    let total = header(&resp, "content-range")
        .and_then(|r| r.rsplit_once('/').and_then(|(_, t)| t.parse::<u64>().ok()));
    let mut entry = Entry {
        status: 200,
        headers,
        size: declared.unwrap_or(0),
        blake3: None,
        stored_ms: now_ms(),
        ttl_ms: 0,
        swr_ms: 0,
        sie_ms: 0,
        private: fetch.signed,
        total,
        version: header(&resp, cairn_shared::feed::VERSION_HEADER),
        replay: Default::default(),
    };
    entry.refresh(&policy);
    if !state.cache.make_room(declared.unwrap_or(0)) {
        // The cache disk is full even after evicting everything it could:
        // refuse now rather than cut the body off halfway. Cached entries
        // keep being served.
        tracing::warn!(key, size = declared, "cache disk full: refusing a miss");
        tx.send_modify(|p| {
            p.head = Some(Arc::new(Head::Other {
                status: 503,
                body: Bytes::from_static(
                    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>ServiceUnavailable</Code><Message>The edge's cache disk is full; try again later.</Message></Error>\n",
                ),
            }))
        });
        return Ok(());
    }
    let temp = state.cache.layout().temp();
    let mut file = tokio::fs::File::create(&temp).await?;
    *temp_out = Some(temp.clone());
    // Announced with the first bytes, so each waiter sends its headers
    // and first chunk in one write, and a fetch that fails before any byte
    // arrives is answered as a failure, not as a cut-off 200.
    let streaming = Streaming {
        entry: entry.clone(),
        temp: temp.clone(),
        length: declared,
        buffered: Default::default(),
    };
    let head = Arc::new(Head::Body(Box::new(streaming)));
    let Some(streaming) = head.streaming() else {
        anyhow::bail!("a body head without a body");
    };
    let mut announced = false;
    let mut announce = |written: u64| {
        let head = (!announced).then(|| head.clone());
        announced = true;
        tx.send_modify(|p| {
            if let Some(head) = head {
                p.head = Some(head);
            }
            p.written = written;
        })
    };
    let mut hasher = blake3::Hasher::new();
    // Small bodies are held whole (they become the memory tier's copy),
    // larger ones only their first bytes; see `flight::Buffered`.
    let whole = declared.is_some_and(|d| state.cache.fits_memory(d));
    let (mut written, mut paused) = (0u64, false);
    let mut stream = resp.bytes_stream();
    let gap = state.upstream.timeout();
    let outcome: anyhow::Result<()> = async {
        while let Some(chunk) = next_chunk(&mut stream, gap).await? {
            written += chunk.len() as u64;
            // The last byte is held back until the body is verified and
            // stored: no client sees a complete response before the cache
            // holds it, and none sees a complete corrupt one.
            let available = written.saturating_sub(1);
            if whole || streaming.buffered.held() < PREFIX {
                // Waiters read these bytes from memory: announce them now,
                // then write the file behind them.
                streaming.buffered.push(chunk.clone());
                announce(available);
                if !paused && available > 0 {
                    // A stampede's waiters get their first chunks before
                    // this task reads, hashes and writes on.
                    paused = true;
                    lead.turns.first_chunks_out().await;
                }
                file.write_all(&chunk).await?;
            } else {
                // Waiters read these from the file: tokio's File queues
                // writes to a blocking thread, so flush before announcing.
                file.write_all(&chunk).await?;
                file.flush().await?;
                announce(available);
            }
            hasher.update(&chunk);
        }
        file.flush().await?;
        Ok(())
    }
    .await;
    add(&state.metrics.bytes_upstream, written);
    let result = outcome.and_then(|_| {
        let hash = hasher.finalize().to_hex().to_string();
        if declared.is_some_and(|d| d != written) {
            anyhow::bail!("upstream sent {written} bytes of {}", declared.unwrap_or(0));
        }
        if expected_hash.as_deref().is_some_and(|h| h != hash) {
            anyhow::bail!("upstream body does not match its x-cairn-blake3");
        }
        Ok(hash)
    });
    let hash = result?;
    if policy.storable {
        entry.size = written;
        entry.blake3 = Some(hash.clone());
        if whole {
            state.cache.remember(&hash, streaming.buffered.concat());
        }
        // Linking the body into place is file I/O: off the async threads.
        let (cache_state, key, temp) = (state.clone(), key.to_owned(), temp.clone());
        tokio::task::spawn_blocking(move || cache_state.cache.insert_with_body(&key, entry, &temp))
            .await??;
    }
    announce(written);
    Ok(())
}
