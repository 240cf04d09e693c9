//! Sessions and refresh tokens (RFC 9700 §4.14: refresh token rotation with reuse detection).
//!
//! A session is one login on one device; its refresh token is an opaque 256-bit value stored
//! only as a keyed hash, valid 7 days and replaced on every use. The replaced token is kept,
//! marked `rotated`: presenting it again means two parties hold the family, so the session is
//! revoked (the thief's and the victim's tokens both stop working) and an audit event is
//! written. Access tokens name their session, and every authenticated request checks the
//! session still stands, so logout and revocation take effect at once.

use std::net::IpAddr;

use serde_json::json;

use super::jwt;
use super::records::{RefreshStatus, RefreshToken, Session, User};
use crate::crypto::{keyed_hash, random_id, random_token};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Condition, EXPIRES_AT, Query, StoreError, Tx, TxError, Update, keys, load};

/// Refresh token (and session) lifetime: 7 days, extended by each rotation.
pub const REFRESH_TTL_SECS: i64 = crate::lifetimes::REFRESH_SECS;

/// What a login or refresh hands back to the client.
#[derive(Debug, Clone)]
pub struct Issued {
    pub user_id: String,
    pub session_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub csrf_token: String,
    pub expires_in: i64,
}

fn refresh_hash(pepper: &[u8], token: &str) -> String {
    keyed_hash(pepper, "refresh", token)
}

async fn issue(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    refresh_token: String,
) -> Result<Issued, ApiError> {
    let keys = super::signing_keys(state, None).await?;
    let (kid, key) = &keys[0];
    let now = state.clock.now_secs();
    let access_token = jwt::sign(
        &jwt::claims_for(user_id, session_id, now),
        kid,
        key.as_bytes(),
    );
    let pepper = state.hash_pepper().await?;
    Ok(Issued {
        user_id: user_id.into(),
        session_id: session_id.into(),
        access_token,
        refresh_token,
        csrf_token: super::csrf::token(&pepper, session_id),
        expires_in: jwt::ACCESS_TTL_SECS,
    })
}

/// The user's session generation: bumped in the same transaction as a password change or
/// reset, so every session of an older generation is dead at once, even if the per-session
/// revocation that follows is interrupted.
pub async fn generation(state: &AppState, user_id: &str) -> Result<i64, ApiError> {
    let user: Option<User> = load(&*state.store, &keys::user(user_id)).await?;
    Ok(user.map_or(0, |u| u.session_gen))
}

/// The condition "the user's generation is still `g`".
pub fn generation_is(g: i64) -> Condition {
    if g == 0 {
        Condition::AttrNotExists(User::SESSION_GEN.into()).or(Condition::eq(User::SESSION_GEN, 0))
    } else {
        Condition::eq(User::SESSION_GEN, g)
    }
}

/// The parts of the transaction that starts a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewSession {
    Session,
    /// The user still exists, of the generation read, and as the caller saw it.
    UserUnchanged,
    RefreshToken,
}

/// Starts a session for a user who just proved who they are.
pub async fn create(state: &AppState, user_id: &str) -> Result<Issued, ApiError> {
    create_checked(state, user_id, None).await
}

