//! The received-event record (`webhook_event`): one per provider + event id, its status and
//! outcome, and its one mapping to and from the store item. Every other webhook module names
//! these attributes through `attr` and the `Status`/`Outcome` enums, never as literals.

use rampart_store::record::{TYPE, malformed};
use rampart_store::{EXPIRES_AT, GSI1PK, GSI1SK, Item, Record, StoreError, Value, keys};

/// Attribute names of a `webhook_event` item.
pub mod attr {
    pub const PROVIDER: &str = "provider";
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    /// The event's own time (epoch seconds): as the provider states it, or for Twilio the first
    /// delivery of its message SID.
    pub const OCCURRED_AT: &str = "occurred_at";
    pub const STATUS: &str = "status";
    pub const ATTEMPTS: &str = "attempts";
    pub const PAYLOAD: &str = "payload";
    pub const PAYLOAD_REDACTED: &str = "payload_redacted";
    pub const RECEIVED_AT: &str = "received_at";
    pub const QUEUED_AT: &str = "queued_at";
    /// Set by the intake when its send failed (or its put's answer was lost): the event is
    /// known not to be queued, so the provider's next delivery queues it without waiting.
    pub const ENQUEUE_FAILED_AT: &str = "enqueue_failed_at";
    pub const CLAIMED_AT: &str = "claimed_at";
    /// The queue message whose worker holds the claim: that message's redelivery may take the
    /// claim back at once (its earlier handling is over), any other waits for the lease.
    pub const CLAIMED_BY: &str = "claimed_by";
    pub const PROCESSED_AT: &str = "processed_at";
    pub const OUTCOME: &str = "outcome";
    pub const LAST_ERROR: &str = "last_error";
    /// Why an event was `ignored` when that is worth an operator's reading (a Stripe customer
    /// linked to no user), written by the provider that decided it.
    pub const OUTCOME_REASON: &str = "outcome_reason";
}

/// Where an event is in its life. `Received` is also "queued": the intake writes no mark after
/// its send (it would cost a write per event). A failed send marks the record
/// (`enqueue_failed_at`); a crash between put and send leaves no mark, and age tells it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Received,
    /// Queued (again) by the sweep, a replay or a failed attempt awaiting its retry.
    Queued,
    Processing,
    Processed,
    /// The last attempt the queue allows failed; the message is dead-lettered.
    Failed,
}

impl Status {
    /// Every status, in the order an event moves through them.
    pub const ALL: [Status; 5] = [
        Self::Received,
        Self::Queued,
        Self::Processing,
        Self::Processed,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl From<Status> for Value {
    fn from(s: Status) -> Self {
        Value::S(s.as_str().into())
    }
}

/// What processing an event did (the typed interface every domain's effect answers with).
pub use rampart_events::Outcome;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The provider's name, with its source for multi-source providers (`standard:acme`).
    pub provider: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub occurred_at: Option<i64>,
    pub status: Status,
    pub attempts: i64,
    /// The exact bytes received; dropped after processing for providers carrying personal data.
    pub payload: Option<Vec<u8>>,
    pub payload_redacted: bool,
    pub received_at: i64,
    pub queued_at: Option<i64>,
    pub enqueue_failed_at: Option<i64>,
    pub claimed_at: Option<i64>,
    pub claimed_by: Option<String>,
    pub processed_at: Option<i64>,
    pub outcome: Option<Outcome>,
    pub last_error: Option<String>,
    pub outcome_reason: Option<String>,
}

impl WebhookEvent {
    /// A delivery just verified, before anything happened to it.
    pub fn received(
        provider: String,
        event_id: String,
        event_type: String,
        occurred_at: Option<i64>,
        payload: Vec<u8>,
        now_ms: i64,
    ) -> Self {
        Self {
            provider,
            event_id,
            event_type: Some(event_type),
            occurred_at,
            status: Status::Received,
            attempts: 0,
            payload: Some(payload),
            payload_redacted: false,
            received_at: now_ms,
            queued_at: None,
            enqueue_failed_at: None,
            claimed_at: None,
            claimed_by: None,
            processed_at: None,
            outcome: None,
            last_error: None,
            outcome_reason: None,
        }
    }

    pub fn key(&self) -> keys::Key {
        keys::webhook_event(&self.provider, &self.event_id)
    }

