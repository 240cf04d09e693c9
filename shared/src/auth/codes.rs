//! Email sign-in codes (OWASP Authentication Cheat Sheet: short-lived, single use, few tries):
//! issuing a code, and checking one, which signs in and creates the account on first use.

use std::net::IpAddr;

use serde_json::json;

use super::account::{self, NewAccount};
use super::limits::{claim_attempt, clear_attempts, code_throttle};
use super::records::{Otp, User};
use super::session::{self, Issued};
use super::{email_hash, normalize_email};
use crate::crypto::{constant_time_eq, keyed_hash, random_bytes, random_id};
use crate::error::ApiError;
use crate::mail::Mail;
use crate::state::AppState;
use crate::store::{Condition, StoreError, TxError, Update};

/// Email codes: valid 10 minutes, dead after 5 wrong tries.
pub const OTP_TTL_SECS: i64 = crate::lifetimes::OTP_SECS;
pub const OTP_MAX_ATTEMPTS: i64 = 5;

/// A uniformly random 6-digit code (rejection sampling: no modulo bias).
fn six_digits() -> String {
    loop {
        let b = random_bytes(4);
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn code_hash(pepper: &[u8], email: &str, code: &str) -> String {
    keyed_hash(pepper, "otp", &format!("{email}\u{1f}{code}"))
}

/// Issues a code for the address, replacing any earlier one, and mails it. It does the same
/// whether or not an account holds the address (the account is created on first use).
pub async fn request_code(state: &AppState, email: &str) -> Result<(), ApiError> {
    let pepper = state.hash_pepper().await?;
    let code = six_digits();
    let otp = Otp {
        email_hash: email_hash(state, email).await?,
        code_hash: code_hash(&pepper, email, &code),
        attempts: 0,
        expires_at: state.clock.now_secs() + OTP_TTL_SECS,
    };
    state.store.put((&otp).into(), None).await?;
    state
        .mailer
        .send(Mail {
            to: email.into(),
            subject: "Your sign-in code".into(),
            body: format!("Your sign-in code is {code}. It expires in 10 minutes and works once."),
        })
        .await
}

fn bad_code() -> ApiError {
    ApiError::Unauthorized("The code is invalid or expired.".into())
}

/// Counts a guess against the address's live code, atomically (a sixth guess is refused even
/// when many race), and returns the code as it stands.
async fn count_guess(state: &AppState, eh: &str) -> Result<Otp, ApiError> {
    let (pk, sk) = crate::store::keys::otp(eh);
    let bumped = state
        .store
        .update(
            &pk,
            &sk,
            Update::new().add(Otp::ATTEMPTS, 1),
            Some(Condition::Exists.and(Condition::lt(Otp::ATTEMPTS, OTP_MAX_ATTEMPTS))),
        )
        .await;
    match bumped {
        Ok(item) => Ok(Otp::try_from(&item)?),
        Err(StoreError::ConditionFailed { existing }) => {
            if existing.is_some() {
                // Dead after too many tries: gone for good (but never a newer code that
                // replaced it a moment ago).
                let dead = Condition::ge(Otp::ATTEMPTS, OTP_MAX_ATTEMPTS).or(Condition::Expired);
                match state.store.delete(&pk, &sk, Some(dead)).await {
                    Ok(_) | Err(StoreError::ConditionFailed { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(bad_code())
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks a code; on success signs in, creating the account on first use.
pub async fn verify_code(
    state: &AppState,
    email: &str,
    code: &str,
    ip: Option<IpAddr>,
) -> Result<Issued, ApiError> {
    let email = normalize_email("email", email).map_err(|e| ApiError::Validation(vec![e]))?;
    let pepper = state.hash_pepper().await?;
    let eh = email_hash(state, &email).await?;
    // Per account, across codes: requesting a fresh code does not buy fresh guesses.
    claim_attempt(state, &code_throttle(), &eh).await?;
    let otp = count_guess(state, &eh).await?;
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let given = code_hash(&pepper, &email, code);
    if !well_formed || !constant_time_eq(given.as_bytes(), otp.code_hash.as_bytes()) {
        crate::audit::record(state, "otp_failure", &format!("email:{eh}"), ip, json!({})).await;
        return Err(bad_code());
    }
    // Single use: only the request that deletes it gets in.
    let (pk, sk) = otp.key();
    let this_code = Condition::eq(Otp::CODE_HASH, otp.code_hash.as_str());
    match state.store.delete(&pk, &sk, Some(this_code)).await {
        Ok(Some(_)) => clear_attempts(state, &code_throttle(), &eh).await?,
        Ok(None) | Err(StoreError::ConditionFailed { .. }) => return Err(bad_code()),
        Err(e) => return Err(e.into()),
    }
    let user_id = match account::find_by_email(state, &eh).await? {
        Some(u) => {
            if !u.email_verified {
                // Whoever registered this address before its owner proved it may hold a password
                // and sessions: the owner's first code login takes the account back from them.
                let (upk, usk) = u.key();
                let reclaim = Update::new()
                    .set(User::EMAIL_VERIFIED, true)
                    .remove(User::PASSWORD_HASH)
                    .add(User::SESSION_GEN, 1);
                state.store.update(&upk, &usk, reclaim, None).await?;
                session::cleanup_sessions(state, &u.id, None).await;
            }
            u.id
        }
        None => {
            let user = User::new(random_id(), email, None, true, state.clock.now_secs());
            match account::insert(state, &eh, &user).await {
                Ok(()) => user.id,
                // Created a moment ago by a concurrent sign-up.
                Err(TxError::Canceled {
                    part: NewAccount::EmailFree,
                    ..
                }) => account::find_by_email(state, &eh)
                    .await?
                    .map(|u| u.id)
                    .ok_or_else(|| ApiError::internal("user vanished during sign-up"))?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    session::signed_in(state, &user_id, ip, "email_code", None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let c = six_digits();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
