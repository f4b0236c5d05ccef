//! Conditional requests, evaluated in the order RFC 9110 §13.2.2 fixes.
//!
//! 1. `If-Match` (else `If-Unmodified-Since`) false → 412.
//! 2. `If-None-Match` true → 304 for GET/HEAD, 412 otherwise;
//!    (else `If-Modified-Since`, GET/HEAD only) not modified → 304.
//!
//! S3 follows this order, which is why `If-Match` true with
//! `If-Unmodified-Since` false still serves the object. Dates compare at
//! one-second resolution because HTTP dates carry no more.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::etag;

/// The precondition headers of one request, as sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Preconditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
}

/// What the server must do after evaluating the preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    NotModified,
    PreconditionFailed,
}

fn whole_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn date(h: Option<&str>) -> Option<u64> {
    h.and_then(|v| httpdate::parse_http_date(v.trim()).ok())
        .map(whole_seconds)
}

impl Preconditions<'_> {
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
    }

    /// Evaluates against an existing representation.
    ///
    /// `safe` is true for GET and HEAD, where a matching `If-None-Match`
    /// means 304 rather than 412. Unparseable dates are ignored, as RFC 9110
    /// requires.
    pub fn evaluate(&self, current_etag: &str, last_modified: SystemTime, safe: bool) -> Outcome {
        let modified = whole_seconds(last_modified);
        if let Some(list) = self.if_match {
            if !etag::list_matches(list, current_etag) {
                return Outcome::PreconditionFailed;
            }
        } else if let Some(since) = date(self.if_unmodified_since) {
            if modified > since {
                return Outcome::PreconditionFailed;
            }
        }
        if let Some(list) = self.if_none_match {
            if etag::list_matches(list, current_etag) {
                return if safe {
                    Outcome::NotModified
                } else {
                    Outcome::PreconditionFailed
                };
            }
        } else if let Some(since) = date(self.if_modified_since) {
            if safe && modified <= since {
                return Outcome::NotModified;
            }
        }
        Outcome::Proceed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"abc\"";
    const OLD: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const NEW: &str = "Sat, 01 Jan 2050 00:00:00 GMT";

    fn eval(p: Preconditions, safe: bool) -> Outcome {
        let modified = httpdate::parse_http_date("Wed, 01 Jan 2020 00:00:00 GMT").unwrap();
        p.evaluate(ETAG, modified, safe)
    }

    #[test]
    fn rfc_order_table() {
        use Outcome::*;
        let p = Preconditions::default;
        let cases: Vec<(Preconditions, bool, Outcome)> = vec![
            (p(), true, Proceed),
            (
                Preconditions {
                    if_match: Some(ETAG),
                    ..p()
                },
                true,
                Proceed,
            ),
            (
                Preconditions {
                    if_match: Some("\"x\""),
                    ..p()
                },
                true,
                PreconditionFailed,
            ),
            (
                Preconditions {
                    if_match: Some("*"),
                    ..p()
                },
                false,
                Proceed,
            ),
            // If-Match true wins over a failing If-Unmodified-Since (S3 does the same).
            (
                Preconditions {
                    if_match: Some(ETAG),
                    if_unmodified_since: Some(OLD),
                    ..p()
                },
                true,
                Proceed,
            ),
            (
                Preconditions {
                    if_unmodified_since: Some(OLD),
                    ..p()
                },
                true,
                PreconditionFailed,
            ),
            (
                Preconditions {
                    if_unmodified_since: Some(NEW),
                    ..p()
                },
                true,
                Proceed,
            ),
            (
                Preconditions {
                    if_none_match: Some(ETAG),
                    ..p()
                },
                true,
                NotModified,
            ),
            (
                Preconditions {
                    if_none_match: Some(ETAG),
                    ..p()
                },
                false,
                PreconditionFailed,
            ),
            (
                Preconditions {
                    if_none_match: Some("\"x\""),
                    ..p()
                },
                true,
                Proceed,
            ),
            // If-None-Match present: If-Modified-Since is not consulted.
            (
                Preconditions {
                    if_none_match: Some("\"x\""),
                    if_modified_since: Some(NEW),
                    ..p()
                },
                true,
                Proceed,
            ),
            (
                Preconditions {
                    if_modified_since: Some(NEW),
                    ..p()
                },
                true,
                NotModified,
            ),
            (
                Preconditions {
                    if_modified_since: Some(OLD),
                    ..p()
                },
                true,
                Proceed,
            ),
            (
                Preconditions {
                    if_modified_since: Some(NEW),
                    ..p()
                },
                false,
                Proceed,
            ),
            (
                Preconditions {
                    if_modified_since: Some("garbage"),
                    ..p()
                },
                true,
                Proceed,
            ),
            (
                Preconditions {
                    if_match: Some(ETAG),
                    if_none_match: Some(ETAG),
                    ..p()
                },
                true,
                NotModified,
            ),
        ];
        for (i, (pre, safe, want)) in cases.into_iter().enumerate() {
            assert_eq!(eval(pre, safe), want, "case {i}: {pre:?}");
        }
    }
}
