//! The cron's recovery sweep, the safety net under the intake's own recovery (a later delivery
//! queues an event whose enqueue failed, `heal`): it queues (again) webhook events a
//! crash left `received` but never sent, events queued long ago and never claimed, and claims
//! whose worker died and whose message is gone. Newest first, within a window, each re-queue
//! guarded by a conditional mark so two cron runs send once. On the way it measures lateness:
//! the age of the oldest event not processed yet (`webhook_oldest_unprocessed_secs`).

use super::event::{Status, WebhookEvent, attr};
use super::heal::OVERDUE_MS;
use super::intake::job;
use rampart_http::state::AppState;
use rampart_platform::metrics::{self, Metric};
use rampart_store::{Condition, Item, Query, StoreError, Update, keys};

/// Longer than the queue's whole retry cycle (5 receives x 180 s visibility): until then a
/// `queued` event's or an expired claim's own message may still come back.
pub const STUCK_QUEUED_MS: i64 = 30 * 60_000;
/// How far back the sweep looks.
pub const SWEEP_WINDOW_MS: i64 = 7 * 86_400_000;
const PAGE: usize = 200;

/// What makes a record stuck, as the condition that it is still exactly as read.
fn stuck(e: &WebhookEvent, now: i64) -> Option<Condition> {
    let status = Condition::eq(attr::STATUS, e.status);
    let unsent = || {
        status
            .clone()
            .and(Condition::AttrNotExists(attr::QUEUED_AT.into()))
    };
    match e.status {
        // The intake's send failed and it said so: no message exists, no need to wait.
        Status::Received if e.enqueue_failed_at.is_some() => Some(unsent()),
        // Recorded and never sent (intake died between its put and its send). Younger
        // records are left alone: their message is most likely on its way or in the queue.
        Status::Received if now - e.received_at > OVERDUE_MS => Some(unsent()),
        // Queued long ago and never claimed: its message was lost or dead-lettered before any
        // worker saw it.
        Status::Queued => {
            let queued_at = e.queued_at.unwrap_or(e.received_at);
            (now - queued_at > STUCK_QUEUED_MS)
                .then(|| status.and(Condition::eq(attr::QUEUED_AT, queued_at)))
        }
        // Claimed by a worker that died after its lease, and whose message is gone (its
        // redelivery would have retaken the claim by now).
        Status::Processing => {
            let claimed_at = e.claimed_at.unwrap_or(e.received_at);
            (now - claimed_at > STUCK_QUEUED_MS)
                .then(|| status.and(Condition::eq(attr::CLAIMED_AT, claimed_at)))
        }
        _ => None,
    }
}

/// Not processed yet, and not given up on: `failed` events wait in the dead-letter queue for
/// an operator (their own alarm), `processed` ones are done.
fn waiting(e: &WebhookEvent) -> bool {
    matches!(
        e.status,
        Status::Received | Status::Queued | Status::Processing
    )
}

/// Queues stuck events; returns how many were sent. Bounded by `max_pages` index pages. Records
/// the age of the oldest event it saw waiting (0 when none) as a gauge.
pub async fn requeue_stuck(state: &AppState, max_pages: usize) -> Result<usize, StoreError> {
    let now = state.clock.now_ms();
    let mut cursor = None;
    let mut n = 0;
    let mut oldest: Option<i64> = None;
    'pages: for _ in 0..max_pages {
        let query = Query::index(keys::WEBHOOK_EVENTS_INDEX)
            .descending()
            .limit(PAGE)
            .cursor(cursor);
        let page = state.store.query(query).await?;
        for item in &page.items {
            let event = match WebhookEvent::try_from(item) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping an unreadable webhook record");
                    continue;
                }
            };
            if now - event.received_at > SWEEP_WINDOW_MS {
                break 'pages;
            }
            if waiting(&event) {
                // Newest first: the last one seen is the oldest.
                oldest = Some(event.received_at);
            }
            if requeue(state, item, &event, now).await? {
                n += 1;
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let age_secs = oldest.map_or(0, |t| (now - t).max(0) / 1000);
    metrics::gauge(Metric::WebhookOldestUnprocessedSecs, age_secs as f64);
    tracing::info!(
        requeued = n,
        oldest_unprocessed_secs = age_secs,
        "webhook sweep finished"
    );
    Ok(n)
}

async fn requeue(
    state: &AppState,
    item: &Item,
    event: &WebhookEvent,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(still) = stuck(event, now) else {
        return Ok(false);
    };
    let (provider, event_id) = (event.provider.as_str(), event.event_id.as_str());
    // Mark first, conditionally: of two cron runs only one sends, and the next sweep sees a
    // fresh `queued_at`. A second message is harmless anyway: the claim dedupes.
    let mark = Update::new()
        .set(attr::STATUS, Status::Queued)
        .set(attr::QUEUED_AT, now);
    match state
        .store
        .update(&item.pk, &item.sk, mark, Some(still))
        .await
    {
        Ok(_) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(false),
        Err(e) => return Err(e),
    }
    match state.queue.send(job(provider, event_id)).await {
        Ok(_) => {
            tracing::info!(
                provider,
                event_id,
                was = event.status.as_str(),
                waited_secs = (now - event.received_at) / 1000,
                "webhook event queued again by the sweep"
            );
            Ok(true)
        }
        Err(e) => {
            // Marked `queued` at `now`: the sweep after `STUCK_QUEUED_MS` tries again.
            tracing::warn!(
                provider,
                event_id,
                operation = "enqueue",
                error = %e,
                "the sweep could not queue a webhook event"
            );
            Ok(false)
        }
    }
}
