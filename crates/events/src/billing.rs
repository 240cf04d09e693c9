//! Stripe Billing's events, as billing needs them: a checkout completed, a subscription created,
//! updated or deleted, an invoice paid or failed. Read from Stripe's payloads by the webhooks
//! crate; applied by billing, the only writer of a user's billing state.

use async_trait::async_trait;
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;

use crate::Outcome;

/// Who a Stripe billing object belongs to, as the event names it: its customer, or the user id
/// our checkout put in its metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripeOwner {
    pub customer: Option<String>,
    pub metadata_user_id: Option<String>,
}

/// Where an event sits in Stripe's history: its `created` time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    pub id: String,
    /// The event's type as Stripe names it (`customer.subscription.updated`).
    pub kind: String,
    /// Epoch seconds.
    pub created: i64,
}

/// `checkout.session.completed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutCompleted {
    pub event: EventRef,
    /// The session's `client_reference_id`.
    pub user_id: Option<String>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionChange {
    Created,
    Updated,
    Deleted,
}

/// `customer.subscription.created|updated|deleted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChanged {
    pub event: EventRef,
    /// The subscription's id (absent only in hand-made fixtures).
    pub id: Option<String>,
    pub change: SubscriptionChange,
    pub owner: StripeOwner,
    pub price_id: String,
    pub status: String,
    pub period_end: i64,
    pub cancel_at_period_end: bool,
}

/// `invoice.paid`, `invoice.payment_succeeded` and `invoice.payment_failed` of a subscription's
/// invoice. A one-off invoice (no subscription) is no billing event: whether it is paid says
/// nothing about the subscription, so the provider ends it `ignored` and never hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceChanged {
    pub event: EventRef,
    pub payment_failed: bool,
    pub owner: StripeOwner,
    /// The invoice's own status (`draft`, `open`, `paid`, ...).
    pub status: Option<String>,
    /// The subscription the invoice bills.
    pub subscription: String,
}

/// What billing does with Stripe Billing's events, and the one question another domain's
/// events may ask it: which user a Stripe customer is.
#[async_trait]
pub trait BillingEvents: Send + Sync {
    async fn checkout_completed(
        &self,
        state: &AppState,
        ev: CheckoutCompleted,
    ) -> Result<Outcome, JobError>;
    async fn subscription_changed(
        &self,
        state: &AppState,
        ev: SubscriptionChanged,
    ) -> Result<Outcome, JobError>;
    async fn invoice_changed(
        &self,
        state: &AppState,
        ev: InvoiceChanged,
    ) -> Result<Outcome, JobError>;
    /// The user a Stripe customer is linked to, if any.
    async fn user_of_customer(
        &self,
        state: &AppState,
        customer: &str,
    ) -> Result<Option<String>, JobError>;
}

/// Billing's events in a process that never applies them.
pub(crate) struct Unwired;

fn unwired() -> JobError {
    JobError::refused("this process does not apply billing events")
}

#[async_trait]
impl BillingEvents for Unwired {
    async fn checkout_completed(
        &self,
        _: &AppState,
        _: CheckoutCompleted,
    ) -> Result<Outcome, JobError> {
        Err(unwired())
    }
    async fn subscription_changed(
        &self,
        _: &AppState,
        _: SubscriptionChanged,
    ) -> Result<Outcome, JobError> {
        Err(unwired())
    }
    async fn invoice_changed(&self, _: &AppState, _: InvoiceChanged) -> Result<Outcome, JobError> {
        Err(unwired())
    }
    async fn user_of_customer(&self, _: &AppState, _: &str) -> Result<Option<String>, JobError> {
        Err(unwired())
    }
}
