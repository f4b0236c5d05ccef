//! Compression of text assets: brotli, zstd or gzip, chosen from the
//! request's `Accept-Encoding` (q-values honoured), for compressible types
//! (text, JS, JSON, XML, SVG, wasm, uncompressed fonts) of at least
//! [`MIN_SIZE`]. An object that already has a Content-Encoding is served
//! as it is.
//!
//! A miss (or a refetch) is compressed as it streams to the client, at a
//! fast level, so a site's first visitor gets compressed assets too. Each
//! object is then compressed once per encoding, on its first fresh hit
//! that asks for it, and the variant is cached like any body (memory and
//! disk tiers, its own BLAKE3) under the object's slice prefix, so the
//! change feed and purges drop it with its object. A variant has its own
//! ETag (the object's with `-br`, `-zstd`, `-gzip`), so revalidation
//! works per variant; responses of compressible objects say
//! `Vary: Accept-Encoding`. Ranges are always served from the identity.

use std::io::Write;
use std::sync::Arc;

use axum::response::Response;
use http::HeaderValue;

use crate::cache::keys::SLICES;
use crate::object::Entry;
use crate::EdgeState;

/// Smaller bodies gain too little to pay for the header and the work.
pub const MIN_SIZE: u64 = 1024;
/// Larger bodies are served as they are (compressed in one piece in
/// memory, on a blocking thread).
pub const MAX_SIZE: u64 = 16 << 20;

/// An encoding the edge produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Br,
    Zstd,
    Gzip,
}

impl Encoding {
    /// By preference when a client weighs several the same.
    const ALL: [Encoding; 3] = [Encoding::Br, Encoding::Zstd, Encoding::Gzip];

    pub fn token(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
        }
    }

    /// Compresses `body` at a level that suits cached assets (compressed
    /// once, served many times).
    pub fn compress(self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Encoding::Br => {
                let mut out = Vec::with_capacity(body.len() / 3);
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 9,
                    lgwin: 22,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut std::io::Cursor::new(body), &mut out, &params)?;
                Ok(out)
            }
            Encoding::Zstd => zstd::bulk::compress(body, 19),
            Encoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 3),
                    flate2::Compression::best(),
                );
                e.write_all(body)?;
                e.finish()
            }
        }
    }
}

/// The encoding to send for an `Accept-Encoding` header: the highest
/// q-value among those the edge makes (`*` standing for any not named),
/// br before zstd before gzip on a tie; `None` for identity.
pub fn negotiate(accept: &str) -> Option<Encoding> {
    let mut star: Option<f32> = None;
    let mut named: Vec<(&str, f32)> = Vec::new();
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or("").trim();
        if token.is_empty() {
            continue;
        }
        let mut q = 1.0_f32;
        for p in parts {
            if let Some(v) = p
                .trim()
                .strip_prefix("q=")
                .or_else(|| p.trim().strip_prefix("Q="))
            {
                q = v.trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0);
            }
        }
        if token == "*" {
            star = Some(q);
        } else {
            named.push((token, q));
        }
    }
    let weight = |e: Encoding| {
        named
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(e.token()))
            .map(|(_, q)| *q)
            .or(star)
            .unwrap_or(0.0)
    };
    let mut best: Option<(Encoding, f32)> = None;
    for e in Encoding::ALL {
        let q = weight(e);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((e, q));
        }
    }
    best.map(|(e, _)| e)
}

/// Whether a Content-Type is worth compressing.
pub fn compressible(content_type: &str) -> bool {
    let t = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    t.starts_with("text/")
        || t.ends_with("+json")
        || t.ends_with("+xml")
        || matches!(
            t.as_str(),
            "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/json"
                | "application/ld+json"
                | "application/manifest+json"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "application/wasm"
                | "application/vnd.ms-fontobject"
                | "image/svg+xml"
                | "image/x-icon"
                | "image/vnd.microsoft.icon"
                | "font/ttf"
                | "font/otf"
                | "application/x-font-ttf"
                | "application/x-font-otf"
        )
}

