//! The provider state webhooks records itself: forward-only status records (a provider's own
//! payment, an envelope, an SMS only ever move forward; an older event never overwrites newer
//! state). What an event means to another domain is handed to it as a typed event instead.

use super::event::{self, Outcome, WebhookEvent};
use super::providers::Subject;
use rampart_events::payments::{PaymentEvent, PaymentEvents};
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;
use rampart_store::record::{TYPE, malformed};
use rampart_store::{Condition, EXPIRES_AT, GSI1PK, GSI1SK, Item, Key, StoreError, Update, keys};

/// Attribute names of a forward-only status record.
pub mod attr {
    pub const STATUS: &str = "status";
    /// Position on the status ladder: a write with a lower or equal rank is superseded.
    pub const RANK: &str = "rank";
    pub const UPDATED_AT: &str = "updated_at";
    /// The event (`provider#event id`) that set the current status.
    pub const SET_BY: &str = "set_by";
    /// A provider payment's: the order of ours it paid, and our payment attempt.
    pub const ORDER_ID: &str = "order_id";
    pub const PAYMENT_ID: &str = "payment_id";
}

/// What a forward-only status record tracks (its stored `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracked {
    ProviderPayment,
    Envelope,
    SmsMessage,
}

impl Tracked {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProviderPayment => "provider_payment",
            Self::Envelope => "envelope",
            Self::SmsMessage => "sms_message",
        }
    }
}

/// A forward-only status record. Written only by `forward_only`; read by operators and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    pub key: Key,
    pub tracked: Tracked,
    pub status: String,
    pub rank: i64,
    pub updated_at: i64,
    pub set_by: Option<String>,
    /// A provider payment's order of ours, once known.
    pub order_id: Option<String>,
    pub payment_id: Option<String>,
}

impl StatusRecord {
    /// The provider and the subject (`feed::history`) the record tracks, read from its key
    /// (`envelope#<id>`, `sms#<sid>`, `payment#<provider>#<id>`).
    pub fn subject(&self) -> Option<(String, Subject)> {
        let pk = self.key.0.as_str();
        match self.tracked {
            Tracked::Envelope => {
                let id = pk.strip_prefix(&keys::envelope_status("").0)?;
                Some(("docusign".into(), Subject::new("envelope", id)))
            }
            Tracked::SmsMessage => {
                let sid = pk.strip_prefix(&keys::sms_status("").0)?;
                Some(("twilio".into(), Subject::new("message", sid)))
            }
            Tracked::ProviderPayment => {
                let rest = pk.strip_prefix(keys::PROVIDER_PAYMENT_PREFIX)?;
                let (provider, id) = rest.split_once('#')?;
                // Stripe names its objects by type; a payment there is a PaymentIntent.
                let kind = if provider == "stripe" {
                    "payment_intent"
                } else {
                    "payment"
                };
                Some((provider.into(), Subject::new(kind, id)))
            }
        }
    }
}

impl TryFrom<&Item> for StatusRecord {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        let kind = "status record";
        let tracked = [
            Tracked::ProviderPayment,
            Tracked::Envelope,
            Tracked::SmsMessage,
        ]
        .into_iter()
        .find(|t| i.s(TYPE) == Some(t.as_str()))
        .ok_or_else(|| malformed(kind, TYPE))?;
        Ok(Self {
            key: (i.pk.clone(), i.sk.clone()),
            tracked,
            status: i.req_s(kind, attr::STATUS)?.into(),
            rank: i.req_n(kind, attr::RANK)?,
            updated_at: i.req_n(kind, attr::UPDATED_AT)?,
            set_by: i.opt_s(attr::SET_BY),
            order_id: i.opt_s(attr::ORDER_ID),
            payment_id: i.opt_s(attr::PAYMENT_ID),
        })
    }
}

impl From<&StatusRecord> for Item {
    fn from(r: &StatusRecord) -> Item {
        Item::new(&r.key.0, &r.key.1)
            .with(TYPE, r.tracked.as_str())
            .with(attr::STATUS, r.status.as_str())
            .with(attr::RANK, r.rank)
            .with(attr::UPDATED_AT, r.updated_at)
            .with_opt(attr::SET_BY, r.set_by.as_deref())
            .with_opt(attr::ORDER_ID, r.order_id.as_deref())
            .with_opt(attr::PAYMENT_ID, r.payment_id.as_deref())
    }
}

