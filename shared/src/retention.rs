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
    use crate::store::{Condition, Query, Update, keys};
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
            let claimed_at = item.n("claimed_at").unwrap_or(at);
            // (what makes it stuck, the condition that it is still exactly as read)
            let stuck = match item.s("status") {
                Some("received") if now - at > UNQUEUED_GRACE_MS => Some(
                    Condition::eq("status", "received")
                        .and(Condition::AttrNotExists("queued_at".into())),
                ),
                // Queued long ago and never claimed: its message was lost or dead-lettered
                // before any worker saw it.
                Some("queued") if now - queued_at > STUCK_QUEUED_MS => Some(
                    Condition::eq("status", "queued").and(Condition::eq("queued_at", queued_at)),
                ),
                // Claimed by a worker that died after its lease (and whose message is gone).
                Some("processing") if now - claimed_at > STUCK_QUEUED_MS => Some(
                    Condition::eq("status", "processing")
                        .and(Condition::eq("claimed_at", claimed_at)),
                ),
                _ => None,
            };
            let Some(still) = stuck else { continue };
            let (provider, id) = (
                item.s("provider").unwrap_or_default(),
                item.s("event_id").unwrap_or_default(),
            );
            // Mark first, conditionally: of two cron runs only one sends, and the next sweep
            // sees a fresh `queued_at`. A second message is harmless anyway: the claim dedupes.
            let mark = Update::new().set("status", "queued").set("queued_at", now);
            match state
                .store
                .update(&item.pk, &item.sk, mark, Some(still))
                .await
            {
                Ok(_) => {}
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e),
            }
            match state
                .queue
                .send(crate::webhooks::intake::job(provider, id))
                .await
            {
                Ok(_) => n += 1,
                Err(e) => tracing::warn!(error = %e, "could not requeue a webhook event"),
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