fn header<'a>(entry: &'a Entry, name: &str) -> Option<&'a str> {
    entry
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Whether responses for `entry` vary by Accept-Encoding (it could be
/// sent compressed).
pub fn varies(entry: &Entry) -> bool {
    entry.status == 200
        && entry.total.is_none()
        && (MIN_SIZE..=MAX_SIZE).contains(&entry.size)
        && header(entry, "content-encoding").is_none()
        && header(entry, "content-type").is_some_and(compressible)
}

/// `resp`, the streaming answer to a miss for `entry`, compressed on the
/// fly when the client accepts an encoding and the object qualifies (a
/// whole GET, no range): the identity's Content-Length goes, the
/// variant's ETag comes. Anything else is returned as it is.
pub fn on_the_fly(parts: &http::request::Parts, entry: &Entry, resp: Response) -> Response {
    use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
    use async_compression::Level;
    use futures_util::TryStreamExt;

    if resp.status() != http::StatusCode::OK
        || parts.method != http::Method::GET
        || parts.headers.contains_key(http::header::RANGE)
        || !varies(entry)
    {
        return resp;
    }
    let Some(enc) = parts
        .headers
        .get(http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(negotiate)
    else {
        return resp;
    };
    let (mut head, body) = resp.into_parts();
    let reader =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    // Fast levels: this runs once per miss, while the client waits; the
    // cached variant is made at a higher one.
    let body = match enc {
        Encoding::Br => axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(
            BrotliEncoder::with_quality(reader, Level::Precise(5)),
        )),
        Encoding::Zstd => axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(
            ZstdEncoder::with_quality(reader, Level::Precise(3)),
        )),
        Encoding::Gzip => axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(
            GzipEncoder::with_quality(reader, Level::Precise(6)),
        )),
    };
    head.headers.remove(http::header::CONTENT_LENGTH);
    head.headers.remove(http::header::ACCEPT_RANGES);
    head.headers.insert(
        http::header::CONTENT_ENCODING,
        HeaderValue::from_static(enc.token()),
    );
    if let Some(etag) = variant_etag(entry, enc).and_then(|e| HeaderValue::from_str(&e).ok()) {
        head.headers.insert(http::header::ETAG, etag);
    }
    add_vary(&mut head.headers);
    Response::from_parts(head, body)
}

/// Adds `Vary: Accept-Encoding` (once).
pub fn add_vary(headers: &mut http::HeaderMap) {
    let present = headers.get_all(http::header::VARY).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
    });
    if !present {
        headers.append(
            http::header::VARY,
            HeaderValue::from_static("Accept-Encoding"),
        );
    }
}

/// The cache key of `ck`'s variant in `enc` (under the slice prefix, so
/// whatever drops the object's slices drops it too).
fn variant_key(ck: &str, enc: Encoding) -> String {
    format!("{SLICES}{ck}\0{}", enc.token())
}

/// The variant's ETag: the object's, marked with the encoding.
fn variant_etag(entry: &Entry, enc: Encoding) -> Option<String> {
    let etag = header(entry, "etag")?;
    let inner = etag.trim_start_matches("W/").trim_matches('"');
    Some(format!("\"{inner}-{}\"", enc.token()))
}

/// The cached variant of `entry` in `enc` and its cache key, made now if
/// there is none for this version of the object. `None` when it cannot be
/// made (the caller serves the identity).
pub async fn variant(
    state: &Arc<EdgeState>,
    ck: &str,
    entry: &Entry,
    enc: Encoding,
) -> Option<(String, Arc<Entry>)> {
    let key = variant_key(ck, enc);
    let etag = variant_etag(entry, enc)?;
    if let Some(v) = state.cache.get(&key) {
        if header(&v, "etag") == Some(etag.as_str()) {
            return Some((key, v));
        }
    }
    // One compression per variant at a time; others serve the identity
    // meanwhile.
    let claimed = state
        .compressing
        .entry(key.clone())
        .or_insert_with(|| ())
        .is_fresh();
    if !claimed {
        return None;
    }
    let made = make(state, ck, entry, enc, &key, etag).await;
    state.compressing.invalidate(&key);
    made.map(|v| (key, v))
}

