//! Email sign-in codes (OWASP Authentication Cheat Sheet: short-lived, single use, few tries):
//! issuing a code under the limits of the client asking, and checking one, which signs in,
//! creating the account on first use or taking an unverified one back.
//!
//! Guessing is bounded per issued code, not per account: each code allows 5 wrong guesses and
//! is then burned, and the address can be sent at most 5 codes a day (`limits`), so 6 digits x
//! 5 guesses x 5 codes keeps an attacker's odds at 25 in a million a day at most. Wrong guesses
//! never spend the day's request budget. A device trusted for the account has its own request
//! budget and its own code slot, which no other client can request, replace or guess, so an
//! attacker who spends the address's requests cannot stop the owner's known device.

use std::net::IpAddr;

use serde_json::json;

use super::account::{self, NewAccount};
use super::code::{OTP_TTL_SECS, bad_code, code_hash, code_matches, count_guess, six_digits};
use super::device::{self, Device, trusted_for};
use super::limits::rules;
use super::login::SignIn;
use super::records::{Otp, User};
use super::{email_hash, normalize_email, session, throttle};
use rampart_http::mail::{Mail, MailKind, mailbox};
use rampart_http::ratelimit::{self, RateLimitHeaders, Subject};
use rampart_http::state::AppState;
use rampart_platform::crypto::random_id;
use rampart_platform::error::ApiError;
use rampart_platform::metrics::{self, Metric};
use rampart_store::{Condition, Key, StoreError, TxError, load};

/// `POST /auth/otp/request`: issues a code for the address and mails it, under the limits of
/// the client asking. It does the same whether or not an account holds the address (the
/// account is created on first use); only the budget differs, for a device the account knows.
pub async fn request_code(
    state: &AppState,
    raw_email: &str,
    ip: IpAddr,
    device: Option<&Device>,
) -> Result<RateLimitHeaders, ApiError> {
    let email = normalize_email("email", raw_email).map_err(|e| ApiError::Validation(vec![e]))?;
    let eh = email_hash(state, &email).await?;
    let user = account::find_by_email(state, &eh).await?;
    let trusted = user.and_then(|u| trusted_for(device, &u).cloned());
    let r = rules();
    let headers = match &trusted {
        Some(d) => {
            let subject = Subject {
                user: Some(format!("{}:{}", d.user_id, d.device_id)),
                ..Subject::default()
            };
            ratelimit::enforce(state, &r.otp_device, &subject).await?
        }
        None => {
            let subject = Subject {
                ip: Some(ip),
                email: Some(mailbox(&email)),
                ..Subject::default()
            };
            ratelimit::enforce(state, &r.otp, &subject).await?
        }
    };
    let pepper = state.hash_pepper().await?;
    let code = six_digits();
    let otp = Otp {
        email_hash: eh,
        device_id: trusted.map(|d| d.device_id),
        code_hash: code_hash(&pepper, "otp", &email, &code),
        attempts: 0,
        expires_at: state.clock.now_secs() + OTP_TTL_SECS,
    };
    // One live code per slot: a new one replaces the last (so live codes never add up).
    state.store.put((&otp).into(), None).await?;
    state
        .mailer
        .send(Mail {
            kind: MailKind::SignInCode,
            to: email,
            subject: "Your sign-in code".into(),
            body: format!("Your sign-in code is {code}. It expires in 10 minutes and works once."),
        })
        .await?;
    Ok(headers)
}

/// The slot a client's guess goes to: a device the account knows uses its own code when it
/// asked for one, anyone else the address's.
async fn slot(
    state: &AppState,
    eh: &str,
    user: Option<&User>,
    device: Option<&Device>,
) -> Result<Key, ApiError> {
    if let Some(d) = user.and_then(|u| trusted_for(device, u)) {
        let key = rampart_store::keys::otp_for_device(eh, &d.device_id);
        if load::<Otp>(&*state.store, &key).await?.is_some() {
            return Ok(key);
        }
    }
    Ok(rampart_store::keys::otp(eh))
}

/// `POST /auth/otp/verify`: checks a code; on success signs in, creating the account on first
/// use, or taking an unverified account back from whoever registered the address first.
pub async fn verify_code(
    state: &AppState,
    email: &str,
    code: &str,
    ip: Option<IpAddr>,
    device: Option<&Device>,
) -> Result<SignIn, ApiError> {
    let email = normalize_email("email", email).map_err(|e| ApiError::Validation(vec![e]))?;
    let pepper = state.hash_pepper().await?;
    let eh = email_hash(state, &email).await?;
    let user = account::find_by_email(state, &eh).await?;
    let key = slot(state, &eh, user.as_ref(), device).await?;
    let otp: Otp = count_guess(state, key, Otp::ATTEMPTS).await?;
    if !code_matches(&pepper, "otp", &email, code, &otp.code_hash) {
        metrics::count(Metric::LoginFailure, &[("method", "code")]);
        rampart_http::audit::record(state, "otp_failure", &format!("email:{eh}"), ip, json!({}))
            .await;
        return Err(bad_code());
    }
    // Single use: only the request that deletes it gets in.
    let (pk, sk) = otp.key();
    let this_code = Condition::eq(Otp::CODE_HASH, otp.code_hash.as_str());
    match state.store.delete(&pk, &sk, Some(this_code)).await {
        Ok(Some(_)) => {}
        Ok(None) | Err(StoreError::ConditionFailed { .. }) => return Err(bad_code()),
        Err(e) => return Err(e.into()),
    }
    // Before a take-back too: a suspended account is neither signed in nor taken back.
    if let Some(u) = &user {
        super::suspension::refuse_if_suspended(state, &u.id).await?;
    }
    let mut password_removed = false;
    // The device generation the account is at once signed in (a take-back moves it on).
    let mut device_gen = 0;
    let user_id = match user {
        Some(u) if !u.email_verified => {
            password_removed = account::take_back(state, &u, ip).await?;
            device_gen = u.device_gen + 1;
            u.id
        }
        Some(u) => {
            device_gen = u.device_gen;
            u.id
        }
        None => {
            let user = User::new(
                random_id(),
                email.clone(),
                None,
                true,
                state.clock.now_secs(),
            );
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
    let issued = session::signed_in(state, &user_id, ip, "email_code", None).await?;
    // The mailbox's owner signed in: unknown clients may try passwords again (not before the
    // second factor, if the account has one).
    throttle::clear_account(state, &eh).await?;
    if password_removed {
        account::mail_password_removed(state, &email).await;
    }
    Ok(SignIn {
        issued,
        device_cookie: device::after_sign_in(state, device, &user_id, device_gen).await?,
        password_removed: Some(password_removed),
    })
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
