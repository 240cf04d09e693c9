//! The account flows behind the auth routes. Each returns what the route renders; none reveals
//! whether an account exists except `register` (409 for a taken email, as the issue allows).

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::session::{self, Issued};
use super::{email_hash, normalize_email, password};
use crate::crypto::{constant_time_eq, keyed_hash, random_bytes, random_id, random_token};
use crate::error::{ApiError, FieldError};
use crate::mail::Mail;
use crate::ratelimit::{self, KeyPart, Rule};
use crate::state::AppState;
use crate::store::{Condition, EXPIRES_AT, Item, StoreError, Update, Write, keys};

/// NIST SP 800-63B §5.2.2 allows at most 100 consecutive failures per account; we lock far
/// earlier: 10 failures within 15 minutes lock further attempts for the rest of that window.
pub const MAX_LOGIN_FAILURES: i64 = 10;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// Email codes: valid 10 minutes, dead after 5 wrong tries.
pub const OTP_TTL_SECS: i64 = crate::lifetimes::OTP_SECS;
pub const OTP_MAX_ATTEMPTS: i64 = 5;
/// Code guesses per account per day, across codes (NIST SP 800-63B §5.2.2 caps consecutive
/// failures per account at 100; we stop at 10).
pub const OTP_MAX_FAILURES_PER_DAY: i64 = 10;
/// Password-reset tokens: single use, 30 minutes.
pub const RESET_TTL_SECS: i64 = crate::lifetimes::RESET_SECS;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub plan: String,
    pub subscription_status: String,
    pub created_at: i64,
}

fn validation(errors: Vec<FieldError>) -> ApiError {
    ApiError::Validation(errors)
}

fn new_user(
    user_id: &str,
    email: &str,
    password_hash: Option<&str>,
    verified: bool,
    now: i64,
) -> Item {
    let (pk, sk) = keys::user(user_id);
    let mut item = Item::new(pk, sk)
        .with("type", "user")
        .with("email", email)
        .with("email_verified", verified)
        .with("plan", "free")
        .with("subscription_status", "none")
        .with("created_at", now);
    if let Some(h) = password_hash {
        item.set("password_hash", h);
    }
    item
}

/// Creates the user and its unique email record in one transaction.
async fn insert_user(state: &AppState, eh: &str, user: Item) -> Result<(), StoreError> {
    let (epk, esk) = keys::email(eh);
    let user_id = user.pk.trim_start_matches("user#").to_string();
    state
        .store
        .transact(vec![
            Write::Put {
                item: Item::new(epk, esk)
                    .with("type", "email")
                    .with("user_id", user_id),
                cond: Some(Condition::NotExists),
            },
            Write::Put {
                item: user,
                cond: Some(Condition::NotExists),
            },
        ])
        .await
}

async fn find_user(state: &AppState, eh: &str) -> Result<Option<Item>, ApiError> {
    let (epk, esk) = keys::email(eh);
    let Some(link) = state.store.get(&epk, &esk).await? else {
        return Ok(None);
    };
    let Some(uid) = link.s("user_id") else {
        return Ok(None);
    };
    let (pk, sk) = keys::user(uid);
    Ok(state.store.get(&pk, &sk).await?)
}

fn user_id_of(user: &Item) -> String {
    user.pk.trim_start_matches("user#").to_string()
}

pub async fn profile(state: &AppState, user_id: &str) -> Result<Profile, ApiError> {
    let (pk, sk) = keys::user(user_id);
    let u = state
        .store
        .get(&pk, &sk)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("The account no longer exists.".into()))?;
    Ok(profile_of(user_id, &u))
}

/// The profile of a user item already in hand.
pub fn profile_of(user_id: &str, u: &Item) -> Profile {
    Profile {
        id: user_id.into(),
        email: u.s("email").unwrap_or_default().into(),
        email_verified: u.bool("email_verified").unwrap_or(false),
        plan: u.s("plan").unwrap_or("free").into(),
        subscription_status: u.s("subscription_status").unwrap_or("none").into(),
        created_at: u.n("created_at").unwrap_or_default(),
    }
}

/// argon2 is CPU-bound: keep it off the async workers.
async fn verify_password(candidate: String, stored: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || password::verify(&candidate, &stored))
        .await
        .map_err(ApiError::internal)
}

async fn hash_password(pw: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(ApiError::internal)
}

