//! Server-side encryption: SSE-C (keys the client sends with every
//! request), SSE-S3 (master keys from the key ring) and SSE-KMS (named
//! keys from the key ring), as S3 spells them in headers.
//!
//! Every encrypted object (or multipart upload) gets its own random data
//! key; its bytes rest in the record format of [`cipher`], and its row
//! keeps only the data key wrapped under the key-encryption key, with
//! which kind it was and the key's id (or, for SSE-C, the key's MD5, as S3
//! reports it). Losing the customer's key or the key ring loses the data;
//! nothing else can open it.
//!
//! Encryption and content addressing: an encrypted blob is named by the
//! BLAKE3 of its sealed bytes, which differ for every upload (a fresh data
//! key and nonce prefix), so encrypted objects are never deduplicated
//! with anything, and `x-cairn-blake3` is not sent for them (it would name
//! ciphertext the client never sees). A copy of an encrypted object
//! decrypts and seals again under the destination's key.

pub mod cipher;
pub mod keys;
pub mod read;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http::{HeaderMap, HeaderValue};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

pub use cipher::Key;
pub use keys::KeyRing;

use crate::error::{Code, S3Error, S3Result};

const SSE: &str = "x-amz-server-side-encryption";
const KMS_KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
const ALGORITHM: &str = "x-amz-server-side-encryption-customer-algorithm";
const KEY: &str = "x-amz-server-side-encryption-customer-key";
const KEY_MD5: &str = "x-amz-server-side-encryption-customer-key-md5";

/// How an object's bytes are encrypted, as its row keeps it (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub kind: Kind,
    /// The wrapping key's id: `master-N` or a KMS key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// SSE-C: base64 MD5 of the customer's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_md5: Option<String>,
    /// The data key, wrapped (base64 of `nonce ‖ ciphertext ‖ tag`).
    pub wrapped: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "AES256")]
    S3,
    #[serde(rename = "aws:kms")]
    Kms,
    #[serde(rename = "SSE-C")]
    Customer,
}

impl Encryption {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("serializable")
    }

    pub fn from_json(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }

    /// The headers S3 answers with on writes and reads of the object.
    pub fn write_headers(&self, h: &mut HeaderMap) {
        let mut put = |name: &'static str, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(name, v);
            }
        };
        match self.kind {
            Kind::S3 => put(SSE, "AES256"),
            Kind::Kms => {
                put(SSE, "aws:kms");
                put(KMS_KEY_ID, self.key_id.as_deref().unwrap_or_default());
            }
            Kind::Customer => {
                put(ALGORITHM, "AES256");
                put(KEY_MD5, self.customer_md5.as_deref().unwrap_or_default());
            }
        }
    }

    /// The data key, opened with what this request brought (an SSE-C key)
    /// or the key ring.
    pub fn data_key(&self, customer: Option<&CustomerKey>, ring: &KeyRing) -> S3Result<Key> {
        let kek = match (self.kind, customer) {
            (Kind::Customer, None) => return Err(S3Error::msg(
                Code::InvalidRequest,
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            )),
            (Kind::Customer, Some(c)) => {
                if self.customer_md5.as_deref() != Some(c.md5.as_str()) {
                    return Err(wrong_customer_key());
                }
                c.key.clone()
            }
            (_, Some(_)) => return Err(not_applicable()),
            (_, None) => {
                let id = self.key_id.as_deref().unwrap_or_default();
                ring.get(id).ok_or_else(|| {
                    S3Error::internal(format!("SSE key {id} is missing from the key ring"))
                })?
            }
        };
        let wrapped = B64.decode(&self.wrapped).unwrap_or_default();
        kek.unwrap_key(&wrapped).ok_or_else(|| match self.kind {
            Kind::Customer => wrong_customer_key(),
            _ => S3Error::internal("a wrapped data key does not open with its key"),
        })
    }
}

fn wrong_customer_key() -> S3Error {
    S3Error::msg(
        Code::InvalidArgument,
        "The provided SSE-C key does not match the key the object was encrypted with.",
    )
}

fn not_applicable() -> S3Error {
    S3Error::msg(
        Code::InvalidRequest,
        "The encryption parameters are not applicable to this object.",
    )
}

fn invalid(msg: &str, header: &str) -> S3Error {
    S3Error::msg(Code::InvalidArgument, msg.to_owned()).with("ArgumentName", header.to_owned())
}

