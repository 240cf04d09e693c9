//! An operator suspending and reinstating an account (`POST /admin/users/{id}/suspend` and
//! `/reinstate`). A suspension moves the account's session generation on in the same write
//! that records it, so every session and refresh token of the account is dead at once; while
//! it stands, the session check refuses the account and no sign-in path issues a session
//! (`session::create_checked`, after the credential was verified: a suspension is never
//! revealed to someone who could not sign in). Reinstating lifts the refusal only: the
//! sessions alive at the suspension stay ended (the generation is not moved back), so a token
//! taken before or during the suspension never comes back to life; the owner signs in again.
//! Nothing else about the account changes.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::operator::Admin;
use super::records::{Suspension, User};
use rampart_http::Json;
use rampart_http::state::AppState;
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, StoreError, Update, keys};

/// The longest reason an operator may give.
pub const MAX_REASON: usize = 500;

/// The 403 of a sign-in, refresh or session start on a suspended account.
pub fn refused() -> ApiError {
    ApiError::coded(
        axum::http::StatusCode::FORBIDDEN,
        "account-suspended",
        "This account is suspended. Contact support.",
    )
}

/// `refused()` if the account is suspended; for a flow that acts on the account before it
/// starts a session (an email code taking an account back).
pub async fn refuse_if_suspended(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    match super::records::load_account(&*state.store, user_id).await? {
        Some((_, item)) if Suspension::of(&item).is_some() => Err(refused()),
        _ => Ok(()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why (1-500 characters): kept on the account and in the audit trail.
    reason: String,
}

fn checked_reason(raw: &str) -> Result<String, ApiError> {
    let reason = raw.trim();
    let n = reason.chars().count();
    if n == 0 || n > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "reason",
            format!("must be 1-{MAX_REASON} characters, without control characters"),
        )]));
    }
    Ok(reason.to_string())
}

fn no_such_user() -> ApiError {
    ApiError::NotFound("No such user.".into())
}

/// User ids are generated (`random_id`); anything else names no account.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The account's suspension as an operator sees it.
fn view(user_id: &str, s: Option<&Suspension>) -> serde_json::Value {
    json!({
        "id": user_id,
        "suspended": s.is_some(),
        "suspended_at": s.map(|s| s.suspended_at),
        "reason": s.map(|s| s.reason.as_str()),
        "suspended_by": s.map(|s| s.by.as_str()),
    })
}

/// Suspends the account; a suspended one is answered as it stands (nothing written, nothing
/// audited). The flag says whether this call suspended it.
pub async fn suspend(
    state: &AppState,
    admin: &Admin,
    user_id: &str,
    reason: &str,
) -> Result<(Suspension, bool), ApiError> {
    let reason = checked_reason(reason)?;
    if !plausible_id(user_id) {
        return Err(no_such_user());
    }
    let (pk, sk) = keys::user(user_id);
    let now = state.clock.now_secs();
    // The generation moves on in the same write: every session and refresh token of the account
    // ends with the suspension (OWASP ASVS 5.0 V7.4.1: termination takes effect at once).
    let update = Update::new()
        .set(Suspension::SUSPENDED_AT, now)
        .set(Suspension::REASON, reason.as_str())
        .set(Suspension::BY, admin.who.as_str())
        .add(User::SESSION_GEN, 1);
    let cond = Condition::Exists.and(Suspension::absent());
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(item) => {
            let s = Suspension::of(&item).ok_or_else(|| ApiError::internal("suspension lost"))?;
            let detail = json!({ "operator": admin.who, "reason": reason });
            rampart_http::audit::record(state, "account_suspended", user_id, admin.ip, detail)
                .await;
            Ok((s, true))
        }
        Err(StoreError::ConditionFailed { existing }) => match existing {
            Some(item) => Suspension::of(&item)
                .map(|s| (s, false))
                .ok_or_else(|| ApiError::Conflict("The account changed; try again.".into())),
            None => Err(no_such_user()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Lifts a suspension; an account that is not suspended is answered as it stands. `true` when
/// this call lifted one.
pub async fn reinstate(
    state: &AppState,
    admin: &Admin,
    user_id: &str,
    reason: &str,
) -> Result<bool, ApiError> {
    let reason = checked_reason(reason)?;
    if !plausible_id(user_id) {
        return Err(no_such_user());
    }
    let (pk, sk) = keys::user(user_id);
    let update = Update::new()
        .remove(Suspension::SUSPENDED_AT)
        .remove(Suspension::REASON)
        .remove(Suspension::BY);
    let cond = Condition::Exists.and(Condition::AttrExists(Suspension::SUSPENDED_AT.into()));
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(_) => {
            let detail = json!({ "operator": admin.who, "reason": reason });
            rampart_http::audit::record(state, "account_reinstated", user_id, admin.ip, detail)
                .await;
            Ok(true)
        }
        Err(StoreError::ConditionFailed { existing: Some(_) }) => Ok(false),
        Err(StoreError::ConditionFailed { existing: None }) => Err(no_such_user()),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/users/{id}/suspend`
pub async fn suspend_handler(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Json(b): Json<Reason>,
) -> Result<Response, ApiError> {
    let (s, _) = suspend(&state, &admin, &id, &b.reason).await?;
    Ok((admin.limits, axum::Json(view(&id, Some(&s)))).into_response())
}

/// `POST /admin/users/{id}/reinstate`
pub async fn reinstate_handler(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Json(b): Json<Reason>,
) -> Result<Response, ApiError> {
    reinstate(&state, &admin, &id, &b.reason).await?;
    Ok((admin.limits, axum::Json(view(&id, None))).into_response())
}
