//! What the edge knows of one object response: the headers it replays,
//! its size and BLAKE3, and how fresh it is. A flight announces one to its
//! waiters as the body arrives; the cache stores it (as JSON beside the
//! body, so a restarted edge serves its disk cache at once). It is a leaf:
//! the cache, the flights and the router all name it, and it names none of
//! them.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use cairn_shared::freshness::Policy;

/// Response headers an edge replays from cache.
pub const REPLAYED: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "etag",
    "last-modified",
    "x-cairn-blake3",
    // A site answers a request for such an object with a redirect.
    "x-amz-website-redirect-location",
    // Lets a child edge keep its copy through the change that wrote it.
    "x-cairn-version",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// 200, or 404 for a remembered miss.
    pub status: u16,
    /// Replayed headers (lowercase names), `x-amz-meta-*` included.
    pub headers: Vec<(String, String)>,
    pub size: u64,
    /// BLAKE3 of the body (hex): names the body file, verifies the bytes.
    pub blake3: Option<String>,
    /// When the response was received or last revalidated (ms since epoch).
    pub stored_ms: i64,
    pub ttl_ms: i64,
    pub swr_ms: i64,
    pub sie_ms: i64,
    /// Fetched with the edge's key for a signed URL: never served without one.
    pub private: bool,
    /// For a slice (a byte range cached on its own): the whole object's size.
    #[serde(default)]
    pub total: Option<u64>,
    /// The upstream's tag of the version held (`x-cairn-version`), when
    /// it sends one: a change event naming this version keeps the copy.
    #[serde(default)]
    pub version: Option<String>,
    /// `headers` as a response needs them, built on first use (leave it
    /// empty): every later hit clones the map instead of parsing and
    /// validating each header again. `headers` never change once an entry
    /// is made, so it never goes stale.
    #[serde(skip)]
    pub replay: OnceLock<Replay>,
}

/// What every response from an entry starts from.
#[derive(Debug, Clone)]
pub struct Replay {
    pub headers: HeaderMap,
    /// `Last-Modified`, parsed (the epoch when absent or unreadable).
    pub modified: SystemTime,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

/// Where an entry stands right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    /// Stale, but inside stale-while-revalidate.
    StaleRevalidate,
    Stale,
}

impl Entry {
    pub fn replay(&self) -> &Replay {
        self.replay.get_or_init(|| {
            let mut headers = HeaderMap::with_capacity(self.headers.len() + 6);
            for (name, value) in &self.headers {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    headers.insert(n, v);
                }
            }
            let modified = self
                .header("last-modified")
                .and_then(|v| httpdate::parse_http_date(v).ok())
                .unwrap_or(UNIX_EPOCH);
            Replay { headers, modified }
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn etag(&self) -> Option<&str> {
        self.header("etag")
    }

    pub fn age(&self) -> Duration {
        Duration::from_millis((now_ms() - self.stored_ms).max(0) as u64)
    }

    pub fn freshness(&self) -> Freshness {
        let age = now_ms() - self.stored_ms;
        if age < self.ttl_ms {
            Freshness::Fresh
        } else if age < self.ttl_ms.saturating_add(self.swr_ms) {
            Freshness::StaleRevalidate
        } else {
            Freshness::Stale
        }
    }

    /// Whether a stale copy may stand in for a failing origin now.
    pub fn usable_on_error(&self) -> bool {
        now_ms() - self.stored_ms < self.ttl_ms.saturating_add(self.sie_ms.max(self.swr_ms))
    }

    /// Marks the entry as just received or revalidated under `policy`.
    pub fn refresh(&mut self, policy: &Policy) {
        self.stored_ms = now_ms();
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.ttl_ms = ms(policy.ttl);
        self.swr_ms = ms(policy.stale_while_revalidate);
        self.sie_ms = ms(policy.stale_if_error);
    }

    /// Forces revalidation on the next request (the origin said it changed,
    /// or the feed could not say what changed).
    pub fn expire(&mut self) {
        self.ttl_ms = 0;
        self.swr_ms = 0;
        self.stored_ms = self.stored_ms.min(now_ms() - 1);
    }
}
