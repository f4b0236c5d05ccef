//! Cache-Control, Expires and Date as an upstream sends them, and the
//! conditional headers a client sends.
#![no_main]
use std::time::{Duration, SystemTime};

use cairn_shared::conditional::Preconditions;
use cairn_shared::freshness;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str, &str, &str)| {
    let (cc, expires, date, etag) = data;
    let p = freshness::policy(
        Some(cc),
        Some(expires),
        Some(date),
        freshness::Defaults { ttl: Duration::from_secs(60), stale_if_error: Duration::from_secs(300) },
    );
    assert!(p.ttl <= Duration::from_secs(freshness::MAX_DELTA_SECONDS));
    let pre = Preconditions {
        if_match: Some(cc),
        if_none_match: Some(etag),
        if_modified_since: Some(expires),
        if_unmodified_since: Some(date),
    };
    let _ = pre.evaluate(etag, SystemTime::UNIX_EPOCH, true);
});
