//! What clients see of orders, payments and eSIM profiles (the JSON bodies of the routes).

use serde::Serialize;

use super::providers::Provider;
use super::records::{Esim, EsimStatus, Order, OrderStatus, Payment, PaymentStatus};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EsimRef<'a> {
    pub id: &'a str,
    pub status: EsimStatus,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentSummary<'a> {
    pub id: &'a str,
    pub provider: Provider,
    pub status: PaymentStatus,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView<'a> {
    pub id: &'a str,
    pub status: OrderStatus,
    pub sku: &'a str,
    pub quantity: u32,
    pub amount: i64,
    pub currency: &'a str,
    pub created_at: i64,
    /// Until when the order can be paid (a failed attempt leaves it payable until then).
    pub payable_until: i64,
    /// What was refunded of the order's payment (minor units), once anything was: all of it
    /// makes the order REFUNDED, part of it leaves it PAID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
    pub esim: EsimRef<'a>,
    pub payment: Option<PaymentSummary<'a>>,
}

impl<'a> From<&'a Order> for OrderView<'a> {
    fn from(o: &'a Order) -> Self {
        Self {
            id: &o.id,
            status: o.status,
            sku: &o.sku,
            quantity: o.quantity,
            amount: o.amount,
            currency: &o.currency,
            created_at: o.created_at,
            payable_until: o.created_at + rampart_platform::lifetimes::ORDER_PAYABLE_SECS,
            refunded_amount: o.refunded_amount,
            esim: EsimRef {
                id: &o.esim_id,
                status: o.esim_status,
            },
            payment: o.payment.as_ref().map(|p| PaymentSummary {
                id: &p.id,
                provider: p.provider,
                status: p.status,
            }),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentView<'a> {
    pub id: &'a str,
    pub order_id: &'a str,
    pub provider: Provider,
    pub intent_id: &'a str,
    pub status: PaymentStatus,
    /// What the client hands to the provider's SDK to complete the payment.
    pub client_secret: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub created_at: i64,
    /// Only on a success that came after another payment had paid the order: that payment's id.
    /// This one's money is owed back; the shop refunds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<&'a str>,
    /// What the provider has refunded of this payment (minor units), once anything was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
}

impl<'a> From<&'a Payment> for PaymentView<'a> {
    fn from(p: &'a Payment) -> Self {
        Self {
            id: &p.id,
            order_id: &p.order_id,
            provider: p.provider,
            intent_id: &p.intent_id,
            status: p.status,
            client_secret: &p.client_secret,
            amount: p.amount,
            currency: &p.currency,
            created_at: p.created_at,
            duplicate_of: p.duplicate_of.as_deref(),
            refunded_amount: p.refunded_amount,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EsimView<'a> {
    pub id: &'a str,
    pub order_id: &'a str,
    pub status: EsimStatus,
    pub iccid: Option<&'a str>,
    pub activation_code: Option<&'a str>,
    pub activated_at: Option<i64>,
    pub created_at: i64,
    /// Once its order was refunded after activation: when the shop was asked to revoke the
    /// profile at the carrier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_requested_at: Option<i64>,
}

impl<'a> From<&'a Esim> for EsimView<'a> {
    fn from(e: &'a Esim) -> Self {
        Self {
            id: &e.id,
            order_id: &e.order_id,
            status: e.status,
            iccid: e.iccid.as_deref(),
            activation_code: e.activation_code.as_deref(),
            activated_at: e.activated_at,
            created_at: e.created_at,
            revoke_requested_at: e.revoke_requested_at,
        }
    }
}
