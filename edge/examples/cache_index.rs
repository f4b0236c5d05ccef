//! The cache index under load: `cargo run --release -p cairn-edge --example
//! cache_index -- [ENTRIES] [SECONDS]`.
//!
//! Indexes ENTRIES (default 1,000,000) keys, then for SECONDS (default 10)
//! inserts new entries, each with its own 4 KiB body, at 2,000 a second
//! (misses filling the disk tier) while another thread looks up random indexed keys as fast as it can
//! (hits). Prints the latency of both: what a hit pays for the index
//! while misses fill.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_edge::cache::Cache;
use cairn_edge::object::Entry;

fn entry(hash: &str, size: u64) -> Entry {
    Entry {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/css".into()),
            ("etag".into(), "\"abc\"".into()),
        ],
        size,
        blake3: Some(hash.to_owned()),
        stored_ms: 0,
        ttl_ms: i64::MAX / 4,
        swr_ms: 0,
        sie_ms: 0,
        private: false,
        total: None,
        version: None,
        replay: Default::default(),
    }
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    format!(
        "n={} p50={:?} p99={:?} p99.9={:?} max={:?}",
        v.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        v[v.len() - 1]
    )
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let entries: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("cairn-cache-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("blobs"))?;
    std::fs::create_dir_all(dir.join("meta"))?;
    // Every indexed key shares one 4 KiB body, so the index is large and
    // the disk tier small; index files are written as the edge writes
    // them, without an fsync each (this is set-up, not the measure).
    let body = vec![7u8; 4096];
    let shared = blake3::hash(&body).to_hex().to_string();
    std::fs::write(dir.join("blobs").join(&shared), &body)?;
    let started = Instant::now();
    for i in 0..entries {
        let key = format!("bench/indexed-{i}");
        let json = serde_json::json!({"key": key, "entry": entry(&shared, 4096)});
        let name = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
        std::fs::write(
            dir.join("meta").join(format!("{name}.json")),
            serde_json::to_vec(&json)?,
        )?;
    }
    println!("wrote {entries} index files in {:?}", started.elapsed());
    let started = Instant::now();
    let cache = Arc::new(Cache::open(&dir, 64 << 20, 1 << 30)?);
    println!(
        "opened the cache ({} entries) in {:?}",
        cache.len(),
        started.elapsed()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let hits = {
        let (cache, stop) = (cache.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut times = Vec::new();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = format!("bench/indexed-{}", x % entries as u64);
                let t = Instant::now();
                std::hint::black_box(cache.get(&key));
                times.push(t.elapsed());
            }
            times
        })
    };
    let tmp = dir.join("tmp");
    let mut inserts = Vec::new();
    let every = Duration::from_micros(500);
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        let due = start + every * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let mut body = vec![0u8; 4096];
        body[..8].copy_from_slice(&i.to_le_bytes());
        let hash = blake3::hash(&body).to_hex().to_string();
        let temp = tmp.join(format!("miss-{i}"));
        std::fs::File::create(&temp)?.write_all(&body)?;
        let t = Instant::now();
        cache.insert_with_body(&format!("bench/miss-{i}"), entry(&hash, 4096), &temp)?;
        // Latency from the insert's due time: a slow index delays the next.
        inserts.push(Instant::now() - due.min(t));
        let _ = std::fs::remove_file(&temp);
        i += 1;
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let hits = hits.join().expect("hit thread");
    println!(
        "misses inserted: {i} in {elapsed:?} ({:.0}/s)",
        i as f64 / elapsed.as_secs_f64()
    );
    println!("miss insert (from due time): {}", percentiles(inserts));
    println!("hit lookup: {}", percentiles(hits));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
