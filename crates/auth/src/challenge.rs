//! The step between the factors: when an account has a second factor, the first one (a password
//! or an email code) starts no session but a challenge, answered by a 401 problem
//! `second-factor-required` carrying a short-lived `mfa_token`; `second_factor` completes it.
//! The token is random (bound to the user by its key and to the first factor's success by being
//! minted only then) and stored as a keyed hash, like every other token.

use std::net::IpAddr;

use axum::http::StatusCode;
use serde_json::json;

use super::records::{MfaChallenge, Totp, User};
use rampart_http::state::AppState;
use rampart_platform::crypto::{keyed_hash, random_token};
use rampart_platform::error::ApiError;
use rampart_store::{Condition, keys, load};

/// How long the second factor may take after the first: 5 minutes (OWASP Multifactor
/// Authentication Cheat Sheet: the partial sign-in must not linger; long enough to open an
/// authenticator app or find a recovery code).
pub const CHALLENGE_TTL_SECS: i64 = 5 * 60;

/// The problem `type` (last segment) a client switches on to ask for the second factor.
pub const SECOND_FACTOR_REQUIRED: &str = "second-factor-required";

pub(crate) fn token_hash(pepper: &[u8], token: &str) -> String {
    keyed_hash(pepper, "mfa", token)
}

/// The user's TOTP when it is active (a pending one is no factor yet).
pub async fn active_totp(state: &AppState, user_id: &str) -> Result<Option<Totp>, ApiError> {
    let totp = load::<Totp>(&*state.store, &keys::totp(user_id)).await?;
    Ok(totp.filter(|t| t.active))
}

/// Nothing when the user has no second factor; otherwise stores a challenge for the sign-in
/// whose first factor (`method`) just succeeded and answers 401 `second-factor-required` with
/// its token: no session is issued on the first factor alone.
pub async fn second_factor_required(
    state: &AppState,
    user_id: &str,
    ip: Option<IpAddr>,
    method: &str,
) -> Result<(), ApiError> {
    if active_totp(state, user_id).await?.is_none() {
        return Ok(());
    }
    let user: Option<User> = load(&*state.store, &keys::user(user_id)).await?;
    let session_gen = user.map_or(0, |u| u.session_gen);
    let pepper = state.hash_pepper().await?;
    // The user id in front finds the challenge's partition; the random part is the secret.
    let token = format!("{user_id}.{}", random_token(32));
    let challenge = MfaChallenge {
        user_id: user_id.into(),
        token_hash: token_hash(&pepper, &token),
        method: method.into(),
        session_gen,
        expires_at: state.clock.now_secs() + CHALLENGE_TTL_SECS,
    };
    state
        .store
        .put((&challenge).into(), Some(Condition::NotExists))
        .await?;
    rampart_http::audit::record(
        state,
        "second_factor_required",
        user_id,
        ip,
        json!({ "method": method }),
    )
    .await;
    let mut members = serde_json::Map::new();
    members.insert("mfa_token".into(), token.into());
    members.insert("expires_in".into(), CHALLENGE_TTL_SECS.into());
    members.insert("methods".into(), json!(["totp", "recovery_code"]));
    Err(ApiError::coded(
        StatusCode::UNAUTHORIZED,
        SECOND_FACTOR_REQUIRED,
        "A second factor is required: send a code from the authenticator app or a recovery \
         code with the mfa_token to /auth/2fa/verify.",
    )
    .with_extensions(members))
}

/// The live challenge `token` names, or 401.
pub async fn open(state: &AppState, token: &str) -> Result<MfaChallenge, ApiError> {
    let expired =
        || ApiError::Unauthorized("The sign-in step expired or is unknown; sign in again.".into());
    let (user_id, _) = token.split_once('.').ok_or_else(expired)?;
    if user_id.is_empty() || token.len() > 200 {
        return Err(expired());
    }
    let pepper = state.hash_pepper().await?;
    let key = keys::mfa_challenge(user_id, &token_hash(&pepper, token));
    load::<MfaChallenge>(&*state.store, &key)
        .await?
        .ok_or_else(expired)
}