    /// The payload bytes (empty once redacted).
    pub fn payload(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or_default()
    }
}

impl Record for WebhookEvent {
    const KIND: &'static str = "webhook_event";
}

impl TryFrom<&Item> for WebhookEvent {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        let status = i.req_s(kind, attr::STATUS)?;
        Ok(Self {
            provider: i.req_s(kind, attr::PROVIDER)?.into(),
            event_id: i.req_s(kind, attr::EVENT_ID)?.into(),
            event_type: i.opt_s(attr::EVENT_TYPE),
            occurred_at: i.n(attr::OCCURRED_AT),
            status: Status::parse(status).ok_or_else(|| malformed(kind, attr::STATUS))?,
            attempts: i.n(attr::ATTEMPTS).unwrap_or(0),
            payload: i.b(attr::PAYLOAD).map(<[u8]>::to_vec),
            payload_redacted: i.bool(attr::PAYLOAD_REDACTED).unwrap_or(false),
            received_at: i.req_n(kind, attr::RECEIVED_AT)?,
            queued_at: i.n(attr::QUEUED_AT),
            enqueue_failed_at: i.n(attr::ENQUEUE_FAILED_AT),
            claimed_at: i.n(attr::CLAIMED_AT),
            claimed_by: i.opt_s(attr::CLAIMED_BY),
            processed_at: i.n(attr::PROCESSED_AT),
            outcome: i.s(attr::OUTCOME).and_then(Outcome::parse),
            last_error: i.opt_s(attr::LAST_ERROR),
            outcome_reason: i.opt_s(attr::OUTCOME_REASON),
        })
    }
}

impl From<&WebhookEvent> for Item {
    fn from(e: &WebhookEvent) -> Item {
        let (pk, sk) = e.key();
        Item::new(pk, sk)
            .with(TYPE, WebhookEvent::KIND)
            .with(attr::PROVIDER, e.provider.as_str())
            .with(attr::EVENT_ID, e.event_id.as_str())
            .with_opt(attr::EVENT_TYPE, e.event_type.as_deref())
            .with_opt(attr::OCCURRED_AT, e.occurred_at)
            .with(attr::STATUS, e.status)
            .with(attr::ATTEMPTS, e.attempts)
            .with_opt(attr::PAYLOAD, e.payload.clone())
            .with_opt(attr::PAYLOAD_REDACTED, e.payload_redacted.then_some(true))
            .with(attr::RECEIVED_AT, e.received_at)
            .with_opt(attr::QUEUED_AT, e.queued_at)
            .with_opt(attr::ENQUEUE_FAILED_AT, e.enqueue_failed_at)
            .with_opt(attr::CLAIMED_AT, e.claimed_at)
            .with_opt(attr::CLAIMED_BY, e.claimed_by.as_deref())
            .with_opt(attr::PROCESSED_AT, e.processed_at)
            .with_opt(attr::OUTCOME, e.outcome.map(Outcome::as_str))
            .with_opt(attr::LAST_ERROR, e.last_error.as_deref())
            .with_opt(attr::OUTCOME_REASON, e.outcome_reason.as_deref())
            // Listed newest first on the time index.
            .with(GSI1PK, keys::WEBHOOK_EVENTS_INDEX)
            .with(
                GSI1SK,
                keys::webhook_event_time(e.received_at, &e.provider, &e.event_id),
            )
            .with(
                EXPIRES_AT,
                e.received_at / 1000 + rampart_platform::lifetimes::WEBHOOK_EVENT_SECS,
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_through_its_item() {
        let mut e = WebhookEvent::received(
            "stripe".into(),
            "evt_1".into(),
            "invoice.paid".into(),
            Some(1_767_225_600),
            b"{}".to_vec(),
            1_767_225_600_123,
        );
        e.outcome = Some(Outcome::OwnerBlocked);
        e.status = Status::Processed;
        e.enqueue_failed_at = Some(1_767_225_600_200);
        e.claimed_at = Some(1_767_225_600_300);
        e.claimed_by = Some("msg-1".into());
        let item = Item::from(&e);
        assert_eq!(item.s(attr::STATUS), Some("processed"));
        assert_eq!(WebhookEvent::try_from(&item).unwrap(), e);
    }

    #[test]
    fn an_unknown_status_is_a_malformed_record() {
        let item = Item::new("p", "s")
            .with(attr::PROVIDER, "stripe")
            .with(attr::EVENT_ID, "e")
            .with(attr::RECEIVED_AT, 0)
            .with(attr::STATUS, "lost");
        assert!(WebhookEvent::try_from(&item).is_err());
    }
}
