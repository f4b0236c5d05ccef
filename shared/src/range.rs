//! Single byte ranges (RFC 9110 §14.1.2), as S3 and browsers use them.
//!
//! S3 honours one range per request: a header it cannot parse, or one with
//! several ranges, is ignored and the whole object is served. A syntactically
//! valid range that selects no byte of the object is unsatisfiable (416).

/// A parsed `Range: bytes=...` specifier, before the length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last`, both inclusive.
    FromTo(u64, u64),
    /// `bytes=first-`: from `first` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// The bytes a range selects in an object of known length: `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `Content-Range` value for this span of an object of `total` bytes.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, total)
    }
}

/// Parses a `Range` header. `None` means "ignore it and serve everything".
pub fn parse(header: &str) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.is_empty(), last.is_empty()) {
        (true, true) => None,
        (true, false) => Some(ByteRange::Suffix(num(last)?)),
        (false, true) => Some(ByteRange::From(num(first)?)),
        (false, false) => {
            let (a, b) = (num(first)?, num(last)?);
            (a <= b).then_some(ByteRange::FromTo(a, b))
        }
    }
}

impl ByteRange {
    /// Resolves against an object length; `None` means unsatisfiable (416).
    pub fn resolve(self, len: u64) -> Option<Span> {
        match self {
            ByteRange::FromTo(a, b) if a < len => Some(Span {
                start: a,
                end: b.min(len - 1),
            }),
            ByteRange::From(a) if a < len => Some(Span {
                start: a,
                end: len - 1,
            }),
            ByteRange::Suffix(n) if n > 0 && len > 0 => Some(Span {
                start: len.saturating_sub(n),
                end: len - 1,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        let cases = [
            ("bytes=0-9", Some(ByteRange::FromTo(0, 9))),
            ("bytes=5-", Some(ByteRange::From(5))),
            ("bytes=-3", Some(ByteRange::Suffix(3))),
            ("bytes= 1 - 2 ", Some(ByteRange::FromTo(1, 2))),
            ("bytes=9-0", None),
            ("bytes=0-1,3-4", None),
            ("bytes=-", None),
            ("items=0-1", None),
            ("bytes=a-b", None),
            ("bytes=+1-2", None),
        ];
        for (h, want) in cases {
            assert_eq!(parse(h), want, "{h}");
        }
    }

    #[test]
    fn resolving() {
        let s = |a, b| Some(Span { start: a, end: b });
        let cases = [
            (ByteRange::FromTo(0, 9), 100, s(0, 9)),
            (ByteRange::FromTo(90, 200), 100, s(90, 99)),
            (ByteRange::FromTo(100, 200), 100, None),
            (ByteRange::From(99), 100, s(99, 99)),
            (ByteRange::From(100), 100, None),
            (ByteRange::Suffix(10), 100, s(90, 99)),
            (ByteRange::Suffix(500), 100, s(0, 99)),
            (ByteRange::Suffix(0), 100, None),
            (ByteRange::From(0), 0, None),
        ];
        for (r, len, want) in cases {
            assert_eq!(r.resolve(len), want, "{r:?} of {len}");
        }
    }
}
