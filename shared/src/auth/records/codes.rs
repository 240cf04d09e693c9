//! The one live email sign-in code of an address (`Otp`): stored as a keyed hash with its
//! attempt counter, found by the address's keyed hash.

use super::{expect_kind, id_after};
use crate::store::record::{Record, TYPE};
use crate::store::{EXPIRES_AT, Item, Key, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otp {
    /// From the key (`otp#<email hash>`).
    pub email_hash: String,
    /// Keyed hash of the address and the code, never the code.
    pub code_hash: String,
    /// Guesses made against this code, counted before each is checked.
    pub attempts: i64,
    pub expires_at: i64,
}

impl Otp {
    pub const CODE_HASH: &str = "code_hash";
    pub const ATTEMPTS: &str = "attempts";

    pub fn key(&self) -> Key {
        keys::otp(&self.email_hash)
    }
}

impl Record for Otp {
    const KIND: &'static str = "otp";
}

impl TryFrom<&Item> for Otp {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            email_hash: id_after(kind, &item.pk, &keys::otp("").0)?,
            code_hash: item.req_s(kind, Self::CODE_HASH)?.to_string(),
            attempts: item.req_n(kind, Self::ATTEMPTS)?,
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&Otp> for Item {
    fn from(o: &Otp) -> Self {
        let (pk, sk) = o.key();
        Item::new(pk, sk)
            .with(TYPE, Otp::KIND)
            .with(Otp::CODE_HASH, o.code_hash.as_str())
            .with(Otp::ATTEMPTS, o.attempts)
            .with(EXPIRES_AT, o.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        let o = Otp {
            email_hash: "eh".into(),
            code_hash: "ch".into(),
            attempts: 2,
            expires_at: 9,
        };
        let item = Item::from(&o);
        assert_eq!(item.pk, "otp#eh");
        assert_eq!(Otp::try_from(&item).unwrap(), o);
    }
}
