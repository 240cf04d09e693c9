//! Who calls the customer routes: an instance with its `X-API-Key` (`ApiCaller`; operators are
//! auth's `Admin`). A refused key always gets the same 401 problem, whatever the
//! reason; the log says which category (never the key). Failures count against per-IP limits,
//! so a flood of guesses turns into 429s. A key that checks out but lacks the scope a route
//! needs gets 403 naming the scope: the caller is known, and told what to ask an operator for.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::HeaderName;
use axum::http::request::Parts;

use std::collections::BTreeSet;

use axum::http::StatusCode;

use super::limits;
use super::record::api_key::LAST_USED_AT;
use super::record::{ApiKey, KeyState};
use super::scope::Scope;
use super::secret;
use rampart_http::ClientIp;
use rampart_http::ratelimit::{self, Subject};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, StoreError, Update, keys, load};

pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// `last_used_at` is written at most once a minute per key: a busy instance costs one
/// conditional write a minute, not one per request.
pub const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// An instance whose key checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub customer_id: String,
    pub key_id: String,
    /// The key's scopes; `None` is every scope (see `ApiKey::scopes`).
    pub scopes: Option<BTreeSet<Scope>>,
}

impl Caller {
    /// 403 `insufficient-scope` naming `scope` when the key was not issued with it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.as_ref().is_none_or(|s| s.contains(&scope)) {
            return Ok(());
        }
        tracing::info!(scope = scope.as_str(), "API key lacks the route's scope");
        Err(ApiError::coded(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            format!(
                "This API key does not have the scope {}; ask for a key with it.",
                scope.as_str()
            ),
        ))
    }
}

/// Why a key was refused: for the log only, every one answers the same 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Missing,
    Malformed,
    Unknown,
    WrongSecret,
    Revoked,
    Expired,
}

impl Denied {
    pub fn category(self) -> &'static str {
        match self {
            Denied::Missing => "missing",
            Denied::Malformed => "malformed",
            Denied::Unknown => "unknown",
            Denied::WrongSecret => "wrong_secret",
            Denied::Revoked => "revoked",
            Denied::Expired => "expired",
        }
    }
}

/// Checks a presented key: one read (the key id names the record), one keyed hash compared in
/// constant time, then the key's state. `Err` is only for an unavailable dependency.
pub async fn authenticate(
    state: &AppState,
    presented: Option<&str>,
) -> Result<Result<Caller, Denied>, ApiError> {
    let Some(raw) = presented else {
        return Ok(Err(Denied::Missing));
    };
    let pepper = state.hash_pepper().await?;
    let Some(p) = secret::parse(raw, state.settings.is_production()) else {
        // The hash is computed anyway so every refusal does the same work; only the read is
        // skipped, and the format is public, so that difference tells nobody anything.
        secret::verify(&pepper, raw, None);
        return Ok(Err(Denied::Malformed));
    };
    let record: Option<ApiKey> =
        load(&*state.store, &keys::api_key(p.customer_id, p.key_id)).await?;
    let stored = record.as_ref().map(|k| k.secret_hash.as_str());
    let key = match (secret::verify(&pepper, p.key, stored), record) {
        (true, Some(key)) => key,
        (_, None) => return Ok(Err(Denied::Unknown)),
        (false, Some(_)) => return Ok(Err(Denied::WrongSecret)),
    };
    let now = state.clock.now_secs();
    match key.state(now) {
        KeyState::Revoked => return Ok(Err(Denied::Revoked)),
        KeyState::Expired => return Ok(Err(Denied::Expired)),
        KeyState::Active => {}
    }
    touch(state, &key, now).await;
    Ok(Ok(Caller {
        customer_id: key.customer_id,
        key_id: key.key_id,
        scopes: key.scopes,
    }))
}

/// Records the key's last use when the stored value is a minute old or more. The condition
/// makes concurrent requests write once between them; a failed write never fails the request.
async fn touch(state: &AppState, key: &ApiKey, now: i64) {
    let stale_before = now - LAST_USED_GRANULARITY_SECS;
    if key.last_used_at.is_some_and(|t| t > stale_before) {
        return;
    }
    let (pk, sk) = keys::api_key(&key.customer_id, &key.key_id);
    let cond = Condition::Exists.and(
        Condition::AttrNotExists(LAST_USED_AT.into()).or(Condition::le(LAST_USED_AT, stale_before)),
    );
    let update = Update::new().set(LAST_USED_AT, now);
    match state.store.update(&pk, &sk, update, Some(cond)).await {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(e) => tracing::warn!(error = %e, "could not record an API key's last use"),
    }
}

/// Counts a request that proved nothing against the per-IP limit of unauthenticated requests.
async fn count_unauthenticated(state: &AppState, ip: Option<IpAddr>) -> Result<(), ApiError> {
    if ip.is_none() {
        return Ok(());
    }
    let subject = Subject {
        ip,
        ..Subject::default()
    };
    ratelimit::enforce(state, &[limits::unauthenticated()], &subject).await?;
    Ok(())
}

fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ClientIp>().map(|c| c.0)
}

/// The calling instance, from `X-API-Key`.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Already checked by a layer in front (the daily quota): not read twice.
        if let Some(cached) = parts.extensions.get::<ApiCaller>() {
            return Ok(cached.clone());
        }
        // A header that is not visible ASCII cannot be a key: malformed, not missing.
        let presented = parts
            .headers
            .get(X_API_KEY)
            .map(|v| v.to_str().unwrap_or("\u{0}"));
        match authenticate(state, presented).await? {
            Ok(caller) => Ok(ApiCaller(caller)),
            Err(why) => {
                tracing::info!(reason = why.category(), "API key refused");
                count_unauthenticated(state, client_ip(parts)).await?;
                Err(ApiError::Unauthorized(
                    "A valid API key is required.".into(),
                ))
            }
        }
    }
}
