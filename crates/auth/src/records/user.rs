//! The account (`User`, the profile item) and the unique email → account lookup (`EmailLink`).
//!
//! Auth writes a user whole only when creating it; everything later (password changes, the
//! session generation, the billing fields the Stripe effects set) is a partial update or a
//! condition naming these constants, so the struct carries every attribute any writer sets
//! and a read-modify-put would lose nothing.

use super::{expect_kind, id_after};
use rampart_store::record::{Record, TYPE};
use rampart_store::{Condition, Item, Key, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// From the key (`user#<id>`), not stored as an attribute.
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub plan: String,
    pub subscription_status: String,
    pub created_at: i64,
    /// Absent for accounts that only ever signed in with email codes, and after the owner of
    /// the address took an unverified account back.
    pub password_hash: Option<String>,
    /// Bumped with every password change or reset: sessions of an older generation are dead.
    pub session_gen: i64,
    /// Bumped when the owner of the address takes the account back or resets its password:
    /// device cookies minted at an older generation are no longer trusted (`auth::device`).
    pub device_gen: i64,
    /// Bumped when a take-back (or the reset of an unverified account) severs the previous
    /// holder's billing: from then on only the Stripe customer stored on the account can
    /// change its plan, and a new customer is created for it (`billing::link`).
    pub billing_gen: i64,
    // Billing, written by the Stripe webhook effects.
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: Option<bool>,
    /// The one version of the billing state (`billing::ordering`): the provider time of the
    /// last event applied and, within its second, the object's progress.
    pub billing_event_at: Option<i64>,
    pub billing_event_rank: Option<i64>,
    /// The invoice event a dunning mail was last sent for.
    pub dunning_event: Option<String>,
}

impl User {
    pub const EMAIL: &str = "email";
    pub const EMAIL_VERIFIED: &str = "email_verified";
    pub const PLAN: &str = "plan";
    pub const SUBSCRIPTION_STATUS: &str = "subscription_status";
    pub const CREATED_AT: &str = "created_at";
    pub const PASSWORD_HASH: &str = "password_hash";
    pub const SESSION_GEN: &str = "session_gen";
    pub const DEVICE_GEN: &str = "device_gen";
    pub const BILLING_GEN: &str = "billing_gen";
    pub const STRIPE_CUSTOMER_ID: &str = "stripe_customer_id";
    pub const STRIPE_SUBSCRIPTION_ID: &str = "stripe_subscription_id";
    pub const CURRENT_PERIOD_END: &str = "current_period_end";
    pub const CANCEL_AT_PERIOD_END: &str = "cancel_at_period_end";
    pub const BILLING_EVENT_AT: &str = "billing_event_at";
    pub const BILLING_EVENT_RANK: &str = "billing_event_rank";
    pub const DUNNING_EVENT: &str = "dunning_event";

    /// The plan and subscription status of a new account (and of an item written before the
    /// billing fields existed).
    pub const FREE_PLAN: &str = "free";
    pub const NO_SUBSCRIPTION: &str = "none";
    /// Stored as `stripe_subscription_id` when an account is taken back from whoever
    /// registered it first: the previous holder's subscription is no longer this user's, and a
    /// write naming it (its renewals, its deletion) must find "another subscription is current"
    /// and be superseded. Read back as no subscription.
    pub const RELEASED_SUBSCRIPTION: &str = "released";

    /// A new account on the free plan.
    pub fn new(
        id: impl Into<String>,
        email: impl Into<String>,
        password_hash: Option<String>,
        email_verified: bool,
        now_secs: i64,
    ) -> Self {
        Self {
            id: id.into(),
            email: email.into(),
            email_verified,
            plan: Self::FREE_PLAN.into(),
            subscription_status: Self::NO_SUBSCRIPTION.into(),
            created_at: now_secs,
            password_hash,
            session_gen: 0,
            device_gen: 0,
            billing_gen: 0,
            stripe_customer_id: None,
            stripe_subscription_id: None,
            current_period_end: None,
            cancel_at_period_end: None,
            billing_event_at: None,
            billing_event_rank: None,
            dunning_event: None,
        }
    }

    pub fn key(&self) -> Key {
        keys::user(&self.id)
    }

    /// The condition that the generation counter `attr` (`DEVICE_GEN`, `BILLING_GEN`) still
    /// holds `g` (absent reads as 0).
    pub fn generation_is(attr: &str, g: i64) -> Condition {
        if g == 0 {
            Condition::AttrNotExists(attr.into()).or(Condition::eq(attr, 0))
        } else {
            Condition::eq(attr, g)
        }
    }
}

impl Record for User {
    const KIND: &'static str = "user";
}

