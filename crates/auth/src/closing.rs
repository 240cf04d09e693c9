//! The writes auth owns when an account is closed by its erasure: the erasure's first commit
//! puts its own records and these in one transaction (all or nothing), while only auth spells
//! the attributes and keys of its records.

use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Update, Write, keys};

use crate::records::{EmailLink, User};

/// Ends every session of the account at once (the session generation moves on, so no refresh
/// token minted before is honoured); fails the transaction if the account is gone.
pub fn end_every_session(user_id: &str) -> Write {
    let (pk, sk) = keys::user(user_id);
    Write::Update {
        pk,
        sk,
        update: Update::new().add(User::SESSION_GEN, 1),
        cond: Some(Condition::Exists),
    }
}

/// Frees the account's address for a new registration, but only while the address still leads
/// to this account (its owner may have taken it back): the transaction fails on this part
/// otherwise, and the caller commits without it.
pub async fn release_email(state: &AppState, user: &User) -> Result<Write, ApiError> {
    let (pk, sk) = keys::email(&crate::email_hash(state, &user.email).await?);
    Ok(Write::Delete {
        pk,
        sk,
        cond: Some(Condition::eq(EmailLink::USER_ID, user.id.as_str())),
    })
}
