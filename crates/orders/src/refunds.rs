//! A provider's refund of a payment (Stripe's `charge.refunded`): the running total refunded is
//! recorded on the payment; when that payment is the one that paid its order, a refund of all of
//! it moves the order `PAID → REFUNDED` (its eSIM can no longer be activated, and an activated
//! one is marked for revocation with `revoke_requested_at`), a partial one leaves the order
//! `PAID` with its `refunded_amount`. Totals only grow, so the same event again, or two refunds
//! arriving out of order, end in the same state. A refunded duplicate charge (a payment that
//! never paid its order) touches only that payment. A refund whose payment's success has not
//! been applied yet (Stripe does not order its events) is retried until it has, never dropped:
//! otherwise the success would later pay an order whose money was given back.

use rampart_events::Outcome;
use rampart_events::payments::RefundEvent;

use super::records::{
    Esim, EsimStatus, IntentLink, Order, OrderStatus, Payment, PaymentStatus, esim_attr,
    order_attr, payment_attr,
};
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;
use rampart_store::{Condition, StoreError, Tx, Update, keys, load};

/// The parts of the refund transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Payment,
    Order,
    Esim,
}

/// `attr` is absent or below `total`: a refund total only moves up.
fn grows(attr: &str, total: i64) -> Condition {
    Condition::AttrNotExists(attr.into()).or(Condition::lt(attr, total))
}

pub async fn on_refund(state: &AppState, ev: RefundEvent) -> Result<Outcome, JobError> {
    let link_key = keys::payment_intent(ev.provider.as_str(), &ev.intent_id);
    let Some(link) = load::<IntentLink>(&*state.store, &link_key)
        .await
        .map_err(JobError::failed)?
    else {
        return Ok(Outcome::Ignored);
    };
    let payment_key = keys::payment(&link.user_id, &link.payment_id);
    let payment: Option<Payment> = load(&*state.store, &payment_key)
        .await
        .map_err(JobError::failed)?;
    if payment.is_some_and(|p| p.status != PaymentStatus::Succeeded) {
        return Err(JobError::refused(
            "the payment's success is not applied yet; the refund is retried until it is",
        ));
    }
    apply(state, ev, link, payment_key)
        .await
        .map_err(JobError::failed)
}

async fn apply(
    state: &AppState,
    ev: RefundEvent,
    link: IntentLink,
    payment_key: (String, String),
) -> Result<Outcome, StoreError> {
    let now = state.clock.now_secs();
    let order_key = keys::order(&link.user_id, &link.order_id);
    let on_payment = Update::new()
        .set(payment_attr::REFUNDED_AMOUNT, ev.refunded_amount)
        .set(payment_attr::UPDATED_AT, now);
    let more = Condition::Exists
        .and(Condition::eq(
            payment_attr::STATUS,
            PaymentStatus::Succeeded.as_str(),
        ))
        .and(grows(payment_attr::REFUNDED_AMOUNT, ev.refunded_amount));
    let order: Option<Order> = load(&*state.store, &order_key).await?;
    let paid_with_it = order.as_ref().filter(|o| {
        o.payment.as_ref().is_some_and(|p| p.id == link.payment_id)
            && matches!(o.status, OrderStatus::Paid | OrderStatus::Refunded)
    });
    let Some(order) = paid_with_it else {
        let (pk, sk) = payment_key;
        return match state.store.update(&pk, &sk, on_payment, Some(more)).await {
            Ok(_) => Ok(Outcome::Applied),
            Err(StoreError::ConditionFailed { .. }) => Ok(Outcome::Superseded),
            Err(e) => Err(e),
        };
    };
    let full = ev.is_full();
    let mut on_order = Update::new()
        .set(order_attr::REFUNDED_AMOUNT, ev.refunded_amount)
        .set(order_attr::UPDATED_AT, now);
    if full {
        on_order = on_order.set(order_attr::STATUS, OrderStatus::Refunded.as_str());
    }
    let still_paid = Condition::eq(order_attr::PAYMENT_ID, link.payment_id.as_str())
        .and(
            Condition::eq(order_attr::STATUS, OrderStatus::Paid.as_str()).or(Condition::eq(
                order_attr::STATUS,
                OrderStatus::Refunded.as_str(),
            )),
        )
        .and(grows(order_attr::REFUNDED_AMOUNT, ev.refunded_amount));
    let mut tx = Tx::new()
        .update(Part::Payment, payment_key, on_payment, Some(more))
        .update(Part::Order, order_key, on_order, Some(still_paid));
    if full {
        // The order's state decides activation (only PAID activates), so a profile not yet
        // activated is simply never activated; an activated one is marked for revocation. The
        // profile as read is part of the transaction: an activation in between is retried.
        let esim_key = keys::esim(&link.user_id, &order.esim_id);
        let esim: Option<Esim> = load(&*state.store, &esim_key).await?;
        tx = match esim.map(|e| e.status) {
            Some(EsimStatus::Ready) => tx.update(
                Part::Esim,
                esim_key,
                Update::new().set(esim_attr::REVOKE_REQUESTED_AT, now),
                Some(Condition::eq(esim_attr::STATUS, EsimStatus::Ready.as_str())),
            ),
            Some(EsimStatus::Pending) => tx.check(
                Part::Esim,
                esim_key,
                Condition::eq(esim_attr::STATUS, EsimStatus::Pending.as_str()),
            ),
            None => tx,
        };
    }
    match tx.commit(&*state.store).await {
        Ok(()) => {
            tracing::info!(
                payment_id = %link.payment_id,
                refunded = ev.refunded_amount,
                full,
                "refund applied"
            );
            Ok(Outcome::Applied)
        }
        Err(e) => match e.condition_failed() {
            Some(Part::Payment | Part::Order) => Ok(Outcome::Superseded),
            Some(Part::Esim) => Err(StoreError::unavailable(
                "the eSIM changed while its order was refunded; retried",
            )),
            None => Err(StoreError::unavailable(e.to_string())),
        },
    }
}
