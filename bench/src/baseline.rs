//! `cairn-bench disk-baseline`: the rate at which one core does what a PUT
//! must do to every byte (MD5 for the ETag, BLAKE3 for the blob name, write
//! to a file and fsync it), with no network and no server. The origin's
//! 64 MiB PUT rate is judged against it.

use std::io::Write;
use std::time::Instant;

use md5::Digest;

/// Writes `count` objects of `size` bytes under `dir`; returns MB/s.
pub fn run(dir: &std::path::Path, size: u64, count: u64) -> anyhow::Result<f64> {
    std::fs::create_dir_all(dir)?;
    let piece: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let started = Instant::now();
    for n in 0..count {
        let path = dir.join(format!("baseline-{n}"));
        let mut file = std::fs::File::create(&path)?;
        let mut md5 = md5::Md5::new();
        let mut b3 = blake3::Hasher::new();
        let mut left = size;
        while left > 0 {
            let len = left.min(piece.len() as u64) as usize;
            // Vary each piece so nothing can be skipped as a repeat.
            let mut chunk = piece[..len].to_vec();
            chunk[..8.min(len)].copy_from_slice(&left.to_le_bytes()[..8.min(len)]);
            md5.update(&chunk);
            b3.update(&chunk);
            file.write_all(&chunk)?;
            left -= len as u64;
        }
        file.sync_all()?;
        std::hint::black_box((md5.finalize(), b3.finalize()));
        std::fs::remove_file(&path)?;
    }
    Ok((size * count) as f64 / started.elapsed().as_secs_f64() / 1e6)
}
