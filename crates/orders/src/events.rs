//! The worker's payment effect: a provider's payment event moves the linked Payment and its
//! Order forward, in one transaction, exactly once however often the event arrives. A payment
//! moves only to a higher rank, so a late `failed` after `succeeded` is `superseded`.

use async_trait::async_trait;
use rampart_events::{Outcome, PaymentEvents};

use super::providers::PaymentEvent;
use super::records::{IntentLink, OrderStatus, order_attr, order_status_of, payment_attr};
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;
use rampart_store::{Condition, StoreError, Tx, TxError, TxFailure, Update, keys, load};

/// The parts of the event transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Payment,
    Order,
}

/// Orders' side of a provider's payment events.
pub struct PaymentEffects;

#[async_trait]
impl PaymentEvents for PaymentEffects {
    async fn payment_changed(
        &self,
        state: &AppState,
        ev: PaymentEvent,
    ) -> Result<Outcome, JobError> {
        on_payment_event(state, ev)
            .await
            .map_err(|e| JobError::Failed(e.to_string()))
    }
}

/// Whether an order of ours was paid with `intent_id` at `provider` (the local stack's mock
/// customer settles only those).
pub async fn is_our_intent(
    state: &AppState,
    provider: rampart_events::payments::PaymentProvider,
    intent_id: &str,
) -> Result<bool, StoreError> {
    let key = keys::payment_intent(provider.as_str(), intent_id);
    Ok(load::<IntentLink>(&*state.store, &key).await?.is_some())
}

/// Moves the payment an event names (and, when final, its order) forward; `Ignored` when no
/// order of ours was paid with that intent.
pub async fn on_payment_event(state: &AppState, ev: PaymentEvent) -> Result<Outcome, StoreError> {
    let link_key = keys::payment_intent(ev.provider.as_str(), &ev.intent_id);
    let Some(link) = load::<IntentLink>(&*state.store, &link_key).await? else {
        return Ok(Outcome::Ignored);
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
    if let Some(s) = order_status_of(ev.status) {
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
            Ok(Outcome::Applied)
        }
        Err(e) => match e.condition_failed() {
            Some(Part::Payment) => Ok(Outcome::Superseded),
            Some(Part::Order) => {
                tracing::error!(
                    payment_id = %link.payment_id,
                    "payment could move but its order is no longer open; not applied"
                );
                Ok(Outcome::Superseded)
            }
            None => Err(match e {
                TxError::Store(s) => s,
                TxError::Canceled {
                    reason: TxFailure::Conflict,
                    ..
                } => StoreError::unavailable("transaction conflict"),
                other => StoreError::unavailable(other.to_string()),
            }),
        },
    }
}
