//! Long operations (`gc`, `check`) run by the admin API as jobs: started,
//! then polled for progress and result. The last [`KEPT`] jobs are kept.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// Finished jobs kept for polling; older ones are forgotten.
const KEPT: usize = 100;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Reclaim blob files no row references.
    Gc,
    /// Verify every blob and reference count.
    Check,
}

/// A job as polled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobInfo {
    pub id: u64,
    pub kind: JobKind,
    /// `running`, `done` or `failed`.
    pub state: String,
    pub done: u64,
    pub total: u64,
    /// What `done` and `total` count (`blobs`, `bytes`).
    pub unit: String,
    /// The outcome, once done: what `gc` freed, what `check` found.
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    jobs: Mutex<BTreeMap<u64, JobInfo>>,
}

impl Jobs {
    pub fn get(&self, id: u64) -> Option<JobInfo> {
        self.jobs.lock().ok()?.get(&id).cloned()
    }

    pub fn list(&self) -> Vec<JobInfo> {
        self.jobs
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut JobInfo)) {
        if let Ok(mut m) = self.jobs.lock() {
            if let Some(j) = m.get_mut(&id) {
                f(j);
            }
        }
    }

    /// Starts a job on the server's state; returns it as first polled.
    pub fn start(self: &Arc<Self>, state: &AppState, kind: JobKind) -> JobInfo {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let info = JobInfo {
            id,
            kind,
            state: "running".into(),
            done: 0,
            total: 0,
            unit: match kind {
                JobKind::Gc => "blobs",
                JobKind::Check => "bytes",
            }
            .into(),
            result: None,
            error: None,
        };
        if let Ok(mut m) = self.jobs.lock() {
            while m.len() >= KEPT {
                let Some(oldest) = m.keys().next().copied() else {
                    break;
                };
                m.remove(&oldest);
            }
            m.insert(id, info.clone());
        }
        let (jobs, state) = (self.clone(), state.clone());
        tokio::spawn(async move {
            let progress = {
                let jobs = jobs.clone();
                move |done, total| {
                    jobs.update(id, |j| {
                        j.done = done;
                        j.total = total;
                    })
                }
            };
            let outcome = match kind {
                JobKind::Gc => crate::store::gc::collect(&state.meta, &state.blobs, progress)
                    .await
                    .map(|f| {
                        serde_json::json!({"scanned": f.scanned, "freed_blobs": f.blobs, "freed_bytes": f.bytes})
                    }),
                JobKind::Check => crate::store::check::run(&state.meta, &state.blobs, progress)
                    .await
                    .map(|r| {
                        serde_json::json!({
                            "blobs_checked": r.blobs_checked,
                            "bytes_checked": r.bytes_checked,
                            "damage": r.damage,
                            "unreferenced": r.unreferenced,
                        })
                    }),
            };
            jobs.update(id, |j| match outcome {
                Ok(v) => {
                    j.state = "done".into();
                    j.result = Some(v);
                }
                Err(e) => {
                    j.state = "failed".into();
                    j.error = Some(format!("{e:#}"));
                }
            });
        });
        info
    }
}