impl TryFrom<&Item> for User {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            id: id_after(kind, &item.pk, &keys::user("").0)?,
            email: item.req_s(kind, Self::EMAIL)?.to_string(),
            email_verified: item.bool(Self::EMAIL_VERIFIED).unwrap_or(false),
            plan: item
                .opt_s(Self::PLAN)
                .unwrap_or_else(|| Self::FREE_PLAN.into()),
            subscription_status: item
                .opt_s(Self::SUBSCRIPTION_STATUS)
                .unwrap_or_else(|| Self::NO_SUBSCRIPTION.into()),
            created_at: item.n(Self::CREATED_AT).unwrap_or_default(),
            password_hash: item.opt_s(Self::PASSWORD_HASH),
            session_gen: item.n(Self::SESSION_GEN).unwrap_or(0),
            device_gen: item.n(Self::DEVICE_GEN).unwrap_or(0),
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

impl From<&User> for Item {
    fn from(u: &User) -> Self {
        let (pk, sk) = u.key();
        Item::new(pk, sk)
            .with(TYPE, User::KIND)
            .with(User::EMAIL, u.email.as_str())
            .with(User::EMAIL_VERIFIED, u.email_verified)
            .with(User::PLAN, u.plan.as_str())
            .with(User::SUBSCRIPTION_STATUS, u.subscription_status.as_str())
            .with(User::CREATED_AT, u.created_at)
            .with_opt(User::PASSWORD_HASH, u.password_hash.as_deref())
            // A new account has no generation yet (read as 0); the first bump writes it.
            .with_opt(
                User::SESSION_GEN,
                (u.session_gen != 0).then_some(u.session_gen),
            )
            .with_opt(
                User::DEVICE_GEN,
                (u.device_gen != 0).then_some(u.device_gen),
            )
            .with_opt(
                User::BILLING_GEN,
                (u.billing_gen != 0).then_some(u.billing_gen),
            )
            .with_opt(User::STRIPE_CUSTOMER_ID, u.stripe_customer_id.as_deref())
            .with_opt(
                User::STRIPE_SUBSCRIPTION_ID,
                u.stripe_subscription_id.as_deref(),
            )
            .with_opt(User::CURRENT_PERIOD_END, u.current_period_end)
            .with_opt(User::CANCEL_AT_PERIOD_END, u.cancel_at_period_end)
            .with_opt(User::BILLING_EVENT_AT, u.billing_event_at)
            .with_opt(User::BILLING_EVENT_RANK, u.billing_event_rank)
            .with_opt(User::DUNNING_EVENT, u.dunning_event.as_deref())
    }
}

/// The unique email → account lookup; the email appears only as its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLink {
    /// From the key (`email#<hash>`).
    pub email_hash: String,
    pub user_id: String,
}

impl EmailLink {
    pub const USER_ID: &str = "user_id";

    pub fn key(&self) -> Key {
        keys::email(&self.email_hash)
    }
}

impl Record for EmailLink {
    const KIND: &'static str = "email";
}

impl TryFrom<&Item> for EmailLink {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            email_hash: id_after(kind, &item.pk, &keys::email("").0)?,
            user_id: item.req_s(kind, Self::USER_ID)?.to_string(),
        })
    }
}

impl From<&EmailLink> for Item {
    fn from(l: &EmailLink) -> Self {
        let (pk, sk) = l.key();
        Item::new(pk, sk)
            .with(TYPE, EmailLink::KIND)
            .with(EmailLink::USER_ID, l.user_id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_links_round_trip() {
        let mut u = User::new("u1", "a@example.com", Some("$argon2id$x".into()), false, 7);
        assert_eq!(User::try_from(&Item::from(&u)).unwrap(), u);
        u.session_gen = 3;
        u.device_gen = 2;
        u.billing_gen = 1;
        u.stripe_customer_id = Some("cus_1".into());
        u.cancel_at_period_end = Some(true);
        assert_eq!(User::try_from(&Item::from(&u)).unwrap(), u);
        let l = EmailLink {
            email_hash: "h".into(),
            user_id: "u1".into(),
        };
        assert_eq!(EmailLink::try_from(&Item::from(&l)).unwrap(), l);
        assert!(User::try_from(&Item::from(&l)).is_err(), "another kind");
    }

    #[test]
    fn a_new_user_item_is_what_registration_always_wrote() {
        let item = Item::from(&User::new("u1", "a@example.com", None, true, 7));
        assert_eq!(item.pk, "user#u1");
        let names: Vec<&str> = item.attrs.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "created_at",
                "email",
                "email_verified",
                "plan",
                "subscription_status",
                "type"
            ]
        );
    }
}
