//! The account (`User`, the profile item) and the unique email → account lookup (`EmailLink`).
//!
//! Auth writes a user whole only when creating it; everything later (password changes, the
//! session and device generations) is a partial update or a condition naming these constants.
//! The account item also carries the attributes other domains keep on it (billing's plan and
//! Stripe ids, `rampart_http::account`): this struct maps auth's only, so auth never puts the
//! item whole after creating it (that would drop theirs).

use super::{expect_kind, id_after};
use rampart_store::record::{Record, TYPE};
use rampart_store::{Condition, Item, Key, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// From the key (`user#<id>`), not stored as an attribute.
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub created_at: i64,
    /// Absent for accounts that only ever signed in with email codes, and after the owner of
    /// the address took an unverified account back.
    pub password_hash: Option<String>,
    /// Bumped with every password change or reset: sessions of an older generation are dead.
    pub session_gen: i64,
    /// Bumped when the owner of the address takes the account back or resets its password:
    /// device cookies minted at an older generation are no longer trusted (`auth::device`).
    pub device_gen: i64,
}

impl User {
    pub const EMAIL: &str = "email";
    pub const EMAIL_VERIFIED: &str = "email_verified";
    pub const CREATED_AT: &str = "created_at";
    pub const PASSWORD_HASH: &str = "password_hash";
    pub const SESSION_GEN: &str = "session_gen";
    pub const DEVICE_GEN: &str = "device_gen";

    /// A new account (on the free plan: billing reads its absent attributes so).
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
            created_at: now_secs,
            password_hash,
            session_gen: 0,
            device_gen: 0,
        }
    }

    pub fn key(&self) -> Key {
        keys::user(&self.id)
    }

    /// The condition that the generation counter `attr` (`DEVICE_GEN`) still holds `g` (absent
    /// reads as 0).
    pub fn generation_is(attr: &str, g: i64) -> Condition {
        if g == 0 {
            Condition::AttrNotExists(attr.into()).or(Condition::eq(attr, 0))
        } else {
            Condition::eq(attr, g)
        }
    }
}

/// The account and its item as stored (with the attributes other domains keep on it, which
/// `User` does not map), or `None` when there is no such account.
pub async fn load_account(
    store: &dyn rampart_store::Store,
    user_id: &str,
) -> Result<Option<(User, Item)>, StoreError> {
    let (pk, sk) = keys::user(user_id);
    let Some(item) = store.get(&pk, &sk).await? else {
        return Ok(None);
    };
    Ok(Some((User::try_from(&item)?, item)))
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
            created_at: item.n(Self::CREATED_AT).unwrap_or_default(),
            password_hash: item.opt_s(Self::PASSWORD_HASH),
            session_gen: item.n(Self::SESSION_GEN).unwrap_or(0),
            device_gen: item.n(Self::DEVICE_GEN).unwrap_or(0),
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
        assert_eq!(User::try_from(&Item::from(&u)).unwrap(), u);
        let l = EmailLink {
            email_hash: "h".into(),
            user_id: "u1".into(),
        };
        assert_eq!(EmailLink::try_from(&Item::from(&l)).unwrap(), l);
        assert!(User::try_from(&Item::from(&l)).is_err(), "another kind");
    }

    #[test]
    fn a_new_user_item_holds_auths_attributes_only() {
        let item = Item::from(&User::new("u1", "a@example.com", None, true, 7));
        assert_eq!(item.pk, "user#u1");
        let names: Vec<&str> = item.attrs.keys().map(String::as_str).collect();
        assert_eq!(names, ["created_at", "email", "email_verified", "type"]);
    }
}
