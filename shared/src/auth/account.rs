//! Accounts: registration, the account behind an address, and the profile a client sees.
//! Only `register` reveals whether an address has an account (409 for a taken email, as the
//! issue allows); every other flow answers the same either way.

use serde::Serialize;

use super::records::{EmailLink, User};
use super::{email_hash, normalize_email, password};
use crate::crypto::random_id;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Condition, Tx, TxError, keys, load};

/// What `GET /auth/me` and registration show of an account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub plan: String,
    pub subscription_status: String,
    pub created_at: i64,
}

impl From<&User> for Profile {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            plan: u.plan.clone(),
            subscription_status: u.subscription_status.clone(),
            created_at: u.created_at,
        }
    }
}

/// The parts of the transaction that creates an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewAccount {
    /// No account holds the address yet.
    EmailFree,
    User,
}

/// Creates the user and its unique email record in one transaction.
pub async fn insert(
    state: &AppState,
    email_hash: &str,
    user: &User,
) -> Result<(), TxError<NewAccount>> {
    let link = EmailLink {
        email_hash: email_hash.into(),
        user_id: user.id.clone(),
    };
    Tx::new()
        .put(
            NewAccount::EmailFree,
            (&link).into(),
            Some(Condition::NotExists),
        )
        .put(NewAccount::User, user.into(), Some(Condition::NotExists))
        .commit(&*state.store)
        .await
}

/// The account of an address (given as its keyed hash), if any.
pub async fn find_by_email(state: &AppState, email_hash: &str) -> Result<Option<User>, ApiError> {
    let store = &*state.store;
    let Some(link) = load::<EmailLink>(store, &keys::email(email_hash)).await? else {
        return Ok(None);
    };
    Ok(load::<User>(store, &keys::user(&link.user_id)).await?)
}

/// The account, or 401 when it no longer exists.
pub async fn user(state: &AppState, user_id: &str) -> Result<User, ApiError> {
    load::<User>(&*state.store, &keys::user(user_id))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("The account no longer exists.".into()))
}

pub async fn profile(state: &AppState, user_id: &str) -> Result<Profile, ApiError> {
    Ok(Profile::from(&user(state, user_id).await?))
}

/// Registration with a password; the address stays unverified until a code proves it.
pub async fn register(state: &AppState, email: &str, pw: &str) -> Result<Profile, ApiError> {
    let email = normalize_email("email", email).map_err(|e| ApiError::Validation(vec![e]))?;
    password::check_policy("password", pw, &email).map_err(|e| ApiError::Validation(vec![e]))?;
    let eh = email_hash(state, &email).await?;
    let hash = password::hash_off_thread(pw.to_string()).await?;
    let user = User::new(
        random_id(),
        email,
        Some(hash),
        false,
        state.clock.now_secs(),
    );
    match insert(state, &eh, &user).await {
        Ok(()) => Ok(Profile::from(&user)),
        // Taken, or being taken by a concurrent registration right now.
        Err(TxError::Canceled {
            part: NewAccount::EmailFree,
            ..
        }) => Err(ApiError::Conflict(
            "An account with this email already exists.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}
