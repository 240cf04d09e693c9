//! The worker's payment effect: a provider's payment event moves the linked Payment and its
//! Order forward, in one transaction, exactly once however often the event arrives. A payment
//! moves only to a higher rank, so a late `failed` after `succeeded` is `superseded`.

use super::providers::{self, PaymentEvent, PaymentProvider, Provider};
use super::records::{IntentLink, OrderStatus, order_attr, payment_attr};
use crate::state::AppState;
use crate::store::{Condition, StoreError, Tx, TxError, TxFailure, Update, keys, load};

/// What an event did to the payment it names (the worker records it as the event's outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The payment (and, when final, its order) moved.
    Applied,
    /// The payment was already at this stage or past it: nothing changed.
    Superseded,
}

/// The parts of the event transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Payment,
    Order,
}

/// Reads a provider's recorded event payload (`provider`: `stripe`, `mock`) and applies it.
/// `None`: not a payment event of ours (no such provider, unreadable, another event type, or an
/// intent no order of ours was paid with).
pub async fn on_provider_event(
    state: &AppState,
    provider: &str,
    payload: &[u8],
) -> Result<Option<PaymentOutcome>, StoreError> {
    let (Some(p), Ok(event)) = (Provider::parse(provider), serde_json::from_slice(payload)) else {
        return Ok(None);
    };
    match providers::get(state, p).parse_event(&event) {
        Some(ev) => on_payment_event(state, ev).await,
        None => Ok(None),
    }
}

pub async fn on_payment_event(
    state: &AppState,
    ev: PaymentEvent,
) -> Result<Option<PaymentOutcome>, StoreError> {
    let link_key = keys::payment_intent(ev.provider.as_str(), &ev.intent_id);
    let Some(link) = load::<IntentLink>(&*state.store, &link_key).await? else {
        return Ok(None);
    };
    let now = state.clock.now_secs();
    let rank = ev.status.rank();
    let payment = Update::new()
        .set(payment_attr::STATUS, ev.status.as_str())
        .set(payment_attr::RANK, rank)
        .set(payment_attr::UPDATED_AT, now)
        .set(payment_attr::EVENT_AT, ev.event_time);
    let forward = Condition::Exists.and(Condition::lt(payment_attr::RANK, rank));
    let mut order = Update::new()
        .set(order_attr::PAYMENT_STATUS, ev.status.as_str())
        .set(order_attr::UPDATED_AT, now);
    if let Some(s) = ev.status.order_status() {
        order = order.set(order_attr::STATUS, s.as_str());
    }
    // An order leaves CREATED only with its payment, so an open order is the only one a
    // payment that can still move may touch.
    let open = Condition::eq(order_attr::PAYMENT_ID, link.payment_id.as_str()).and(Condition::eq(
        order_attr::STATUS,
        OrderStatus::Created.as_str(),
    ));
    let tx = Tx::new()
        .update(
            Part::Payment,
            keys::payment(&link.user_id, &link.payment_id),
            payment,
            Some(forward),
        )
        .update(
            Part::Order,
            keys::order(&link.user_id, &link.order_id),
            order,
            Some(open),
        );
    match tx.commit(&*state.store).await {
        Ok(()) => {
            tracing::info!(
                payment_id = %link.payment_id,
                status = ev.status.as_str(),
                "payment event applied"
            );
            Ok(Some(PaymentOutcome::Applied))
        }
        Err(e) => match e.condition_failed() {
            Some(Part::Payment) => Ok(Some(PaymentOutcome::Superseded)),
            Some(Part::Order) => {
                tracing::error!(
                    payment_id = %link.payment_id,
                    "payment could move but its order is no longer open; not applied"
                );
                Ok(Some(PaymentOutcome::Superseded))
            }
            None => Err(match e {
                TxError::Store(s) => s,
                TxError::Canceled {
                    reason: TxFailure::Conflict,
                    ..
                } => StoreError::Unavailable("transaction conflict".into()),
                other => StoreError::Unavailable(other.to_string()),
            }),
        },
    }
}
