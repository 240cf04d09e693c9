//! Sessions and refresh tokens (RFC 9700 §4.14: refresh token rotation with reuse detection).
//!
//! A session is one login on one device; its refresh token is an opaque 256-bit value stored
//! only as a keyed hash, valid 7 days and replaced on every use. The replaced token is kept,
//! marked `rotated`: presenting it again means two parties hold the family, so the session is
//! revoked (the thief's and the victim's tokens both stop working) and an audit event is
//! written. Access tokens name their session, and every authenticated request checks the
//! session still stands, so logout and revocation take effect at once.

use serde_json::json;

use super::jwt;
use crate::crypto::{keyed_hash, random_id, random_token};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Condition, EXPIRES_AT, Item, Query, StoreError, Update, Write, keys};

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
    let (pk, sk) = keys::user(user_id);
    Ok(state
        .store
        .get(&pk, &sk)
        .await?
        .and_then(|u| u.n(GEN))
        .unwrap_or(0))
}

pub const GEN: &str = "session_gen";

/// The condition "the user's generation is still `g`".
pub fn generation_is(g: i64) -> Condition {
    if g == 0 {
        Condition::AttrNotExists(GEN.into()).or(Condition::eq(GEN, 0))
    } else {
        Condition::eq(GEN, g)
    }
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
    let session_id = random_id();
    let token = random_token(32);
    let hash = refresh_hash(&pepper, &token);
    let now = state.clock.now_secs();
    let expires = now + REFRESH_TTL_SECS;
    let (spk, ssk) = keys::session(user_id, &session_id);
    let (rpk, rsk) = keys::refresh_token(&hash);
    state
        .store
        .transact(vec![
            Write::Put {
                item: Item::new(spk, ssk)
                    .with("type", "session")
                    .with("user_id", user_id)
                    .with("created_at", now)
                    .with(GEN, generation_now)
                    .with("refresh_hash", hash.as_str())
                    .with(EXPIRES_AT, expires),
                cond: Some(Condition::NotExists),
            },
            Write::Check {
                pk: keys::user(user_id).0,
                sk: keys::user(user_id).1,
                cond: match user_cond {
                    Some(c) => Condition::Exists.and(generation_is(generation_now)).and(c),
                    None => Condition::Exists.and(generation_is(generation_now)),
                },
            },
            Write::Put {
                item: Item::new(rpk, rsk)
                    .with("type", "refresh")
                    .with("user_id", user_id)
                    .with("session_id", session_id.as_str())
                    .with("status", "current")
                    .with(EXPIRES_AT, expires),
                cond: Some(Condition::NotExists),
            },
        ])
        .await
        .map_err(|e| match e {
            StoreError::TransactionCanceled { index: 2, .. } => {
                ApiError::Unauthorized("The account changed while signing in; try again.".into())
            }
            other => other.into(),
        })?;
    issue(state, user_id, &session_id, token).await
}

/// The user's item when the session is live (exists, not expired, not revoked, of the user's
/// current generation); `None` otherwise. Handlers reuse the item instead of reading it again.
pub async fn live_user(
    state: &AppState,
    user_id: &str,
    session_id: &str,
) -> Result<Option<Item>, ApiError> {
    let (pk, sk) = keys::session(user_id, session_id);
    let Some(session) = state.store.get(&pk, &sk).await? else {
        return Ok(None);
    };
    if session.bool("revoked") == Some(true) {
        return Ok(None);
    }
    let (upk, usk) = keys::user(user_id);
    let Some(user) = state.store.get(&upk, &usk).await? else {
        return Ok(None);
    };
    let current = user.n(GEN).unwrap_or(0);
    Ok((session.n(GEN).unwrap_or(0) == current).then_some(user))
}

