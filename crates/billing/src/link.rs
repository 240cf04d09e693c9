//! The Stripe customer → user link (`stripe_customer` item): written when our API creates a
//! user's Stripe customer (before any checkout can produce events about it), and for an owner
//! account's customer when a checkout for it completes anyway, so every later event about that
//! customer finds its user without a guess (never by email). And the rule that a link alone is
//! not enough once an account's billing was severed (`current_customer`).

use crate::account::BillingAccount;
use rampart_store::record::{TYPE, malformed};
use rampart_store::{Condition, Item, Record, StoreError, keys};

/// Which user a Stripe customer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerLink {
    pub customer_id: String,
    pub user_id: String,
}

impl CustomerLink {
    pub const USER_ID: &str = "user_id";
}

/// The condition a Stripe event about `customer` (`None`: the event names none) needs to change
/// a user's billing. An account whose billing a take-back or reset severed (a billing
/// generation above 0) listens only to the customer stored on it, the one its owner's own
/// checkout created; a link or `metadata[user_id]` naming the account is not enough, since the
/// previous holder's customer, subscriptions and checkout sessions carry both. An account never
/// severed keeps the link and metadata rules.
pub fn current_customer(customer: Option<&str>) -> Condition {
    let never_severed = BillingAccount::generation_is(0);
    match customer {
        Some(c) => never_severed.or(Condition::eq(BillingAccount::STRIPE_CUSTOMER_ID, c)),
        None => never_severed,
    }
}

impl Record for CustomerLink {
    const KIND: &'static str = "stripe_customer";
}

impl TryFrom<&Item> for CustomerLink {
    type Error = StoreError;

    fn try_from(i: &Item) -> Result<Self, StoreError> {
        let prefix = keys::stripe_customer("").0;
        let customer_id =
            i.pk.strip_prefix(prefix.as_str())
                .ok_or_else(|| malformed(Self::KIND, "pk"))?;
        Ok(Self {
            customer_id: customer_id.into(),
            user_id: i.req_s(Self::KIND, Self::USER_ID)?.into(),
        })
    }
}

impl From<&CustomerLink> for Item {
    fn from(l: &CustomerLink) -> Item {
        let (pk, sk) = keys::stripe_customer(&l.customer_id);
        Item::new(pk, sk)
            .with(TYPE, CustomerLink::KIND)
            .with(CustomerLink::USER_ID, l.user_id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_round_trips() {
        let l = CustomerLink {
            customer_id: "cus_1".into(),
            user_id: "u1".into(),
        };
        assert_eq!(CustomerLink::try_from(&Item::from(&l)).unwrap(), l);
    }
}
