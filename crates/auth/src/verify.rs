//! Address verification at registration: `register` mails a code, and `POST /auth/verify-email
//! {email, code}` marks the account's address verified and keeps its password. Until then the
//! account is unverified, and the address's owner signing in with an email code takes it back
//! (`account::take_back`): that is the defence against accounts registered with someone else's
//! address. Codes allow 5 guesses (like sign-in codes) and live a day.

use std::net::IpAddr;

use serde_json::json;

use super::code::{bad_code, code_hash, code_matches, count_guess, six_digits};
use super::records::{EmailVerification, User};
use super::{email_hash, links, normalize_email};
use rampart_http::mail::{Mail, MailKind};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, StoreError, Update, keys};

/// The domain verification codes are hashed under (never a sign-in code's).
const PURPOSE: &str = "verify";

/// Stores a fresh verification code for the new account `user` and mails it.
pub async fn mail_code(state: &AppState, user: &User, email_hash: &str) -> Result<(), ApiError> {
    let pepper = state.hash_pepper().await?;
    let code = six_digits();
    let record = EmailVerification {
        email_hash: email_hash.into(),
        user_id: user.id.clone(),
        code_hash: code_hash(&pepper, PURPOSE, &user.email, &code),
        attempts: 0,
        expires_at: state.clock.now_secs() + rampart_platform::lifetimes::EMAIL_VERIFICATION_SECS,
    };
    state.store.put((&record).into(), None).await?;
    // The bare code first (apps that take it in their own screen read it there), then the link.
    let open = links::verify_email(&state.settings, &code, &user.email)
        .map_or_else(String::new, |l| {
            format!("\nOr open this link to confirm it: {l}")
        });
    state
        .mailer
        .send(Mail {
            kind: MailKind::VerifyEmail,
            to: user.email.clone(),
            subject: "Confirm your email address".into(),
            body: format!(
                "Your verification code is {code}. Enter it to confirm this address for the account \
                 you registered; it works once, within 24 hours.{open}\nIf you did not register, do \
                 not enter it: whoever did cannot use this address until it is confirmed, and signing in \
                 with an email code gives the account to you."
            ),
        })
        .await
}

/// `POST /auth/verify-email`: marks the address verified when the code is right. The same 401
/// for a wrong, used or expired code and for an address without an account.
pub async fn verify_email(
    state: &AppState,
    email: &str,
    code: &str,
    ip: Option<IpAddr>,
) -> Result<(), ApiError> {
    let email = normalize_email("email", email).map_err(|e| ApiError::Validation(vec![e]))?;
    let eh = email_hash(state, &email).await?;
    let pepper = state.hash_pepper().await?;
    let key = keys::email_verification(&eh);
    let record: EmailVerification = count_guess(state, key, EmailVerification::ATTEMPTS).await?;
    if !code_matches(&pepper, PURPOSE, &email, code, &record.code_hash) {
        let subject = format!("email:{eh}");
        rampart_http::audit::record(state, "verify_failure", &subject, ip, json!({})).await;
        return Err(bad_code());
    }
    let (pk, sk) = record.key();
    let this_code = Condition::eq(EmailVerification::CODE_HASH, record.code_hash.as_str());
    match state.store.delete(&pk, &sk, Some(this_code)).await {
        Ok(Some(_)) => {}
        Ok(None) | Err(StoreError::ConditionFailed { .. }) => return Err(bad_code()),
        Err(e) => return Err(e.into()),
    }
    // Only the verified flag changes: the password and sessions stay.
    let (upk, usk) = keys::user(&record.user_id);
    let verified = Update::new().set(User::EMAIL_VERIFIED, true);
    match state
        .store
        .update(&upk, &usk, verified, Some(Condition::Exists))
        .await
    {
        Ok(_) => {}
        // The account was deleted meanwhile.
        Err(StoreError::ConditionFailed { .. }) => return Err(bad_code()),
        Err(e) => return Err(e.into()),
    }
    rampart_http::audit::record(state, "email_verified", &record.user_id, ip, json!({})).await;
    Ok(())
}
