//! The order record: what was bought, its state, and copies of its payment's and eSIM's states
//! (kept in the same transactions that move them, so a listing needs no second read).

use rampart_store::record::TYPE;
use rampart_store::{EXPIRES_AT, Item, Record, StoreError, keys};

use super::{EsimStatus, OrderStatus, PaymentStatus};
use super::{enum_attr, owned};
use crate::providers::Provider;
use rampart_store::record::malformed;

/// Attribute names of an order item.
pub mod order_attr {
    pub const ID: &str = "id";
    pub const USER_ID: &str = "user_id";
    pub const SKU: &str = "sku";
    pub const QUANTITY: &str = "quantity";
    pub const AMOUNT: &str = "amount";
    pub const CURRENCY: &str = "currency";
    pub const STATUS: &str = "status";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const ESIM_ID: &str = "esim_id";
    pub const ESIM_STATUS: &str = "esim_status";
    pub const PAYMENT_ID: &str = "payment_id";
    pub const PAYMENT_PROVIDER: &str = "payment_provider";
    pub const PAYMENT_STATUS: &str = "payment_status";
    /// The payment id reserved for this order before its provider is called: every attempt
    /// reuses it, so the provider's idempotency key (derived from it) is the same on retries.
    pub const PAYMENT_ATTEMPT: &str = "payment_attempt";
    /// What the provider has refunded of the order's payment (minor units; only ever grows).
    pub const REFUNDED_AMOUNT: &str = "refunded_amount";
}

/// The payment an order shows (a copy kept in the same transactions that move the payment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRef {
    pub id: String,
    pub provider: Provider,
    pub status: PaymentStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub user_id: String,
    pub sku: String,
    pub quantity: u32,
    /// Total in minor units (unit price × quantity).
    pub amount: i64,
    pub currency: String,
    pub status: OrderStatus,
    /// Epoch seconds.
    pub created_at: i64,
    pub esim_id: String,
    pub esim_status: EsimStatus,
    pub payment: Option<PaymentRef>,
    pub payment_attempt: Option<String>,
    pub refunded_amount: Option<i64>,
}

impl Record for Order {
    const KIND: &'static str = "order";
}

impl Order {
    pub fn key(&self) -> keys::Key {
        keys::order(&self.user_id, &self.id)
    }
}

impl TryFrom<&Item> for Order {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        use order_attr::*;
        let k = Self::KIND;
        let payment = match i.opt_s(PAYMENT_ID) {
            None => None,
            Some(id) => Some(PaymentRef {
                id,
                provider: enum_attr(i, k, PAYMENT_PROVIDER, Provider::parse)?,
                status: enum_attr(i, k, PAYMENT_STATUS, PaymentStatus::parse)?,
            }),
        };
        Ok(Self {
            id: owned(i, k, ID)?,
            user_id: owned(i, k, USER_ID)?,
            sku: owned(i, k, SKU)?,
            quantity: u32::try_from(i.req_n(k, QUANTITY)?).map_err(|_| malformed(k, QUANTITY))?,
            amount: i.req_n(k, AMOUNT)?,
            currency: owned(i, k, CURRENCY)?,
            status: enum_attr(i, k, STATUS, OrderStatus::parse)?,
            created_at: i.req_n(k, CREATED_AT)?,
            esim_id: owned(i, k, ESIM_ID)?,
            esim_status: enum_attr(i, k, ESIM_STATUS, EsimStatus::parse)?,
            payment,
            payment_attempt: i.opt_s(PAYMENT_ATTEMPT),
            refunded_amount: i.n(REFUNDED_AMOUNT),
        })
    }
}

impl From<&Order> for Item {
    fn from(o: &Order) -> Self {
        use order_attr::*;
        let (pk, sk) = o.key();
        Item::new(pk, sk)
            .with(TYPE, Order::KIND)
            .with(ID, o.id.as_str())
            .with(USER_ID, o.user_id.as_str())
            .with(SKU, o.sku.as_str())
            .with(QUANTITY, i64::from(o.quantity))
            .with(AMOUNT, o.amount)
            .with(CURRENCY, o.currency.as_str())
            .with(STATUS, o.status.as_str())
            .with(CREATED_AT, o.created_at)
            .with(ESIM_ID, o.esim_id.as_str())
            .with(ESIM_STATUS, o.esim_status.as_str())
            .with_opt(PAYMENT_ID, o.payment.as_ref().map(|p| p.id.as_str()))
            .with_opt(
                PAYMENT_PROVIDER,
                o.payment.as_ref().map(|p| p.provider.as_str()),
            )
            .with_opt(
                PAYMENT_STATUS,
                o.payment.as_ref().map(|p| p.status.as_str()),
            )
            .with_opt(PAYMENT_ATTEMPT, o.payment_attempt.as_deref())
            .with_opt(REFUNDED_AMOUNT, o.refunded_amount)
            .with(
                EXPIRES_AT,
                o.created_at + rampart_platform::lifetimes::ORDER_SECS,
            )
    }
}
