//! The stored kinds of erasure: the `Erasure` record (its steps, status and counts; the
//! tombstone that stays once it is done), the `ErasedUser` marker and the pending-list entry,
//! each mapped to and from its item once, with their attribute names.

use std::collections::BTreeSet;

use rampart_store::record::{Record, TYPE, malformed};
use rampart_store::{EXPIRES_AT, Item, Key, StoreError, keys};

/// The resumable steps of an erasure, in the order they run (the phases every domain's
/// registration names). Each is idempotent; the record remembers which are done so a retry or
/// the cron's sweep goes on where a crash stopped.
pub use rampart_http::registry::Step;

/// The attribute holding when a step was done (one per step, so marking one never races with
/// marking another).
pub fn done_attr(step: Step) -> &'static str {
    match step {
        Step::Revoked => "done_revoked",
        Step::ApiKeys => "done_api_keys",
        Step::Stripe => "done_stripe",
        Step::Finance => "done_finance",
        Step::Sessions => "done_sessions",
        Step::Mails => "done_mails",
        Step::Audit => "done_audit",
        Step::Profile => "done_profile",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Access is revoked; steps remain.
    Erasing,
    /// Access is revoked; the rest waits for a legal hold to be lifted.
    Held,
    /// Every step done: only the tombstone and the anonymised financial records remain.
    Erased,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Erasing => "erasing",
            Status::Held => "held",
            Status::Erased => "erased",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Status::Erasing, Status::Held, Status::Erased]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

pub const USER_ID: &str = "user_id";
pub const TOMBSTONE_ID: &str = "tombstone_id";
pub const STATUS: &str = "status";
pub const REQUESTED_AT: &str = "requested_at";
pub const ERASED_AT: &str = "erased_at";
pub const STRIPE_CUSTOMER_ID: &str = "stripe_customer_id";
/// When the worker saw Stripe confirm the customer's deletion (or already gone).
pub const STRIPE_DELETED_AT: &str = "stripe_deleted_at";
pub const ITEMS_ERASED: &str = "items_erased";
pub const ITEMS_ANONYMISED: &str = "items_anonymised";

/// One erasure. The user id is kept only while steps remain (the steps need it) and removed
/// when the erasure finishes; the tombstone id is what anonymised records point to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// From the key (`erasure#<id>`).
    pub id: String,
    pub user_id: Option<String>,
    pub tombstone_id: String,
    pub status: Status,
    pub done: BTreeSet<Step>,
    pub requested_at: i64,
    pub erased_at: Option<i64>,
    pub stripe_customer_id: Option<String>,
    pub stripe_deleted_at: Option<i64>,
    pub items_erased: i64,
    pub items_anonymised: i64,
    pub expires_at: i64,
}

impl Erasure {
    pub fn key(&self) -> Key {
        keys::erasure(&self.id)
    }

    /// The first step not done yet.
    pub fn next_step(&self) -> Option<Step> {
        Step::ALL.into_iter().find(|s| !self.done.contains(s))
    }
}

impl Record for Erasure {
    // The retention policy `erasure_tombstones` walks this kind by `erased_at`.
    const KIND: &'static str = "erasure_tombstone";
}