/// Starts a session only if the user is still as the caller saw it: the generation read now,
/// and `user_cond` (a login passes "the password hash it verified is still the stored one", so
/// a login racing a password reset cannot create a session that outlives the reset).
pub async fn create_checked(
    state: &AppState,
    user_id: &str,
    user_cond: Option<Condition>,
) -> Result<Issued, ApiError> {
    let generation_now = generation(state, user_id).await?;
    let pepper = state.hash_pepper().await?;
    let token = random_token(32);
    let now = state.clock.now_secs();
    let session = Session {
        user_id: user_id.into(),
        session_id: random_id(),
        created_at: now,
        session_gen: generation_now,
        refresh_hash: refresh_hash(&pepper, &token),
        expires_at: now + REFRESH_TTL_SECS,
        revoked: false,
    };
    let refresh = RefreshToken {
        token_hash: session.refresh_hash.clone(),
        user_id: user_id.into(),
        session_id: session.session_id.clone(),
        status: RefreshStatus::Current,
        rotated_at: None,
        expires_at: session.expires_at,
    };
    let unchanged = Condition::Exists.and(generation_is(generation_now));
    let result = Tx::new()
        .put(
            NewSession::Session,
            (&session).into(),
            Some(Condition::NotExists),
        )
        .check(
            NewSession::UserUnchanged,
            keys::user(user_id),
            match user_cond {
                Some(c) => unchanged.and(c),
                None => unchanged,
            },
        )
        .put(
            NewSession::RefreshToken,
            (&refresh).into(),
            Some(Condition::NotExists),
        )
        .commit(&*state.store)
        .await;
    match result {
        Ok(()) => issue(state, user_id, &session.session_id, token).await,
        // A password change or reset (or the owner taking the address back) got in between.
        Err(e) if e.condition_failed() == Some(&NewSession::UserUnchanged) => Err(
            ApiError::Unauthorized("The account changed while signing in; try again.".into()),
        ),
        Err(e) => Err(e.into()),
    }
}

/// Starts the session of a user who just proved who they are (`method`: how), and audits it.
pub async fn signed_in(
    state: &AppState,
    user_id: &str,
    ip: Option<IpAddr>,
    method: &str,
    user_cond: Option<Condition>,
) -> Result<Issued, ApiError> {
    let issued = create_checked(state, user_id, user_cond).await?;
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

/// The user when the session is live (exists, not expired, not revoked, of the user's current
/// generation); `None` otherwise. Handlers reuse the user instead of reading it again.
pub async fn live_user(
    state: &AppState,
    user_id: &str,
    session_id: &str,
) -> Result<Option<User>, ApiError> {
    let store = &*state.store;
    let Some(session) = load::<Session>(store, &keys::session(user_id, session_id)).await? else {
        return Ok(None);
    };
    if session.revoked {
        return Ok(None);
    }
    let Some(user) = load::<User>(store, &keys::user(user_id)).await? else {
        return Ok(None);
    };
    Ok((session.session_gen == user.session_gen).then_some(user))
}

pub async fn revoke(state: &AppState, user_id: &str, session_id: &str) -> Result<(), ApiError> {
    let (pk, sk) = keys::session(user_id, session_id);
    match state
        .store
        .update(
            &pk,
            &sk,
            Update::new().set(Session::REVOKED, true),
            Some(Condition::Exists),
        )
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Revokes every session of a user except `keep`.
pub async fn revoke_all(
    state: &AppState,
    user_id: &str,
    keep: Option<&str>,
) -> Result<usize, ApiError> {
    let (pk, _) = keys::user(user_id);
    let mut cursor = None;
    let mut n = 0;
    loop {
        let page = state
            .store
            .query(
                Query::table(pk.as_str())
                    .prefix(keys::SESSION_PREFIX)
                    .limit(100)
                    .cursor(cursor),
            )
            .await?;
        for item in &page.items {
            let s = Session::try_from(item)?;
            if Some(s.session_id.as_str()) != keep && !s.revoked {
                revoke(state, user_id, &s.session_id).await?;
                n += 1;
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(n),
        }
    }
}

/// Marks old sessions revoked. The generation bump already ended them; this only tidies up, so
/// a failure is logged, not returned.
pub async fn cleanup_sessions(state: &AppState, user_id: &str, keep: Option<&str>) {
    if let Err(e) = revoke_all(state, user_id, keep).await {
        tracing::warn!(error = %e, "could not mark old sessions revoked (they are already dead)");
    }
}

fn invalid() -> ApiError {
    ApiError::Unauthorized("The refresh token is invalid or expired.".into())
}

async fn reuse_detected(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    ip: Option<IpAddr>,
) -> ApiError {
    if let Err(e) = revoke(state, user_id, session_id).await {
        tracing::error!(error = %e, "could not revoke a session after refresh token reuse");
    }
    crate::audit::record(
        state,
        "refresh_reuse",
        user_id,
        ip,
        json!({ "session_id": session_id }),
    )
    .await;
    tracing::warn!("refresh token reuse: session revoked");
    invalid()
}

/// The stored record of a presented refresh token, if it is one of ours.
async fn presented(state: &AppState, token: &str) -> Result<(RefreshToken, Vec<u8>), ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Err(invalid());
    }
    let pepper = state.hash_pepper().await?;
    let key = keys::refresh_token(&refresh_hash(&pepper, token));
    let record = load::<RefreshToken>(&*state.store, &key)
        .await?
        .ok_or_else(invalid)?;
    Ok((record, pepper))
}

/// The (user id, session id) a refresh token belongs to, without using it: the cookie path
/// checks CSRF against that session before rotating.
pub async fn owner_of(state: &AppState, token: &str) -> Result<(String, String), ApiError> {
    let (r, _) = presented(state, token).await?;
    Ok((r.user_id, r.session_id))
}

/// The parts of a refresh token rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token is still the current one (else: a second holder used it first).
    RetirePresented,
    IssueNext,
    /// The session still stands and still expects the presented token.
    AdvanceSession,
    /// No password change or reset since the session began.
    UserGeneration,
}