pub async fn register(state: &AppState, email: &str, pw: &str) -> Result<Profile, ApiError> {
    let email = normalize_email("email", email).map_err(|e| validation(vec![e]))?;
    password::check_policy("password", pw, &email).map_err(|e| validation(vec![e]))?;
    let eh = email_hash(state, &email).await?;
    let hash = hash_password(pw.to_string()).await?;
    let user_id = random_id();
    let now = state.clock.now_secs();
    match insert_user(
        state,
        &eh,
        new_user(&user_id, &email, Some(&hash), false, now),
    )
    .await
    {
        Ok(()) => profile(state, &user_id).await,
        Err(StoreError::TransactionCanceled { index: 0, .. }) => Err(ApiError::Conflict(
            "An account with this email already exists.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("Invalid email or password.".into())
}

/// The per-account attempt throttles: the shared rate limiter (one conditional ADD per attempt,
/// so concurrent guesses cannot all slip in under the limit), keyed by the email's keyed hash.
/// A success clears the window.
fn login_throttle() -> Rule {
    Rule::new(
        "login_account",
        MAX_LOGIN_FAILURES as u32,
        Duration::from_secs(FAILURE_WINDOW_SECS as u64),
        &[KeyPart::Email],
    )
}

fn code_throttle() -> Rule {
    Rule::new(
        "otp_account",
        OTP_MAX_FAILURES_PER_DAY as u32,
        Duration::from_secs(86_400),
        &[KeyPart::Email],
    )
}

/// Counts one attempt before the secret is checked; past the limit, 429 until the window ends.
/// Returns which attempt of the window this is.
async fn claim_attempt(state: &AppState, rule: &Rule, email_hash: &str) -> Result<i64, ApiError> {
    let d = ratelimit::check_hashed(state, rule, email_hash).await?;
    if !d.allowed {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: d.reset_secs,
            headers: Default::default(),
        });
    }
    Ok(i64::from(d.limit - d.remaining))
}

async fn audit_failure(state: &AppState, subject: &str, attempt: i64, ip: Option<IpAddr>) {
    crate::audit::record(state, "login_failure", subject, ip, json!({})).await;
    if attempt == MAX_LOGIN_FAILURES {
        crate::audit::record(
            state,
            "lockout",
            subject,
            ip,
            json!({ "failures": attempt }),
        )
        .await;
    }
}

pub async fn login(
    state: &AppState,
    email: &str,
    pw: &str,
    ip: Option<IpAddr>,
) -> Result<Issued, ApiError> {
    let email = normalize_email("email", email).map_err(|e| validation(vec![e]))?;
    if pw.is_empty() || pw.chars().count() > password::MAX_LEN {
        return Err(bad_credentials());
    }
    let eh = email_hash(state, &email).await?;
    // The per-account throttle runs whether or not the account exists: a lockout reveals nothing.
    let attempt = claim_attempt(state, &login_throttle(), &eh).await?;
    let user = find_user(state, &eh).await?;
    let stored = user
        .as_ref()
        .and_then(|u| u.s("password_hash"))
        .map_or_else(|| password::DUMMY_HASH.clone(), str::to_string);
    let matches = verify_password(pw.to_string(), stored.clone()).await?;
    let user = match user {
        Some(u) if matches && u.s("password_hash").is_some() => u,
        other => {
            let subject = other
                .as_ref()
                .map_or_else(|| format!("email:{eh}"), user_id_of);
            audit_failure(state, &subject, attempt, ip).await;
            return Err(bad_credentials());
        }
    };
    let user_id = user_id_of(&user);
    ratelimit::clear_hashed(state, &login_throttle(), &eh).await?;
    let mut verified = stored.clone();
    if password::needs_rehash(&stored) {
        let fresh = hash_password(pw.to_string()).await?;
        let (pk, sk) = keys::user(&user_id);
        let same = Condition::eq("password_hash", stored.as_str());
        match state
            .store
            .update(
                &pk,
                &sk,
                Update::new().set("password_hash", fresh.as_str()),
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
    let still = Condition::eq("password_hash", verified.as_str());
    signed_in(state, &user_id, ip, "password", Some(still)).await
}

/// Starts the session of a user who just proved who they are, and audits it.
async fn signed_in(
    state: &AppState,
    user_id: &str,
    ip: Option<IpAddr>,
    method: &str,
    user_cond: Option<Condition>,
) -> Result<Issued, ApiError> {
    let issued = session::create_checked(state, user_id, user_cond).await?;
    crate::audit::record(
        state,
        "login_success",
        user_id,
        ip,
        json!({ "method": method }),
    )
    .await;
    Ok(issued)
}

/// Marks old sessions revoked. The generation bump already ended them; this only tidies up, so
/// a failure is logged, not returned.
async fn cleanup_sessions(state: &AppState, user_id: &str, keep: Option<&str>) {
    if let Err(e) = session::revoke_all(state, user_id, keep).await {
        tracing::warn!(error = %e, "could not mark old sessions revoked (they are already dead)");
    }
}

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

/// Issues a code for the address, replacing any earlier one, and mails it. The caller answers
/// the same whatever happens here.
pub async fn request_code(state: &AppState, email: &str) -> Result<(), ApiError> {
    let pepper = state.hash_pepper().await?;
    let eh = email_hash(state, email).await?;
    let code = six_digits();
    let now = state.clock.now_secs();
    let (pk, sk) = keys::otp(&eh);
    state
        .store
        .put(
            Item::new(pk, sk)
                .with("type", "otp")
                .with("code_hash", code_hash(&pepper, email, &code))
                .with("attempts", 0)
                .with(EXPIRES_AT, now + OTP_TTL_SECS),
            None,
        )
        .await?;
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

/// Checks a code; on success signs in, creating the account on first use.
pub async fn verify_code(
    state: &AppState,
    email: &str,
    code: &str,
    ip: Option<IpAddr>,
) -> Result<Issued, ApiError> {
    let email = normalize_email("email", email).map_err(|e| validation(vec![e]))?;
    let pepper = state.hash_pepper().await?;
    let eh = email_hash(state, &email).await?;
    // Per account, across codes: requesting a fresh code does not buy fresh guesses.
    claim_attempt(state, &code_throttle(), &eh).await?;
    let (pk, sk) = keys::otp(&eh);
    // Count the attempt first, atomically: a sixth guess is refused even when many race.
    let bumped = state
        .store
        .update(
            &pk,
            &sk,
            Update::new().add("attempts", 1),
            Some(Condition::Exists.and(Condition::lt("attempts", OTP_MAX_ATTEMPTS))),
        )
        .await;
    let item = match bumped {
        Ok(i) => i,
        Err(StoreError::ConditionFailed { existing }) => {
            if existing.is_some() {
                // Dead after too many tries: gone for good (but never a newer code that
                // replaced it a moment ago).
                let dead = Condition::ge("attempts", OTP_MAX_ATTEMPTS).or(Condition::Expired);
                match state.store.delete(&pk, &sk, Some(dead)).await {
                    Ok(_) | Err(StoreError::ConditionFailed { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Err(bad_code());
        }
        Err(e) => return Err(e.into()),
    };
    let expected = item.s("code_hash").unwrap_or_default().to_string();
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let given = code_hash(&pepper, &email, code);
    if !well_formed || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        crate::audit::record(state, "otp_failure", &format!("email:{eh}"), ip, json!({})).await;
        return Err(bad_code());
    }
    // Single use: only the request that deletes it gets in.
    match state
        .store
        .delete(
            &pk,
            &sk,
            Some(Condition::eq("code_hash", expected.as_str())),
        )
        .await
    {
        Ok(Some(_)) => ratelimit::clear_hashed(state, &code_throttle(), &eh).await?,
        Ok(None) | Err(StoreError::ConditionFailed { .. }) => return Err(bad_code()),
        Err(e) => return Err(e.into()),
    }
    let user_id = match find_user(state, &eh).await? {
        Some(u) => {
            let id = user_id_of(&u);
            if u.bool("email_verified") != Some(true) {
                // Whoever registered this address before its owner proved it may hold a password
                // and sessions: the owner's first code login takes the account back from them.
                let (upk, usk) = keys::user(&id);
                let reclaim = Update::new()
                    .set("email_verified", true)
                    .remove("password_hash")
                    .add(session::GEN, 1);
                state.store.update(&upk, &usk, reclaim, None).await?;
                cleanup_sessions(state, &id, None).await;
            }
            id
        }
        None => {
            let id = random_id();
            let now = state.clock.now_secs();
            match insert_user(state, &eh, new_user(&id, &email, None, true, now)).await {
                Ok(()) => id,
                // Created a moment ago by a concurrent sign-up.
                Err(StoreError::TransactionCanceled { index: 0, .. }) => find_user(state, &eh)
                    .await?
                    .map(|u| user_id_of(&u))
                    .ok_or_else(|| ApiError::internal("user vanished during sign-up"))?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    signed_in(state, &user_id, ip, "email_code", None).await
}

/// Mails a reset token when the account exists; the caller answers the same either way.
pub async fn forgot_password(state: &AppState, email: &str) -> Result<(), ApiError> {
    let eh = email_hash(state, email).await?;
    let Some(user) = find_user(state, &eh).await? else {
        return Ok(());
    };
    let pepper = state.hash_pepper().await?;
    let token = random_token(32);
    let (pk, sk) = keys::password_reset(&keyed_hash(&pepper, "reset", &token));
    let now = state.clock.now_secs();
    state
        .store
        .put(
            Item::new(pk, sk)
                .with("type", "password_reset")
                .with("user_id", user_id_of(&user))
                // Valid only while the account's session generation stays the same: a password
                // change or another reset retires every older token.
                .with(session::GEN, user.n(session::GEN).unwrap_or(0))
                .with(EXPIRES_AT, now + RESET_TTL_SECS),
            Some(Condition::NotExists),
        )
        .await?;
    state
        .mailer
        .send(Mail {
            to: email.into(),
            subject: "Reset your password".into(),
            body: format!(
                "Use this token to reset your password within 30 minutes: {token}\nIf you did not ask for this, ignore this mail."
            ),
        })
        .await
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
    let (rpk, rsk) = keys::password_reset(&keyed_hash(&pepper, "reset", token));
    let record = state.store.get(&rpk, &rsk).await?.ok_or_else(invalid)?;
    let user_id = record.s("user_id").unwrap_or_default().to_string();
    let profile = profile(state, &user_id).await.map_err(|_| invalid())?;
    password::check_policy("new_password", new_pw, &profile.email)
        .map_err(|e| validation(vec![e]))?;
    let hash = hash_password(new_pw.to_string()).await?;
    let (upk, usk) = keys::user(&user_id);
    let token_gen = record.n(session::GEN).unwrap_or(0);
    // Consuming the token, setting the password and ending every session (a new generation)
    // commit together, or nothing does.
    match state
        .store
        .transact(vec![
            Write::Delete {
                pk: rpk,
                sk: rsk,
                cond: Some(Condition::Exists),
            },
            Write::Update {
                pk: upk,
                sk: usk,
                update: Update::new()
                    .set("password_hash", hash)
                    .set(session::GEN, token_gen + 1),
                cond: Some(Condition::Exists.and(session::generation_is(token_gen))),
            },
        ])
        .await
    {
        Ok(()) => {}
        Err(StoreError::TransactionCanceled { .. }) => return Err(invalid()),
        Err(e) => return Err(e.into()),
    }
    cleanup_sessions(state, &user_id, None).await;
    let eh = email_hash(state, &profile.email).await?;
    ratelimit::clear_hashed(state, &login_throttle(), &eh).await?;
    crate::audit::record(state, "password_reset", &user_id, ip, json!({})).await;
    Ok(())
}

pub async fn change_password(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    current: &str,
    new_pw: &str,
    ip: Option<IpAddr>,
) -> Result<(), ApiError> {
    let profile = profile(state, user_id).await?;
    let eh = email_hash(state, &profile.email).await?;
    // Shares the login throttle: a stolen session cannot guess the password here instead.
    let attempt = claim_attempt(state, &login_throttle(), &eh).await?;
    let (pk, sk) = keys::user(user_id);
    let user = state
        .store
        .get(&pk, &sk)
        .await?
        .ok_or_else(bad_credentials)?;
    let stored = user
        .s("password_hash")
        .map_or_else(|| password::DUMMY_HASH.clone(), str::to_string);
    let ok =
        verify_password(current.to_string(), stored).await? && user.s("password_hash").is_some();
    if !ok {
        audit_failure(state, user_id, attempt, ip).await;
        return Err(ApiError::Forbidden("The current password is wrong.".into()));
    }
    ratelimit::clear_hashed(state, &login_throttle(), &eh).await?;
    password::check_policy("new_password", new_pw, &profile.email)
        .map_err(|e| validation(vec![e]))?;
    let hash = hash_password(new_pw.to_string()).await?;
    let current_gen = user.n(session::GEN).unwrap_or(0);
    let (spk, ssk) = keys::session(user_id, session_id);
    // The new password and a new generation commit together, and this session moves to the new
    // generation in the same transaction: every other session ends, this one stays.
    state
        .store
        .transact(vec![
            Write::Update {
                pk: pk.clone(),
                sk: sk.clone(),
                update: Update::new()
                    .set("password_hash", hash)
                    .set(session::GEN, current_gen + 1),
                cond: Some(Condition::Exists.and(session::generation_is(current_gen))),
            },
            Write::Update {
                pk: spk,
                sk: ssk,
                update: Update::new().set(session::GEN, current_gen + 1),
                cond: Some(Condition::Exists),
            },
        ])
        .await
        .map_err(|e| match e {
            StoreError::TransactionCanceled { .. } => {
                ApiError::Conflict("The account changed meanwhile; try again.".into())
            }
            other => other.into(),
        })?;
    cleanup_sessions(state, user_id, Some(session_id)).await;
    crate::audit::record(state, "password_change", user_id, ip, json!({})).await;
    Ok(())
}

/// How long the caller of `forgot_password`/`request_code` should appear to take at least,
/// so the existing-account path (writes and a mail) is not told apart by timing.
pub const UNIFORM_RESPONSE_FLOOR: Duration = Duration::from_millis(150);

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
