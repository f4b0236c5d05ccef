//! The flexible checksums current AWS SDKs send: CRC32, CRC32C, CRC64NVME,
//! SHA-1 and SHA-256, as `x-amz-checksum-*` headers or aws-chunked trailers.
//!
//! Each value is the big-endian digest, base64 encoded, exactly as S3
//! returns it on GET/HEAD with `x-amz-checksum-mode: ENABLED`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::HeaderMap;
use sha1::Digest;

use crate::error::{Code, S3Error, S3Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgo {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

pub const ALL: [ChecksumAlgo; 5] = [
    ChecksumAlgo::Crc32,
    ChecksumAlgo::Crc32c,
    ChecksumAlgo::Crc64Nvme,
    ChecksumAlgo::Sha1,
    ChecksumAlgo::Sha256,
];

/// A computed checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algo: ChecksumAlgo,
    pub base64: String,
}

impl ChecksumAlgo {
    /// The name S3 uses in `x-amz-sdk-checksum-algorithm` and XML.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgo::Crc32 => "CRC32",
            ChecksumAlgo::Crc32c => "CRC32C",
            ChecksumAlgo::Crc64Nvme => "CRC64NVME",
            ChecksumAlgo::Sha1 => "SHA1",
            ChecksumAlgo::Sha256 => "SHA256",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            ChecksumAlgo::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgo::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgo::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgo::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgo::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    pub fn from_header(header: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|a| a.header().eq_ignore_ascii_case(header))
    }

    fn digest_len(self) -> usize {
        match self {
            ChecksumAlgo::Crc32 | ChecksumAlgo::Crc32c => 4,
            ChecksumAlgo::Crc64Nvme => 8,
            ChecksumAlgo::Sha1 => 20,
            ChecksumAlgo::Sha256 => 32,
        }
    }

    pub fn hasher(self) -> ChecksumHasher {
        match self {
            ChecksumAlgo::Crc32 => ChecksumHasher::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgo::Crc32c => ChecksumHasher::Crc32c(0),
            ChecksumAlgo::Crc64Nvme => ChecksumHasher::Crc64(crc64fast_nvme::Digest::new()),
            ChecksumAlgo::Sha1 => ChecksumHasher::Sha1(sha1::Sha1::new()),
            ChecksumAlgo::Sha256 => ChecksumHasher::Sha256(sha2::Sha256::new()),
        }
    }

    /// Validates a client-supplied value's shape (base64 of the right size).
    pub fn check_value(self, value: &str) -> S3Result<Checksum> {
        match B64.decode(value.trim()) {
            Ok(raw) if raw.len() == self.digest_len() => Ok(Checksum {
                algo: self,
                base64: value.trim().to_owned(),
            }),
            _ => Err(S3Error::msg(
                Code::InvalidRequest,
                format!("Value for {} header is invalid.", self.header()),
            )),
        }
    }
}

/// S3's checksum type of a stored value: a composite checksum (over the
/// parts' checksums) ends in `-N`, which base64 never contains.
pub fn kind(value: &str) -> &'static str {
    if value.contains('-') {
        "COMPOSITE"
    } else {
        "FULL_OBJECT"
    }
}

pub enum ChecksumHasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl ChecksumHasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            ChecksumHasher::Crc32(h) => h.update(data),
            ChecksumHasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            ChecksumHasher::Crc64(h) => h.write(data),
            ChecksumHasher::Sha1(h) => h.update(data),
            ChecksumHasher::Sha256(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Checksum {
        let (algo, raw): (ChecksumAlgo, Vec<u8>) = match self {
            ChecksumHasher::Crc32(h) => (ChecksumAlgo::Crc32, h.finalize().to_be_bytes().to_vec()),
            ChecksumHasher::Crc32c(c) => (ChecksumAlgo::Crc32c, c.to_be_bytes().to_vec()),
            ChecksumHasher::Crc64(h) => (ChecksumAlgo::Crc64Nvme, h.sum64().to_be_bytes().to_vec()),
            ChecksumHasher::Sha1(h) => (ChecksumAlgo::Sha1, h.finalize().to_vec()),
            ChecksumHasher::Sha256(h) => (ChecksumAlgo::Sha256, h.finalize().to_vec()),
        };
        Checksum {
            algo,
            base64: B64.encode(raw),
        }
    }
}

/// What a request says about its flexible checksum before the body arrives.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// The algorithm to compute, if any.
    pub algo: Option<ChecksumAlgo>,
    /// The value sent as a header (trailer values arrive with the body).
    pub value: Option<Checksum>,
}

/// Reads `x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm` and
/// `x-amz-trailer` from the headers. At most one checksum may be sent.
pub fn expected(headers: &HeaderMap) -> S3Result<Expected> {
    let mut out = Expected::default();
    for algo in ALL {
        if let Some(v) = headers.get(algo.header()) {
            if out.value.is_some() {
                return Err(S3Error::msg(Code::InvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."));
            }
            let v = v
                .to_str()
                .map_err(|_| S3Error::new(Code::InvalidArgument))?;
            out.value = Some(algo.check_value(v)?);
            out.algo = Some(algo);
        }
    }
    if let Some(t) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        let algo = ChecksumAlgo::from_header(t.trim()).ok_or_else(|| {
            S3Error::msg(
                Code::InvalidRequest,
                "The value specified in the x-amz-trailer header is not supported",
            )
        })?;
        out.algo = Some(algo);
    }
    if out.algo.is_none() {
        if let Some(name) = headers
            .get("x-amz-sdk-checksum-algorithm")
            .and_then(|v| v.to_str().ok())
        {
            out.algo = Some(ChecksumAlgo::from_name(name).ok_or_else(|| {
                S3Error::msg(
                    Code::InvalidRequest,
                    "Checksum algorithm provided is unsupported.",
                )
            })?);
        }
    }
    Ok(out)
}

/// Compares a computed checksum with the one the client sent.
pub fn verify(sent: &Checksum, computed: &Checksum) -> S3Result<()> {
    if sent.algo == computed.algo && sent.base64 == computed.base64 {
        Ok(())
    } else {
        Err(S3Error::msg(
            Code::BadDigest,
            format!(
                "The {} you specified did not match the calculated checksum.",
                sent.algo.name()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(algo: ChecksumAlgo, data: &[u8]) -> String {
        let mut h = algo.hasher();
        h.update(data);
        h.finish().base64
    }

    #[test]
    fn known_values_for_hello_world() {
        // Values from S3's documentation examples and the reference CLIs.
        assert_eq!(sum(ChecksumAlgo::Crc32, b"hello world"), "DUoRhQ==");
        assert_eq!(sum(ChecksumAlgo::Crc32c, b"hello world"), "yZRlqg==");
        assert_eq!(
            sum(ChecksumAlgo::Sha1, b"hello world"),
            "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
        );
        assert_eq!(
            sum(ChecksumAlgo::Sha256, b"hello world"),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert_eq!(sum(ChecksumAlgo::Crc32, b""), "AAAAAA==");
    }
}
