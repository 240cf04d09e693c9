//! `AuthUser`: the authenticated caller, from `Authorization: Bearer` (mobile, API clients) or
//! the access-token cookie (web). Cookie-authenticated requests with an unsafe method must also
//! pass the Origin check and the signed double-submit CSRF check; Bearer requests are exempt
//! (a browser never attaches that header on its own). The session is checked on every request,
//! so logout and revocation apply to access tokens at once.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};

use super::records::User;
use super::{cookies, csrf, jwt, session, signing_keys};
use rampart_http::X_CSRF_TOKEN;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::Item;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    Bearer,
    Cookie,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser {
    pub user_id: String,
    pub session_id: String,
    pub via: AuthVia,
    /// The user as read while checking the session.
    pub user: User,
    /// The account item as read, with the attributes other domains keep on it (billing reads
    /// its part from here instead of reading the item again).
    pub account: Item,
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("Authentication is required.".into())
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cross-site request carries its page's `Origin`; only our own origin and the configured
/// front ends may use the cookies for state-changing calls.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Browsers send Origin on every cross-origin unsafe request; its absence means a
        // same-origin or non-browser client, which the CSRF token still covers.
        return true;
    };
    let origin = origin.to_ascii_lowercase();
    // `API_ORIGIN`: behind CloudFront or a reverse proxy the function sees the upstream's Host,
    // while the page's Origin is the public one.
    if state.settings.cors_allowed_origins.contains(&origin)
        || state.settings.is_api_origin(&origin)
    {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let origin_host = origin.split_once("://").map(|(_, h)| h.to_string());
    matches!((host, origin_host), (Some(h), Some(o)) if h == o)
}

/// Verifies an access token and returns (user id, session id).
pub async fn verify_access_token(
    state: &AppState,
    token: &str,
) -> Result<(String, String), ApiError> {
    let kid = jwt::key_id(token).map_err(|e| {
        tracing::info!(reason = %e, "access token refused");
        unauthorized()
    })?;
    let keys = signing_keys(state, Some(&kid)).await?;
    let claims = jwt::verify(token, &keys, state.clock.now_secs()).map_err(|e| {
        tracing::info!(reason = %e, "access token refused");
        unauthorized()
    })?;
    Ok((claims.sub, claims.sid))
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(cached) = parts.extensions.get::<AuthUser>() {
            return Ok(cached.clone());
        }
        let names = cookies::names(&state.settings);
        let (token, via) = match parts.headers.get(header::AUTHORIZATION) {
            Some(v) => {
                let v = v.to_str().map_err(|_| unauthorized())?;
                let t = v
                    .strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                    .ok_or_else(unauthorized)?;
                (t.trim().to_string(), AuthVia::Bearer)
            }
            None => (
                cookies::get(&parts.headers, names.access).ok_or_else(unauthorized)?,
                AuthVia::Cookie,
            ),
        };
        let (user_id, session_id) = verify_access_token(state, &token).await?;
        if via == AuthVia::Cookie && !is_safe(&parts.method) {
            if !origin_allowed(state, &parts.headers) {
                return Err(ApiError::Forbidden("Cross-origin request refused.".into()));
            }
            let pepper = state.hash_pepper().await?;
            let header = parts
                .headers
                .get(&X_CSRF_TOKEN)
                .and_then(|v| v.to_str().ok());
            let cookie = cookies::get(&parts.headers, names.csrf);
            if !csrf::verify(&pepper, &session_id, header, cookie.as_deref()) {
                return Err(ApiError::Forbidden("Missing or invalid CSRF token.".into()));
            }
        }
        let Some((user, account)) = session::live_user(state, &user_id, &session_id).await? else {
            return Err(unauthorized());
        };
        rampart_http::record_user(&user_id);
        let user = AuthUser {
            user_id,
            session_id,
            via,
            user,
            account,
        };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// Checks the CSRF and Origin rules for a cookie-carried credential that is not an access token
/// (the refresh cookie): same rules, bound to the session the refresh token belongs to.
pub async fn check_cookie_request(
    state: &AppState,
    headers: &HeaderMap,
    session_id: &str,
) -> Result<(), ApiError> {
    if !origin_allowed(state, headers) {
        return Err(ApiError::Forbidden("Cross-origin request refused.".into()));
    }
    let names = cookies::names(&state.settings);
    let pepper = state.hash_pepper().await?;
    let header = headers.get(&X_CSRF_TOKEN).and_then(|v| v.to_str().ok());
    let cookie = cookies::get(headers, names.csrf);
    if csrf::verify(&pepper, session_id, header, cookie.as_deref()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("Missing or invalid CSRF token.".into()))
    }
}
