//! What Stripe Billing's events do to a user's billing state, applied here because billing is
//! the only writer of it: a completed checkout links the subscription, subscription events set
//! the plan and status, a subscription's invoice events the status (and mail the dunning
//! notice), all under the
//! one ordering of the user's billing state (`ordering`: `created`, then the object's progress)
//! and only for the user's current subscription and customer. A checkout completes only for the
//! customer our API created for its `client_reference_id` (never matched by email); for an owner
//! account it links the customer so everything after it is `owner_blocked` too.

use async_trait::async_trait;
use rampart_events::Outcome;
use rampart_events::billing::{
    BillingEvents, CheckoutCompleted, InvoiceChanged, StripeOwner, SubscriptionChange,
    SubscriptionChanged,
};
use rampart_events::outcome::owner_blocked;

use super::link::{CustomerLink, current_customer};
use super::ordering::{self, Applied, SubscriptionMatch, Version, rank};
use super::subscription::LIVE;
use crate::account::{Billed, BillingAccount};
use rampart_auth::owners;
use rampart_http::jobs::JobError;
use rampart_http::mail::Mail;
use rampart_http::state::AppState;
use rampart_store::{Condition, StoreError, Update, keys, load};

/// Billing's side of the Stripe Billing events a webhook provider reads.
pub struct StripeBilling;

async fn is_owner(state: &AppState, user_id: &str) -> Result<bool, JobError> {
    owners::is_owner(state, user_id)
        .await
        .map_err(JobError::failed)
}

fn change_rank(change: SubscriptionChange) -> i64 {
    match change {
        SubscriptionChange::Created => rank::SUBSCRIPTION_CREATED,
        SubscriptionChange::Updated => rank::SUBSCRIPTION_UPDATED,
        SubscriptionChange::Deleted => rank::SUBSCRIPTION_DELETED,
    }
}

#[async_trait]
impl BillingEvents for StripeBilling {
    async fn checkout_completed(
        &self,
        state: &AppState,
        ev: CheckoutCompleted,
    ) -> Result<Outcome, JobError> {
        checkout_completed(
            state,
            &ev.event.kind,
            ev.user_id,
            ev.customer,
            ev.subscription,
        )
        .await
    }

    async fn subscription_changed(
        &self,
        state: &AppState,
        ev: SubscriptionChanged,
    ) -> Result<Outcome, JobError> {
        let SubscriptionChanged {
            event,
            id,
            change,
            owner,
            price_id,
            status,
            period_end,
            cancel_at_period_end,
        } = ev;
        let ty = event.kind.as_str();
        let user_id = user_of(state, &owner).await?;
        // Every kind, deletion included: nothing a provider says changes an owner.
        if is_owner(state, &user_id).await? {
            return Ok(owner_blocked(state, &user_id, ty).await);
        }
        let tier = state.settings.tier_of_price(&price_id).unwrap_or("unknown");
        let deleted = change == SubscriptionChange::Deleted;
        let status = if deleted { "canceled" } else { status.as_str() };
        // A paid plan only while the subscription runs (not while its first payment is
        // incomplete, not once it ended).
        let plan = if LIVE.contains(&status) {
            tier
        } else {
            BillingAccount::FREE_PLAN
        };
        let update = Update::new()
            .set(BillingAccount::PLAN, plan)
            .set(BillingAccount::SUBSCRIPTION_STATUS, status)
            .set(BillingAccount::CURRENT_PERIOD_END, period_end)
            .set(BillingAccount::CANCEL_AT_PERIOD_END, cancel_at_period_end);
        let m = match (&id, change) {
            (None, _) => SubscriptionMatch::Any,
            (Some(id), SubscriptionChange::Created) => SubscriptionMatch::Adopt(id),
            (Some(id), _) => SubscriptionMatch::Current(id),
        };
        let v = Version {
            at: event.created,
            rank: change_rank(change),
        };
        let ours = current_customer(owner.customer.as_deref());
        let applied = ordering::apply(state, &user_id, v, m, update, Some(ours)).await;
        Ok(outcome(applied.map_err(JobError::failed)?))
    }

    async fn invoice_changed(
        &self,
        state: &AppState,
        ev: InvoiceChanged,
    ) -> Result<Outcome, JobError> {
        let ty = ev.event.kind.as_str();
        let user_id = user_of(state, &ev.owner).await?;
        // A charge touching an owner account is not applied either.
        if is_owner(state, &user_id).await? {
            return Ok(owner_blocked(state, &user_id, ty).await);
        }
        let new_status = if ev.payment_failed {
            "past_due"
        } else {
            "active"
        };
        let update = Update::new().set(BillingAccount::SUBSCRIPTION_STATUS, new_status);
        // Only the invoice of the user's current subscription moves its state (one-off invoices
        // never reach billing: `InvoiceChanged`).
        let m = SubscriptionMatch::Current(&ev.subscription);
        let v = Version {
            at: ev.event.created,
            rank: rank::invoice(ev.status.as_deref(), !ev.payment_failed),
        };
        // An invoice never revives a subscription that has ended.
        let running = Condition::ne(BillingAccount::SUBSCRIPTION_STATUS, "canceled")
            .and(current_customer(ev.owner.customer.as_deref()));
        let applied = ordering::apply(state, &user_id, v, m, update, Some(running))
            .await
            .map_err(JobError::failed)?;
        if ev.payment_failed {
            dunning_mail(state, &user_id, &ev.event.id, v).await?;
        }
        Ok(outcome(applied))
    }

