//! What provider events read and write on a user: the billing attributes of the user record
//! (names here until the auth module's `User` record owns them), the part of a user the effects
//! read, and the Stripe customer → user link.

use crate::store::record::{TYPE, malformed};
use crate::store::{Item, Record, StoreError, keys};

/// Attribute names on the user record that provider events write or read.
pub mod attr {
    pub const EMAIL: &str = "email";
    pub const PLAN: &str = "plan";
    pub const SUBSCRIPTION_STATUS: &str = "subscription_status";
    pub const CURRENT_PERIOD_END: &str = "current_period_end";
    pub const CANCEL_AT_PERIOD_END: &str = "cancel_at_period_end";
    pub const STRIPE_CUSTOMER_ID: &str = "stripe_customer_id";
    pub const STRIPE_SUBSCRIPTION_ID: &str = "stripe_subscription_id";
    /// `created` of the last checkout event applied (epoch seconds).
    pub const CHECKOUT_EVENT_AT: &str = "checkout_event_at";
    /// `created` of the last subscription event applied.
    pub const SUB_EVENT_AT: &str = "sub_event_at";
    /// `created` of the last invoice event applied.
    pub const INVOICE_EVENT_AT: &str = "invoice_event_at";
    /// The id of the last payment-failed event a dunning mail went out for.
    pub const DUNNING_EVENT: &str = "dunning_event";
}

/// The part of a user record the webhook effects read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserBilling {
    pub email: Option<String>,
    pub invoice_event_at: Option<i64>,
    pub dunning_event: Option<String>,
}

impl TryFrom<&Item> for UserBilling {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            email: i.opt_s(attr::EMAIL),
            invoice_event_at: i.n(attr::INVOICE_EVENT_AT),
            dunning_event: i.opt_s(attr::DUNNING_EVENT),
        })
    }
}

impl Record for UserBilling {
    const KIND: &'static str = "user";
}

/// Which user a Stripe customer is (`stripe_customer` item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerLink {
    pub customer_id: String,
    pub user_id: String,
}

pub const USER_ID: &str = "user_id";

impl Record for CustomerLink {
    const KIND: &'static str = "stripe_customer";
}

impl TryFrom<&Item> for CustomerLink {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        let customer_id =
            i.pk.strip_prefix("stripe_customer#")
                .ok_or_else(|| malformed(Self::KIND, "pk"))?;
        Ok(Self {
            customer_id: customer_id.into(),
            user_id: i.req_s(Self::KIND, USER_ID)?.into(),
        })
    }
}

impl From<&CustomerLink> for Item {
    fn from(l: &CustomerLink) -> Item {
        let (pk, sk) = keys::stripe_customer(&l.customer_id);
        Item::new(pk, sk)
            .with(TYPE, CustomerLink::KIND)
            .with(USER_ID, l.user_id.as_str())
    }
}