async fn make(
    state: &Arc<EdgeState>,
    ck: &str,
    entry: &Entry,
    enc: Encoding,
    key: &str,
    etag: String,
) -> Option<Arc<Entry>> {
    let identity = match state.cache.memory_body(entry) {
        Some(b) => b,
        None => {
            let (st, ck2, e) = (state.clone(), ck.to_owned(), entry.clone());
            tokio::task::spawn_blocking(move || st.cache.read_whole(&ck2, &e))
                .await
                .ok()?
                .ok()??
        }
    };
    let (st, key2, source) = (state.clone(), key.to_owned(), entry.clone());
    tokio::task::spawn_blocking(move || -> std::io::Result<Option<Arc<Entry>>> {
        let body = enc.compress(&identity)?;
        if body.len() as u64 >= source.size {
            // Incompressible after all: not worth a variant.
            return Ok(None);
        }
        let temp = st.cache.layout().temp();
        std::fs::write(&temp, &body)?;
        let mut headers: Vec<(String, String)> = source
            .headers
            .iter()
            .filter(|(n, _)| n != "etag" && n != "x-cairn-blake3")
            .cloned()
            .collect();
        headers.push(("content-encoding".into(), enc.token().into()));
        headers.push(("etag".into(), etag));
        let hash = blake3::hash(&body).to_hex().to_string();
        let variant = Entry {
            headers,
            size: body.len() as u64,
            blake3: Some(hash.clone()),
            replay: Default::default(),
            ..source
        };
        let inserted = st.cache.insert_with_body(&key2, variant, &temp);
        let _ = std::fs::remove_file(&temp);
        inserted?;
        st.cache.remember(&hash, bytes::Bytes::from(body));
        crate::metrics::add(&st.metrics.compressions, 1);
        Ok(st.cache.get(&key2))
    })
    .await
    .ok()?
    .unwrap_or_else(|e| {
        tracing::warn!(error = %e, "compression failed; serving the identity");
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_honours_q_values_and_preference() {
        assert_eq!(negotiate("gzip, deflate, br, zstd"), Some(Encoding::Br));
        assert_eq!(negotiate("gzip, zstd"), Some(Encoding::Zstd));
        assert_eq!(negotiate("gzip"), Some(Encoding::Gzip));
        assert_eq!(negotiate("br;q=0, gzip;q=0.5"), Some(Encoding::Gzip));
        assert_eq!(negotiate("br;q=0.2, gzip;q=0.8"), Some(Encoding::Gzip));
        assert_eq!(negotiate("*;q=0.1, br;q=0"), Some(Encoding::Zstd));
        assert_eq!(negotiate("identity"), None);
        assert_eq!(negotiate("br;q=0, zstd;q=0, gzip;q=0"), None);
        assert_eq!(negotiate(""), None);
        assert_eq!(negotiate("deflate"), None);
    }

    #[test]
    fn text_types_compress_and_media_does_not() {
        for t in [
            "text/html; charset=utf-8",
            "application/javascript",
            "image/svg+xml",
            "application/wasm",
            "font/ttf",
            "application/vnd.api+json",
        ] {
            assert!(compressible(t), "{t}");
        }
        for t in [
            "image/png",
            "video/mp4",
            "font/woff2",
            "application/octet-stream",
            "application/zip",
        ] {
            assert!(!compressible(t), "{t}");
        }
    }

    #[test]
    fn every_encoding_round_trips() {
        let body = b"function hello() { return 'hello world'; }\n".repeat(100);
        for enc in Encoding::ALL {
            let packed = enc.compress(&body).unwrap();
            assert!(packed.len() < body.len() / 5, "{enc:?}");
            let unpacked = match enc {
                Encoding::Br => {
                    let mut out = Vec::new();
                    brotli::BrotliDecompress(&mut std::io::Cursor::new(&packed), &mut out).unwrap();
                    out
                }
                Encoding::Zstd => zstd::stream::decode_all(&packed[..]).unwrap(),
                Encoding::Gzip => {
                    let mut out = Vec::new();
                    std::io::Read::read_to_end(
                        &mut flate2::read::GzDecoder::new(&packed[..]),
                        &mut out,
                    )
                    .unwrap();
                    out
                }
            };
            assert_eq!(unpacked, body, "{enc:?}");
        }
    }
}
