//! `cairn-origin check`: every blob against its BLAKE3 name, every blob row
//! against its file, every reference count against the rows holding it.
//!
//! Read-only, so it may run beside a server; a blob deleted by the server
//! while the check runs is re-read before it is called missing.

use std::collections::HashSet;

use crate::store::blob::BlobStore;
use crate::store::meta::{audit, objects, Meta};

/// What a check found. Damage is anything that loses or corrupts data;
/// unreferenced files only waste space (`gc` reclaims them).
#[derive(Debug, Default)]
pub struct Report {
    pub blobs_checked: u64,
    pub bytes_checked: u64,
    pub damage: Vec<String>,
    pub unreferenced: u64,
}

/// Runs the check; `progress(bytes done, bytes total)` as blobs are read.
pub async fn run(
    meta: &Meta,
    blobs: &BlobStore,
    mut progress: impl FnMut(u64, u64) + Send + 'static,
) -> anyhow::Result<Report> {
    let rows = meta.read(audit::blob_rows).await?;
    let store = blobs.clone();
    let files: HashSet<_> = tokio::task::spawn_blocking(move || store.all())
        .await??
        .into_iter()
        .collect();
    let known: HashSet<_> = rows.iter().map(|r| r.hash).collect();
    let unreferenced = files.difference(&known).count() as u64;

    let store = blobs.clone();
    let (mut report, missing) = tokio::task::spawn_blocking(move || {
        let total: u64 = rows.iter().map(|r| r.size).sum();
        let mut report = Report {
            unreferenced,
            ..Report::default()
        };
        let mut missing = Vec::new();
        let mut done = 0;
        for row in &rows {
            if !files.contains(&row.hash) {
                missing.push(row.clone());
                continue;
            }
            let verified = store.verify(&row.hash, |n| {
                done += n;
                progress(done, total);
            });
            report.blobs_checked += 1;
            match verified {
                Ok((true, len)) if len == row.size => report.bytes_checked += len,
                Ok((true, len)) => report.damage.push(format!(
                    "blob {} holds {len} bytes but its row says {}",
                    row.hash.to_hex(),
                    row.size
                )),
                Ok((false, _)) => report.damage.push(format!(
                    "blob {} does not match its BLAKE3 name (corrupted)",
                    row.hash.to_hex()
                )),
                Err(e) => report
                    .damage
                    .push(format!("blob {} cannot be read: {e}", row.hash.to_hex())),
            }
        }
        (report, missing)
    })
    .await?;

    for row in missing {
        // Freed by a running server since the rows were read?
        let hash = row.hash;
        if meta.read(move |c| objects::blob_exists(c, &hash)).await? {
            report.damage.push(format!(
                "blob {} ({} bytes, {} references) is missing",
                row.hash.to_hex(),
                row.size,
                row.refcount
            ));
        }
    }
    for (hash, stored, counted) in meta.read(audit::refcount_mismatches).await? {
        report.damage.push(format!(
            "blob {} counts {stored} references but {counted} rows hold one",
            hash.to_hex()
        ));
    }
    for (hash, n) in meta.read(audit::dangling_refs).await? {
        report.damage.push(format!(
            "{n} rows refer to blob {} which has no row (bytes unaccounted for)",
            hash.to_hex()
        ));
    }
    Ok(report)
}
