//! The retention job: what the scheduled cron does each run. It queues webhook events a crash
//! left stuck (`webhooks::sweep`), and physically removes expired items where the backend has no
//! TTL of its own (the embedded store); DynamoDB's TTL does that in AWS. Lifetimes themselves
//! live in `lifetimes`.

use serde::Serialize;

use crate::state::AppState;
use crate::store::StoreError;

const SWEEP_BATCH: usize = 500;
/// Bound one run so a huge backlog cannot hold a Lambda past its timeout; the next run goes on.
const MAX_BATCHES: usize = 200;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub expired_items_removed: usize,
    /// Webhook events recorded but never queued (a crash between the put and the send), or
    /// queued but never claimed, queued (again) now.
    pub webhooks_requeued: usize,
    /// True when the run stopped at its bound with more left to do.
    pub incomplete: bool,
    /// Messages seen waiting in the dead-letter queue (where the backend can tell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_depth: Option<u64>,
}

pub async fn run(state: &AppState) -> Result<Report, StoreError> {
    let mut report = Report {
        webhooks_requeued: crate::webhooks::sweep::requeue_stuck(state, MAX_BATCHES).await?,
        ..Report::default()
    };
    match state.queue.dead_letter_depth().await {
        Ok(Some(depth)) => {
            crate::metrics::gauge(crate::metrics::Metric::DlqDepthSeen, depth as f64);
            if depth > 0 {
                tracing::warn!(depth, "messages are waiting in the dead-letter queue");
            }
            report.dead_letter_depth = Some(depth);
        }
        Ok(None) => {}
        // Reporting only: the sweep goes on.
        Err(e) => tracing::warn!(error = %e, "could not read the dead-letter queue depth"),
    }
    for _ in 0..MAX_BATCHES {
        let n = state.store.sweep_expired(SWEEP_BATCH).await?;
        report.expired_items_removed += n;
        if n < SWEEP_BATCH {
            return Ok(report);
        }
    }
    report.incomplete = true;
    Ok(report)
}
