//! Stripe: events are keyed by their `id` and read with Stripe's wire format (`stripe/wire.rs`),
//! then handed to the domain that owns what they change: Stripe Billing's events (a checkout, a
//! subscription, an invoice) to billing, a payment intent's progress to orders once the owner
//! check passed. Webhooks keeps only Stripe's own view of an intent (provider state, on the one
//! payment ladder); the effects are the owners'.

mod wire;

pub use wire::{Body, Owner, StripeEvent, sign, verify_signature};

use async_trait::async_trait;
use rampart_events::Effects;
use rampart_events::billing::{CheckoutCompleted, EventRef, InvoiceChanged, SubscriptionChanged};
use rampart_events::outcome::owner_blocked;
use rampart_events::payments::{PaymentEvent, PaymentProvider, RefundEvent};

use super::{Delivery, Provider, Rejected, Subject, Verified};
use crate::effects::ignored_because;
use crate::event::{Outcome, WebhookEvent};
use crate::payload::{json, str_at};
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;

/// The reason an invoice without a subscription ends `ignored`, on its event record.
pub const ONE_OFF_INVOICE: &str =
    "a one-off invoice (no subscription): it does not change the subscription's billing state";

pub struct Stripe {
    pub effects: Effects,
}

impl Stripe {
    /// Whose payment object it is: the customer's user, else the metadata our API set.
    async fn user_of(&self, state: &AppState, owner: &Owner) -> Result<Option<String>, JobError> {
        if let Some(customer) = &owner.customer
            && let Some(u) = self
                .effects
                .billing
                .user_of_customer(state, customer)
                .await?
        {
            return Ok(Some(u));
        }
        Ok(owner.metadata_user_id.clone())
    }

    /// Why a billing event about a Stripe customer linked to no user, and carrying no user id of
    /// ours, can never apply (a team that billed through its own integration before an operator
    /// linked the customer): `None` when billing may know the user. Such an event is ignored at
    /// once, with the reason on its record; a retry could only fail the same way.
    async fn unlinked(&self, state: &AppState, owner: &Owner) -> Result<Option<String>, JobError> {
        let Some(customer) = owner.customer.as_deref() else {
            return Ok(None);
        };
        if owner.metadata_user_id.is_some() {
            return Ok(None);
        }
        let user = self
            .effects
            .billing
            .user_of_customer(state, customer)
            .await?;
        Ok(user.is_none().then(|| {
            format!(
                "Stripe customer {customer} is linked to no user (an operator links it with \
                 POST /admin/billing/customer-links)"
            )
        }))
    }
}

#[async_trait]
impl Provider for Stripe {
    type Event = StripeEvent;
    const NAME: &'static str = "stripe";
    const PATHS: &'static [&'static str] = &["/webhooks/stripe"];
    const SECRET: &'static str = "STRIPE_WEBHOOK_SECRET";
    const TIME_SIGNED: bool = true;

    fn verify(&self, d: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected> {
        verify_signature(d.header("stripe-signature"), d.body, secrets, d.now)?;
        let j = json(d.body).ok_or(Rejected::Malformed)?;
        let id = str_at(&j, &["id"]).ok_or(Rejected::Malformed)?;
        let kind = str_at(&j, &["type"]).unwrap_or("unknown");
        Ok(d.verified(Self::NAME, id, kind, j["created"].as_i64()))
    }

    fn subject(&self, ev: &StripeEvent) -> Option<Subject> {
        let (kind, id) = ev.object.as_ref()?;
        Some(Subject::new(kind, id))
    }

    fn parse(&self, event: &WebhookEvent) -> Result<StripeEvent, JobError> {
        StripeEvent::parse(event.payload())
    }

    async fn apply(
        &self,
        state: &AppState,
        webhook: &WebhookEvent,
        ev: StripeEvent,
    ) -> Result<Outcome, JobError> {
        let event = EventRef {
            id: ev.id,
            kind: ev.kind,
            created: ev.created,
        };
        let billing = &self.effects.billing;
        match ev.body {
            Body::Other => Ok(Outcome::Ignored),
            Body::CheckoutCompleted {
                user_id,
                customer,
                subscription,
            } => {
                let ev = CheckoutCompleted {
                    event,
                    user_id,
                    customer,
                    subscription,
                };
                billing.checkout_completed(state, ev).await
            }
            Body::Subscription {
                id,
                change,
                owner,
                price_id,
                status,
                period_end,
                cancel_at_period_end,
            } => {
                if let Some(why) = self.unlinked(state, &owner).await? {
                    return ignored_because(state, webhook, &why).await;
                }
                let ev = SubscriptionChanged {
                    event,
                    id,
                    change,
                    owner,
                    price_id,
                    status,
                    period_end,
                    cancel_at_period_end,
                };
                billing.subscription_changed(state, ev).await
            }
            Body::Invoice {
                payment_failed,
                owner,
                status,
                subscription,
            } => {
                if let Some(why) = self.unlinked(state, &owner).await? {
                    return ignored_because(state, webhook, &why).await;
                }
                // A one-off invoice (`invoice.subscription` null) bills something else: a failed
                // one must not mark a paying subscriber `past_due` nor mail them to fix the card
                // their subscription is paid with.
                let Some(subscription) = subscription else {
                    return ignored_because(state, webhook, ONE_OFF_INVOICE).await;
                };
                let ev = InvoiceChanged {
                    event,
                    payment_failed,
                    owner,
                    status,
                    subscription,
                };
                billing.invoice_changed(state, ev).await
            }
            Body::Refund {
                intent_id,
                amount,
                amount_refunded,
                owner,
            } => {
                let Some(intent_id) = intent_id.filter(|_| amount_refunded > 0) else {
                    return Ok(Outcome::Ignored);
                };
                if let Some(u) = self.user_of(state, &owner).await?
                    && rampart_auth::owners::is_owner(state, &u)
                        .await
                        .map_err(JobError::failed)?
                {
                    return Ok(owner_blocked(state, &u, &event.kind).await);
                }
                let ev = RefundEvent {
                    provider: PaymentProvider::Stripe,
                    intent_id,
                    refunded_amount: amount_refunded,
                    amount,
                    event_time: event.created,
                };
                self.effects.payments.payment_refunded(state, ev).await
            }
            Body::PaymentIntent { id, status, owner } => {
                let (Some(intent_id), Some(status)) = (id, status) else {
                    return Ok(Outcome::Ignored);
                };
                if let Some(u) = self.user_of(state, &owner).await?
                    && rampart_auth::owners::is_owner(state, &u)
                        .await
                        .map_err(JobError::failed)?
                {
                    return Ok(owner_blocked(state, &u, &event.kind).await);
                }
                let ev = PaymentEvent {
                    provider: PaymentProvider::Stripe,
                    intent_id,
                    status,
                    event_time: event.created,
                };
                crate::effects::payment(state, &*self.effects.payments, webhook, ev).await
            }
        }
    }
}
