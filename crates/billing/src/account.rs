//! Billing's part of the account item (`BillingAccount`): the plan, the subscription's status,
//! period and pending cancellation, the Stripe customer and subscription, the version of the
//! billing state, the last dunning mail and the billing generation. They live on the account
//! item beside auth's attributes (one read gives a request both), but only billing names them:
//! the attribute names are private to this crate, every write is a partial update from here,
//! and auth reaches them only through the `AccountPart` billing registers (the profile's plan,
//! and severing the previous holder's billing when an account is taken back).

use rampart_auth::AuthUser;
use rampart_auth::records::{User, load_account};
use rampart_http::account::{AccountPart, Severed, Summary};
use rampart_http::state::AppState;
use rampart_store::record::malformed;
use rampart_store::{Condition, Item, StoreError, Update, keys};
use serde_json::json;

/// The account record's `type`: billing reads the same item auth writes.
const ACCOUNT_KIND: &str = "user";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingAccount {
    /// From the key (`user#<id>`).
    pub user_id: String,
    pub plan: String,
    pub subscription_status: String,
    /// Bumped when a take-back (or the reset of an unverified account) severs the previous
    /// holder's billing: from then on only the Stripe customer stored on the account can
    /// change its plan, and a new customer is created for it (`link`).
    pub billing_gen: i64,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: Option<bool>,
    /// The one version of the billing state (`ordering`): the provider time of the last event
    /// applied and, within its second, the object's progress.
    pub billing_event_at: Option<i64>,
    pub billing_event_rank: Option<i64>,
    /// The invoice event a dunning mail was last sent for.
    pub dunning_event: Option<String>,
}

impl BillingAccount {
    pub(crate) const PLAN: &str = "plan";
    pub(crate) const SUBSCRIPTION_STATUS: &str = "subscription_status";
    pub(crate) const BILLING_GEN: &str = "billing_gen";
    pub(crate) const STRIPE_CUSTOMER_ID: &str = "stripe_customer_id";
    pub(crate) const STRIPE_SUBSCRIPTION_ID: &str = "stripe_subscription_id";
    pub(crate) const CURRENT_PERIOD_END: &str = "current_period_end";
    pub(crate) const CANCEL_AT_PERIOD_END: &str = "cancel_at_period_end";
    pub(crate) const BILLING_EVENT_AT: &str = "billing_event_at";
    pub(crate) const BILLING_EVENT_RANK: &str = "billing_event_rank";
    pub(crate) const DUNNING_EVENT: &str = "dunning_event";

    /// The plan and status of an account billing never wrote to (a new account: absent
    /// attributes read as these).
    pub const FREE_PLAN: &str = "free";
    pub const NO_SUBSCRIPTION: &str = "none";
    /// Stored as `stripe_subscription_id` when an account is taken back from whoever
    /// registered it first: the previous holder's subscription is no longer this user's, and a
    /// write naming it (its renewals, its deletion) must find "another subscription is current"
    /// and be superseded. Read back as no subscription.
    pub(crate) const RELEASED_SUBSCRIPTION: &str = "released";

    /// The condition that the billing generation still holds `g` (absent reads as 0).
    pub(crate) fn generation_is(g: i64) -> Condition {
        let attr = Self::BILLING_GEN;
        if g == 0 {
            Condition::AttrNotExists(attr.into()).or(Condition::eq(attr, 0))
        } else {
            Condition::eq(attr, g)
        }
    }

    /// Severs the billing of whoever held an account before its owner took it back (a code
    /// sign-in, or a reset, of an unverified account): the plan back to free with no Stripe
    /// customer or subscription, and a new billing generation. From then on only the customer
    /// the owner's own checkout creates (a new one: its idempotency key carries the
    /// generation) can change the plan; the previous holder's customer, subscriptions and
    /// checkout sessions no longer can (`link::current_customer`).
    pub fn sever(&self, update: Update) -> Severed {
        let unchanged = match &self.stripe_customer_id {
            Some(c) => Condition::eq(Self::STRIPE_CUSTOMER_ID, c.as_str()),
            None => Condition::AttrNotExists(Self::STRIPE_CUSTOMER_ID.into()),
        };
        let had_billing = self.stripe_customer_id.is_some()
            || self.stripe_subscription_id.is_some()
            || self.plan != Self::FREE_PLAN;
        // Always a new generation: a checkout racing with this write may still link a customer.
        let mut update = update.add(Self::BILLING_GEN, 1);
        if had_billing {
            update = update
                .set(Self::PLAN, Self::FREE_PLAN)
                .set(Self::SUBSCRIPTION_STATUS, Self::NO_SUBSCRIPTION)
                .remove(Self::STRIPE_CUSTOMER_ID)
                // Not removed: an absent id lets any subscription's events in again.
                .set(Self::STRIPE_SUBSCRIPTION_ID, Self::RELEASED_SUBSCRIPTION)
                .remove(Self::CURRENT_PERIOD_END)
                .remove(Self::CANCEL_AT_PERIOD_END);
        }
        let audit = had_billing.then(|| {
            let detail = json!({
                "stripe_customer": self.stripe_customer_id.is_some(),
                "stripe_subscription": self.stripe_subscription_id.is_some(),
                "previous_plan": self.plan,
                "plan": Self::FREE_PLAN,
            });
            ("billing_unlinked", detail)
        });
        Severed {
            update,
            unchanged,
            // The link of this user's own customer id: it names this user (one customer, one
            // user).
            unlink: self
                .stripe_customer_id
                .as_deref()
                .map(keys::stripe_customer),
            audit,
        }
    }
}