/// An SSE-C key as a request sent it, its MD5 checked.
#[derive(Clone, Debug)]
pub struct CustomerKey {
    key: Key,
    /// Base64 MD5 of the key.
    md5: String,
}

/// Which headers carry the SSE-C key: an object's own, or a copy's source.
#[derive(Clone, Copy)]
pub enum Role {
    Object,
    CopySource,
}

impl Role {
    /// The role's algorithm, key and key-MD5 header names.
    fn headers(self) -> [&'static str; 3] {
        match self {
            Role::Object => [ALGORITHM, KEY, KEY_MD5],
            Role::CopySource => [
                "x-amz-copy-source-server-side-encryption-customer-algorithm",
                "x-amz-copy-source-server-side-encryption-customer-key",
                "x-amz-copy-source-server-side-encryption-customer-key-md5",
            ],
        }
    }
}

/// The SSE-C key a request sent under `role`'s headers, if any, with S3's
/// answers to a missing algorithm, key or MD5, or a key that is not the
/// one the MD5 describes.
pub fn customer_key(headers: &HeaderMap, role: Role) -> S3Result<Option<CustomerKey>> {
    let [algorithm_h, key_h, md5_h] = role.headers();
    let get = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{FFFD}").trim().to_owned())
    };
    let (algorithm, key, md5) = (get(algorithm_h), get(key_h), get(md5_h));
    if algorithm.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    let Some(algorithm) = algorithm else {
        return Err(S3Error::msg(
            Code::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        ));
    };
    if algorithm != "AES256" {
        return Err(invalid(
            "The encryption request you specified is not valid. The valid value is AES256.",
            algorithm_h,
        ));
    }
    let Some(key) = key else {
        return Err(S3Error::msg(
            Code::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        ));
    };
    let key = B64
        .decode(key.as_bytes())
        .ok()
        .and_then(|k| Key::from_bytes(&k))
        .ok_or_else(|| {
            invalid(
                "The secret key was invalid for the specified algorithm.",
                key_h,
            )
        })?;
    let Some(md5) = md5 else {
        return Err(S3Error::msg(
            Code::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        ));
    };
    let actual = B64.encode(Md5::digest(key.bytes()));
    if md5 != actual {
        return Err(invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            md5_h,
        ));
    }
    Ok(Some(CustomerKey { key, md5: actual }))
}

/// A bucket's default encryption (PutBucketEncryption).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketDefault {
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key: bool,
}

/// What a write asks for, from its headers and the bucket's default.
#[derive(Clone, Debug)]
pub enum Requested {
    S3,
    Kms(String),
    Customer(CustomerKey),
}

/// Reads the encryption a write asks for; `None` for plain bytes.
pub fn requested(
    headers: &HeaderMap,
    default: Option<&BucketDefault>,
) -> S3Result<Option<Requested>> {
    let header = |n: &str| {
        headers
            .get(n)
            .map(|v| v.to_str().unwrap_or("\u{FFFD}").trim().to_owned())
    };
    let customer = customer_key(headers, Role::Object)?;
    let (sse, kms_key) = (header(SSE), header(KMS_KEY_ID));
    if customer.is_some() && (sse.is_some() || kms_key.is_some()) {
        return Err(S3Error::msg(
            Code::InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        ));
    }
    if let Some(c) = customer {
        return Ok(Some(Requested::Customer(c)));
    }
    match sse.as_deref() {
        None if kms_key.is_some() => Err(invalid(
            "x-amz-server-side-encryption-aws-kms-key-id header is not valid without x-amz-server-side-encryption: aws:kms",
            KMS_KEY_ID,
        )),
        None => Ok(default.map(|d| match d.kind {
            Kind::Kms => Requested::Kms(d.kms_key_id.clone().unwrap_or_default()),
            _ => Requested::S3,
        })),
        Some("AES256") if kms_key.is_none() => Ok(Some(Requested::S3)),
        Some("aws:kms") => {
            let key = kms_key
                .or_else(|| default.and_then(|d| d.kms_key_id.clone()))
                .ok_or_else(|| {
                    invalid(
                        "Server Side Encryption with KMS managed key requires HTTP header x-amz-server-side-encryption-aws-kms-key-id",
                        KMS_KEY_ID,
                    )
                })?;
            Ok(Some(Requested::Kms(key)))
        }
        Some(_) => Err(invalid(
            "The encryption method specified is not supported",
            SSE,
        )),
    }
}

