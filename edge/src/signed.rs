//! Signed URLs for private objects (`cairn_shared::signed_url`): the
//! deployment's public URL keys, as the change feed last delivered them,
//! and the check of a request's `expires`/`kid`/`sig`.
//!
//! A URL with `kid` was signed by the origin's URL key of that id and is
//! accepted by every edge that follows the same origin; a URL without is
//! the older form, an HMAC under this edge's own key. Either is refused
//! while the origin refuses this edge's key (it was revoked).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_shared::signed_url;
use serde_json::Value;

use crate::answer::{query_pairs, Code, EdgeError};
use crate::EdgeState;

/// The public URL keys, by id, and the origin's tag for the set.
#[derive(Default)]
pub struct UrlKeys(RwLock<(String, HashMap<String, String>)>);

impl UrlKeys {
    /// The tag of the set held, sent back with each feed poll.
    pub fn tag(&self) -> String {
        self.0.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    fn public(&self, id: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .get(id)
            .cloned()
    }

    /// Takes the set a feed page carries (`{"tag", "keys": {id: public}}`,
    /// the keys only when the tag differs from the one this edge sent); a
    /// page without one changes nothing.
    pub fn update(&self, page: &Value) {
        let Some(set) = page.get("url_keys") else {
            return;
        };
        let Some(tag) = set.get("tag").and_then(Value::as_str) else {
            return;
        };
        // Every page carries the tag; the keys come only when it changed.
        if self.tag() == tag {
            return;
        }
        let Some(keys) = set.get("keys").and_then(Value::as_object) else {
            return;
        };
        let keys: HashMap<String, String> = keys
            .iter()
            // A deployment has a handful; a bound all the same.
            .take(64)
            .filter_map(|(id, p)| Some((id.clone(), p.as_str()?.to_owned())))
            .collect();
        tracing::info!(keys = keys.len(), "URL keys updated from the origin");
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = (tag.to_owned(), keys);
    }
}

/// `?expires=&sig=` (and `kid=`): a signed URL for a private object.
/// Returns whether the request carries a valid one; an invalid one is
/// refused with the error to answer.
pub fn check(
    state: &EdgeState,
    parts: &http::request::Parts,
    bucket: &str,
    key: &str,
) -> Result<bool, EdgeError> {
    let pairs = query_pairs(parts.uri.query().unwrap_or_default());
    let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let (Some(expires), Some(sig)) = (get("expires"), get("sig")) else {
        return Ok(false);
    };
    if state.key_refused.load(std::sync::atomic::Ordering::Acquire) {
        return Err(EdgeError::new(
            Code::AccessDenied,
            "This edge's key was revoked.",
        ));
    }
    let expires: u64 = expires
        .parse()
        .map_err(|_| EdgeError::new(Code::AccessDenied, "Invalid expires."))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let checked = match get("kid") {
        Some(kid) => {
            let public = state.url_keys.public(kid).ok_or(EdgeError::new(
                Code::SignatureDoesNotMatch,
                "The URL was signed with a key this deployment does not use (retired or unknown).",
            ))?;
            signed_url::verify_keyed(&public, bucket, key, expires, sig, now)
        }
        None => signed_url::verify(&state.config.secret_key, bucket, key, expires, sig, now),
    };
    match checked {
        Ok(()) => Ok(true),
        Err(signed_url::Invalid::Expired) => {
            Err(EdgeError::new(Code::AccessDenied, "Request has expired"))
        }
        Err(signed_url::Invalid::BadSignature) => Err(EdgeError::new(
            Code::SignatureDoesNotMatch,
            "The URL signature does not match.",
        )),
    }
}
