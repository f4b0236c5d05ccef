//! Runs one operation function from N workers: for a count or a duration,
//! as fast as answers come (closed loop) or at a fixed rate (open loop).
//!
//! At a fixed rate, operation `i` is due at `start + i / rate` and its
//! latency is measured from that due time, not from when a worker got to
//! send it: a server that stalls makes the queued operations' latencies
//! grow, instead of hiding the stall (coordinated omission).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_shared::progress::Progress;
use tokio::time::Instant;

use crate::stats::{Outcome, Stats};

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub concurrency: usize,
    pub ops: Option<u64>,
    pub duration: Option<Duration>,
    /// Operations per second in total (open loop); `None` for closed loop.
    pub rate: Option<f64>,
    pub progress: bool,
}

/// Runs `op(i)` for i = 0, 1, … and returns what was measured and how long
/// it took.
pub async fn run<F, Fut>(label: &str, plan: Plan, op: F) -> (Stats, f64)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = plan.duration.map(|d| start + d);
    let mut workers = Vec::new();
    for _ in 0..plan.concurrency.max(1) {
        let (op, next, done, failed) = (op.clone(), next.clone(), done.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if plan.ops.is_some_and(|n| i >= n) {
                    break;
                }
                let due = match plan.rate {
                    Some(r) => {
                        let due = start + Duration::from_secs_f64(i as f64 / r);
                        tokio::time::sleep_until(due).await;
                        due
                    }
                    None => Instant::now(),
                };
                if deadline.is_some_and(|d| due >= d) {
                    break;
                }
                let outcome = op(i).await;
                if outcome.error.is_some() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                stats.record(outcome, due.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            stats
        }));
    }
    let ticker = plan.progress.then(|| {
        let (done, failed) = (done.clone(), failed.clone());
        let label = label.to_owned();
        tokio::spawn(async move {
            let mut p = Progress::new(&label);
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let d = done.load(Ordering::Relaxed);
                p.line(&format!(
                    "{label}: {d} ops, {} ops/s now, {} errors, {:.0}s",
                    d - last,
                    failed.load(Ordering::Relaxed),
                    start.elapsed().as_secs_f64()
                ));
                last = d;
            }
        })
    });
    let mut total = Stats::default();
    for w in workers {
        if let Ok(s) = w.await {
            total.merge(s);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if let Some(t) = ticker {
        t.abort();
        cairn_shared::progress::end_line();
    }
    (total, secs)
}