    async fn user_of_customer(
        &self,
        state: &AppState,
        customer: &str,
    ) -> Result<Option<String>, JobError> {
        user_for_customer(state, customer).await
    }
}

fn outcome(a: Applied) -> Outcome {
    match a {
        Applied::Applied => Outcome::Applied,
        Applied::Superseded => Outcome::Superseded,
        // No such user: nothing of ours to change.
        Applied::NoUser => Outcome::Ignored,
    }
}

/// `checkout.session.completed`. Applied only for a session of ours: its
/// `client_reference_id` is a user and its customer is the one our API created for that user
/// (a Payment Link, say, lets anyone set `client_reference_id`; the email is never used to
/// match). An owner account's checkout is `owner_blocked`, and its customer is linked so the
/// subscription events after it are `owner_blocked` too, not retried into the dead letters.
async fn checkout_completed(
    state: &AppState,
    ty: &str,
    user_id: Option<String>,
    customer: Option<String>,
    subscription: Option<String>,
) -> Result<Outcome, JobError> {
    let (Some(user_id), Some(customer)) = (user_id, customer) else {
        tracing::warn!("checkout.session.completed without client_reference_id or customer");
        return Ok(Outcome::Ignored);
    };
    let user = Billed::load(state, &user_id)
        .await
        .map_err(JobError::failed)?;
    if user.is_none() {
        tracing::warn!("checkout.session.completed for an unknown client_reference_id; ignored");
        return Ok(Outcome::Ignored);
    }
    if is_owner(state, &user_id).await? {
        let link = CustomerLink {
            customer_id: customer,
            user_id: user_id.clone(),
        };
        // Never re-points a customer that is already someone's.
        let free = Condition::NotExists.or(Condition::eq(CustomerLink::USER_ID, user_id.as_str()));
        match state.store.put((&link).into(), Some(free)).await {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(JobError::failed(e)),
        }
        return Ok(owner_blocked(state, &user_id, ty).await);
    }
    if user_for_customer(state, &customer).await?.as_deref() != Some(user_id.as_str()) {
        tracing::warn!(
            "checkout.session.completed for a customer our API did not create for this user; ignored"
        );
        return Ok(Outcome::Ignored);
    }
    let (pk, sk) = keys::user(&user_id);
    let mut update = Update::new().set(BillingAccount::STRIPE_CUSTOMER_ID, customer.as_str());
    let mut cond = Condition::Exists.and(current_customer(Some(&customer)));
    if let Some(sub) = &subscription {
        // The new subscription becomes current unless one is already running (its own
        // `created` event adopts it in order).
        let sid = BillingAccount::STRIPE_SUBSCRIPTION_ID;
        let not_running = LIVE
            .iter()
            .fold(Condition::AttrNotExists(sid.into()), |c, s| {
                c.or(Condition::ne(BillingAccount::SUBSCRIPTION_STATUS, *s))
            });
        update = update.set(sid, sub.as_str());
        cond = cond.and(not_running);
    }
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(_) => Ok(Outcome::Applied),
        Err(StoreError::ConditionFailed { .. }) => Ok(Outcome::Superseded),
        Err(e) => Err(JobError::failed(e)),
    }
}

async fn user_for_customer(state: &AppState, customer: &str) -> Result<Option<String>, JobError> {
    let link: Option<CustomerLink> = load(&*state.store, &keys::stripe_customer(customer))
        .await
        .map_err(JobError::failed)?;
    Ok(link.map(|l| l.user_id))
}

/// The user a Stripe object belongs to: the customer's link (our API writes it before any
/// checkout), else the `metadata[user_id]` our checkout puts on the subscription. Neither: a
/// retryable failure (the link may be a moment behind), never a silent `ignored`.
async fn user_of(state: &AppState, owner: &StripeOwner) -> Result<String, JobError> {
    if let Some(customer) = &owner.customer
        && let Some(u) = user_for_customer(state, customer).await?
    {
        return Ok(u);
    }
    owner
        .metadata_user_id
        .clone()
        .ok_or_else(|| JobError::refused("Stripe customer not linked to a user yet"))
}

/// The dunning mail of one `invoice.payment_failed` event, sent once and only while it is the
/// newest thing applied to the user's billing state (a late failure about a subscription that
/// has since ended, or been replaced, mails nobody). The user item remembers the last event
/// mailed, so a retry after a failed send mails, and a duplicate does not.
async fn dunning_mail(
    state: &AppState,
    user_id: &str,
    event_id: &str,
    v: Version,
) -> Result<(), JobError> {
    let key = keys::user(user_id);
    let Some(Billed { user: u, billing }) = Billed::load(state, user_id)
        .await
        .map_err(JobError::failed)?
    else {
        return Ok(());
    };
    if !ordering::is_current(&billing, v) || billing.dunning_event.as_deref() == Some(event_id) {
        return Ok(());
    }
    let mail = Mail {
        kind: rampart_http::mail::MailKind::PaymentFailed,
        to: u.email,
        subject: "Your payment did not go through".into(),
        // The app's billing page opens the Stripe Billing Portal (POST /billing/portal-session),
        // where the card is updated; Stripe retries the invoice on the new card.
        body: format!(
            "We could not charge your card for your subscription. Please update your payment \
             method to keep your plan: {}",
            state.settings.billing_page_url
        ),
    };
    state.mailer.send(mail).await.map_err(JobError::failed)?;
    let mark = Update::new().set(BillingAccount::DUNNING_EVENT, event_id);
    state
        .store
        .update(&key.0, &key.1, mark, None)
        .await
        .map_err(JobError::failed)?;
    Ok(())
}
