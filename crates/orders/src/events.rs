//! The worker's payment effect: a provider's payment event moves the linked Payment and its
//! Order forward, in one transaction, exactly once however often the event arrives. A payment
//! moves only to a higher rank, so a late `failed` after `succeeded` is `superseded`; only a
//! success moves a failed or canceled payment (the customer confirmed it again). An order
//! may have several attempts (a declined card, then another): any attempt's success pays a
//! CREATED order and becomes its payment; a success after another attempt paid the order is
//! recorded on its payment as a duplicate (`duplicate_of`), audited (`duplicate_charge`) and
//! alerted, never a second order or activation: the shop refunds that money.

use async_trait::async_trait;
use rampart_events::payments::RefundEvent;
use rampart_events::{Outcome, PaymentEvents};
use serde_json::json;

use super::providers::PaymentEvent;
use super::records::{
    IntentLink, Order, OrderStatus, PaymentStatus, order_attr, order_status_of, payment_attr,
};
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
        on_payment_event(state, ev).await.map_err(JobError::failed)
    }

    async fn payment_refunded(
        &self,
        state: &AppState,
        ev: RefundEvent,
    ) -> Result<Outcome, JobError> {
        super::refunds::on_refund(state, ev).await
    }

    async fn order_of(
        &self,
        state: &AppState,
        provider: rampart_events::payments::PaymentProvider,
        intent_id: &str,
    ) -> Result<Option<rampart_events::payments::PaidOrder>, JobError> {
        let key = keys::payment_intent(provider.as_str(), intent_id);
        let link = load::<IntentLink>(&*state.store, &key)
            .await
            .map_err(JobError::failed)?;
        Ok(link.map(|l| rampart_events::payments::PaidOrder {
            order_id: l.order_id,
            payment_id: l.payment_id,
        }))
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
    // A success is money taken: it is recorded whatever the attempt said before (Stripe lets a
    // failed intent be confirmed again with another card), and only a success stops it.
    let forward = if ev.status == PaymentStatus::Succeeded {
        Condition::Exists.and(Condition::ne(
            payment_attr::STATUS,
            PaymentStatus::Succeeded.as_str(),
        ))
    } else {
        Condition::Exists.and(Condition::lt(payment_attr::RANK, rank))
    };
    let mut order = Update::new()
        .set(order_attr::PAYMENT_STATUS, ev.status.as_str())
        .set(order_attr::UPDATED_AT, now);
    if let Some(s) = order_status_of(ev.status) {
        order = order.set(order_attr::STATUS, s.as_str());
    }
    let succeeded = ev.status == PaymentStatus::Succeeded;
    let created = Condition::eq(order_attr::STATUS, OrderStatus::Created.as_str());
    let open = if succeeded {
        // Whichever attempt succeeds first pays the order and becomes its payment.
        order = order
            .set(order_attr::PAYMENT_ID, link.payment_id.as_str())
            .set(order_attr::PAYMENT_PROVIDER, link.provider.as_str());
        created
    } else {
        // Only the order's current attempt shows on it.
        Condition::eq(order_attr::PAYMENT_ID, link.payment_id.as_str()).and(created)
    };
    let payment_key = keys::payment(&link.user_id, &link.payment_id);
    let order_key = keys::order(&link.user_id, &link.order_id);
    let tx = Tx::new()
        .update(
            Part::Payment,
            payment_key.clone(),
            payment.clone(),
            Some(forward.clone()),
        )
        .update(Part::Order, order_key.clone(), order, Some(open));
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
            // An earlier attempt of the order, or an order another attempt already paid: the
            // payment's own state is still recorded.
            Some(Part::Order) => {
                let paid_by = if succeeded {
                    load::<Order>(&*state.store, &order_key)
                        .await?
                        .and_then(|o| o.payment)
                        .map(|p| p.id)
                        .filter(|id| *id != link.payment_id)
                } else {
                    None
                };
                let mut alone = payment;
                if let Some(by) = &paid_by {
                    alone = alone.set(payment_attr::DUPLICATE_OF, by.as_str());
                }
                let (pk, sk) = payment_key;
                match state.store.update(&pk, &sk, alone, Some(forward)).await {
                    Ok(_) => {}
                    Err(StoreError::ConditionFailed { .. }) => return Ok(Outcome::Superseded),
                    Err(e) => return Err(e),
                }
                if let Some(by) = paid_by {
                    duplicate_charge(state, &link, &by).await;
                }
                Ok(Outcome::Applied)
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

/// A second charge for an order another payment already paid: the money is owed back. Nothing
/// refunds it automatically (the worker never moves money); the audit event and the critical
/// log line are the shop's instruction, the payment's `duplicate_of` what its owner sees.
async fn duplicate_charge(state: &AppState, link: &IntentLink, paid_by: &str) {
    tracing::error!(
        critical = true,
        payment_id = %link.payment_id,
        order_id = %link.order_id,
        "a second payment succeeded for an order already paid: refund it at the provider"
    );
    rampart_http::audit::record(
        state,
        "duplicate_charge",
        &link.user_id,
        None,
        json!({
            "order_id": link.order_id,
            "payment_id": link.payment_id,
            "provider": link.provider.as_str(),
            "intent_id": link.intent_id,
            "paid_by": paid_by,
            "instruction": "refund this payment at the provider",
        }),
    )
    .await;
}