pub async fn revoke(state: &AppState, user_id: &str, session_id: &str) -> Result<(), ApiError> {
    let (pk, sk) = keys::session(user_id, session_id);
    match state
        .store
        .update(
            &pk,
            &sk,
            Update::new().set("revoked", true),
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
        for s in &page.items {
            let sid = s.sk.trim_start_matches(keys::SESSION_PREFIX);
            if Some(sid) != keep && s.bool("revoked") != Some(true) {
                revoke(state, user_id, sid).await?;
                n += 1;
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(n),
        }
    }
}

fn invalid() -> ApiError {
    ApiError::Unauthorized("The refresh token is invalid or expired.".into())
}

async fn reuse_detected(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    ip: Option<std::net::IpAddr>,
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

/// The (user id, session id) a refresh token belongs to, without using it: the cookie path
/// checks CSRF against that session before rotating.
pub async fn owner_of(state: &AppState, token: &str) -> Result<(String, String), ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Err(invalid());
    }
    let pepper = state.hash_pepper().await?;
    let (pk, sk) = keys::refresh_token(&refresh_hash(&pepper, token));
    let r = state.store.get(&pk, &sk).await?.ok_or_else(invalid)?;
    Ok((
        r.s("user_id").unwrap_or_default().to_string(),
        r.s("session_id").unwrap_or_default().to_string(),
    ))
}

/// Rotates a refresh token: the presented one is retired, a new one issued in the same session.
pub async fn refresh(
    state: &AppState,
    token: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<Issued, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Err(invalid());
    }
    let pepper = state.hash_pepper().await?;
    let hash = refresh_hash(&pepper, token);
    let (rpk, rsk) = keys::refresh_token(&hash);
    let record = state.store.get(&rpk, &rsk).await?.ok_or_else(invalid)?;
    let user_id = record.s("user_id").unwrap_or_default().to_string();
    let session_id = record.s("session_id").unwrap_or_default().to_string();
    if record.s("status") != Some("current") {
        return Err(reuse_detected(state, &user_id, &session_id, ip).await);
    }
    let now = state.clock.now_secs();
    let expires = now + REFRESH_TTL_SECS;
    let next = random_token(32);
    let next_hash = refresh_hash(&pepper, &next);
    let (npk, nsk) = keys::refresh_token(&next_hash);
    let (spk, ssk) = keys::session(&user_id, &session_id);
    let session_gen = state
        .store
        .get(&spk, &ssk)
        .await?
        .and_then(|s| s.n(GEN))
        .unwrap_or(0);
    let (upk, usk) = keys::user(&user_id);
    let result = state
        .store
        .transact(vec![
            Write::Update {
                pk: rpk,
                sk: rsk,
                update: Update::new()
                    .set("status", "rotated")
                    .set("rotated_at", now),
                cond: Some(Condition::eq("status", "current")),
            },
            Write::Put {
                item: Item::new(npk, nsk)
                    .with("type", "refresh")
                    .with("user_id", user_id.as_str())
                    .with("session_id", session_id.as_str())
                    .with("status", "current")
                    .with(EXPIRES_AT, expires),
                cond: Some(Condition::NotExists),
            },
            Write::Update {
                pk: spk,
                sk: ssk,
                update: Update::new()
                    .set("refresh_hash", next_hash.as_str())
                    .set(EXPIRES_AT, expires),
                cond: Some(
                    Condition::Exists
                        .and(Condition::eq("refresh_hash", hash.as_str()))
                        .and(Condition::AttrNotExists("revoked".into())),
                ),
            },
            // A password change or reset since this session began ends it.
            Write::Check {
                pk: upk,
                sk: usk,
                cond: Condition::Exists.and(generation_is(session_gen)),
            },
        ])
        .await;
    match result {
        Ok(()) => issue(state, &user_id, &session_id, next).await,
        // Someone rotated this token a moment ago: a second holder.
        Err(StoreError::TransactionCanceled {
            index: 0,
            reason: crate::store::TxFailure::ConditionFailed,
            ..
        }) => Err(reuse_detected(state, &user_id, &session_id, ip).await),
        Err(StoreError::TransactionCanceled { .. }) => Err(invalid()),
        Err(e) => Err(e.into()),
    }
}
