//! An operator's suspension of an account: kept on the account item itself (so the session check
//! that already reads the item sees it without another read), mapped here rather than in `User`
//! because only the suspension flows and the live checks read it.

use rampart_store::{Condition, Item};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    pub suspended_at: i64,
    /// The operator's reason (1-500 characters), shown to operators and in the owner's export.
    pub reason: String,
    /// The operator who suspended (`operator:<fingerprint>`, never the token).
    pub by: String,
}

impl Suspension {
    pub const SUSPENDED_AT: &str = "suspended_at";
    pub const REASON: &str = "suspension_reason";
    pub const BY: &str = "suspended_by";

    /// The suspension recorded on an account item, if any.
    pub fn of(account: &Item) -> Option<Self> {
        Some(Self {
            suspended_at: account.n(Self::SUSPENDED_AT)?,
            reason: account.s(Self::REASON).unwrap_or_default().to_string(),
            by: account.s(Self::BY).unwrap_or_default().to_string(),
        })
    }

    /// The condition "the account is not suspended", for every write that starts or extends a
    /// session.
    pub fn absent() -> Condition {
        Condition::AttrNotExists(Self::SUSPENDED_AT.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspension_reads_back_from_the_account_item() {
        let item = Item::new("user#u1".to_string(), "profile".to_string());
        assert_eq!(Suspension::of(&item), None);
        let item = item
            .with(Suspension::SUSPENDED_AT, 7)
            .with(Suspension::REASON, "fraud")
            .with(Suspension::BY, "operator:abc");
        let s = Suspension::of(&item).unwrap();
        assert_eq!((s.suspended_at, s.reason.as_str()), (7, "fraud"));
    }
}
