//! The payment record and the provider-intent link that lets a provider's event find it.

use rampart_store::record::TYPE;
use rampart_store::{EXPIRES_AT, Item, Record, StoreError, keys};

use super::PaymentStatus;
use super::{enum_attr, owned};
use crate::providers::Provider;

/// Attribute names of a payment item.
pub mod payment_attr {
    pub const ID: &str = "id";
    pub const USER_ID: &str = "user_id";
    pub const ORDER_ID: &str = "order_id";
    pub const PROVIDER: &str = "provider";
    pub const INTENT_ID: &str = "intent_id";
    pub const CLIENT_SECRET: &str = "client_secret";
    pub const STATUS: &str = "status";
    /// The status's rank: conditions compare it so a payment only moves forward.
    pub const RANK: &str = "rank";
    pub const AMOUNT: &str = "amount";
    pub const CURRENCY: &str = "currency";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    /// The provider's time of the last event applied (epoch seconds).
    pub const EVENT_AT: &str = "event_at";
    /// A success that came after another payment had already paid the order: the payment
    /// that paid it. The money of this one is owed back (an operator refunds it).
    pub const DUPLICATE_OF: &str = "duplicate_of";
    /// What the provider has refunded of this payment so far (minor units; only ever grows).
    pub const REFUNDED_AMOUNT: &str = "refunded_amount";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: String,
    pub user_id: String,
    pub order_id: String,
    pub provider: Provider,
    pub intent_id: String,
    pub client_secret: String,
    pub status: PaymentStatus,
    pub amount: i64,
    pub currency: String,
    pub created_at: i64,
    pub event_at: Option<i64>,
    pub duplicate_of: Option<String>,
    pub refunded_amount: Option<i64>,
}

impl Record for Payment {
    const KIND: &'static str = "payment";
}

impl Payment {
    pub fn key(&self) -> keys::Key {
        keys::payment(&self.user_id, &self.id)
    }
}

impl TryFrom<&Item> for Payment {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        use payment_attr::*;
        let k = Self::KIND;
        Ok(Self {
            id: owned(i, k, ID)?,
            user_id: owned(i, k, USER_ID)?,
            order_id: owned(i, k, ORDER_ID)?,
            provider: enum_attr(i, k, PROVIDER, Provider::parse)?,
            intent_id: owned(i, k, INTENT_ID)?,
            client_secret: owned(i, k, CLIENT_SECRET)?,
            status: enum_attr(i, k, STATUS, PaymentStatus::parse)?,
            amount: i.req_n(k, AMOUNT)?,
            currency: owned(i, k, CURRENCY)?,
            created_at: i.req_n(k, CREATED_AT)?,
            event_at: i.n(EVENT_AT),
            duplicate_of: i.opt_s(DUPLICATE_OF),
            refunded_amount: i.n(REFUNDED_AMOUNT),
        })
    }
}

impl From<&Payment> for Item {
    fn from(p: &Payment) -> Self {
        use payment_attr::*;
        let (pk, sk) = p.key();
        Item::new(pk, sk)
            .with(TYPE, Payment::KIND)
            .with(ID, p.id.as_str())
            .with(USER_ID, p.user_id.as_str())
            .with(ORDER_ID, p.order_id.as_str())
            .with(PROVIDER, p.provider.as_str())
            .with(INTENT_ID, p.intent_id.as_str())
            .with(CLIENT_SECRET, p.client_secret.as_str())
            .with(STATUS, p.status.as_str())
            .with(RANK, p.status.rank())
            .with(AMOUNT, p.amount)
            .with(CURRENCY, p.currency.as_str())
            .with(CREATED_AT, p.created_at)
            .with(UPDATED_AT, p.created_at)
            .with_opt(EVENT_AT, p.event_at)
            .with_opt(DUPLICATE_OF, p.duplicate_of.as_deref())
            .with_opt(REFUNDED_AMOUNT, p.refunded_amount)
            .with(
                EXPIRES_AT,
                p.created_at + rampart_platform::lifetimes::ORDER_SECS,
            )
    }
}

/// Attribute names of the intent → payment link.
pub mod link_attr {
    pub const PROVIDER: &str = "provider";
    pub const INTENT_ID: &str = "intent_id";
    pub const USER_ID: &str = "user_id";
    pub const PAYMENT_ID: &str = "payment_id";
    pub const ORDER_ID: &str = "order_id";
    pub const CREATED_AT: &str = "created_at";
}

/// Which of our payments a provider's intent belongs to: provider events carry only the intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentLink {
    pub provider: Provider,
    pub intent_id: String,
    pub user_id: String,
    pub payment_id: String,
    pub order_id: String,
    pub created_at: i64,
}

impl Record for IntentLink {
    const KIND: &'static str = "payment_intent";
}

impl IntentLink {
    pub fn key(&self) -> keys::Key {
        keys::payment_intent(self.provider.as_str(), &self.intent_id)
    }
}

impl TryFrom<&Item> for IntentLink {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        use link_attr::*;
        let k = Self::KIND;
        Ok(Self {
            provider: enum_attr(i, k, PROVIDER, Provider::parse)?,
            intent_id: owned(i, k, INTENT_ID)?,
            user_id: owned(i, k, USER_ID)?,
            payment_id: owned(i, k, PAYMENT_ID)?,
            order_id: owned(i, k, ORDER_ID)?,
            created_at: i.req_n(k, CREATED_AT)?,
        })
    }
}

impl From<&IntentLink> for Item {
    fn from(l: &IntentLink) -> Self {
        use link_attr::*;
        let (pk, sk) = l.key();
        Item::new(pk, sk)
            .with(TYPE, IntentLink::KIND)
            .with(PROVIDER, l.provider.as_str())
            .with(INTENT_ID, l.intent_id.as_str())
            .with(USER_ID, l.user_id.as_str())
            .with(PAYMENT_ID, l.payment_id.as_str())
            .with(ORDER_ID, l.order_id.as_str())
            .with(CREATED_AT, l.created_at)
            .with(
                EXPIRES_AT,
                l.created_at + rampart_platform::lifetimes::ORDER_SECS,
            )
    }
}
