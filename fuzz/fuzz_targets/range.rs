//! `Range` headers: parsed and resolved against any length.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, u64)| {
    let (header, len) = data;
    if let Some(span) = cairn_shared::range::parse(header).and_then(|r| r.resolve(len)) {
        assert!(span.start <= span.end && span.end < len);
        let _ = span.content_range(len);
    }
});
