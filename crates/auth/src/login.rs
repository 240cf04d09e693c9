//! Password sign-in and password change: both verify a password against the account's stored
//! hash under the failed sign-in throttle of the client asking (`throttle`: per device when the
//! client is a device the account knows, else per account), and both answer the same whether
//! or not the account (or its password) exists.

use std::net::IpAddr;

use serde_json::json;

use super::device::{self, Device};
use super::records::{Session, User};
use super::session::{self, Issued, generation_is};
use super::throttle::Factor;
use super::{email_hash, normalize_email, password, throttle};
use rampart_http::state::AppState;
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, StoreError, Tx, TxError, Update, keys};

/// What a successful sign-in (password or email code) hands to the client.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub issued: Issued,
    /// The device cookie to set: from now on this client is a device the account knows.
    pub device_cookie: String,
    /// Set by an email-code sign-in: whether taking an unverified account back removed the
    /// password someone had registered it with.
    pub password_removed: Option<bool>,
}

fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("Invalid email or password.".into())
}

/// The stored hash to verify against: the account's, or a dummy one when there is none, so
/// every path costs one argon2 verification and timing does not tell them apart.
fn hash_to_verify(user: Option<&User>) -> String {
    user.and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::DUMMY_HASH.clone())
}

/// Password sign-in from a client presenting the device cookie `device` (if any).
pub async fn login(
    state: &AppState,
    email: &str,
    pw: &str,
    ip: Option<IpAddr>,
    device: Option<&Device>,
) -> Result<SignIn, ApiError> {
    let email = normalize_email("email", email).map_err(|e| ApiError::Validation(vec![e]))?;
    if pw.is_empty() || pw.chars().count() > password::MAX_LEN {
        return Err(bad_credentials());
    }
    let eh = email_hash(state, &email).await?;
    let user = super::account::find_by_email(state, &eh).await?;
    // Throttled whether or not the account exists: a 429 reveals nothing.
    let gate = throttle::gate(state, &eh, user.as_ref(), device).await?;
    let claim = throttle::admit(state, gate, &eh).await?;
    let stored = hash_to_verify(user.as_ref());
    let matches = password::verify_off_thread(pw.to_string(), stored.clone()).await?;
    let user = match user {
        Some(u) if matches && u.password_hash.is_some() => u,
        other => {
            let subject = other.map_or_else(|| format!("email:{eh}"), |u| u.id);
            throttle::failed(state, &claim, Factor::Password, &subject, ip).await;
            return Err(bad_credentials());
        }
    };
    let mut verified = stored.clone();
    if password::needs_rehash(&stored) {
        let fresh = password::hash_off_thread(pw.to_string()).await?;
        let (pk, sk) = user.key();
        let same = Condition::eq(User::PASSWORD_HASH, stored.as_str());
        match state
            .store
            .update(
                &pk,
                &sk,
                Update::new().set(User::PASSWORD_HASH, fresh.as_str()),
                Some(same),
            )
            .await
        {
            Ok(_) => verified = fresh,
            Err(StoreError::ConditionFailed { .. }) => return Err(bad_credentials()),
            Err(e) => return Err(e.into()),
        }
    }
    // The session only starts if the password just verified is still the account's.
    let still = Condition::eq(User::PASSWORD_HASH, verified.as_str());
    let issued = session::signed_in(state, &user.id, ip, "password", Some(still)).await?;
    // Only a complete sign-in resets the count: with a second factor on, a right password
    // alone must not wipe the failures of the guesses at the code (NIST SP 800-63B 5.2.2).
    throttle::succeeded(state, &claim).await?;
    Ok(SignIn {
        issued,
        device_cookie: device::after_sign_in(state, device, &user.id, user.device_gen).await?,
        password_removed: None,
    })
}

/// The parts of a password change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// The new hash and a new generation, if the generation is still the one read.
    SetPassword,
    /// This session moves to the new generation and so survives.
    KeepThisSession,
}

/// Which sessions a password change keeps: the one asking always; the others only when the
/// owner says so (OWASP ASVS 5.0 V7.4.3: ending them is offered, and the route's default).
#[derive(Debug, Clone, Copy)]
pub struct Keeping<'a> {
    pub session_id: &'a str,
    pub end_others: bool,
}

/// Changes the password of the signed-in `user` (as read by the session check), keeping the
/// session `keeping.session_id` and, when `keeping.end_others`, ending every other one.
pub async fn change_password(
    state: &AppState,
    user: &User,
    keeping: Keeping<'_>,
    current: &str,
    new_pw: &str,
    ip: Option<IpAddr>,
    device: Option<&Device>,
) -> Result<(), ApiError> {
    let Keeping {
        session_id,
        end_others,
    } = keeping;
    if new_pw == current {
        return Err(ApiError::Validation(vec![FieldError::new(
            "new_password",
            "must differ from the current password",
        )]));
    }
    let eh = email_hash(state, &user.email).await?;
    // Shares the sign-in throttle: a stolen session cannot guess the password here instead.
    let gate = throttle::gate(state, &eh, Some(user), device).await?;
    let claim = throttle::admit(state, gate, &eh).await?;
    let ok = password::verify_off_thread(current.to_string(), hash_to_verify(Some(user))).await?
        && user.password_hash.is_some();
    if !ok {
        throttle::failed(state, &claim, Factor::Password, &user.id, ip).await;
        return Err(ApiError::Forbidden("The current password is wrong.".into()));
    }
    throttle::succeeded(state, &claim).await?;
    password::check_policy("new_password", new_pw, &user.email)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let hash = password::hash_off_thread(new_pw.to_string()).await?;
    // Kept at the same generation, the writes below change the password only.
    let next_gen = user.session_gen + i64::from(end_others);
    // The new password and a new generation commit together, and this session moves to the new
    // generation in the same transaction: every other session ends, this one stays.
    Tx::new()
        .update(
            Change::SetPassword,
            user.key(),
            Update::new()
                .set(User::PASSWORD_HASH, hash)
                .set(User::SESSION_GEN, next_gen),
            Some(Condition::Exists.and(generation_is(user.session_gen))),
        )
        .update(
            Change::KeepThisSession,
            keys::session(&user.id, session_id),
            Update::new().set(Session::SESSION_GEN, next_gen),
            Some(Condition::Exists),
        )
        .commit(&*state.store)
        .await
        .map_err(|e| match e {
            TxError::Canceled { .. } => {
                ApiError::Conflict("The account changed meanwhile; try again.".into())
            }
            TxError::Store(other) => other.into(),
        })?;
    if end_others {
        session::cleanup_sessions(state, &user.id, Some(session_id)).await;
    }
    let detail = json!({ "end_other_sessions": end_others });
    rampart_http::audit::record(state, "password_change", &user.id, ip, detail).await;
    Ok(())
}
