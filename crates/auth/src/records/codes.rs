//! Emailed codes, each stored as a keyed hash with its attempt counter: the live sign-in code of
//! an address (`Otp`, one slot for the address and one per device trusted for the account), and
//! the code that verifies a newly registered address (`EmailVerification`).

use super::{expect_kind, id_after};
use rampart_store::record::{Record, TYPE};
use rampart_store::{EXPIRES_AT, Item, Key, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otp {
    /// From the key (`otp#<email hash>`).
    pub email_hash: String,
    /// From the sort key: the trusted device this code was issued to, or `None` for the
    /// address's own slot (any client may request and guess that one).
    pub device_id: Option<String>,
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
        match &self.device_id {
            None => keys::otp(&self.email_hash),
            Some(d) => keys::otp_for_device(&self.email_hash, d),
        }
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
        let device_id = if item.sk == keys::otp("").1 {
            None
        } else {
            Some(id_after(kind, &item.sk, keys::OTP_DEVICE_PREFIX)?)
        };
        Ok(Self {
            email_hash: id_after(kind, &item.pk, &keys::otp("").0)?,
            device_id,
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

/// The code registration mails; entering it marks the account's address verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailVerification {
    /// From the key (`verify#<email hash>`).
    pub email_hash: String,
    /// The account it verifies: a code mailed for an earlier account of the address verifies
    /// nothing else.
    pub user_id: String,
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: i64,
}

impl EmailVerification {
    pub const USER_ID: &str = "user_id";
    pub const CODE_HASH: &str = "code_hash";
    pub const ATTEMPTS: &str = "attempts";

    pub fn key(&self) -> Key {
        keys::email_verification(&self.email_hash)
    }
}

impl Record for EmailVerification {
    const KIND: &'static str = "email_verification";
}

impl TryFrom<&Item> for EmailVerification {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            email_hash: id_after(kind, &item.pk, &keys::email_verification("").0)?,
            user_id: item.req_s(kind, Self::USER_ID)?.to_string(),
            code_hash: item.req_s(kind, Self::CODE_HASH)?.to_string(),
            attempts: item.req_n(kind, Self::ATTEMPTS)?,
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&EmailVerification> for Item {
    fn from(v: &EmailVerification) -> Self {
        let (pk, sk) = v.key();
        Item::new(pk, sk)
            .with(TYPE, EmailVerification::KIND)
            .with(EmailVerification::USER_ID, v.user_id.as_str())
            .with(EmailVerification::CODE_HASH, v.code_hash.as_str())
            .with(EmailVerification::ATTEMPTS, v.attempts)
            .with(EXPIRES_AT, v.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        let mut o = Otp {
            email_hash: "eh".into(),
            device_id: None,
            code_hash: "ch".into(),
            attempts: 2,
            expires_at: 9,
        };
        let item = Item::from(&o);
        assert_eq!(item.pk, "otp#eh");
        assert_eq!(Otp::try_from(&item).unwrap(), o);
        o.device_id = Some("d1".into());
        let item = Item::from(&o);
        assert_eq!(item.sk, "device#d1");
        assert_eq!(Otp::try_from(&item).unwrap(), o);
        let v = EmailVerification {
            email_hash: "eh".into(),
            user_id: "u1".into(),
            code_hash: "ch".into(),
            attempts: 0,
            expires_at: 9,
        };
        assert_eq!(EmailVerification::try_from(&Item::from(&v)).unwrap(), v);
        assert!(Otp::try_from(&Item::from(&v)).is_err(), "another kind");
    }
}
