//! The signed-in user's own sessions (OWASP ASVS 5.0 V7.5.2: users can view and end their
//! active sessions): listing the live ones, ending one, ending every other one. Only the
//! caller's partition is ever read, so another user's session id is as unknown as a made-up one.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::records::{Session, User};
use super::session::{self, absolute_end, commit_retrying, generation_is};
use super::{AuthUser, AuthVia, cookies};
use rampart_http::ClientIp;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Tx, TxError, Update, keys, load, query_all};

/// Whether a stored session still stands for `user` (the same rules as the session check).
fn live(state: &AppState, s: &Session, user: &User) -> bool {
    let now = state.clock.now_secs();
    !s.revoked
        && now < s.expires_at
        && now < absolute_end(state, s.created_at)
        && s.session_gen == user.session_gen
}

/// The caller's live sessions, newest first.
pub async fn list(state: &AppState, caller: &AuthUser) -> Result<Vec<Session>, ApiError> {
    let (pk, _) = keys::user(&caller.user_id);
    let mut out = Vec::new();
    for item in query_all(&*state.store, &pk, Some(keys::SESSION_PREFIX)).await? {
        let s = Session::try_from(&item)?;
        if live(state, &s, &caller.user) {
            out.push(s);
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    Ok(out)
}

fn view(s: &Session, current: &str) -> serde_json::Value {
    json!({
        "id": s.session_id,
        "created_at": s.created_at,
        "last_used_at_least": s.last_used_at_least(),
        "expires_at": s.expires_at,
        "device_class": s.device_class,
        "current": s.session_id == current,
    })
}

/// Ends one of the caller's live sessions; 404 for any other id (another user's included).
pub async fn end(state: &AppState, caller: &AuthUser, session_id: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::NotFound("No such session.".into());
    let plausible = !session_id.is_empty()
        && session_id.len() <= 64
        && session_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !plausible {
        return Err(not_found());
    }
    let key = keys::session(&caller.user_id, session_id);
    match load::<Session>(&*state.store, &key).await? {
        Some(s) if live(state, &s, &caller.user) => {
            session::revoke(state, &caller.user_id, session_id).await
        }
        _ => Err(not_found()),
    }
}

/// The parts of ending every other session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndOthers {
    /// A new generation, if the account is still at the one read.
    NextGeneration,
    /// The caller's session moves to it and so survives.
    KeepThisSession,
}

/// Ends every session of the caller but the current one; answers how many were live. The
/// generation moves on in one transaction with the current session, as a password change does,
/// so all of them end at once even if the per-session tidy-up after it is interrupted.
pub async fn end_others(state: &AppState, caller: &AuthUser) -> Result<usize, ApiError> {
    let others = list(state, caller)
        .await?
        .iter()
        .filter(|s| s.session_id != caller.session_id)
        .count();
    let next_gen = caller.user.session_gen + 1;
    let tx = Tx::new()
        .update(
            EndOthers::NextGeneration,
            keys::user(&caller.user_id),
            Update::new().set(User::SESSION_GEN, next_gen),
            Some(Condition::Exists.and(generation_is(caller.user.session_gen))),
        )
        .update(
            EndOthers::KeepThisSession,
            keys::session(&caller.user_id, &caller.session_id),
            Update::new().set(Session::SESSION_GEN, next_gen),
            Some(Condition::Exists.and(Condition::AttrNotExists(Session::REVOKED.into()))),
        );
    commit_retrying(state, tx)
        .await
        .map_err(|e: TxError<EndOthers>| {
            if e.condition_failed().is_some() {
                ApiError::Conflict("The account changed meanwhile; try again.".into())
            } else {
                e.into()
            }
        })?;
    session::cleanup_sessions(state, &caller.user_id, Some(&caller.session_id)).await;
    Ok(others)
}

/// `GET /auth/sessions`
pub async fn list_handler(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let sessions: Vec<_> = list(&state, &user)
        .await?
        .iter()
        .map(|s| view(s, &user.session_id))
        .collect();
    Ok(axum::Json(json!({ "sessions": sessions })).into_response())
}

/// `DELETE /auth/sessions/{id}`: ending the current session is a logout (its cookies cleared).
pub async fn end_handler(
    State(state): State<AppState>,
    ip: ClientIp,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    end(&state, &user, &id).await?;
    let detail = json!({ "session_id": id });
    rampart_http::audit::record(&state, "session_ended", &user.user_id, Some(ip.0), detail).await;
    let mut headers = HeaderMap::new();
    if id == user.session_id && user.via == AuthVia::Cookie {
        cookies::clear(&mut headers, &state.settings);
    }
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// `POST /auth/sessions/end-others`
pub async fn end_others_handler(
    State(state): State<AppState>,
    ip: ClientIp,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let n = end_others(&state, &user).await?;
    let detail = json!({ "ended": n });
    rampart_http::audit::record(&state, "sessions_ended", &user.user_id, Some(ip.0), detail).await;
    Ok(axum::Json(json!({ "ended": n })).into_response())
}
