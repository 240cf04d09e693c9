//! Identities at sign-in providers (Google, GitHub): the identity linked to a user
//! (`LinkedIdentity`, in the user's partition, what the export shows), its unique
//! (provider, subject) -> user lookup (`IdentityLink`), and a provider `state` already used
//! (`UsedOAuthState`, which makes every `state` single use). Subjects appear in keys only as
//! keyed hashes.

use super::expect_kind;
use rampart_store::record::{Record, TYPE, malformed};
use rampart_store::{EXPIRES_AT, Item, Key, StoreError, keys};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub user_id: String,
    /// `google` or `github`.
    pub provider: String,
    /// The provider's stable id of the person (OIDC `sub`; GitHub's numeric user id).
    pub subject: String,
    /// Keyed hash of `subject` (the sort key's last part).
    pub subject_hash: String,
    /// The address the provider vouched for when the identity was linked.
    pub email: String,
    pub linked_at: i64,
}

impl LinkedIdentity {
    pub const PROVIDER: &str = "provider";
    pub const SUBJECT: &str = "subject";
    pub const EMAIL: &str = "email";
    pub const LINKED_AT: &str = "linked_at";

    pub fn key(&self) -> Key {
        keys::linked_identity(&self.user_id, &self.provider, &self.subject_hash)
    }

    /// The lookup that leads from the provider's subject to this user.
    pub fn link(&self) -> IdentityLink {
        IdentityLink {
            provider: self.provider.clone(),
            subject_hash: self.subject_hash.clone(),
            user_id: self.user_id.clone(),
        }
    }
}

impl Record for LinkedIdentity {
    const KIND: &'static str = "linked_identity";
}

impl TryFrom<&Item> for LinkedIdentity {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        let user_id = item
            .pk
            .strip_prefix(&keys::user("").0)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| malformed(kind, "key"))?;
        let provider = item.req_s(kind, Self::PROVIDER)?.to_string();
        let subject_hash =
            subject_hash_in(&item.sk, &provider).ok_or_else(|| malformed(kind, "key"))?;
        Ok(Self {
            user_id: user_id.to_string(),
            subject_hash: subject_hash.to_string(),
            provider,
            subject: item.req_s(kind, Self::SUBJECT)?.to_string(),
            email: item.req_s(kind, Self::EMAIL)?.to_string(),
            linked_at: item.req_n(kind, Self::LINKED_AT)?,
        })
    }
}

impl From<&LinkedIdentity> for Item {
    fn from(l: &LinkedIdentity) -> Self {
        let (pk, sk) = l.key();
        Item::new(pk, sk)
            .with(TYPE, LinkedIdentity::KIND)
            .with(LinkedIdentity::PROVIDER, l.provider.as_str())
            .with(LinkedIdentity::SUBJECT, l.subject.as_str())
            .with(LinkedIdentity::EMAIL, l.email.as_str())
            .with(LinkedIdentity::LINKED_AT, l.linked_at)
    }
}

/// The unique (provider, subject) -> user lookup: a later sign-in finds the user by it, never
/// by the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    pub provider: String,
    pub subject_hash: String,
    pub user_id: String,
}

impl IdentityLink {
    pub const USER_ID: &str = "user_id";
    pub const PROVIDER: &str = "provider";

    pub fn key(&self) -> Key {
        keys::identity(&self.provider, &self.subject_hash)
    }
}

impl Record for IdentityLink {
    const KIND: &'static str = "identity_link";
}

impl TryFrom<&Item> for IdentityLink {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        let provider = item.req_s(kind, Self::PROVIDER)?.to_string();
        let subject_hash =
            subject_hash_in(&item.pk, &provider).ok_or_else(|| malformed(kind, "key"))?;
        Ok(Self {
            subject_hash: subject_hash.to_string(),
            provider,
            user_id: item.req_s(kind, Self::USER_ID)?.to_string(),
        })
    }
}

impl From<&IdentityLink> for Item {
    fn from(l: &IdentityLink) -> Self {
        let (pk, sk) = l.key();
        Item::new(pk, sk)
            .with(TYPE, IdentityLink::KIND)
            .with(IdentityLink::PROVIDER, l.provider.as_str())
            .with(IdentityLink::USER_ID, l.user_id.as_str())
    }
}

/// A `state` that came back from a provider once (its keyed hash), kept until the state would
/// have expired anyway: the conditional put of this item is what makes each `state` single use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedOAuthState {
    pub state_hash: String,
    pub expires_at: i64,
}

impl UsedOAuthState {
    pub fn key(&self) -> Key {
        keys::oauth_state(&self.state_hash)
    }
}

impl Record for UsedOAuthState {
    const KIND: &'static str = "oauth_state";
}

impl TryFrom<&Item> for UsedOAuthState {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        expect_kind(item, kind)?;
        Ok(Self {
            state_hash: super::id_after(kind, &item.pk, &keys::oauth_state("").0)?,
            expires_at: item.req_n(kind, EXPIRES_AT)?,
        })
    }
}

impl From<&UsedOAuthState> for Item {
    fn from(s: &UsedOAuthState) -> Self {
        let (pk, sk) = s.key();
        Item::new(pk, sk)
            .with(TYPE, UsedOAuthState::KIND)
            .with(EXPIRES_AT, s.expires_at)
    }
}

/// The subject hash in a key part `identity#<provider>#<hash>` (the linked identity's sort key,
/// the lookup's partition key), when it has that shape.
fn subject_hash_in<'a>(key: &'a str, provider: &str) -> Option<&'a str> {
    key.strip_prefix(keys::IDENTITY_PREFIX)?
        .strip_prefix(provider)?
        .strip_prefix('#')
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip() {
        let l = LinkedIdentity {
            user_id: "u1".into(),
            provider: "google".into(),
            subject: "1099".into(),
            subject_hash: "sh".into(),
            email: "a@example.com".into(),
            linked_at: 7,
        };
        let item = Item::from(&l);
        assert_eq!(
            (item.pk.as_str(), item.sk.as_str()),
            ("user#u1", "identity#google#sh")
        );
        assert_eq!(LinkedIdentity::try_from(&item).unwrap(), l);
        let link = l.link();
        let item = Item::from(&link);
        assert_eq!(item.pk, "identity#google#sh");
        assert_eq!(IdentityLink::try_from(&item).unwrap(), link);
        assert!(LinkedIdentity::try_from(&item).is_err(), "another kind");
        let used = UsedOAuthState {
            state_hash: "h".into(),
            expires_at: 9,
        };
        assert_eq!(UsedOAuthState::try_from(&Item::from(&used)).unwrap(), used);
    }
}
