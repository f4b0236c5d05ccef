//! ListObjectVersions: every version and delete marker, newest first
//! within a key, keys in byte order, with `key-marker` and
//! `version-id-marker` paging.
//!
//! Keys (and common prefixes) come from the listing engine in `list`
//! walking keys that have any version; each key's versions are then read
//! newest first, at most what the page still has room for. A page
//! therefore costs about `max-keys` index seeks however many versions a
//! key has.

use axum::response::Response;
use rusqlite::Connection;

use super::list::{common, max_keys, page, write_prefixes, Enc, Params, Source};
use super::{iso8601, write_owner, xml_response, Ctx};
use crate::error::S3Result;
use crate::store::meta::objects;
use crate::store::meta::versions::{self, Version};
use crate::xml::XmlWriter;

/// One listed version and whether it is the key's newest.
struct Entry {
    version: Version,
    latest: bool,
}

#[derive(Default)]
struct VersionPage {
    entries: Vec<Entry>,
    prefixes: Vec<String>,
    truncated: bool,
    next_key: Option<String>,
    next_version: Option<String>,
}

/// Up to `limit` versions of `key`, newest first, after the version
/// `after` names (`Some(None)` is `null`; `None` starts at the newest).
fn key_versions(
    conn: &Connection,
    bucket: &str,
    key: &str,
    after: Option<&Option<String>>,
    limit: usize,
) -> S3Result<Vec<Entry>> {
    let current = objects::get(conn, bucket, key)?;
    let newest_noncurrent = versions::older(conn, bucket, key, None, 1)?
        .first()
        .map(|(seq, _)| *seq);
    let mut out = Vec::new();
    let below = match after {
        None => {
            if let Some(cur) = current.clone() {
                out.push(Version::Object(cur));
            }
            None
        }
        Some(v) if current.as_ref().is_some_and(|c| &c.version_id == v) => None,
        Some(v) => match versions::find_noncurrent(conn, bucket, key, v.as_deref())? {
            Some((seq, _)) => Some(seq),
            // An unknown marker: nothing of this key is listed.
            None => return Ok(Vec::new()),
        },
    };
    let room = limit.saturating_sub(out.len());
    let older = versions::older(conn, bucket, key, below, room)?;
    let mut entries: Vec<Entry> = out
        .into_iter()
        .map(|version| Entry {
            version,
            latest: true,
        })
        .collect();
    for (seq, version) in older {
        entries.push(Entry {
            version,
            latest: current.is_none() && Some(seq) == newest_noncurrent,
        });
    }
    Ok(entries)
}

fn versions_page(
    conn: &Connection,
    bucket: &str,
    p: Params,
    version_marker: Option<Option<String>>,
) -> S3Result<VersionPage> {
    let mut out = VersionPage::default();
    let mut budget = p.max_keys;
    // First the rest of the key the last page stopped in.
    if let (false, Some(vm)) = (p.marker.is_empty(), &version_marker) {
        let entries = key_versions(conn, bucket, &p.marker, Some(vm), budget + 1)?;
        if take(&mut out, &p.marker, entries, &mut budget) {
            return Ok(out);
        }
    }
    // Full already: the page is truncated when any key or prefix follows.
    let peek = budget == 0 && version_marker.is_some();
    let keys = page(
        conn,
        bucket,
        &Params {
            max_keys: if peek { 1 } else { budget },
            source: Source::AllVersions,
            ..p
        },
    )?;
    if peek {
        out.truncated = !keys.contents.is_empty() || !keys.prefixes.is_empty();
        return Ok(out);
    }
    // Keys and common prefixes in the order a listing prints them.
    let mut items: Vec<(String, bool)> = keys
        .contents
        .into_iter()
        .map(|r| (r.key, false))
        .chain(keys.prefixes.into_iter().map(|p| (p, true)))
        .collect();
    items.sort();
    for (name, is_prefix) in items {
        if is_prefix {
            if budget == 0 {
                out.truncated = true;
                return Ok(out);
            }
            budget -= 1;
            out.next_key = Some(name.clone());
            out.next_version = None;
            out.prefixes.push(name);
            continue;
        }
        let entries = key_versions(conn, bucket, &name, None, budget + 1)?;
        if take(&mut out, &name, entries, &mut budget) {
            return Ok(out);
        }
    }
    out.truncated |= keys.truncated;
    Ok(out)
}

/// Adds a key's versions within the budget; true when the page is full
/// before all of them fit (the page is then truncated inside this key).
fn take(out: &mut VersionPage, key: &str, entries: Vec<Entry>, budget: &mut usize) -> bool {
    for entry in entries {
        if *budget == 0 {
            out.truncated = true;
            return true;
        }
        *budget -= 1;
        out.next_key = Some(key.to_owned());
        out.next_version = Some(entry.version.version_id().unwrap_or("null").to_owned());
        out.entries.push(entry);
    }
    false
}

pub async fn list_versions(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let enc = Enc::new(ctx)?;
    let (prefix, delimiter) = common(ctx);
    let key_marker = ctx.query("key-marker").unwrap_or("").to_owned();
    let version_marker = match ctx.query("version-id-marker") {
        None | Some("") => None,
        Some("null") => Some(None),
        Some(v) => Some(Some(v.to_owned())),
    };
    let max = max_keys(ctx, "max-keys")?;
    ctx.owned_bucket(bucket).await?;
    let params = Params {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        marker: key_marker.clone(),
        max_keys: max,
        source: Source::AllVersions,
    };
    let (b, vm) = (bucket.to_owned(), version_marker.clone());
    let page = ctx
        .state
        .meta
        .read(move |c| versions_page(c, &b, params, vm))
        .await?;

    let mut w = XmlWriter::new();
    w.root("ListVersionsResult");
    w.elem("Name", bucket);
    enc.elem(&mut w, "Prefix", &prefix);
    enc.elem(&mut w, "KeyMarker", &key_marker);
    w.elem(
        "VersionIdMarker",
        ctx.query("version-id-marker").unwrap_or(""),
    );
    w.elem("MaxKeys", &max.to_string());
    if let Some(d) = &delimiter {
        enc.elem(&mut w, "Delimiter", d);
    }
    if enc.0 {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated {
        if let Some(key) = &page.next_key {
            enc.elem(&mut w, "NextKeyMarker", key);
        }
        if let Some(v) = &page.next_version {
            w.elem("NextVersionIdMarker", v);
        }
    }
    for entry in &page.entries {
        let latest = if entry.latest { "true" } else { "false" };
        match &entry.version {
            Version::Object(row) => {
                w.open("Version");
                enc.elem(&mut w, "Key", &row.key);
                w.elem("VersionId", row.version_label());
                w.elem("IsLatest", latest);
                w.elem("LastModified", &iso8601(row.modified_ms));
                w.elem("ETag", &format!("\"{}\"", row.etag));
                w.elem("Size", &row.size.to_string());
                write_owner(&mut w, "Owner", &ctx.verified.principal);
                w.elem("StorageClass", "STANDARD");
                w.close("Version");
            }
            Version::Marker(m) => {
                w.open("DeleteMarker");
                enc.elem(&mut w, "Key", &m.key);
                w.elem("VersionId", m.version_id.as_deref().unwrap_or("null"));
                w.elem("IsLatest", latest);
                w.elem("LastModified", &iso8601(m.modified_ms));
                write_owner(&mut w, "Owner", &ctx.verified.principal);
                w.close("DeleteMarker");
            }
        }
    }
    write_prefixes(&mut w, &enc, &page.prefixes);
    w.close("ListVersionsResult");
    Ok(xml_response(w.finish()))
}
