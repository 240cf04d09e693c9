//! How a delivery of an event already recorded heals it: the failed conditional put hands back
//! the stored record, and an event known not queued (its intake's send failed and said so) or
//! overdue (its message lost) is queued again before the delivery is answered 200. A plain
//! duplicate stays one AWS call. The mark that says "not queued" is written here too, on the
//! intake's failure path only.

use super::event::{Status, WebhookEvent, attr};
use rampart_http::state::AppState;
use rampart_store::{Condition, StoreError, Update};

/// How long a queued event may go unclaimed before its message counts as lost. The JobsQueue's
/// visibility timeout (180 s in template.yaml: six times the worker's 30 s Lambda timeout, as
/// the AWS Lambda guide advises for SQS event sources) bounds how long a sent message stays out
/// of a worker's reach: the poller receives it within seconds (long polling, a 1 s batching
/// window), and if that receive died before its claim, SQS shows the message again once the
/// timeout passes. A minute more covers that poll and the claim. Past this, a record still
/// `received` (a crash between put and send leaves no mark), `queued` for a retry, or claimed by
/// a worker that vanished, has no message that will reach a worker: a delivery (or the sweep)
/// queues it again. Too early costs one needless message, which the claim makes harmless.
pub const OVERDUE_MS: i64 = 240_000;
/// Attempts at the not-queued mark: it is what lets the provider's next delivery queue the
/// event within seconds instead of the sweep, and it is written only on the failure path.
const MARK_ATTEMPTS: usize = 3;

/// Why a later delivery queues a recorded event again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heal {
    /// An earlier delivery's send failed (or its put's answer was lost) and it said so on the
    /// record.
    NotQueued,
    /// Not processed `OVERDUE_MS` after it was queued (or claimed): its message is lost.
    Overdue,
}

impl Heal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotQueued => "not_queued",
            Self::Overdue => "overdue",
        }
    }
}

/// Whether a delivery that found `stored` (the failed conditional put's answer, so no extra
/// read) must queue it again, and why. `None` for a plain duplicate: processed, failed (the
/// dead-letter queue holds it for an operator), or queued recently enough to be on its way.
pub fn heal(stored: &WebhookEvent, now_ms: i64) -> Option<Heal> {
    let overdue = |since: i64| now_ms - since > OVERDUE_MS;
    match stored.status {
        Status::Received if stored.enqueue_failed_at.is_some() => Some(Heal::NotQueued),
        // The intake sends right after its put: the message, if any, left at `received_at`.
        Status::Received if overdue(stored.received_at) => Some(Heal::Overdue),
        Status::Queued if overdue(stored.queued_at.unwrap_or(stored.received_at)) => {
            Some(Heal::Overdue)
        }
        Status::Processing if overdue(stored.claimed_at.unwrap_or(stored.received_at)) => {
            Some(Heal::Overdue)
        }
        _ => None,
    }
}

/// Marks this delivery's own record (same `received_at`, not claimed yet) as not queued, so the
/// provider's retry queues it at once (`Heal::NotQueued`). Only on the failure path, so it may
/// try a few times; if every try fails, the record is queued once overdue.
pub(crate) async fn mark_not_queued(state: &AppState, event: &WebhookEvent) {
    let (pk, sk) = event.key();
    let mine = Condition::Exists
        .and(Condition::eq(attr::STATUS, Status::Received))
        .and(Condition::eq(attr::RECEIVED_AT, event.received_at));
    let mut last = None;
    for _ in 0..MARK_ATTEMPTS {
        let mark = Update::new()
            .set(attr::ENQUEUE_FAILED_AT, state.clock.now_ms())
            .set(attr::LAST_ERROR, "not queued: the enqueue failed");
        match state.store.update(&pk, &sk, mark, Some(mine.clone())).await {
            // Marked; or nothing of ours to mark (the put never landed, a worker claimed it).
            Ok(_) | Err(StoreError::ConditionFailed { .. }) => return,
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        tracing::warn!(
            operation = "mark_not_queued",
            error = %e,
            "webhook event left unmarked; it is queued once overdue"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000;

    fn stored(status: Status) -> WebhookEvent {
        let mut e = WebhookEvent::received(
            "stripe".into(),
            "evt_1".into(),
            "invoice.paid".into(),
            None,
            b"{}".to_vec(),
            T0,
        );
        e.status = status;
        e
    }

    #[test]
    fn a_record_marked_not_queued_is_queued_by_the_next_delivery_at_once() {
        let mut e = stored(Status::Received);
        e.enqueue_failed_at = Some(T0);
        assert_eq!(heal(&e, T0 + 50), Some(Heal::NotQueued));
    }

    #[test]
    fn an_unmarked_received_record_waits_until_overdue() {
        let e = stored(Status::Received);
        assert_eq!(heal(&e, T0 + 1_000), None, "its message may be on its way");
        assert_eq!(heal(&e, T0 + OVERDUE_MS), None);
        assert_eq!(heal(&e, T0 + OVERDUE_MS + 1), Some(Heal::Overdue));
    }

    #[test]
    fn a_retry_or_a_claim_counts_from_when_it_was_queued_or_claimed() {
        let mut queued = stored(Status::Queued);
        queued.queued_at = Some(T0 + 600_000);
        assert_eq!(heal(&queued, T0 + 600_000 + OVERDUE_MS), None);
        assert_eq!(
            heal(&queued, T0 + 600_001 + OVERDUE_MS),
            Some(Heal::Overdue)
        );
        let mut claimed = stored(Status::Processing);
        claimed.claimed_at = Some(T0 + 600_000);
        assert_eq!(heal(&claimed, T0 + 600_000 + OVERDUE_MS), None);
        assert_eq!(
            heal(&claimed, T0 + 600_001 + OVERDUE_MS),
            Some(Heal::Overdue)
        );
    }

    #[test]
    fn processed_and_failed_events_are_plain_duplicates_however_old() {
        let later = T0 + 86_400_000;
        assert_eq!(heal(&stored(Status::Processed), later), None);
        assert_eq!(
            heal(&stored(Status::Failed), later),
            None,
            "dead-lettered: an operator's call"
        );
    }
}
