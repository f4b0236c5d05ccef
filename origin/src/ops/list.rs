//! Listings: ListObjectsV2 and ListObjects (v1); the engine that
//! ListObjectVersions (`list_versions`) shares.
//!
//! One engine, [`page`], walks the primary-key index from a marker. When a
//! delimiter rolls keys up into a common prefix, it seeks past the whole
//! prefix instead of reading its keys, so a page costs about `max-keys`
//! index seeks whatever the bucket's size.

use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rusqlite::Connection;

use super::{iso8601, write_owner, xml_response, Ctx};
use crate::auth::encode;
use crate::error::{Code, S3Error, S3Result};
use crate::store::meta::objects::{self, From, ListRow};
use crate::store::meta::versions;
use crate::xml::XmlWriter;

const MAX_KEYS: usize = 1000;
/// Rows read per query when a delimiter may roll keys up.
const DELIMITED_BATCH: usize = 32;

pub(super) struct Params {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Entries must sort after this (exclusive); empty for "from the start".
    pub marker: String,
    pub max_keys: usize,
    /// Which keys to walk: those with a current version, or (for
    /// ListObjectVersions) those with any version.
    pub source: Source,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Current,
    AllVersions,
}

#[derive(Default)]
pub(super) struct Page {
    pub contents: Vec<ListRow>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix in the page: where the next starts.
    pub last: Option<String>,
}

/// The smallest byte string greater than every string starting with `p`.
fn prefix_end(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xFF {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

pub(super) fn page(conn: &Connection, bucket: &str, p: &Params) -> S3Result<Page> {
    let mut out = Page::default();
    if p.max_keys == 0 {
        // S3 answers `max-keys=0` with an empty page that is not truncated.
        return Ok(out);
    }
    let upper = prefix_end(p.prefix.as_bytes());
    let mut from = if p.marker.as_str() >= p.prefix.as_str() {
        From::Exclusive(p.marker.as_bytes().to_vec())
    } else {
        From::Inclusive(p.prefix.as_bytes().to_vec())
    };
    let mut count = 0;
    'scan: loop {
        // With a delimiter, a batch usually ends early at a common prefix
        // (which re-seeks past it), so read small batches: otherwise each
        // prefix would make SQLite step through up to a page of its keys.
        let cap = if p.delimiter.is_some() {
            DELIMITED_BATCH
        } else {
            MAX_KEYS + 1
        };
        let want = (p.max_keys - count + 1).min(cap);
        let rows = match p.source {
            Source::Current => objects::scan(conn, bucket, &from, upper.as_deref(), want)?,
            Source::AllVersions => versions::keys(conn, bucket, &from, upper.as_deref(), want)?
                .into_iter()
                .map(|key| ListRow {
                    key,
                    size: 0,
                    etag: String::new(),
                    modified_ms: 0,
                })
                .collect(),
        };
        let got = rows.len();
        for row in rows {
            let rolled = p.delimiter.as_deref().and_then(|d| {
                let rest = row.key.get(p.prefix.len()..)?;
                rest.find(d)
                    .map(|i| row.key[..p.prefix.len() + i + d.len()].to_owned())
            });
            if let Some(cp) = rolled {
                if cp.as_str() > p.marker.as_str() {
                    if count == p.max_keys {
                        out.truncated = true;
                        break 'scan;
                    }
                    out.prefixes.push(cp.clone());
                    out.last = Some(cp.clone());
                    count += 1;
                }
                match prefix_end(cp.as_bytes()) {
                    Some(next) => {
                        from = From::Inclusive(next);
                        continue 'scan;
                    }
                    None => break 'scan,
                }
            }
            if count == p.max_keys {
                out.truncated = true;
                break 'scan;
            }
            from = From::Exclusive(row.key.as_bytes().to_vec());
            out.last = Some(row.key.clone());
            out.contents.push(row);
            count += 1;
        }
        if got < want {
            break;
        }
    }
    Ok(out)
}

pub(super) fn max_keys(ctx: &Ctx, name: &str) -> S3Result<usize> {
    match ctx.query(name) {
        None => Ok(MAX_KEYS),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| (n as usize).min(MAX_KEYS))
            .ok_or_else(|| {
                S3Error::msg(
                    Code::InvalidArgument,
                    format!("Provided {name} not an integer or within integer range"),
                )
                .with("ArgumentName", name)
            }),
    }
}

async fn run(ctx: &Ctx, bucket: &str, params: Params) -> S3Result<Page> {
    ctx.listable_bucket(bucket).await?;
    let b = bucket.to_owned();
    ctx.state.meta.read(move |c| page(c, &b, &params)).await
}

/// Writes text, URL-encoded when the client asked for `encoding-type=url`.
pub(super) struct Enc(pub bool);

