//! One ordering of a user's billing state ("Webhook state"): every write to the plan,
//! the subscription status, its period and its pending cancellation (Stripe's subscription and
//! invoice events, and our own cancel/resume answers) carries a version (the provider's time in
//! seconds, then the object's progress within that second) and applies only when it is newer
//! than the version stored on the user. One version for every kind of event, so an older
//! invoice can no longer overwrite what a newer subscription event set.
//!
//! Writes that name a subscription apply only to the user's current subscription
//! (`stripe_subscription_id`); a `created` event adopts a new one. So a late event of a
//! replaced subscription (its deletion, say) never touches the user.

use crate::account::BillingAccount;
use rampart_http::state::AppState;
use rampart_store::{Condition, StoreError, Update, keys};

/// Progress within one second, lowest first: the order Stripe moves through them when a
/// subscription starts (created, its first invoice finalised then paid, the subscription
/// updated to active) and ends (deleted after everything else).
pub mod rank {
    pub const SUBSCRIPTION_CREATED: i64 = 10;
    /// Invoices by their own status order (Stripe: draft -> open -> paid | uncollectible | void).
    pub const INVOICE_DRAFT: i64 = 20;
    pub const INVOICE_OPEN: i64 = 21;
    pub const INVOICE_FINAL: i64 = 22;
    pub const SUBSCRIPTION_UPDATED: i64 = 30;
    pub const SUBSCRIPTION_DELETED: i64 = 40;

    /// An invoice's rank from its `status` (or, without one, from its event).
    pub fn invoice(status: Option<&str>, paid_event: bool) -> i64 {
        match status {
            Some("draft") => INVOICE_DRAFT,
            Some("open") => INVOICE_OPEN,
            Some("paid" | "uncollectible" | "void") => INVOICE_FINAL,
            _ if paid_event => INVOICE_FINAL,
            _ => INVOICE_OPEN,
        }
    }
}

/// Where a write sits in the user's billing history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// The provider's time of the event (epoch seconds).
    pub at: i64,
    pub rank: i64,
}

/// How a write relates to the user's current subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionMatch<'a> {
    /// The write names no subscription.
    Any,
    /// Only while `stripe_subscription_id` is absent or this one.
    Current(&'a str),
    /// A new subscription: becomes the current one.
    Adopt(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// Newer state was already there, or the write was about another subscription.
    Superseded,
    /// No such user.
    NoUser,
}

/// Who wins when a write's version equals the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tie {
    /// Provider events: the first applied stands (the same event again, or two changes Stripe
    /// stamped with the same second and progress, which nothing can order).
    Stored,
    /// Stripe's answer to our own call: it is the newest state Stripe had when it answered, so
    /// it replaces anything stamped with the same second (a cancel then a resume in one second).
    Write,
}

/// The condition a write at `v` needs: the stored version is older, or the same second with
/// less progress (or the same, when the write wins ties).
pub fn newer_than_stored(v: Version, tie: Tie) -> Condition {
    let at = BillingAccount::BILLING_EVENT_AT;
    let rank = BillingAccount::BILLING_EVENT_RANK;
    let progress = match tie {
        Tie::Stored => Condition::lt(rank, v.rank),
        Tie::Write => Condition::le(rank, v.rank),
    };
    Condition::AttrNotExists(at.into())
        .or(Condition::lt(at, v.at))
        .or(Condition::eq(at, v.at).and(Condition::AttrNotExists(rank.into()).or(progress)))
}

/// Applies a provider event's `update` to the user's billing state if `v` is newer than what
/// is stored, the subscription matches and `extra` (if any) holds; one conditional update.
pub async fn apply(
    state: &AppState,
    user_id: &str,
    v: Version,
    sub: SubscriptionMatch<'_>,
    update: Update,
    extra: Option<Condition>,
) -> Result<Applied, StoreError> {
    apply_with(state, user_id, (v, Tie::Stored), sub, update, extra).await
}

/// `apply` with a choice of who wins a tie.
pub async fn apply_with(
    state: &AppState,
    user_id: &str,
    (v, tie): (Version, Tie),
    sub: SubscriptionMatch<'_>,
    update: Update,
    extra: Option<Condition>,
) -> Result<Applied, StoreError> {
    let mut cond = Condition::Exists.and(newer_than_stored(v, tie));
    if let Some(extra) = extra {
        cond = cond.and(extra);
    }
    let mut update = update
        .set(BillingAccount::BILLING_EVENT_AT, v.at)
        .set(BillingAccount::BILLING_EVENT_RANK, v.rank);
    match sub {
        SubscriptionMatch::Any => {}
        SubscriptionMatch::Current(id) => {
            let sid = BillingAccount::STRIPE_SUBSCRIPTION_ID;
            cond = cond.and(Condition::AttrNotExists(sid.into()).or(Condition::eq(sid, id)));
            update = update.set(sid, id);
        }
        SubscriptionMatch::Adopt(id) => {
            update = update.set(BillingAccount::STRIPE_SUBSCRIPTION_ID, id)
        }
    }
    let (pk, sk) = keys::user(user_id);
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(_) => Ok(Applied::Applied),
        Err(StoreError::ConditionFailed { existing: Some(_) }) => Ok(Applied::Superseded),
        Err(StoreError::ConditionFailed { existing: None }) => Ok(Applied::NoUser),
        Err(e) => Err(e),
    }
}

/// Whether `v` is the version stored on `user` (the write of `v` is the last one applied).
pub fn is_current(billing: &BillingAccount, v: Version) -> bool {
    billing.billing_event_at == Some(v.at) && billing.billing_event_rank == Some(v.rank)
}
