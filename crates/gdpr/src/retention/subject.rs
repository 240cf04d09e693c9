//! What a legal hold keeps (a user, a customer instance, or one stored item), and which stored
//! kinds are credentials: a hold keeps records, never access.

use rampart_auth::records::{
    EmailVerification, FailureCount, Otp, PasswordReset, RefreshToken, Session,
};
use rampart_store::record::{Record, TYPE};
use rampart_store::{Item, keys};
use serde_json::{Value as Json, json};

/// Kinds that grant access or decide whose sign-in throttle an attempt counts against:
/// sessions, refresh tokens, sign-in and verification codes, reset tokens, and the failure
/// counts of an account or a device. Their expiry is part of what makes them safe (OWASP ASVS
/// 5.0 V7.3 session timeouts; short-lived codes, OWASP Authentication Cheat Sheet), and a hold
/// keeps records, not access: an item hold on one is refused, and none is ever pinned.
pub const CREDENTIAL_KINDS: &[&str] = &[
    Session::KIND,
    RefreshToken::KIND,
    Otp::KIND,
    EmailVerification::KIND,
    PasswordReset::KIND,
    FailureCount::KIND,
];

/// The credential kind whose writers use a key of this shape (`keys`), if any: a hold may name
/// a key before anything is stored there (the code slot of an address, say).
pub(crate) fn credential_by_key(pk: &str, sk: &str) -> Option<&'static str> {
    if pk.starts_with(&keys::user("").0) && sk.starts_with(keys::SESSION_PREFIX) {
        return Some(Session::KIND);
    }
    // `fail#device#<user>#<device>`: the part before the ids.
    let device_failures = format!("{}#", keys::device_failures("", "").0.trim_end_matches('#'));
    let shaped = [
        (keys::refresh_token("").0, RefreshToken::KIND),
        (keys::otp("").0, Otp::KIND),
        (keys::email_verification("").0, EmailVerification::KIND),
        (keys::password_reset("").0, PasswordReset::KIND),
        (keys::account_failures("").0, FailureCount::KIND),
        (device_failures, FailureCount::KIND),
    ];
    shaped
        .into_iter()
        .find(|(prefix, _)| pk.starts_with(prefix.as_str()))
        .map(|(_, kind)| kind)
}

/// Whether a stored item is of a credential kind.
pub fn is_credential(item: &Item) -> bool {
    item.s(TYPE).is_some_and(|k| CREDENTIAL_KINDS.contains(&k))
}

/// What a hold keeps.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    User(String),
    Customer(String),
    Item { pk: String, sk: String },
}

impl Subject {
    /// The subject as one string: the marker partition's suffix and the audit detail.
    pub fn label(&self) -> String {
        match self {
            Subject::User(id) => format!("user:{id}"),
            Subject::Customer(id) => format!("customer:{id}"),
            Subject::Item { pk, sk } => format!("item:{pk}|{sk}"),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Subject::User(_) => "user",
            Subject::Customer(_) => "customer",
            Subject::Item { .. } => "item",
        }
    }

    pub fn view(&self) -> Json {
        match self {
            Subject::User(id) => json!({ "user_id": id }),
            Subject::Customer(id) => json!({ "customer_id": id }),
            Subject::Item { pk, sk } => json!({ "item_key": { "pk": pk, "sk": sk } }),
        }
    }
}
