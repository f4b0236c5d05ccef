//! How long a response may be served from a shared cache (RFC 9111).
//!
//! `s-maxage` wins over `max-age`, which wins over `Expires - Date`; with
//! none, the cache's configured default applies. `no-store` and `private`
//! forbid storing; `no-cache` stores but revalidates every time;
//! `must-revalidate` (and `proxy-revalidate`) forbid serving stale;
//! `stale-while-revalidate` and `stale-if-error` (RFC 5861) widen what may
//! be served stale.

use std::time::{Duration, SystemTime};

/// The Cache-Control directives a shared cache acts on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Directives {
    pub no_store: bool,
    pub no_cache: bool,
    pub private: bool,
    pub must_revalidate: bool,
    pub immutable: bool,
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
}

/// The largest delta-seconds a cache must represent (RFC 9111 §1.2.2):
/// any larger value, however many digits, counts as this.
pub const MAX_DELTA_SECONDS: u64 = 1 << 31;

/// A delta-seconds value: digits only, capped at [`MAX_DELTA_SECONDS`].
fn delta_seconds(arg: &str) -> Option<u64> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        arg.parse::<u64>()
            .map_or(MAX_DELTA_SECONDS, |n| n.min(MAX_DELTA_SECONDS)),
    )
}

pub fn parse_cache_control(value: &str) -> Directives {
    let mut d = Directives::default();
    for item in value.split(',') {
        let (name, arg) = match item.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
            None => (item.trim(), None),
        };
        let secs = arg.and_then(delta_seconds);
        match name.to_ascii_lowercase().as_str() {
            "no-store" => d.no_store = true,
            "no-cache" => d.no_cache = true,
            "private" => d.private = true,
            "must-revalidate" | "proxy-revalidate" => d.must_revalidate = true,
            "immutable" => d.immutable = true,
            "max-age" => d.max_age = secs.or(Some(0)),
            "s-maxage" => d.s_maxage = secs.or(Some(0)),
            "stale-while-revalidate" => d.stale_while_revalidate = secs,
            "stale-if-error" => d.stale_if_error = secs,
            _ => {}
        }
    }
    d
}

/// What a cache may do with one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub storable: bool,
    /// Fresh for this long after it was received.
    pub ttl: Duration,
    /// After going stale: served at once while revalidating in background.
    pub stale_while_revalidate: Duration,
    /// After going stale: served when the origin fails.
    pub stale_if_error: Duration,
}

/// Defaults the operator sets for responses that say nothing.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub ttl: Duration,
    pub stale_if_error: Duration,
}

pub fn policy(
    cache_control: Option<&str>,
    expires: Option<&str>,
    date: Option<&str>,
    defaults: Defaults,
) -> Policy {
    let d = cache_control.map(parse_cache_control).unwrap_or_default();
    let explicit = d
        .s_maxage
        .or(d.max_age)
        .map(Duration::from_secs)
        .or_else(|| {
            let expires = httpdate::parse_http_date(expires?.trim()).ok();
            let base = date
                .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
                .unwrap_or_else(SystemTime::now);
            // An unparseable Expires means "already expired" (RFC 9111 5.3).
            Some(
                expires
                    .and_then(|e| e.duration_since(base).ok())
                    .unwrap_or(Duration::ZERO),
            )
        });
    let cap = Duration::from_secs(MAX_DELTA_SECONDS);
    let ttl = if d.no_cache {
        Duration::ZERO
    } else {
        explicit.unwrap_or(defaults.ttl).min(cap)
    };
    let stale = |v: Option<u64>, default: Duration| {
        if d.must_revalidate {
            Duration::ZERO
        } else {
            v.map(Duration::from_secs).unwrap_or(default).min(cap)
        }
    };
    Policy {
        storable: !d.no_store && !d.private,
        ttl,
        stale_while_revalidate: stale(d.stale_while_revalidate, Duration::ZERO),
        stale_if_error: stale(d.stale_if_error, defaults.stale_if_error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: Defaults = Defaults {
        ttl: Duration::from_secs(60),
        stale_if_error: Duration::from_secs(300),
    };

    /// Cache-Control, Expires → storable, ttl, stale-while-revalidate, stale-if-error.
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        bool,
        Duration,
        Duration,
        Duration,
    );

    #[test]
    fn table() {
        let s = Duration::from_secs;
        let big = s(MAX_DELTA_SECONDS);
        let cases: &[Case] = &[
            (None, None, true, s(60), s(0), s(300)),
            // Delta-seconds past what a cache represents count as 2^31.
            (
                Some("max-age=99999999999999999999999, stale-while-revalidate=9223372036854775"),
                None,
                true,
                big,
                big,
                s(300),
            ),
            (Some("max-age=-1"), None, true, s(0), s(0), s(300)),
            (Some("max-age=10"), None, true, s(10), s(0), s(300)),
            (
                Some("max-age=10, s-maxage=99"),
                None,
                true,
                s(99),
                s(0),
                s(300),
            ),
            (Some("no-store"), None, false, s(60), s(0), s(300)),
            (
                Some("private, max-age=10"),
                None,
                false,
                s(10),
                s(0),
                s(300),
            ),
            (Some("no-cache"), None, true, s(0), s(0), s(300)),
            (
                Some("max-age=5, must-revalidate, stale-if-error=50"),
                None,
                true,
                s(5),
                s(0),
                s(0),
            ),
            (
                Some("max-age=5, stale-while-revalidate=30, stale-if-error=7"),
                None,
                true,
                s(5),
                s(30),
                s(7),
            ),
            (
                Some("public, max-age=31536000, immutable"),
                None,
                true,
                s(31_536_000),
                s(0),
                s(300),
            ),
            (None, Some("garbage"), true, s(0), s(0), s(300)),
        ];
        for (cc, exp, storable, ttl, swr, sie) in cases {
            let p = policy(*cc, *exp, None, DEF);
            assert_eq!(
                (
                    p.storable,
                    p.ttl,
                    p.stale_while_revalidate,
                    p.stale_if_error
                ),
                (*storable, *ttl, *swr, *sie),
                "{cc:?} {exp:?}"
            );
        }
    }

    #[test]
    fn expires_relative_to_date() {
        let p = policy(
            None,
            Some("Thu, 01 Jan 2037 00:01:40 GMT"),
            Some("Thu, 01 Jan 2037 00:00:00 GMT"),
            DEF,
        );
        assert_eq!(p.ttl, Duration::from_secs(100));
    }
}
