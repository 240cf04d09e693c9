//! Refresh token rotation (RFC 9700 4.14.2: rotation with reuse detection, and the grace period
//! it allows for concurrent refreshes).
//!
//! A refresh token is an opaque 256-bit value stored only as a keyed hash, replaced on every
//! use. The replaced token is kept, marked `rotated`, with the token that replaced it sealed
//! under a key only its holder can derive. Presenting it again within
//! `REFRESH_REUSE_GRACE_SECS` (two tabs refreshing with one token) answers with the session's
//! newest tokens; presenting it later means two parties hold the family, so the session is
//! revoked (the thief's and the victim's tokens both stop working) and an audit event written.
//! No refresh outlives the session's absolute end (`session::absolute_end`).

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::records::{RefreshStatus, RefreshToken, Session, Suspension};
use super::session::{
    self, Issued, REFRESH_TTL_SECS, absolute_end, commit_retrying, generation_is, issue,
    refresh_hash, revoke,
};
use rampart_http::state::AppState;
use rampart_platform::crypto::{hmac_sha256, random_token};
use rampart_platform::error::ApiError;
use rampart_platform::metrics::{self, Metric};
use rampart_store::{Condition, EXPIRES_AT, Tx, TxError, TxFailure, Update, keys, load};

/// How many rotations within the grace period a late tab may follow to the newest token.
const GRACE_HOPS: usize = 4;

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
    metrics::count(Metric::RefreshReuseDetected, &[]);
    rampart_http::audit::record(
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

/// The one-time pad that seals the token replacing `presented`: derived from the presented
/// token itself (and the pepper), so only whoever holds that token can open it, and each pad
/// seals exactly one token.
fn pad(pepper: &[u8], presented: &str) -> [u8; 32] {
    let mut data = b"refresh-grace\0".to_vec();
    data.extend_from_slice(presented.as_bytes());
    hmac_sha256(pepper, &data)
}

fn xor_with(pad: [u8; 32], bytes: &[u8]) -> Option<Vec<u8>> {
    (bytes.len() == pad.len()).then(|| bytes.iter().zip(pad).map(|(b, p)| b ^ p).collect())
}

fn seal(pepper: &[u8], presented: &str, next: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(next).ok()?;
    Some(URL_SAFE_NO_PAD.encode(xor_with(pad(pepper, presented), &raw)?))
}

fn unseal(pepper: &[u8], presented: &str, sealed: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    Some(URL_SAFE_NO_PAD.encode(xor_with(pad(pepper, presented), &raw)?))
}

/// The parts of a refresh token rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token is still the current one (else: a second holder used it first).
    RetirePresented,
    IssueNext,
    /// The session still stands and still expects the presented token.
    AdvanceSession,
    /// No password change, reset or suspension since the session began.
    UserGeneration,
}

/// Rotates a refresh token: the presented one is retired, a new one issued in the same session.
pub async fn refresh(
    state: &AppState,
    token: &str,
    ip: Option<IpAddr>,
) -> Result<Issued, ApiError> {
    let (record, pepper) = presented(state, token).await?;
    if record.status != RefreshStatus::Current {
        return grace_or_reuse(state, &record, token, &pepper, ip).await;
    }
    let (user_id, session_id) = (record.user_id.clone(), record.session_id.clone());
    let session_key = keys::session(&user_id, &session_id);
    let session = load::<Session>(&*state.store, &session_key)
        .await?
        .ok_or_else(invalid)?;
    let now = state.clock.now_secs();
    let end = absolute_end(state, session.created_at);
    if now >= end {
        // The session's absolute lifetime is over, however recently it was refreshed.
        return Err(invalid());
    }
    let next_token = random_token(32);
    let next = RefreshToken {
        token_hash: refresh_hash(&pepper, &next_token),
        status: RefreshStatus::Current,
        rotated_at: None,
        next_sealed: None,
        expires_at: (now + REFRESH_TTL_SECS).min(end),
        ..record.clone()
    };
    let sealed = seal(&pepper, token, &next_token).ok_or_else(invalid)?;
    let current = RefreshStatus::Current.as_str();
    let tx = Tx::new()
        .update(
            Rotation::RetirePresented,
            record.key(),
            Update::new()
                .set(RefreshToken::STATUS, RefreshStatus::Rotated.as_str())
                .set(RefreshToken::ROTATED_AT, now)
                .set(RefreshToken::NEXT_SEALED, sealed),
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
            Condition::Exists
                .and(generation_is(session.session_gen))
                .and(Suspension::absent()),
        );
    match commit_retrying(state, tx).await {
        Ok(()) => issue(state, &user_id, &session_id, next_token, next.expires_at).await,
        // Someone rotated this token a moment ago: another tab, or a second holder.
        Err(e) if e.condition_failed() == Some(&Rotation::RetirePresented) => {
            let (again, _) = presented(state, token).await?;
            grace_or_reuse(state, &again, token, &pepper, ip).await
        }
        // Conflicted twice: try later. Nothing was written, nothing is revoked.
        Err(TxError::Canceled {
            reason: TxFailure::Conflict,
            ..
        }) => Err(ApiError::Unavailable(
            "refresh token rotation conflicted twice".into(),
        )),
        Err(TxError::Canceled { .. }) => Err(invalid()),
        Err(TxError::Store(e)) => Err(e.into()),
    }
}