impl Enc {
    pub fn new(ctx: &Ctx) -> S3Result<Self> {
        match ctx.query("encoding-type") {
            None => Ok(Enc(false)),
            Some(t) if t.eq_ignore_ascii_case("url") => Ok(Enc(true)),
            Some(_) => Err(S3Error::msg(
                Code::InvalidArgument,
                "Invalid Encoding Method specified in Request",
            )
            .with("ArgumentName", "encoding-type")),
        }
    }
    pub fn elem(&self, w: &mut XmlWriter, name: &str, text: &str) {
        if self.0 {
            w.elem(name, &encode::path(text));
        } else {
            w.elem(name, text);
        }
    }
}

fn write_entry_fields(w: &mut XmlWriter, row: &ListRow) {
    w.elem("LastModified", &iso8601(row.modified_ms));
    w.elem("ETag", &format!("\"{}\"", row.etag));
    w.elem("Size", &row.size.to_string());
}

pub(super) fn write_prefixes(w: &mut XmlWriter, enc: &Enc, prefixes: &[String]) {
    for p in prefixes {
        w.open("CommonPrefixes");
        enc.elem(w, "Prefix", p);
        w.close("CommonPrefixes");
    }
}

pub(super) fn common(ctx: &Ctx) -> (String, Option<String>) {
    let prefix = ctx.query("prefix").unwrap_or("").to_owned();
    let delimiter = ctx
        .query("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    (prefix, delimiter)
}

pub async fn list_v2(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let enc = Enc::new(ctx)?;
    let (prefix, delimiter) = common(ctx);
    let start_after = ctx.query("start-after").unwrap_or("").to_owned();
    let token = ctx.query("continuation-token");
    let marker = match token {
        Some(t) => B64
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                S3Error::msg(
                    Code::InvalidArgument,
                    "The continuation token provided is incorrect",
                )
                .with("ArgumentName", "continuation-token")
            })?,
        None => start_after.clone(),
    };
    let max = max_keys(ctx, "max-keys")?;
    let fetch_owner = ctx.query("fetch-owner") == Some("true");
    let page = run(
        ctx,
        bucket,
        Params {
            prefix: prefix.clone(),
            delimiter: delimiter.clone(),
            marker,
            max_keys: max,
            source: Source::Current,
        },
    )
    .await?;

    let mut w = XmlWriter::new();
    w.root("ListBucketResult");
    w.elem("Name", bucket);
    enc.elem(&mut w, "Prefix", &prefix);
    if let Some(d) = &delimiter {
        enc.elem(&mut w, "Delimiter", d);
    }
    w.elem("MaxKeys", &max.to_string());
    if enc.0 {
        w.elem("EncodingType", "url");
    }
    w.elem(
        "KeyCount",
        &(page.contents.len() + page.prefixes.len()).to_string(),
    );
    w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    if let Some(t) = token {
        w.elem("ContinuationToken", t);
    }
    if page.truncated {
        if let Some(last) = &page.last {
            w.elem("NextContinuationToken", &B64.encode(last));
        }
    }
    if !start_after.is_empty() {
        enc.elem(&mut w, "StartAfter", &start_after);
    }
    for row in &page.contents {
        w.open("Contents");
        enc.elem(&mut w, "Key", &row.key);
        write_entry_fields(&mut w, row);
        if fetch_owner {
            write_owner(&mut w, "Owner", &ctx.verified.principal);
        }
        w.elem("StorageClass", "STANDARD");
        w.close("Contents");
    }
    write_prefixes(&mut w, &enc, &page.prefixes);
    w.close("ListBucketResult");
    Ok(xml_response(w.finish()))
}

pub async fn list_v1(ctx: &Ctx, bucket: &str) -> S3Result<Response> {
    let enc = Enc::new(ctx)?;
    let (prefix, delimiter) = common(ctx);
    let marker = ctx.query("marker").unwrap_or("").to_owned();
    let max = max_keys(ctx, "max-keys")?;
    let page = run(
        ctx,
        bucket,
        Params {
            prefix: prefix.clone(),
            delimiter: delimiter.clone(),
            marker: marker.clone(),
            max_keys: max,
            source: Source::Current,
        },
    )
    .await?;

    let mut w = XmlWriter::new();
    w.root("ListBucketResult");
    w.elem("Name", bucket);
    enc.elem(&mut w, "Prefix", &prefix);
    enc.elem(&mut w, "Marker", &marker);
    w.elem("MaxKeys", &max.to_string());
    if let Some(d) = &delimiter {
        enc.elem(&mut w, "Delimiter", d);
    }
    if enc.0 {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated {
        if let Some(last) = &page.last {
            enc.elem(&mut w, "NextMarker", last);
        }
    }
    for row in &page.contents {
        w.open("Contents");
        enc.elem(&mut w, "Key", &row.key);
        write_entry_fields(&mut w, row);
        write_owner(&mut w, "Owner", &ctx.verified.principal);
        w.elem("StorageClass", "STANDARD");
        w.close("Contents");
    }
    write_prefixes(&mut w, &enc, &page.prefixes);
    w.close("ListBucketResult");
    Ok(xml_response(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"abc"), Some(b"abd".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