impl TryFrom<&Item> for BillingAccount {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = ACCOUNT_KIND;
        if item.req_s(kind, rampart_store::record::TYPE)? != kind {
            return Err(malformed(kind, rampart_store::record::TYPE));
        }
        let user_id = item
            .pk
            .strip_prefix(keys::user("").0.as_str())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| malformed(kind, "key"))?;
        Ok(Self {
            user_id: user_id.to_string(),
            plan: item
                .opt_s(Self::PLAN)
                .unwrap_or_else(|| Self::FREE_PLAN.into()),
            subscription_status: item
                .opt_s(Self::SUBSCRIPTION_STATUS)
                .unwrap_or_else(|| Self::NO_SUBSCRIPTION.into()),
            billing_gen: item.n(Self::BILLING_GEN).unwrap_or(0),
            stripe_customer_id: item.opt_s(Self::STRIPE_CUSTOMER_ID),
            stripe_subscription_id: item
                .opt_s(Self::STRIPE_SUBSCRIPTION_ID)
                .filter(|s| s != Self::RELEASED_SUBSCRIPTION),
            current_period_end: item.n(Self::CURRENT_PERIOD_END),
            cancel_at_period_end: item.bool(Self::CANCEL_AT_PERIOD_END),
            billing_event_at: item.n(Self::BILLING_EVENT_AT),
            billing_event_rank: item.n(Self::BILLING_EVENT_RANK),
            dunning_event: item.opt_s(Self::DUNNING_EVENT),
        })
    }
}

/// An account as billing sees it: whose it is (auth's record: the id and address) and
/// billing's part of it, both from one read of the account item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billed {
    pub user: User,
    pub billing: BillingAccount,
}

impl Billed {
    /// The signed-in caller's account, from the item the session check read.
    pub fn of(caller: &AuthUser) -> Result<Self, StoreError> {
        Self::from_item(caller.user.clone(), &caller.account)
    }

    fn from_item(user: User, account: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            user,
            billing: BillingAccount::try_from(account)?,
        })
    }

    /// The account `user_id`, if there is one.
    pub async fn load(state: &AppState, user_id: &str) -> Result<Option<Self>, StoreError> {
        match load_account(&*state.store, user_id).await? {
            Some((user, item)) => Ok(Some(Self::from_item(user, &item)?)),
            None => Ok(None),
        }
    }
}

/// Billing's part as registered (`BillingData::account_part`).
pub struct Part;

impl AccountPart for Part {
    fn summary(&self, account: &Item) -> Summary {
        match BillingAccount::try_from(account) {
            Ok(b) => Summary {
                plan: b.plan,
                subscription_status: b.subscription_status,
            },
            Err(_) => Summary::free(),
        }
    }

    fn sever(&self, account: &Item, update: Update) -> Severed {
        match BillingAccount::try_from(account) {
            Ok(b) => b.sever(update),
            // Not an account item: nothing of billing's on it.
            Err(_) => Severed::nothing(update),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(attrs: &[(&str, &str)]) -> Item {
        let (pk, sk) = keys::user("u1");
        attrs.iter().fold(
            Item::new(pk, sk).with(rampart_store::record::TYPE, ACCOUNT_KIND),
            |i, (k, v)| i.with(k, *v),
        )
    }

    #[test]
    fn an_account_billing_never_wrote_to_is_free_with_no_subscription() {
        let b = BillingAccount::try_from(&account(&[("email", "a@example.com")])).unwrap();
        assert_eq!(b.user_id, "u1");
        assert_eq!(
            (
                b.plan.as_str(),
                b.subscription_status.as_str(),
                b.billing_gen
            ),
            ("free", "none", 0)
        );
        assert_eq!(b.stripe_customer_id, None);
    }

    #[test]
    fn a_released_subscription_reads_as_none() {
        let b = BillingAccount::try_from(&account(&[
            ("plan", "free"),
            ("stripe_subscription_id", "released"),
        ]))
        .unwrap();
        assert_eq!(b.stripe_subscription_id, None);
    }

    #[test]
    fn severing_an_account_without_billing_only_moves_the_generation() {
        let b = BillingAccount::try_from(&account(&[])).unwrap();
        let s = b.sever(Update::new());
        assert!(s.audit.is_none() && s.unlink.is_none());
        let paid = BillingAccount::try_from(&account(&[
            ("plan", "pro"),
            ("stripe_customer_id", "cus_1"),
        ]))
        .unwrap();
        let s = paid.sever(Update::new());
        assert_eq!(s.unlink, Some(keys::stripe_customer("cus_1")));
        assert_eq!(s.audit.map(|a| a.0), Some("billing_unlinked"));
    }

    #[test]
    fn another_kind_is_not_an_account() {
        let (pk, sk) = keys::user("u1");
        let item = Item::new(pk, sk).with(rampart_store::record::TYPE, "session");
        assert!(BillingAccount::try_from(&item).is_err());
    }
}
