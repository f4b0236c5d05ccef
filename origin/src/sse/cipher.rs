//! The at-rest format of an encrypted blob, and wrapping data keys.
//!
//! An encrypted blob is a 16-byte header (`CAIRNSE1` and an 8-byte random
//! nonce prefix) followed by records: each [`SEGMENT`] bytes of plaintext
//! (the last one shorter, or empty for an empty object) sealed with
//! AES-256-GCM into the same length plus a 16-byte tag. Record `i` uses
//! the nonce `prefix ‖ i` (big-endian u32) and authenticates one byte of
//! associated data saying whether it is the last record, so records
//! cannot be reordered, swapped between blobs or cut off unnoticed.
//!
//! Fixed-size records make a range read cheap: plaintext offset `o` lives
//! in record `o / SEGMENT`, at a computable place in the file, so a range
//! decrypts only the records it touches.
//!
//! The data key (one per object or multipart upload, random) never rests
//! in the clear: rows hold it wrapped, AES-256-GCM under a key-encryption
//! key (the customer's key for SSE-C, a master or named key from the key
//! ring otherwise), as `nonce ‖ ciphertext ‖ tag`.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// Plaintext bytes per record.
pub const SEGMENT: usize = 64 * 1024;
/// The GCM tag closing each record.
pub const TAG: usize = 16;
/// `CAIRNSE1` and the nonce prefix.
pub const HEADER: usize = 16;
const MAGIC: &[u8; 8] = b"CAIRNSE1";

