//! The second factor's stored kinds, all in the user's partition (so erasure finds and deletes
//! them with the account): the TOTP secret (`Totp`, sealed at rest), the unused recovery codes
//! (`RecoveryCode`, keyed hashes only) and the sign-ins waiting for their second factor
//! (`MfaChallenge`, by the keyed hash of their token).

use super::{expect_kind, id_after};
use rampart_store::record::{Record, TYPE};
use rampart_store::{EXPIRES_AT, Item, Key, StoreError, keys};

/// A user's TOTP secret: pending from setup until a code confirms it (and expiring if none
/// does), then active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totp {
    /// From the key (`user#<id>`).
    pub user_id: String,
    /// The secret, sealed (`rampart_platform::crypto::seal`, bound to the user).
    pub secret_sealed: String,
    pub active: bool,
    /// The last time step a code was accepted for: a code is used once (RFC 6238 §5.2), so
    /// only a later step is accepted.
    pub last_step: i64,
    pub created_at: i64,
    /// Pending secrets only.
    pub expires_at: Option<i64>,
}

impl Totp {
    pub const SECRET_SEALED: &str = "secret_sealed";
    pub const ACTIVE: &str = "active";
    pub const LAST_STEP: &str = "last_step";
    pub const CREATED_AT: &str = "created_at";

    pub fn key(&self) -> Key {
        keys::totp(&self.user_id)
    }
}

impl Record for Totp {
    const KIND: &'static str = "totp";
}

impl TryFrom<&Item> for Totp {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            user_id: id_after(kind, &item.pk, &keys::totp("").0)?,
            secret_sealed: item.req_s(kind, Self::SECRET_SEALED)?.to_string(),
            active: item.bool(Self::ACTIVE).unwrap_or(false),
            last_step: item.n(Self::LAST_STEP).unwrap_or(0),
            created_at: item.n(Self::CREATED_AT).unwrap_or(0),
            expires_at: item.n(EXPIRES_AT),
        })
    }
}

impl From<&Totp> for Item {
    fn from(t: &Totp) -> Self {
        let (pk, sk) = t.key();
        Item::new(pk, sk)
            .with(TYPE, Totp::KIND)
            .with(Totp::SECRET_SEALED, t.secret_sealed.as_str())
            .with(Totp::ACTIVE, t.active)
            .with(Totp::LAST_STEP, t.last_step)
            .with(Totp::CREATED_AT, t.created_at)
            .with_opt(EXPIRES_AT, t.expires_at)
    }
}

/// One unused recovery code; using it deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCode {
    pub user_id: String,
    /// From the key: the code's keyed hash.
    pub code_hash: String,
    pub created_at: i64,
}

impl RecoveryCode {
    pub const CREATED_AT: &str = "created_at";

    pub fn key(&self) -> Key {
        keys::recovery_code(&self.user_id, &self.code_hash)
    }
}

impl Record for RecoveryCode {
    const KIND: &'static str = "recovery_code";
}

impl TryFrom<&Item> for RecoveryCode {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            user_id: id_after(kind, &item.pk, &keys::user("").0)?,
            code_hash: id_after(kind, &item.sk, keys::RECOVERY_CODE_PREFIX)?,
            created_at: item.n(Self::CREATED_AT).unwrap_or(0),
        })
    }
}

impl From<&RecoveryCode> for Item {
    fn from(r: &RecoveryCode) -> Self {
        let (pk, sk) = r.key();
        Item::new(pk, sk)
            .with(TYPE, RecoveryCode::KIND)
            .with(RecoveryCode::CREATED_AT, r.created_at)
    }
}

/// A sign-in whose first factor succeeded, waiting for the second (its `mfa_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub user_id: String,
    /// From the key: the token's keyed hash.
    pub token_hash: String,
    /// How the first factor was proven (`password`, `email_code`).
    pub method: String,
    /// The user's session generation when the first factor succeeded: a password change or
    /// reset in between voids the challenge.
    pub session_gen: i64,
    pub expires_at: i64,
}

impl MfaChallenge {
    pub const METHOD: &str = "method";
    pub const SESSION_GEN: &str = "session_gen";

    pub fn key(&self) -> Key {
        keys::mfa_challenge(&self.user_id, &self.token_hash)
    }
}

impl Record for MfaChallenge {
    const KIND: &'static str = "mfa_challenge";
}

impl TryFrom<&Item> for MfaChallenge {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            user_id: id_after(kind, &item.pk, &keys::user("").0)?,
            token_hash: id_after(kind, &item.sk, keys::MFA_CHALLENGE_PREFIX)?,
            method: item.req_s(kind, Self::METHOD)?.to_string(),
            session_gen: item.n(Self::SESSION_GEN).unwrap_or(0),
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&MfaChallenge> for Item {
    fn from(c: &MfaChallenge) -> Self {
        let (pk, sk) = c.key();
        Item::new(pk, sk)
            .with(TYPE, MfaChallenge::KIND)
            .with(MfaChallenge::METHOD, c.method.as_str())
            .with(MfaChallenge::SESSION_GEN, c.session_gen)
            .with(EXPIRES_AT, c.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_factor_records_round_trip() {
        let mut t = Totp {
            user_id: "u1".into(),
            secret_sealed: "sealed".into(),
            active: false,
            last_step: 0,
            created_at: 7,
            expires_at: Some(9),
        };
        assert_eq!(Totp::try_from(&Item::from(&t)).unwrap(), t);
        t.active = true;
        t.last_step = 12;
        t.expires_at = None;
        assert_eq!(Totp::try_from(&Item::from(&t)).unwrap(), t);
        let r = RecoveryCode {
            user_id: "u1".into(),
            code_hash: "h".into(),
            created_at: 7,
        };
        assert_eq!(RecoveryCode::try_from(&Item::from(&r)).unwrap(), r);
        let c = MfaChallenge {
            user_id: "u1".into(),
            token_hash: "h".into(),
            method: "password".into(),
            session_gen: 2,
            expires_at: 9,
        };
        assert_eq!(MfaChallenge::try_from(&Item::from(&c)).unwrap(), c);
        assert!(Totp::try_from(&Item::from(&c)).is_err(), "another kind");
    }
}
