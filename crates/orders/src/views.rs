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
        }
    }
}
