//! `ApiKey`: one key of a customer, stored only as its keyed hash with the metadata operators
//! see (name, scopes, validity). Its attributes and its one mapping to and from an item.

use std::collections::BTreeSet;

use crate::customers::scope::Scope;
use rampart_store::record::TYPE;
use rampart_store::{EXPIRES_AT, Item, Record, StoreError, keys};

pub const CUSTOMER_ID: &str = "customer_id";
pub const KEY_ID: &str = "key_id";
/// The non-secret head of the key (`rk_live_<key id>`), to recognise it in a configuration.
pub const PREFIX: &str = "prefix";
pub const SECRET_HASH: &str = "secret_hash";
pub const CREATED_AT: &str = "created_at";
pub const CREATED_BY: &str = "created_by";
pub const LAST_USED_AT: &str = "last_used_at";
/// The end of a rotation's overlap window: the key stops working then.
pub const VALID_UNTIL: &str = "valid_until";
pub const REVOKED_AT: &str = "revoked_at";
pub const REVOKED_BY: &str = "revoked_by";
/// The operator's label for the key (which instance holds it), optional.
pub const NAME: &str = "name";
/// The scopes the key is limited to, space-separated (as OAuth's `scope`, RFC 6749 §3.3).
/// Absent: every scope (see `ApiKey::scopes`).
pub const SCOPES: &str = "scopes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub customer_id: String,
    pub key_id: String,
    pub prefix: String,
    /// HMAC-SHA256 of the whole key under `HASH_PEPPER` (see `customers::secret`).
    pub secret_hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub name: Option<String>,
    /// The scopes the key may use. `None` is every scope, now and later: keys stored before
    /// scopes existed have no `scopes` attribute and keep the full access they were issued
    /// with, and a key issued without a `scopes` list is the same full-access key. A stored
    /// name this code does not know grants nothing (fewer rights, never more).
    pub scopes: Option<BTreeSet<Scope>>,
    pub last_used_at: Option<i64>,
    /// When the key stops working: the end of a rotation's overlap or the expiry it was issued
    /// with (`expires_at` in the API), whichever is sooner.
    pub valid_until: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    /// When the store forgets the record: set once the key has stopped working.
    pub expires_at: Option<i64>,
}

/// Whether a key still opens the door, and if not, why (for the log, never the response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Revoked,
    Expired,
}

impl ApiKey {
    pub fn state(&self, now: i64) -> KeyState {
        if self.revoked_at.is_some() {
            KeyState::Revoked
        } else if self.valid_until.is_some_and(|t| t <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

impl Record for ApiKey {
    const KIND: &'static str = "api_key";
}

impl From<&ApiKey> for Item {
    fn from(k: &ApiKey) -> Self {
        let (pk, sk) = keys::api_key(&k.customer_id, &k.key_id);
        Item::new(pk, sk)
            .with(TYPE, ApiKey::KIND)
            .with(CUSTOMER_ID, k.customer_id.as_str())
            .with(KEY_ID, k.key_id.as_str())
            .with(PREFIX, k.prefix.as_str())
            .with(SECRET_HASH, k.secret_hash.as_str())
            .with(CREATED_AT, k.created_at)
            .with(CREATED_BY, k.created_by.as_str())
            .with_opt(NAME, k.name.clone())
            .with_opt(SCOPES, k.scopes.as_ref().map(stored_scopes))
            .with_opt(LAST_USED_AT, k.last_used_at)
            .with_opt(VALID_UNTIL, k.valid_until)
            .with_opt(REVOKED_AT, k.revoked_at)
            .with_opt(REVOKED_BY, k.revoked_by.clone())
            .with_opt(EXPIRES_AT, k.expires_at)
    }
}

impl TryFrom<&Item> for ApiKey {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let kind = Self::KIND;
        Ok(Self {
            customer_id: item.req_s(kind, CUSTOMER_ID)?.to_string(),
            key_id: item.req_s(kind, KEY_ID)?.to_string(),
            prefix: item.req_s(kind, PREFIX)?.to_string(),
            secret_hash: item.req_s(kind, SECRET_HASH)?.to_string(),
            created_at: item.req_n(kind, CREATED_AT)?,
            created_by: item.opt_s(CREATED_BY).unwrap_or_default(),
            name: item.opt_s(NAME),
            scopes: item
                .s(SCOPES)
                .map(|s| s.split(' ').filter_map(Scope::parse).collect()),
            last_used_at: item.n(LAST_USED_AT),
            valid_until: item.n(VALID_UNTIL),
            revoked_at: item.n(REVOKED_AT),
            revoked_by: item.opt_s(REVOKED_BY),
            expires_at: item.expires_at(),
        })
    }
}

fn stored_scopes(scopes: &BTreeSet<Scope>) -> String {
    let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.join(" ")
}