/// Moves a status record forward only: a write with a lower or equal rank is `Superseded`,
/// unless the record already holds this very event's status. That is a re-run of an event
/// whose effect landed but whose result was never recorded (a lost answer, a worker killed
/// before it marked the event processed): its effect is in place, once, so it is `Applied`.
pub async fn forward_only(
    state: &AppState,
    key: Key,
    tracked: Tracked,
    status: &str,
    rank: i64,
    event: &WebhookEvent,
) -> Result<Outcome, JobError> {
    let step = (tracked, status, rank);
    forward_only_with(state, key, step, event, Update::new()).await
}

/// `forward_only` writing `extra` too, in the same conditional update.
async fn forward_only_with(
    state: &AppState,
    (pk, sk): Key,
    (tracked, status, rank): (Tracked, &str, i64),
    event: &WebhookEvent,
    extra: Update,
) -> Result<Outcome, JobError> {
    let by = format!("{}#{}", event.provider, event.event_id);
    let now_ms = state.clock.now_ms();
    let update = extra
        .set(attr::SET_BY, by.as_str())
        .set(TYPE, tracked.as_str())
        .set(attr::STATUS, status)
        .set(attr::RANK, rank)
        .set(attr::UPDATED_AT, now_ms)
        // Listed per kind, most recently moved first (`provider_state`).
        .set(GSI1PK, keys::provider_state_index(tracked.as_str()))
        .set(GSI1SK, keys::provider_state_time(now_ms, &pk))
        .set(
            EXPIRES_AT,
            state.clock.now_secs() + rampart_platform::lifetimes::WEBHOOK_EVENT_SECS,
        );
    let cond = Condition::AttrNotExists(attr::RANK.into()).or(Condition::lt(attr::RANK, rank));
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(_) => Ok(Outcome::Applied),
        Err(StoreError::ConditionFailed { existing }) => {
            let mine = existing
                .as_deref()
                .and_then(|i| StatusRecord::try_from(i).ok())
                .is_some_and(|r| r.set_by.as_deref() == Some(by.as_str()) && r.status == status);
            Ok(if mine {
                Outcome::Applied
            } else {
                Outcome::Superseded
            })
        }
        Err(e) => Err(JobError::failed(e)),
    }
}

/// A provider's payment event: its status on the payment ladder, with the order of ours it paid
/// when there is one (provider state an operator can read, whether or not an order of ours was
/// paid with it), then orders' effect (the order paid with it moves too). The outcome is orders'
/// when an order of ours was paid with it, else the record's.
pub async fn payment(
    state: &AppState,
    payments: &dyn PaymentEvents,
    webhook: &WebhookEvent,
    ev: PaymentEvent,
) -> Result<Outcome, JobError> {
    let key = keys::provider_payment_status(&webhook.provider, &ev.intent_id);
    // The order it paid goes into the status write itself: one conditional update per event,
    // not a second write to note the order. The link exists from the payment's creation on,
    // before any event about its intent.
    let mut order = Update::new();
    if let Some(paid) = payments.order_of(state, ev.provider, &ev.intent_id).await? {
        order = order
            .set(attr::ORDER_ID, paid.order_id.as_str())
            .set(attr::PAYMENT_ID, paid.payment_id.as_str());
    }
    let step = (
        Tracked::ProviderPayment,
        ev.status.as_str(),
        ev.status.rank(),
    );
    let recorded = forward_only_with(state, key, step, webhook, order).await?;
    let applied = payments.payment_changed(state, ev).await?;
    match applied {
        Outcome::Ignored => Ok(recorded),
        linked => Ok(linked),
    }
}

/// Ends an event `ignored` with the reason on its record, for operators reading the event log:
/// an event nothing of ours can ever apply is not retried into the dead letters.
pub async fn ignored_because(
    state: &AppState,
    event: &WebhookEvent,
    reason: &str,
) -> Result<Outcome, JobError> {
    tracing::warn!(reason, "webhook event ignored");
    let (pk, sk) = event.key();
    let note = Update::new().set(event::attr::OUTCOME_REASON, reason);
    state
        .store
        .update(&pk, &sk, note, Some(Condition::Exists))
        .await
        .map_err(JobError::failed)?;
    Ok(Outcome::Ignored)
}
