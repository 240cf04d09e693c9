//! Sessions (OWASP ASVS 5.0 V7): one login on one device, in its user's partition. A session
//! ends when it is revoked, when a password change, reset or suspension moves the user's
//! generation on (and no session lives or starts while the account is suspended),
//! when its refresh token goes unused for 7 days, and in any case `SESSION_MAX_AGE_SECS`
//! after its login however often it is refreshed (ASVS 5.0 V7.3.2, absolute lifetime): every
//! refresh answer and cookie is cut to that end. Access tokens name their session, and every
//! authenticated request checks the session still stands, so logout and revocation take
//! effect at once. Refresh rotation is in `refresh`.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use super::jwt;
use super::records::{RefreshStatus, RefreshToken, Session, Suspension, User};
use rampart_http::state::AppState;
use rampart_platform::crypto::{keyed_hash, random_bytes, random_id, random_token};
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Item, Query, StoreError, Tx, TxError, Update, keys, load};

/// Refresh token (and session) lifetime without use: 7 days, extended by each rotation up to
/// the session's absolute end.
pub const REFRESH_TTL_SECS: i64 = rampart_platform::lifetimes::REFRESH_SECS;

/// What a login or refresh hands back to the client.
#[derive(Debug, Clone)]
pub struct Issued {
    pub user_id: String,
    pub session_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub csrf_token: String,
    /// Seconds the access token is valid: `ACCESS_TOKEN_TTL_SECS` (15 minutes), or less near the
    /// session's end.
    pub expires_in: i64,
    /// Seconds the refresh token (and so the session) is valid: what its cookie's `Max-Age`
    /// says, never past the session's absolute end.
    pub refresh_expires_in: i64,
}

pub(super) fn refresh_hash(pepper: &[u8], token: &str) -> String {
    keyed_hash(pepper, "refresh", token)
}

/// Signs an access token for the session and assembles the answer; `session_end` is when the
/// session's refresh token expires (no token outlives it).
pub(super) async fn issue(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    refresh_token: String,
    session_end: i64,
) -> Result<Issued, ApiError> {
    let keys = super::signing_keys(state, None).await?;
    let (kid, key) = &keys[0];
    let now = state.clock.now_secs();
    let mut claims = jwt::claims_for(user_id, session_id, now);
    claims.exp = claims
        .exp
        .min(now + state.settings.access_token_ttl_secs)
        .min(session_end);
    let access_token = jwt::sign(&claims, kid, key.as_bytes())
        .map_err(|e| ApiError::internal(format!("signing an access token: {e}")))?;
    let pepper = state.hash_pepper().await?;
    Ok(Issued {
        user_id: user_id.into(),
        session_id: session_id.into(),
        access_token,
        refresh_token,
        csrf_token: super::csrf::token(&pepper, session_id),
        expires_in: claims.exp - now,
        refresh_expires_in: session_end - now,
    })
}

/// When a session that began at `created_at` ends at the latest (ASVS 5.0 V7.3.2).
pub fn absolute_end(state: &AppState, created_at: i64) -> i64 {
    created_at + state.settings.session_max_age_secs
}

/// Commits `tx`. A DynamoDB TransactionConflict (another transaction touched one of its items
/// at that moment; nothing was written) is tried once more after a short random pause; if it
/// conflicts again the caller answers 503 with Retry-After (`TxError` into `ApiError`): never a
/// 401, never a revocation.
pub(super) async fn commit_retrying<P: Copy + std::fmt::Debug>(
    state: &AppState,
    tx: Tx<P>,
) -> Result<(), TxError<P>> {
    match tx.clone().commit(&*state.store).await {
        Err(TxError::Canceled {
            reason: rampart_store::TxFailure::Conflict,
            ..
        }) => {
            // 20-147 ms, random (AWS DynamoDB developer guide: retry a TransactionConflict with
            // backoff and jitter): enough for the other transaction to finish, desynchronised so
            // two retries do not collide again.
            let jitter = 20 + u64::from(random_bytes(1)[0] / 2);
            tokio::time::sleep(Duration::from_millis(jitter)).await;
            tx.commit(&*state.store).await
        }
        other => other,
    }
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
    let account = super::records::load_account(&*state.store, user_id).await?;
    let generation_now = account.as_ref().map_or(0, |(u, _)| u.session_gen);
    // Checked only here, once the caller proved who they are: a suspension is never revealed
    // to someone without the password or code.
    if account.is_some_and(|(_, item)| Suspension::of(&item).is_some()) {
        return Err(super::suspension::refused());
    }
    let pepper = state.hash_pepper().await?;
    let token = random_token(32);
    let now = state.clock.now_secs();
    let session = Session {
        user_id: user_id.into(),
        session_id: random_id(),
        created_at: now,
        session_gen: generation_now,
        refresh_hash: refresh_hash(&pepper, &token),
        expires_at: (now + REFRESH_TTL_SECS).min(absolute_end(state, now)),
        revoked: false,
        device_class: super::client::current().map(str::to_string),
    };
    let refresh = RefreshToken {
        token_hash: session.refresh_hash.clone(),
        user_id: user_id.into(),
        session_id: session.session_id.clone(),
        status: RefreshStatus::Current,
        rotated_at: None,
        next_sealed: None,
        expires_at: session.expires_at,
    };
    let unchanged = Condition::Exists
        .and(generation_is(generation_now))
        .and(Suspension::absent());
    let tx = Tx::new()
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
        );
    match commit_retrying(state, tx).await {
        Ok(()) => {
            issue(
                state,
                user_id,
                &session.session_id,
                token,
                session.expires_at,
            )
            .await
        }
        // A password change or reset, a suspension (or the owner taking the address back) got
        // in between.
        Err(e) if e.condition_failed() == Some(&NewSession::UserUnchanged) => Err(
            ApiError::Unauthorized("The account changed while signing in; try again.".into()),
        ),
        Err(e) => Err(e.into()),
    }
}

/// Starts the session of a user who just proved who they are (`method`: how), and audits it;
/// every sign-in ends here. When the account has a second factor, the first one alone starts
/// no session: the answer is a challenge for it (`challenge`), completed by `second_factor`.
pub async fn signed_in(
    state: &AppState,
    user_id: &str,
    ip: Option<IpAddr>,
    method: &str,
    user_cond: Option<Condition>,
) -> Result<Issued, ApiError> {
    super::challenge::second_factor_required(state, user_id, ip, method).await?;
    start(state, user_id, ip, method, user_cond).await
}

/// Starts the session of a user who proved every factor the account has, and audits it.
pub(crate) async fn start(
    state: &AppState,
    user_id: &str,
    ip: Option<IpAddr>,
    method: &str,
    user_cond: Option<Condition>,
) -> Result<Issued, ApiError> {
    let issued = create_checked(state, user_id, user_cond).await?;
    rampart_http::audit::record(
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
/// generation, the account not suspended); `None` otherwise. Handlers reuse the user instead of reading it again.
pub async fn live_user(
    state: &AppState,
    user_id: &str,
    session_id: &str,
) -> Result<Option<(User, Item)>, ApiError> {
    let store = &*state.store;
    let Some(session) = load::<Session>(store, &keys::session(user_id, session_id)).await? else {
        return Ok(None);
    };
    let ended = state.clock.now_secs() >= absolute_end(state, session.created_at);
    if session.revoked || ended {
        return Ok(None);
    }
    let Some((user, account)) = super::records::load_account(store, user_id).await? else {
        return Ok(None);
    };
    let live = session.session_gen == user.session_gen && Suspension::of(&account).is_none();
    Ok(live.then_some((user, account)))
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
