//! A count of consecutive failed sign-ins (`FailureCount`) for one subject: an account as seen
//! from clients it does not know (keyed by the address's keyed hash), or one device trusted for
//! the account. Written only by compare-and-swap on both attributes, so parallel guesses each
//! see the count the one before them left.

use super::expect_kind;
use rampart_store::record::{Record, TYPE};
use rampart_store::{EXPIRES_AT, Item, Key, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCount {
    /// `keys::account_failures` or `keys::device_failures`.
    pub key: Key,
    /// Attempts since the last success, each counted before its secret is checked.
    pub failures: i64,
    /// No attempt is admitted before this time (epoch seconds): the backoff.
    pub next_at: i64,
    pub expires_at: i64,
}

impl FailureCount {
    pub const FAILURES: &str = "failures";
    pub const NEXT_AT: &str = "next_at";

    /// The state of a subject that never failed.
    pub fn clean(key: Key) -> Self {
        Self {
            key,
            failures: 0,
            next_at: 0,
            expires_at: 0,
        }
    }
}

impl Record for FailureCount {
    const KIND: &'static str = "failure_count";
}

impl TryFrom<&Item> for FailureCount {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            key: (item.pk.clone(), item.sk.clone()),
            failures: item.req_n(kind, Self::FAILURES)?,
            next_at: item.req_n(kind, Self::NEXT_AT)?,
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&FailureCount> for Item {
    fn from(f: &FailureCount) -> Self {
        let (pk, sk) = f.key.clone();
        Item::new(pk, sk)
            .with(TYPE, FailureCount::KIND)
            .with(FailureCount::FAILURES, f.failures)
            .with(FailureCount::NEXT_AT, f.next_at)
            .with(EXPIRES_AT, f.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_store::keys;

    #[test]
    fn failure_counts_round_trip() {
        let f = FailureCount {
            key: keys::device_failures("u1", "d1"),
            failures: 7,
            next_at: 120,
            expires_at: 9,
        };
        assert_eq!(FailureCount::try_from(&Item::from(&f)).unwrap(), f);
    }
}
