//! The worker side: claim a recorded event, let its provider parse it and apply its effects once
//! (conditional writes: state only moves forward), mark it processed with an `outcome`.
//! Failures are recorded on the event and reported back so the queue redelivers, and
//! dead-letters after its maximum receives.

use async_trait::async_trait;
use serde_json::Value as Json;

use super::event::{Outcome, Status, WebhookEvent, attr};
use super::feed::FeedEntry;
use super::providers::{Processed, Registry};
use rampart_http::jobs::{JobError, JobHandler, JobMeta};
use rampart_http::state::AppState;
use rampart_platform::metrics::{self, Metric};
use rampart_store::{Condition, StoreError, Tx, Update, keys};

/// A claim older than this is considered abandoned: the worker's Lambda timeout is 30 s
/// (template.yaml), so no live worker holds a claim this old. Another message may take it over;
/// the claiming message's own redelivery may retake it at once (see `claimable`).
pub const CLAIM_LEASE_MS: i64 = 60_000;

/// Whether the message `message_id` may claim the event now. A redelivery of the message that
/// holds the claim retakes it at once: SQS shows a message to one consumer at a time and makes
/// it visible again only once its handler reported failure or ran past the visibility timeout
/// (180 s, six times the worker's 30 s Lambda timeout), so that handler is over. Without this, a
/// claim whose answer was lost, or whose result write failed, blocked every retry for the lease.
fn claimable(message_id: &str, now_ms: i64) -> Condition {
    let processing = || Condition::eq(attr::STATUS, Status::Processing);
    Condition::eq(attr::STATUS, Status::Received)
        .or(Condition::eq(attr::STATUS, Status::Queued))
        .or(Condition::eq(attr::STATUS, Status::Failed))
        .or(processing().and(Condition::lt(attr::CLAIMED_AT, now_ms - CLAIM_LEASE_MS)))
        .or(processing().and(Condition::eq(attr::CLAIMED_BY, message_id)))
}

/// The parts of marking an event processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    /// The event's record, while this claim still holds it.
    Event,
    /// Its entry in the app's feed and its subject's history.
    FeedEntry,
}

/// Handles `webhook.process` messages for the providers of a registry.
pub struct ProcessWebhook {
    registry: Registry,
}

impl ProcessWebhook {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }

    /// Parses and applies a claimed event with its provider; an event of a provider this
    /// deployment does not know is recorded as ignored.
    async fn apply(&self, state: &AppState, event: &WebhookEvent) -> Result<Processed, JobError> {
        match self.registry.get(&event.provider) {
            Some(p) => p.process(state, event).await,
            None => Ok(Processed {
                outcome: Outcome::Ignored,
                subject: None,
            }),
        }
    }
}