/// Rotates a refresh token: the presented one is retired, a new one issued in the same session.
pub async fn refresh(
    state: &AppState,
    token: &str,
    ip: Option<IpAddr>,
) -> Result<Issued, ApiError> {
    let (record, pepper) = presented(state, token).await?;
    let (user_id, session_id) = (record.user_id.clone(), record.session_id.clone());
    if record.status != RefreshStatus::Current {
        return Err(reuse_detected(state, &user_id, &session_id, ip).await);
    }
    let now = state.clock.now_secs();
    let next_token = random_token(32);
    let next = RefreshToken {
        token_hash: refresh_hash(&pepper, &next_token),
        status: RefreshStatus::Current,
        rotated_at: None,
        expires_at: now + REFRESH_TTL_SECS,
        ..record.clone()
    };
    let session_key = keys::session(&user_id, &session_id);
    let session_gen = load::<Session>(&*state.store, &session_key)
        .await?
        .map_or(0, |s| s.session_gen);
    let current = RefreshStatus::Current.as_str();
    let result = Tx::new()
        .update(
            Rotation::RetirePresented,
            record.key(),
            Update::new()
                .set(RefreshToken::STATUS, RefreshStatus::Rotated.as_str())
                .set(RefreshToken::ROTATED_AT, now),
            Some(Condition::eq(RefreshToken::STATUS, current)),
        )
        .put(
            Rotation::IssueNext,
            (&next).into(),
            Some(Condition::NotExists),
        )
        .update(
            Rotation::AdvanceSession,
            session_key,
            Update::new()
                .set(Session::REFRESH_HASH, next.token_hash.as_str())
                .set(EXPIRES_AT, next.expires_at),
            Some(
                Condition::Exists
                    .and(Condition::eq(
                        Session::REFRESH_HASH,
                        record.token_hash.as_str(),
                    ))
                    .and(Condition::AttrNotExists(Session::REVOKED.into())),
            ),
        )
        // A password change or reset since this session began ends it.
        .check(
            Rotation::UserGeneration,
            keys::user(&user_id),
            Condition::Exists.and(generation_is(session_gen)),
        )
        .commit(&*state.store)
        .await;
    match result {
        Ok(()) => issue(state, &user_id, &session_id, next_token).await,
        // Someone rotated this token a moment ago: a second holder.
        Err(e) if e.condition_failed() == Some(&Rotation::RetirePresented) => {
            Err(reuse_detected(state, &user_id, &session_id, ip).await)
        }
        Err(TxError::Canceled { .. }) => Err(invalid()),
        Err(TxError::Store(e)) => Err(e.into()),
    }
}