/// The ETag of an object (or part) written under `info`: the MD5 of the
/// plaintext, as S3 gives for plain and SSE-S3 objects; for SSE-C and
/// SSE-KMS, as in S3, a value that says nothing about the plaintext
/// without the key (HMAC-SHA256 of the MD5 under the data key, first
/// half), since listings show ETags to anyone who may list. A part sent
/// twice to one upload (one data key) keeps its ETag.
pub fn etag(info: Option<&Encryption>, dek: Option<&Key>, md5: &[u8; 16]) -> String {
    use hmac::{Hmac, Mac};
    match (info.map(|i| i.kind), dek) {
        (Some(Kind::Customer | Kind::Kms), Some(dek)) => {
            let mut mac =
                Hmac::<sha2::Sha256>::new_from_slice(dek.bytes()).expect("any key length");
            mac.update(md5);
            hex::encode(&mac.finalize().into_bytes()[..16])
        }
        _ => hex::encode(md5),
    }
}

/// SSE-C keys travel in the request: S3 takes them only over HTTPS. Cairn
/// takes them over TLS or from this host (`peer`), and over plain HTTP
/// from elsewhere only when `over_http` (the `sse_c_over_http` setting)
/// says a TLS proxy in front of the origin is trusted.
pub fn check_channel(
    headers: &HeaderMap,
    peer: Option<cairn_shared::listen::Peer>,
    over_http: bool,
) -> S3Result<()> {
    let sends_key = [Role::Object, Role::CopySource]
        .iter()
        .any(|r| headers.contains_key(r.headers()[1]));
    if sends_key && !over_http && !peer.is_some_and(|p| p.private_channel()) {
        return Err(S3Error::msg(
            Code::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    Ok(())
}

/// `dek` wrapped under `kek`, as rows keep it.
pub fn wrap_b64(kek: &Key, dek: &Key) -> String {
    B64.encode(kek.wrap(dek))
}

/// `x-amz-server-side-encryption` on a read: S3 refuses it (the object
/// says how it is encrypted).
pub fn refuse_on_read(headers: &HeaderMap) -> S3Result<()> {
    if headers.contains_key(SSE) || headers.contains_key(KMS_KEY_ID) {
        return Err(invalid(
            "x-amz-server-side-encryption header is not supported for this operation.",
            SSE,
        ));
    }
    Ok(())
}

impl Requested {
    /// A fresh data key for a new object or upload, and how its row
    /// records it.
    pub fn seal(&self, ring: &KeyRing) -> S3Result<(Encryption, Key)> {
        let dek = Key::random();
        let (kind, kek, key_id, customer_md5) = match self {
            Requested::S3 => {
                let (id, k) = ring.master().map_err(S3Error::internal)?;
                (Kind::S3, k, Some(id), None)
            }
            Requested::Kms(id) => {
                let k = (!keys::is_master(id))
                    .then(|| ring.get(id))
                    .flatten()
                    .ok_or_else(|| invalid(&format!("Invalid keyId {id}"), KMS_KEY_ID))?;
                (Kind::Kms, k, Some(id.clone()), None)
            }
            Requested::Customer(c) => (Kind::Customer, c.key.clone(), None, Some(c.md5.clone())),
        };
        let info = Encryption {
            kind,
            key_id,
            customer_md5,
            wrapped: wrap_b64(&kek, &dek),
        };
        Ok((info, dek))
    }
}

/// The key to read (or, for an upload, write) an object's bytes with,
/// from its row and the SSE-C key the request sent under `role`'s
/// headers; `None` for plain objects.
pub fn read_key(
    info: Option<&Encryption>,
    headers: &HeaderMap,
    role: Role,
    ring: &KeyRing,
) -> S3Result<Option<Key>> {
    let customer = customer_key(headers, role)?;
    match info {
        None if customer.is_some() => Err(not_applicable()),
        None => Ok(None),
        Some(i) => i.data_key(customer.as_ref(), ring).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const K: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
    const K_MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";

    #[test]
    fn sse_c_headers_are_checked_as_s3_checks_them() {
        let ok = customer_key(
            &headers(&[(ALGORITHM, "AES256"), (KEY, K), (KEY_MD5, K_MD5)]),
            Role::Object,
        );
        assert!(ok.unwrap().is_some());
        for bad in [
            vec![
                (ALGORITHM, "AES256"),
                (KEY, K),
                (KEY_MD5, "AAAAAAAAAAAAAAAAAAAAAA=="),
            ],
            vec![(ALGORITHM, "AES256"), (KEY, K)],
            vec![(ALGORITHM, "AES256")],
            vec![(KEY, K), (KEY_MD5, K_MD5)],
            vec![(ALGORITHM, "AES128"), (KEY, K), (KEY_MD5, K_MD5)],
            vec![(ALGORITHM, "AES256"), (KEY, "c2hvcnQ="), (KEY_MD5, K_MD5)],
        ] {
            let err = customer_key(&headers(&bad), Role::Object).unwrap_err();
            assert_eq!(err.code.status(), http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
        let copy = headers(&[
            (
                "x-amz-copy-source-server-side-encryption-customer-algorithm",
                "AES256",
            ),
            ("x-amz-copy-source-server-side-encryption-customer-key", K),
            (
                "x-amz-copy-source-server-side-encryption-customer-key-md5",
                K_MD5,
            ),
        ]);
        assert!(customer_key(&copy, Role::CopySource).unwrap().is_some());
        assert!(customer_key(&copy, Role::Object).unwrap().is_none());
    }

    #[test]
    fn sse_c_keys_come_over_tls_or_from_this_host() {
        use cairn_shared::listen::Peer;
        let h = headers(&[(ALGORITHM, "AES256"), (KEY, K), (KEY_MD5, K_MD5)]);
        let far = Some("203.0.113.9:4000".parse().unwrap());
        let near = Some("127.0.0.1:4000".parse().unwrap());
        let peer = |addr, tls| Some(Peer { addr, tls });
        assert!(check_channel(&h, peer(far, false), false).is_err());
        assert!(check_channel(&h, peer(far, true), false).is_ok());
        assert!(check_channel(&h, peer(near, false), false).is_ok());
        assert!(
            check_channel(&h, peer(far, false), true).is_ok(),
            "a trusted proxy"
        );
        assert!(check_channel(&headers(&[]), peer(far, false), false).is_ok());
    }

    #[test]
    fn the_requested_kind_comes_from_headers_then_the_bucket_default() {
        let kms = BucketDefault {
            kind: Kind::Kms,
            kms_key_id: Some("k1".into()),
            bucket_key: false,
        };
        let r = requested(&headers(&[]), Some(&kms)).unwrap();
        assert!(matches!(r, Some(Requested::Kms(id)) if id == "k1"));
        let r = requested(&headers(&[(SSE, "AES256")]), Some(&kms)).unwrap();
        assert!(matches!(r, Some(Requested::S3)));
        assert!(requested(&headers(&[]), None).unwrap().is_none());
        assert!(requested(&headers(&[(SSE, "aws:kms")]), None).is_err());
        assert!(requested(&headers(&[(KMS_KEY_ID, "k1")]), None).is_err());
        assert!(requested(&headers(&[(SSE, "AES192")]), None).is_err());
        let both = headers(&[
            (SSE, "AES256"),
            (ALGORITHM, "AES256"),
            (KEY, K),
            (KEY_MD5, K_MD5),
        ]);
        assert!(requested(&both, None).is_err());
    }

    #[test]
    fn a_data_key_opens_only_with_the_key_it_was_sealed_for() {
        let dir = std::env::temp_dir().join(format!("cairn-sse-{}", rand::random::<u64>()));
        let ring = KeyRing::open(&dir.join("keys")).unwrap();
        let c = customer_key(
            &headers(&[(ALGORITHM, "AES256"), (KEY, K), (KEY_MD5, K_MD5)]),
            Role::Object,
        )
        .unwrap()
        .unwrap();
        let (info, dek) = Requested::Customer(c.clone()).seal(&ring).unwrap();
        assert_eq!(info.data_key(Some(&c), &ring).unwrap().bytes(), dek.bytes());
        assert!(info.data_key(None, &ring).is_err());
        let (info, dek) = Requested::S3.seal(&ring).unwrap();
        assert_eq!(info.data_key(None, &ring).unwrap().bytes(), dek.bytes());
        assert!(info.data_key(Some(&c), &ring).is_err());
        assert!(Requested::Kms("nope".into()).seal(&ring).is_err());
        assert!(Requested::Kms("master-1".into()).seal(&ring).is_err());
        let back = Encryption::from_json(&info.to_json()).unwrap();
        assert_eq!(back, info);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
