//! The deployment's URL keys as the rest of the origin uses them: the
//! signer for `GET /_cairn/sign` and `cairn-origin sign-url`, the public
//! set the change feed carries to edges, and rotation.

use cairn_shared::signed_url::UrlKey;

use crate::error::S3Result;
use crate::state::AppState;
use crate::store::meta::url_keys;

/// The public keys edges verify deployment URLs with, by id.
pub fn public_keys(conn: &rusqlite::Connection) -> S3Result<Vec<(String, String)>> {
    url_keys::list(conn)?
        .into_iter()
        .filter(|row| row.retired_ms.is_none())
        .map(|row| Ok((row.id.clone(), row.key()?.public())))
        .collect()
}

/// A tag that changes whenever the set of keys that verify does (edges
/// send back the tag they hold; a different one ends their feed poll at
/// once). Ids are never reused, so the ids alone name the set, and no key
/// is parsed for it.
pub fn tag(conn: &rusqlite::Connection) -> S3Result<String> {
    let mut h = blake3::Hasher::new();
    for row in url_keys::list(conn)? {
        if row.retired_ms.is_none() {
            h.update(row.id.as_bytes()).update(b"\n");
        }
    }
    Ok(h.finalize().to_hex()[..16].to_owned())
}

/// The key that signs, made on first use.
pub async fn signer(state: &AppState) -> S3Result<UrlKey> {
    if let Some(row) = state.meta.read(url_keys::signer).await? {
        return Ok(row.key()?);
    }
    let now = super::now_ms();
    let row = state
        .meta
        .write(move |c, _| {
            // Another request may have made one meanwhile.
            if url_keys::signer(c)?.is_none() {
                url_keys::create(c, now)?;
            }
            url_keys::signer(c)
        })
        .await?;
    Ok(row
        .ok_or_else(|| crate::error::S3Error::internal("no URL key"))?
        .key()?)
}

/// Adds a key that signs from now on; the previous ones keep verifying
/// until retired. Returns the new key's id.
pub async fn rotate(state: &AppState) -> S3Result<String> {
    let now = super::now_ms();
    Ok(state
        .meta
        .write(move |c, _| url_keys::create(c, now))
        .await?)
}

/// Retires `id`; returns whether it was in use.
pub async fn retire(state: &AppState, id: &str) -> S3Result<bool> {
    let (id, now) = (id.to_owned(), super::now_ms());
    Ok(state
        .meta
        .write(move |c, _| url_keys::retire(c, &id, now))
        .await?)
}
