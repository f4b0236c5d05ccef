//! Object bodies the bench sends and checks: pseudo-random bytes made from
//! a seed in 64 KiB pieces as they are sent (a 1 GiB PUT holds 64 KiB), and
//! the same bytes regenerated to verify a GET without storing anything.

use bytes::Bytes;
use futures_util::StreamExt;

const PIECE: u64 = 64 * 1024;

/// Piece `i` of the body of `len` bytes made from `seed`.
fn piece(seed: u64, len: u64, i: u64) -> Bytes {
    let n = (len - i * PIECE).min(PIECE) as usize;
    let mut x =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1;
    let mut out = vec![0u8; n.next_multiple_of(8)];
    for word in out.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    Bytes::from(out)
}

/// The body as a stream for reqwest.
pub fn stream(len: u64, seed: u64) -> reqwest::Body {
    let pieces = len.div_ceil(PIECE);
    reqwest::Body::wrap_stream(
        futures_util::stream::iter(0..pieces)
            .map(move |i| Ok::<_, std::io::Error>(piece(seed, len, i))),
    )
}

/// Checks received bytes against the body `seed` makes, piece by piece.
pub struct Verifier {
    seed: u64,
    len: u64,
    offset: u64,
    ok: bool,
    /// The piece being checked, made once however the body is chunked.
    current: Option<(u64, Bytes)>,
}

impl Verifier {
    pub fn new(len: u64, seed: u64) -> Self {
        Self {
            seed,
            len,
            offset: 0,
            ok: true,
            current: None,
        }
    }

    pub fn update(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() && self.ok {
            if self.offset >= self.len {
                self.ok = false;
                return;
            }
            let i = self.offset / PIECE;
            let want = match &self.current {
                Some((at, p)) if *at == i => p,
                _ => &self.current.insert((i, piece(self.seed, self.len, i))).1,
            };
            let at = (self.offset % PIECE) as usize;
            let n = chunk.len().min(want.len() - at);
            self.ok &= chunk[..n] == want[at..at + n];
            self.offset += n as u64;
            chunk = &chunk[n..];
        }
    }

    pub fn finish(&self) -> bool {
        self.ok && self.offset == self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_accepts_the_body_in_any_chunking_and_rejects_changes() {
        let len: u64 = 200_000;
        let mut whole = Vec::new();
        for i in 0..len.div_ceil(PIECE) {
            whole.extend_from_slice(&piece(7, len, i));
        }
        for step in [1_000, 65_536, 70_000, 200_000] {
            let mut v = Verifier::new(len, 7);
            for c in whole.chunks(step) {
                v.update(c);
            }
            assert!(v.finish(), "chunks of {step}");
        }
        let mut v = Verifier::new(len, 8);
        v.update(&whole);
        assert!(!v.finish(), "another seed's body");
        let mut v = Verifier::new(len, 7);
        v.update(&whole[..len as usize - 1]);
        assert!(!v.finish(), "a short body");
    }
}