/// What a rotated token presented again turned out to be.
enum Late {
    /// Within the grace period of every rotation since: the session's newest tokens.
    Grace(Issued),
    /// The session is over anyway (revoked, expired, a new generation): nothing to revoke.
    SessionOver,
    /// Reuse.
    Reuse,
}

async fn grace_or_reuse(
    state: &AppState,
    record: &RefreshToken,
    token: &str,
    pepper: &[u8],
    ip: Option<IpAddr>,
) -> Result<Issued, ApiError> {
    match late(state, record, token, pepper).await? {
        Late::Grace(issued) => Ok(issued),
        Late::SessionOver => Err(invalid()),
        Late::Reuse => Err(reuse_detected(state, &record.user_id, &record.session_id, ip).await),
    }
}

/// Follows the sealed chain from a rotated token to the session's current one, as long as
/// every rotation on the way is within the grace period (RFC 9700 4.14.2).
async fn late(
    state: &AppState,
    record: &RefreshToken,
    token: &str,
    pepper: &[u8],
) -> Result<Late, ApiError> {
    let grace = state.settings.refresh_reuse_grace_secs;
    let now = state.clock.now_secs();
    let store = &*state.store;
    let (mut rec, mut tok) = (record.clone(), token.to_string());
    for _ in 0..GRACE_HOPS {
        let recent = rec.rotated_at.is_some_and(|t| now - t <= grace);
        if grace == 0 || !recent {
            return Ok(Late::Reuse);
        }
        let Some(next_tok) = rec
            .next_sealed
            .as_deref()
            .and_then(|s| unseal(pepper, &tok, s))
        else {
            return Ok(Late::Reuse);
        };
        let key = keys::refresh_token(&refresh_hash(pepper, &next_tok));
        let Some(next) = load::<RefreshToken>(store, &key).await? else {
            return Ok(Late::SessionOver);
        };
        if next.session_id != rec.session_id || next.user_id != rec.user_id {
            return Ok(Late::Reuse);
        }
        if next.status == RefreshStatus::Current {
            let key = keys::session(&next.user_id, &next.session_id);
            let Some(s) = load::<Session>(store, &key).await? else {
                return Ok(Late::SessionOver);
            };
            let live = !s.revoked
                && s.refresh_hash == next.token_hash
                && now < absolute_end(state, s.created_at)
                && session::generation(state, &s.user_id).await? == s.session_gen;
            if !live {
                return Ok(Late::SessionOver);
            }
            let issued = issue(state, &s.user_id, &s.session_id, next_tok, s.expires_at).await?;
            return Ok(Late::Grace(issued));
        }
        (rec, tok) = (next, next_tok);
    }
    Ok(Late::Reuse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_presented_token_opens_its_successor() {
        let (t1, t2) = (random_token(32), random_token(32));
        let sealed = seal(b"pepper", &t1, &t2).unwrap();
        assert_ne!(sealed, t2, "not stored in the clear");
        assert_eq!(
            unseal(b"pepper", &t1, &sealed).as_deref(),
            Some(t2.as_str())
        );
        let other = random_token(32);
        assert_ne!(
            unseal(b"pepper", &other, &sealed).as_deref(),
            Some(t2.as_str())
        );
        assert_ne!(unseal(b"other", &t1, &sealed).as_deref(), Some(t2.as_str()));
        assert_eq!(unseal(b"pepper", &t1, "short"), None);
    }
}
