//! A session (one login on one device, in its user's partition) and its refresh tokens (one
//! item per token, found by the token's keyed hash; the rotated ones are kept to detect reuse).

use super::{expect_kind, id_after};
use rampart_store::record::{Record, TYPE, malformed};
use rampart_store::{EXPIRES_AT, Item, Key, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    /// From the sort key (`session#<id>`).
    pub session_id: String,
    pub created_at: i64,
    /// The user's session generation when the session began (or last moved with a password
    /// change it made); the session is live only while the user's is the same.
    pub session_gen: i64,
    /// Keyed hash of the session's current refresh token.
    pub refresh_hash: String,
    pub expires_at: i64,
    /// Stored only once true: the rotation's condition is "the attribute does not exist".
    pub revoked: bool,
    /// The coarse class of the client that signed in (`auth::client`); `None` for sessions
    /// started before it was recorded.
    pub device_class: Option<String>,
}

impl Session {
    pub const USER_ID: &str = "user_id";
    pub const CREATED_AT: &str = "created_at";
    pub const SESSION_GEN: &str = "session_gen";
    pub const REFRESH_HASH: &str = "refresh_hash";
    pub const REVOKED: &str = "revoked";
    pub const DEVICE_CLASS: &str = "device_class";

    pub fn key(&self) -> Key {
        keys::session(&self.user_id, &self.session_id)
    }

    /// When the session was last used, at least: each rotation moves the expiry to its own time
    /// plus the refresh lifetime, so the last rotation is readable without another write per
    /// request (an expiry cut to the absolute end reads earlier, hence "at least").
    pub fn last_used_at_least(&self) -> i64 {
        (self.expires_at - rampart_platform::lifetimes::REFRESH_SECS).max(self.created_at)
    }
}

impl Record for Session {
    const KIND: &'static str = "session";
}

impl TryFrom<&Item> for Session {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            user_id: item.req_s(kind, Self::USER_ID)?.to_string(),
            session_id: id_after(kind, &item.sk, keys::SESSION_PREFIX)?,
            created_at: item.req_n(kind, Self::CREATED_AT)?,
            session_gen: item.n(Self::SESSION_GEN).unwrap_or(0),
            refresh_hash: item.req_s(kind, Self::REFRESH_HASH)?.to_string(),
            expires_at: item.req_n(kind, EXPIRES_AT)?,
            revoked: item.bool(Self::REVOKED) == Some(true),
            device_class: item.opt_s(Self::DEVICE_CLASS),
        })
    }
}

impl From<&Session> for Item {
    fn from(s: &Session) -> Self {
        let (pk, sk) = s.key();
        Item::new(pk, sk)
            .with(TYPE, Session::KIND)
            .with(Session::USER_ID, s.user_id.as_str())
            .with(Session::CREATED_AT, s.created_at)
            .with(Session::SESSION_GEN, s.session_gen)
            .with(Session::REFRESH_HASH, s.refresh_hash.as_str())
            .with(EXPIRES_AT, s.expires_at)
            .with_opt(Session::REVOKED, s.revoked.then_some(true))
            .with_opt(Session::DEVICE_CLASS, s.device_class.as_deref())
    }
}

/// Where a refresh token is in its rotation (RFC 9700 §4.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStatus {
    /// The one token of the session that may be used.
    Current,
    /// Used once already: presenting it again is reuse.
    Rotated,
}

impl RefreshStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Rotated => "rotated",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Current, Self::Rotated]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// From the key (`refresh#<hash>`): the token's keyed hash, never the token.
    pub token_hash: String,
    pub user_id: String,
    pub session_id: String,
    pub status: RefreshStatus,
    pub rotated_at: Option<i64>,
    /// Once rotated: the token that replaced it, encrypted under a key only the holder of this
    /// token can derive, so a second tab presenting it within the grace period gets the same
    /// newest token instead of a revocation (never readable from the table alone).
    pub next_sealed: Option<String>,
    pub expires_at: i64,
}

impl RefreshToken {
    pub const USER_ID: &str = "user_id";
    pub const SESSION_ID: &str = "session_id";
    pub const STATUS: &str = "status";
    pub const ROTATED_AT: &str = "rotated_at";
    pub const NEXT_SEALED: &str = "next_sealed";

    pub fn key(&self) -> Key {
        keys::refresh_token(&self.token_hash)
    }
}

impl Record for RefreshToken {
    const KIND: &'static str = "refresh";
}

impl TryFrom<&Item> for RefreshToken {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        let status = RefreshStatus::parse(item.req_s(kind, Self::STATUS)?)
            .ok_or_else(|| malformed(kind, Self::STATUS))?;
        Ok(Self {
            token_hash: id_after(kind, &item.pk, &keys::refresh_token("").0)?,
            user_id: item.req_s(kind, Self::USER_ID)?.to_string(),
            session_id: item.req_s(kind, Self::SESSION_ID)?.to_string(),
            status,
            rotated_at: item.n(Self::ROTATED_AT),
            next_sealed: item.opt_s(Self::NEXT_SEALED),
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&RefreshToken> for Item {
    fn from(r: &RefreshToken) -> Self {
        let (pk, sk) = r.key();
        Item::new(pk, sk)
            .with(TYPE, RefreshToken::KIND)
            .with(RefreshToken::USER_ID, r.user_id.as_str())
            .with(RefreshToken::SESSION_ID, r.session_id.as_str())
            .with(RefreshToken::STATUS, r.status.as_str())
            .with_opt(RefreshToken::ROTATED_AT, r.rotated_at)
            .with_opt(RefreshToken::NEXT_SEALED, r.next_sealed.as_deref())
            .with(EXPIRES_AT, r.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_and_refresh_tokens_round_trip() {
        let mut s = Session {
            user_id: "u1".into(),
            session_id: "s1".into(),
            created_at: 1,
            session_gen: 2,
            refresh_hash: "h".into(),
            expires_at: 9,
            revoked: false,
            device_class: Some("browser".into()),
        };
        let item = Item::from(&s);
        assert!(item.get(Session::REVOKED).is_none(), "absent until revoked");
        assert_eq!(Session::try_from(&item).unwrap(), s);
        s.revoked = true;
        assert_eq!(Session::try_from(&Item::from(&s)).unwrap(), s);
        let mut r = RefreshToken {
            token_hash: "th".into(),
            user_id: "u1".into(),
            session_id: "s1".into(),
            status: RefreshStatus::Current,
            rotated_at: None,
            next_sealed: None,
            expires_at: 9,
        };
        assert_eq!(RefreshToken::try_from(&Item::from(&r)).unwrap(), r);
        r.status = RefreshStatus::Rotated;
        r.rotated_at = Some(5);
        r.next_sealed = Some("sealed".into());
        assert_eq!(RefreshToken::try_from(&Item::from(&r)).unwrap(), r);
        let odd = Item::from(&r).with(RefreshToken::STATUS, "stolen");
        assert!(RefreshToken::try_from(&odd).is_err());
    }
}
