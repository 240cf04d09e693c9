//! The Stripe objects Rampart reads, typed as Stripe documents them (API version
//! `API_VERSION`): only the fields used; unknown fields are ignored, so Stripe adding one
//! never breaks a call.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `customer` (https://docs.stripe.com/api/customers/object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Stripe still answers a deleted customer's id, with `deleted: true` and nothing else.
    #[serde(default)]
    pub deleted: bool,
}

/// A deleted customer (https://docs.stripe.com/api/customers/delete).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeletedCustomer {
    pub id: String,
    #[serde(default)]
    pub deleted: bool,
}

/// `invoice` (https://docs.stripe.com/api/invoices/object), the fields an export shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Invoice {
    pub id: String,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub amount_due: Option<i64>,
    #[serde(default)]
    pub amount_paid: Option<i64>,
    #[serde(default)]
    pub created: Option<i64>,
}

/// A list answer (https://docs.stripe.com/api/pagination).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// `checkout.session` (https://docs.stripe.com/api/checkout/sessions/object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    /// The page to send the user to; absent once the session is complete or expired.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
}

/// `price` (https://docs.stripe.com/api/prices/object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Price {
    pub id: String,
    #[serde(default)]
    pub active: bool,
    /// Present for subscription prices.
    #[serde(default)]
    pub recurring: Option<Recurring>,
    #[serde(default)]
    pub unit_amount: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recurring {
    pub interval: String,
}

/// `subscription` (https://docs.stripe.com/api/subscriptions/object). Since API version
/// 2025-03-31 the period sits on each item; both places are read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub status: String,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    #[serde(default)]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub items: Items,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl Subscription {
    /// The end of the paid period (the subscription's, else its first item's).
    pub fn period_end(&self) -> Option<i64> {
        self.current_period_end
            .or_else(|| self.items.data.first().and_then(|i| i.current_period_end))
    }

    /// The price of its first item (a legacy `plan` id works as a price id).
    pub fn price_id(&self) -> Option<&str> {
        let item = self.items.data.first()?;
        item.price
            .as_ref()
            .or(item.plan.as_ref())
            .map(|p| p.id.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Items {
    #[serde(default)]
    pub data: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Item {
    /// The subscription item's id (`si_...`): what a price change names.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub price: Option<Ref>,
    #[serde(default)]
    pub plan: Option<Ref>,
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Ref {
    pub id: String,
}

/// `billing_portal.session` (https://docs.stripe.com/api/customer_portal/sessions/object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PortalSession {
    pub id: String,
    /// The short-lived page to send the customer to.
    pub url: String,
}

/// `payment_intent` (https://docs.stripe.com/api/payment_intents/object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    pub status: String,
}

/// An error answer (https://docs.stripe.com/api/errors).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
}
