//! Password reset by mailed token (OWASP Forgot Password Cheat Sheet: the same answer whether
//! or not the account exists, a random single-use token stored only as a keyed hash,
//! short-lived, and every session ended by the reset). Each mailed token stands on its own: more
//! requests (an attacker's too) mail more tokens but never retire one already mailed; only a
//! reset or a password change does.
//!
//! A reset also ends the trust of every device cookie minted before it (a new device
//! generation). Using a mailed token proves the mailbox, so the reset of an account whose
//! address was not verified yet is its owner taking it back from whoever registered it: the
//! address becomes verified and that holder's billing is severed, as a code sign-in would
//! (`account::take_back`). A verified account's billing is its owner's and stays.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use super::records::{PasswordReset, User};
use super::session::{self, generation_is};
use super::{account, email_hash, links, password, throttle};
use rampart_http::mail::{Mail, MailKind};
use rampart_http::state::AppState;
use rampart_platform::crypto::{keyed_hash, random_token};
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Key, Tx, Update, keys, load};

/// Password-reset tokens: single use, 30 minutes.
pub const RESET_TTL_SECS: i64 = rampart_platform::lifetimes::RESET_SECS;

/// How long `forgot_password` takes at least, so the existing-account path (writes and a
/// mail) is not told apart from the other by timing.
pub const UNIFORM_RESPONSE_FLOOR: Duration = Duration::from_millis(150);

/// Runs `work`, then waits until `floor` has passed since it started.
pub async fn uniform<T>(floor: Duration, work: impl Future<Output = T>) -> T {
    let started = tokio::time::Instant::now();
    let out = work.await;
    tokio::time::sleep_until(started + floor).await;
    out
}

/// `POST /auth/password/forgot` once its limits passed: mails a token when an account holds
/// the address. Only that path writes and mails, so its failures must not show either: they go
/// to the log (no address in it), and the caller answers the same 202 after the same floor.
pub async fn forgot_password(state: &AppState, email: &str) {
    uniform(UNIFORM_RESPONSE_FLOOR, async {
        if let Err(e) = mail_token(state, email).await {
            tracing::error!(error = %e, "password reset mail not sent");
        }
    })
    .await;
}

fn token_hash(pepper: &[u8], token: &str) -> String {
    keyed_hash(pepper, "reset", token)
}

/// Mails a reset token when the account exists.
async fn mail_token(state: &AppState, email: &str) -> Result<(), ApiError> {
    let eh = email_hash(state, email).await?;
    let Some(user) = account::find_by_email(state, &eh).await? else {
        return Ok(());
    };
    let pepper = state.hash_pepper().await?;
    let token = random_token(32);
    let record = PasswordReset {
        token_hash: token_hash(&pepper, &token),
        user_id: user.id,
        // Valid only while the account's session generation stays the same: a password change
        // or another reset retires every older token.
        session_gen: user.session_gen,
        expires_at: state.clock.now_secs() + RESET_TTL_SECS,
    };
    state
        .store
        .put((&record).into(), Some(Condition::NotExists))
        .await?;
    state
        .mailer
        .send(Mail {
            kind: MailKind::PasswordReset,
            to: email.into(),
            subject: "Reset your password".into(),
            body: reset_body(
                &token,
                links::reset_password(&state.settings, &token).as_deref(),
            ),
        })
        .await
}

/// The mail: the bare token first (apps that take it in their own screen read it there), then
/// the link to the app's reset page.
fn reset_body(token: &str, link: Option<&str>) -> String {
    let open = link.map_or_else(String::new, |l| format!("Or open this link: {l}\n"));
    format!(
        "Use this token to reset your password within 30 minutes: {token}\n{open}If you did not \
         ask for this, ignore this mail."
    )
}

/// The parts of a reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reset {
    ConsumeToken,
    /// The new hash, a new session and device generation, if the session generation is still
    /// the token's (and, for an unverified account, its billing still the one read).
    SetPassword,
    /// An item of a severed account part naming the account (billing: the Stripe customer ->
    /// user link of the previous holder's checkout; unverified only).
    Unlink,
}

pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_pw: &str,
    ip: Option<IpAddr>,
) -> Result<(), ApiError> {
    let invalid = || ApiError::BadRequest("The reset token is invalid or expired.".into());
    if token.is_empty() || token.len() > 128 {
        return Err(invalid());
    }
    let pepper = state.hash_pepper().await?;
    let key = keys::password_reset(&token_hash(&pepper, token));
    let record = load::<PasswordReset>(&*state.store, &key)
        .await?
        .ok_or_else(invalid)?;
    let (user, stored) = account::load_account(state, &record.user_id)
        .await?
        .ok_or_else(invalid)?;
    password::check_policy("new_password", new_pw, &user.email)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let hash = password::hash_off_thread(new_pw.to_string()).await?;
    let mut update = Update::new()
        .set(User::PASSWORD_HASH, hash)
        .set(User::SESSION_GEN, record.session_gen + 1)
        .add(User::DEVICE_GEN, 1);
    let mut cond = Condition::Exists.and(generation_is(record.session_gen));
    let mut unlink: Vec<Key> = Vec::new();
    let mut audits = Vec::new();
    if !user.email_verified {
        let verified = update.set(User::EMAIL_VERIFIED, true);
        let severed = account::sever_parts(state, &stored, verified);
        update = severed.update;
        cond = cond
            .and(
                Condition::AttrNotExists(User::EMAIL_VERIFIED.into())
                    .or(Condition::eq(User::EMAIL_VERIFIED, false)),
            )
            .and(severed.unchanged);
        unlink = severed.unlink;
        audits = severed.audits;
    }
    // Consuming the token, setting the password and ending every session and device trust (new
    // generations), with the billing severed for an unverified account, commit together, or
    // nothing does.
    let mut tx = Tx::new()
        .delete(Reset::ConsumeToken, record.key(), Some(Condition::Exists))
        .update(Reset::SetPassword, user.key(), update, Some(cond));
    for link in unlink {
        tx = tx.delete(Reset::Unlink, link, None);
    }
    let result = tx.commit(&*state.store).await;
    match result {
        Ok(()) => {}
        // Used meanwhile, or a password change or another reset retired it.
        Err(e) if e.condition_failed().is_some() => return Err(invalid()),
        // A transaction conflict (503, try again) or a store error: the token is still good.
        Err(e) => return Err(e.into()),
    }
    session::cleanup_sessions(state, &user.id, None).await;
    // The mailbox's owner chose a new password: unknown clients may try passwords again.
    let eh = email_hash(state, &user.email).await?;
    throttle::clear_account(state, &eh).await?;
    rampart_http::audit::record(state, "password_reset", &user.id, ip, json!({})).await;
    account::audit_severed(state, &user.id, ip, audits).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The floor is what keeps the two paths of `forgot_password` alike; checked on tokio's
    /// paused clock, so no wall-clock timing is involved.
    #[tokio::test(start_paused = true)]
    async fn every_path_answers_after_the_same_floor() {
        let floor = UNIFORM_RESPONSE_FLOOR;
        for work in [Duration::ZERO, floor / 3, floor - Duration::from_millis(1)] {
            let started = tokio::time::Instant::now();
            uniform(floor, tokio::time::sleep(work)).await;
            assert_eq!(started.elapsed(), floor, "work of {work:?}");
        }
        // Work beyond the floor is not padded further.
        let started = tokio::time::Instant::now();
        uniform(floor, tokio::time::sleep(floor * 2)).await;
        assert_eq!(started.elapsed(), floor * 2);
    }
}
