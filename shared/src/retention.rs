//! The retention job: what the scheduled cron does each run. Today it physically removes
//! expired items where the backend has no TTL of its own (the embedded store); DynamoDB's TTL
//! does that in AWS.

use serde::Serialize;

use crate::state::AppState;
use crate::store::StoreError;

const SWEEP_BATCH: usize = 500;
/// Bound one run so a huge backlog cannot hold a Lambda past its timeout; the next run goes on.
const MAX_BATCHES: usize = 200;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub expired_items_removed: usize,
    /// Webhook events recorded but never queued (a crash between the two writes), or queued
    /// but never claimed, queued (again) now.
    pub webhooks_requeued: usize,
    /// True when the run stopped at its bound with more left to do.
    pub incomplete: bool,
}

/// Events younger than this may still be on their way to the queue.
const UNQUEUED_GRACE_MS: i64 = 60_000;
/// Longer than the queue's whole retry cycle (5 receives x 180 s visibility).
const STUCK_QUEUED_MS: i64 = 30 * 60_000;
/// How far back the sweep looks for unqueued events.
const SWEEP_WINDOW_MS: i64 = 7 * 86_400_000;

/// Queues webhook events a crash left recorded but unqueued, newest first, within the window.
async fn requeue_unqueued(state: &AppState) -> Result<usize, StoreError> {
    use crate::store::{Query, keys};
    let now = state.clock.now_ms();
    let mut cursor = None;
    let mut n = 0;
    for _ in 0..MAX_BATCHES {
        let page = state
            .store
            .query(
                Query::index(keys::WEBHOOK_EVENTS_INDEX)
                    .descending()
                    .limit(200)
                    .cursor(cursor),
            )
            .await?;
        for item in &page.items {
            let at = item.n("received_at").unwrap_or(now);
            if now - at > SWEEP_WINDOW_MS {
                return Ok(n);
            }
            let queued_at = item.n("queued_at").unwrap_or(at);
            let stuck = match item.s("status") {
                Some("received") => now - at > UNQUEUED_GRACE_MS,
                // Queued long ago and never claimed: its message was lost or dead-lettered
                // before any worker saw it. A second message is safe: the claim dedupes.
                Some("queued") => now - queued_at > STUCK_QUEUED_MS,
                _ => false,
            };
            if stuck {
                let (provider, id) = (
                    item.s("provider").unwrap_or_default(),
                    item.s("event_id").unwrap_or_default(),
                );
                match crate::webhooks::intake::enqueue(state, provider, id).await {
                    Ok(()) => n += 1,
                    Err(e) => tracing::warn!(error = %e, "could not requeue a webhook event"),
                }
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(n)
}

pub async fn run(state: &AppState) -> Result<Report, StoreError> {
    let mut report = Report {
        webhooks_requeued: requeue_unqueued(state).await?,
        ..Report::default()
    };
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