/// A 256-bit AES key (a data key, or a key-encryption key).
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Self(b.try_into().ok()?))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn random() -> Self {
        let mut k = [0u8; 32];
        fill(&mut k);
        Self(k)
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("32-byte AES-256 key"))
    }

    /// Seals `dek` under this key: `nonce ‖ ciphertext ‖ tag`.
    pub fn wrap(&self, dek: &Key) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        fill(&mut nonce);
        let mut buf = dek.0.to_vec();
        self.aead()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .expect("sealing 32 bytes cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        out
    }

    /// Opens what [`Key::wrap`] sealed; `None` if this is not the key.
    pub fn unwrap_key(&self, wrapped: &[u8]) -> Option<Key> {
        if wrapped.len() != NONCE_LEN + 32 + TAG {
            return None;
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = sealed.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .ok()?;
        Key::from_bytes(plain)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

fn fill(buf: &mut [u8]) {
    SystemRandom::new()
        .fill(buf)
        .expect("the system's random source is available");
}

fn nonce(prefix: &[u8; 8], index: u32) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(prefix);
    n[8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

/// How many bytes a blob of `plain` plaintext bytes takes on disk.
pub fn sealed_len(plain: u64) -> u64 {
    let records = plain.div_ceil(SEGMENT as u64).max(1);
    HEADER as u64 + plain + records * TAG as u64
}

/// The last record's index for `plain` bytes of plaintext.
fn last_record(plain: u64) -> u64 {
    plain.saturating_sub(1) / SEGMENT as u64
}

/// Encrypts a stream of plaintext into the record format.
pub struct Sealer {
    key: LessSafeKey,
    prefix: [u8; 8],
    index: u32,
    pending: Vec<u8>,
    header_written: bool,
}

impl Sealer {
    pub fn new(dek: &Key) -> Self {
        let mut prefix = [0u8; 8];
        fill(&mut prefix);
        Self {
            key: dek.aead(),
            prefix,
            index: 0,
            pending: Vec::with_capacity(SEGMENT + TAG),
            header_written: false,
        }
    }

    /// Takes plaintext and appends whatever whole records it completes
    /// (and the header, first) to `out`.
    pub fn update(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        self.header(out);
        while !data.is_empty() {
            let take = (SEGMENT - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            // A full record is sealed only once more data follows, since
            // the last record is sealed differently.
            if self.pending.len() == SEGMENT && !data.is_empty() {
                self.seal(false, out)?;
            }
        }
        Ok(())
    }

    /// Seals what is left as the last record.
    pub fn finish(mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.header(out);
        self.seal(true, out)
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            out.extend_from_slice(MAGIC);
            out.extend_from_slice(&self.prefix);
            self.header_written = true;
        }
    }

    fn seal(&mut self, last: bool, out: &mut Vec<u8>) -> std::io::Result<()> {
        let n = nonce(&self.prefix, self.index);
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("encrypted blob too large"))?;
        self.key
            .seal_in_place_append_tag(n, Aad::from([u8::from(last)]), &mut self.pending)
            .map_err(|_| std::io::Error::other("encryption failed"))?;
        out.extend_from_slice(&self.pending);
        self.pending.clear();
        Ok(())
    }
}

/// Which records of a blob of `plain` bytes a plaintext range touches:
/// the file offset to read from, how many bytes, the first record's index
/// and how many plaintext bytes of it to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    pub file_offset: u64,
    pub file_len: u64,
    pub first: u64,
    pub skip: usize,
}

/// The records covering `len` bytes at `start` (`len > 0`, in bounds).
pub fn records_for(plain: u64, start: u64, len: u64) -> RecordSpan {
    let seg = SEGMENT as u64;
    let first = start / seg;
    let last = (start + len - 1) / seg;
    let end_plain = ((last + 1) * seg).min(plain);
    let records = last - first + 1;
    RecordSpan {
        file_offset: HEADER as u64 + first * (seg + TAG as u64),
        file_len: end_plain - first * seg + records * TAG as u64,
        first,
        skip: (start - first * seg) as usize,
    }
}

/// Decrypts records read from a blob; the header is read first, once.
pub struct Opener {
    key: LessSafeKey,
    prefix: [u8; 8],
    last: u64,
}

impl Opener {
    /// `header` is the blob's first [`HEADER`] bytes; `plain` its size.
    pub fn new(dek: &Key, header: &[u8], plain: u64) -> std::io::Result<Self> {
        if header.len() != HEADER || &header[..8] != MAGIC {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not an encrypted blob",
            ));
        }
        Ok(Self {
            key: dek.aead(),
            prefix: header[8..].try_into().expect("8 bytes"),
            last: last_record(plain),
        })
    }

    /// Opens record `index` in place; returns its plaintext length.
    pub fn open(&self, index: u64, record: &mut [u8]) -> std::io::Result<usize> {
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "encrypted blob damaged");
        let i = u32::try_from(index).map_err(|_| bad())?;
        let aad = Aad::from([u8::from(index == self.last)]);
        self.key
            .open_in_place(nonce(&self.prefix, i), aad, record)
            .map(|p| p.len())
            .map_err(|_| bad())
    }

    /// The sealed length of record `index` in a blob of `plain` bytes.
    pub fn record_len(&self, index: u64, plain: u64) -> usize {
        let seg = SEGMENT as u64;
        let body = if index == self.last {
            plain - index * seg
        } else {
            seg
        };
        body as usize + TAG
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_all(dek: &Key, data: &[u8], step: usize) -> Vec<u8> {
        let mut s = Sealer::new(dek);
        let mut out = Vec::new();
        for chunk in data.chunks(step.max(1)) {
            s.update(chunk, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        out
    }

    fn read_range(dek: &Key, blob: &[u8], plain: u64, start: u64, len: u64) -> Vec<u8> {
        let span = records_for(plain, start, len);
        let opener = Opener::new(dek, &blob[..HEADER], plain).unwrap();
        let mut at = span.file_offset as usize;
        let end = at + span.file_len as usize;
        let mut out = Vec::new();
        let mut index = span.first;
        while at < end {
            let n = opener.record_len(index, plain);
            let mut rec = blob[at..at + n].to_vec();
            let p = opener.open(index, &mut rec).unwrap();
            out.extend_from_slice(&rec[..p]);
            at += n;
            index += 1;
        }
        out[span.skip..span.skip + len as usize].to_vec()
    }

    #[test]
    fn every_size_and_range_round_trips() {
        let dek = Key::random();
        for size in [
            0usize,
            1,
            13,
            SEGMENT - 1,
            SEGMENT,
            SEGMENT + 1,
            3 * SEGMENT + 7,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            for step in [1000, SEGMENT, 7 * SEGMENT] {
                let blob = seal_all(&dek, &data, step);
                assert_eq!(blob.len() as u64, sealed_len(size as u64), "size {size}");
                if size == 0 {
                    continue;
                }
                for (s, l) in [(0, size), (size - 1, 1), (size / 2, size - size / 2)] {
                    let got = read_range(&dek, &blob, size as u64, s as u64, l as u64);
                    assert_eq!(got, &data[s..s + l], "size {size} range {s}+{l}");
                }
            }
        }
    }

    #[test]
    fn a_changed_byte_a_cut_or_another_key_is_refused() {
        let dek = Key::random();
        let data = vec![7u8; 2 * SEGMENT + 5];
        let blob = seal_all(&dek, &data, 4096);
        let plain = data.len() as u64;
        let opener = Opener::new(&dek, &blob[..HEADER], plain).unwrap();
        let first = HEADER..HEADER + SEGMENT + TAG;
        let mut rec = blob[first.clone()].to_vec();
        rec[100] ^= 1;
        assert!(opener.open(0, &mut rec).is_err(), "a flipped bit");
        // The first record presented as the last one (a truncated blob).
        let cut = Opener::new(&dek, &blob[..HEADER], SEGMENT as u64).unwrap();
        let mut rec = blob[first.clone()].to_vec();
        assert!(cut.open(0, &mut rec).is_err(), "a cut blob");
        let other = Opener::new(&Key::random(), &blob[..HEADER], plain).unwrap();
        let mut rec = blob[first].to_vec();
        assert!(other.open(0, &mut rec).is_err(), "another key");
    }

    #[test]
    fn a_wrapped_key_opens_only_with_its_key() {
        let (kek, dek) = (Key::random(), Key::random());
        let wrapped = kek.wrap(&dek);
        assert_eq!(kek.unwrap_key(&wrapped).unwrap().0, dek.0);
        assert!(Key::random().unwrap_key(&wrapped).is_none());
        assert!(kek.unwrap_key(&wrapped[1..]).is_none());
    }
}