#[async_trait]
impl JobHandler for ProcessWebhook {
    async fn handle(
        &self,
        state: &AppState,
        payload: &Json,
        meta: &JobMeta,
    ) -> Result<(), JobError> {
        let provider = payload["provider"]
            .as_str()
            .ok_or_else(|| JobError::Malformed("provider".into()))?;
        let event_id = payload["event_id"]
            .as_str()
            .ok_or_else(|| JobError::Malformed("event_id".into()))?;
        rampart_http::record_event(provider, event_id);
        let (pk, sk) = keys::webhook_event(provider, event_id);
        let now_ms = state.clock.now_ms();
        let claim = Update::new()
            .set(attr::STATUS, Status::Processing)
            .set(attr::CLAIMED_AT, now_ms)
            .set(attr::CLAIMED_BY, meta.message_id.as_str())
            .add(attr::ATTEMPTS, 1);
        let condition = Condition::Exists.and(claimable(&meta.message_id, now_ms));
        let claimed = match state.store.update(&pk, &sk, claim, Some(condition)).await {
            Ok(item) => item,
            Err(StoreError::ConditionFailed { existing }) => {
                let stored = existing
                    .as_deref()
                    .and_then(|i| WebhookEvent::try_from(i).ok());
                return match stored.as_ref().map(|e| e.status) {
                    // Processed already (a duplicate message, a replay, or a result write whose
                    // answer was lost after it landed): nothing to do. Said at info, since it
                    // may be the only line that shows such an event's effect in place.
                    Some(Status::Processed) => {
                        tracing::info!(
                            outcome = stored.as_ref().and_then(|e| e.outcome).map(Outcome::as_str),
                            "webhook event already processed; nothing to do"
                        );
                        Ok(())
                    }
                    // Another message's worker holds a fresh claim: come back later.
                    Some(Status::Processing) => Err(JobError::refused(
                        "event is being processed by another worker",
                    )),
                    _ => {
                        tracing::warn!("webhook record missing or expired; nothing to process");
                        Ok(())
                    }
                };
            }
            Err(e) => return Err(JobError::dependency("claim", e)),
        };
        // Only this claim may write the result: a worker that outlived its lease must not
        // overwrite what a newer claim recorded.
        let mine = Condition::eq(attr::STATUS, Status::Processing)
            .and(Condition::eq(attr::CLAIMED_AT, now_ms))
            .and(Condition::eq(attr::CLAIMED_BY, meta.message_id.as_str()));
        let event = WebhookEvent::try_from(&claimed);
        let result = match &event {
            // Named like every other step: the effect's own writes (or the provider call, or a
            // link it waits for) failed.
            Ok(event) => self.apply(state, event).await.map_err(|e| match e {
                JobError::Failed { what, cause } => JobError::Dependency {
                    operation: "apply_effect",
                    what,
                    cause,
                },
                other => other,
            }),
            Err(e) => Err(JobError::Malformed(e.to_string())),
        };
        // One label per provider, not per source: a bounded dimension.
        let label = [("provider", provider.split(':').next().unwrap_or_default())];
        match result {
            Ok(Processed { outcome, subject }) => {
                match outcome {
                    Outcome::OwnerBlocked => metrics::count(Metric::WebhookOwnerBlocked, &label),
                    Outcome::Superseded => metrics::count(Metric::WebhookSuperseded, &label),
                    Outcome::Applied | Outcome::Ignored | Outcome::Stale => {}
                }
                let processed_at = state.clock.now_ms();
                let mut done = Update::new()
                    .set(attr::STATUS, Status::Processed)
                    .set(attr::OUTCOME, outcome.as_str())
                    .set(attr::PROCESSED_AT, processed_at)
                    .remove(attr::LAST_ERROR);
                if self
                    .registry
                    .get(provider)
                    .is_some_and(|p| !p.keeps_payload())
                {
                    // Personal data (phone numbers, texts): not kept once the effect is applied.
                    done = done.remove(attr::PAYLOAD).set(attr::PAYLOAD_REDACTED, true);
                }
                // The feed entry commits with the processed mark: an event is in the app's feed
                // exactly once, and only once its effect is in place.
                let mut tx = Tx::new().update(Done::Event, (pk, sk), done, Some(mine));
                if let Ok(e) = &event {
                    let entry = FeedEntry::of(e, subject, outcome, processed_at);
                    tx = tx.put(Done::FeedEntry, (&entry).into(), None);
                }
                match tx.commit(&*state.store).await {
                    Ok(()) => {
                        let received_at = event.as_ref().map_or(now_ms, |e| e.received_at);
                        let attempts = event.as_ref().map_or(1, |e| e.attempts);
                        tracing::info!(
                            outcome = outcome.as_str(),
                            attempts,
                            // Its lateness; not `latency_ms`, which the access line uses
                            // for a request's own duration.
                            received_to_processed_ms = processed_at - received_at,
                            "webhook event processed"
                        );
                        Ok(())
                    }
                    Err(e) if e.condition_failed() == Some(&Done::Event) => {
                        tracing::warn!("claim taken over before the result was written");
                        Ok(())
                    }
                    // The claim stays ours: this message's redelivery retakes it at once (the
                    // effect re-runs as `Applied`: forward-only writes know their own event).
                    Err(e) => Err(JobError::dependency("mark_processed", e)),
                }
            }
            Err(e) => {
                metrics::count(Metric::WebhookFailed, &label);
                // Visible on the record; after the last receive the queue dead-letters it.
                let last = meta.receive_count >= state.settings.queue_max_receives;
                let status = if last { Status::Failed } else { Status::Queued };
                let note = Update::new()
                    .set(attr::STATUS, status)
                    .set(attr::QUEUED_AT, state.clock.now_ms())
                    .set(attr::LAST_ERROR, e.to_string());
                if let Err(w) = state.store.update(&pk, &sk, note, Some(mine)).await
                    && !w.is_condition_failed()
                {
                    tracing::error!(
                        operation = "record_failure",
                        error = %w,
                        "could not record a webhook failure; the claim stays, for this message's redelivery (or the sweep) to retake"
                    );
                }
                Err(e)
            }
        }
    }
}
