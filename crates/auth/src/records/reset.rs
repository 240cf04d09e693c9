//! A password-reset token (`PasswordReset`), found by the token's keyed hash and valid only
//! while its user's session generation is the one it was issued under.

use super::{expect_kind, id_after};
use rampart_store::record::{Record, TYPE};
use rampart_store::{EXPIRES_AT, Item, Key, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    /// From the key (`reset#<hash>`): the token's keyed hash, never the token.
    pub token_hash: String,
    pub user_id: String,
    /// The user's session generation when the token was mailed: a password change or another
    /// reset moves the generation on and so retires the token.
    pub session_gen: i64,
    pub expires_at: i64,
}

impl PasswordReset {
    pub const USER_ID: &str = "user_id";
    pub const SESSION_GEN: &str = "session_gen";

    pub fn key(&self) -> Key {
        keys::password_reset(&self.token_hash)
    }
}

impl Record for PasswordReset {
    const KIND: &'static str = "password_reset";
}

impl TryFrom<&Item> for PasswordReset {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            token_hash: id_after(kind, &item.pk, &keys::password_reset("").0)?,
            user_id: item.req_s(kind, Self::USER_ID)?.to_string(),
            session_gen: item.n(Self::SESSION_GEN).unwrap_or(0),
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&PasswordReset> for Item {
    fn from(r: &PasswordReset) -> Self {
        let (pk, sk) = r.key();
        Item::new(pk, sk)
            .with(TYPE, PasswordReset::KIND)
            .with(PasswordReset::USER_ID, r.user_id.as_str())
            .with(PasswordReset::SESSION_GEN, r.session_gen)
            .with(EXPIRES_AT, r.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_tokens_round_trip() {
        let r = PasswordReset {
            token_hash: "th".into(),
            user_id: "u1".into(),
            session_gen: 0,
            expires_at: 9,
        };
        assert_eq!(PasswordReset::try_from(&Item::from(&r)).unwrap(), r);
    }
}
