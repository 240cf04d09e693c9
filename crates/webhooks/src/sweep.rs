//! The cron's recovery sweep: queue (again) webhook events a crash left `received` but never
//! sent, events queued long ago and never claimed, and claims whose worker died. Newest first,
//! within a window, each re-queue guarded by a conditional mark so two cron runs send once.

use super::event::{Status, WebhookEvent, attr};
use super::intake::{UNQUEUED_GRACE_MS, job};
use rampart_http::state::AppState;
use rampart_store::{Condition, Item, Query, StoreError, Update, keys};

/// Longer than the queue's whole retry cycle (5 receives x 180 s visibility).
pub const STUCK_QUEUED_MS: i64 = 30 * 60_000;
/// How far back the sweep looks.
pub const SWEEP_WINDOW_MS: i64 = 7 * 86_400_000;
const PAGE: usize = 200;

/// What makes a record stuck, as the condition that it is still exactly as read.
fn stuck(e: &WebhookEvent, now: i64) -> Option<Condition> {
    let status = Condition::eq(attr::STATUS, e.status);
    match e.status {
        // Recorded and never sent (intake died between its put and its send). Younger
        // records are left alone: their message is most likely on its way or in the queue.
        Status::Received if now - e.received_at > UNQUEUED_GRACE_MS => {
            Some(status.and(Condition::AttrNotExists(attr::QUEUED_AT.into())))
        }
        // Queued long ago and never claimed: its message was lost or dead-lettered before any
        // worker saw it.
        Status::Queued => {
            let queued_at = e.queued_at.unwrap_or(e.received_at);
            (now - queued_at > STUCK_QUEUED_MS)
                .then(|| status.and(Condition::eq(attr::QUEUED_AT, queued_at)))
        }
        // Claimed by a worker that died after its lease (and whose message is gone).
        Status::Processing => {
            let claimed_at = e.claimed_at.unwrap_or(e.received_at);
            (now - claimed_at > STUCK_QUEUED_MS)
                .then(|| status.and(Condition::eq(attr::CLAIMED_AT, claimed_at)))
        }
        _ => None,
    }
}

/// Queues stuck events; returns how many were sent. Bounded by `max_pages` index pages.
pub async fn requeue_stuck(state: &AppState, max_pages: usize) -> Result<usize, StoreError> {
    let now = state.clock.now_ms();
    let mut cursor = None;
    let mut n = 0;
    for _ in 0..max_pages {
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
                return Ok(n);
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
    match state
        .queue
        .send(job(&event.provider, &event.event_id))
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            tracing::warn!(error = %e, "could not requeue a webhook event");
            Ok(false)
        }
    }
}