impl TryFrom<&Item> for Erasure {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        item.expect_kind(kind)?;
        let id = item
            .pk
            .strip_prefix(keys::erasure("").0.as_str())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| malformed(kind, "key"))?;
        let status =
            Status::parse(item.req_s(kind, STATUS)?).ok_or_else(|| malformed(kind, STATUS))?;
        Ok(Self {
            id: id.to_string(),
            user_id: item.opt_s(USER_ID),
            tombstone_id: item.req_s(kind, TOMBSTONE_ID)?.to_string(),
            status,
            done: Step::ALL
                .into_iter()
                .filter(|s| item.n(done_attr(*s)).is_some())
                .collect(),
            requested_at: item.req_n(kind, REQUESTED_AT)?,
            erased_at: item.n(ERASED_AT),
            stripe_customer_id: item.opt_s(STRIPE_CUSTOMER_ID),
            stripe_deleted_at: item.n(STRIPE_DELETED_AT),
            items_erased: item.n(ITEMS_ERASED).unwrap_or(0),
            items_anonymised: item.n(ITEMS_ANONYMISED).unwrap_or(0),
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&Erasure> for Item {
    fn from(e: &Erasure) -> Self {
        let (pk, sk) = e.key();
        let mut item = Item::new(pk, sk)
            .with(TYPE, Erasure::KIND)
            .with_opt(USER_ID, e.user_id.as_deref())
            .with(TOMBSTONE_ID, e.tombstone_id.as_str())
            .with(STATUS, e.status.as_str())
            .with(REQUESTED_AT, e.requested_at)
            .with_opt(ERASED_AT, e.erased_at)
            .with_opt(STRIPE_CUSTOMER_ID, e.stripe_customer_id.as_deref())
            .with_opt(STRIPE_DELETED_AT, e.stripe_deleted_at)
            .with(ITEMS_ERASED, e.items_erased)
            .with(ITEMS_ANONYMISED, e.items_anonymised)
            .with(EXPIRES_AT, e.expires_at);
        for s in &e.done {
            item = item.with(done_attr(*s), e.requested_at);
        }
        item
    }
}

/// The marker of an erased (or erasing) account, by a keyed hash of its old user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedUser {
    /// From the key (`erased#<hash>`).
    pub user_hash: String,
    pub erasure_id: String,
    pub expires_at: i64,
}

pub const ERASURE_ID: &str = "erasure_id";

impl ErasedUser {
    pub fn key(&self) -> Key {
        keys::erased_user(&self.user_hash)
    }
}

impl Record for ErasedUser {
    const KIND: &'static str = "erased_user";
}

impl TryFrom<&Item> for ErasedUser {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        item.expect_kind(kind)?;
        let user_hash = item
            .pk
            .strip_prefix(keys::erased_user("").0.as_str())
            .ok_or_else(|| malformed(kind, "key"))?;
        Ok(Self {
            user_hash: user_hash.to_string(),
            erasure_id: item.req_s(kind, ERASURE_ID)?.to_string(),
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&ErasedUser> for Item {
    fn from(m: &ErasedUser) -> Self {
        let (pk, sk) = m.key();
        Item::new(pk, sk)
            .with(TYPE, ErasedUser::KIND)
            .with(ERASURE_ID, m.erasure_id.as_str())
            .with(EXPIRES_AT, m.expires_at)
    }
}

/// An unfinished erasure, listed for the sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingErasure {
    pub erasure_id: String,
}

impl Record for PendingErasure {
    const KIND: &'static str = "erasure_pending";
}

impl TryFrom<&Item> for PendingErasure {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        item.expect_kind(kind)?;
        Ok(Self {
            erasure_id: item.req_s(kind, ERASURE_ID)?.to_string(),
        })
    }
}

impl From<&PendingErasure> for Item {
    fn from(p: &PendingErasure) -> Self {
        let (pk, sk) = keys::erasure_pending(&p.erasure_id);
        Item::new(pk, sk)
            .with(TYPE, PendingErasure::KIND)
            .with(ERASURE_ID, p.erasure_id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erasure_records_round_trip() {
        let mut e = Erasure {
            id: "er1".into(),
            user_id: Some("u1".into()),
            tombstone_id: "tomb_1".into(),
            status: Status::Erasing,
            done: BTreeSet::from([Step::Revoked]),
            requested_at: 5,
            erased_at: None,
            stripe_customer_id: Some("cus_1".into()),
            stripe_deleted_at: None,
            items_erased: 0,
            items_anonymised: 0,
            expires_at: 9,
        };
        assert_eq!(Erasure::try_from(&Item::from(&e)).unwrap(), e);
        assert_eq!(e.next_step(), Some(Step::ApiKeys));
        e.done = Step::ALL.into_iter().collect();
        e.status = Status::Erased;
        e.user_id = None;
        assert_eq!(Erasure::try_from(&Item::from(&e)).unwrap(), e);
        assert_eq!(e.next_step(), None);
        let m = ErasedUser {
            user_hash: "h".into(),
            erasure_id: "er1".into(),
            expires_at: 9,
        };
        assert_eq!(ErasedUser::try_from(&Item::from(&m)).unwrap(), m);
        let p = PendingErasure {
            erasure_id: "er1".into(),
        };
        assert_eq!(PendingErasure::try_from(&Item::from(&p)).unwrap(), p);
    }
}
