//! The auth routes' handlers: each reads its request (the device cookie included), calls one
//! flow, and renders the answer (tokens as httpOnly cookies for the web or in the body for
//! mobile, the device cookie on every sign-in, the uniform 202 of the routes that must not
//! reveal an account). `auth-api` maps paths and rate limits onto them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::account::{self, Profile};
use super::login::SignIn;
use super::reset as password_reset;
use super::session::{self, Issued};
use super::{AuthUser, codes, cookies, device, extract, limits, login as password_login};
use super::{normalize_email, refresh as rotation, verify};
use rampart_http::mail::mailbox;
use rampart_http::ratelimit::{self, Subject};
use rampart_http::state::AppState;
use rampart_http::{self as http, ClientIp, Json, X_CSRF_TOKEN};
use rampart_platform::error::ApiError;

/// Where a client wants its tokens.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// httpOnly cookies, with a CSRF token for the double submit (web).
    #[default]
    Cookie,
    /// In the JSON body (mobile and API clients).
    Body,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    email: String,
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
    #[serde(default)]
    delivery: Delivery,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailOnly {
    email: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyCode {
    email: String,
    code: String,
    #[serde(default)]
    delivery: Delivery,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    email: String,
    code: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    token: String,
    new_password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    current_password: String,
    new_password: String,
    /// End every other session of the account (default `true`).
    #[serde(default = "yes")]
    end_other_sessions: bool,
}

fn yes() -> bool {
    true
}

/// The answer to a sign-in or refresh: both tokens in the body, or both in cookies (the body then
/// says only how long the access token lasts).
pub fn tokens(state: &AppState, issued: Issued, delivery: Delivery) -> Response {
    let (headers, body) = token_parts(state, issued, delivery);
    (StatusCode::OK, headers, axum::Json(body)).into_response()
}

fn token_parts(
    state: &AppState,
    issued: Issued,
    delivery: Delivery,
) -> (HeaderMap, serde_json::Value) {
    let mut headers = HeaderMap::new();
    let body = match delivery {
        Delivery::Body => json!({
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "refresh_token": issued.refresh_token,
        }),
        // The HttpOnly cookie is the point of this delivery: a token in the body would be
        // readable by any script on the page (OWASP HTML5 Security Cheat Sheet, local storage).
        Delivery::Cookie => {
            cookies::set(&mut headers, &state.settings, &issued);
            // The CSRF token once more, in a header the app can read (CORS exposes it to the
            // allowed origins only): an app on a sibling host cannot read a host-only cookie of
            // the API's host, so it could never echo the cookie it would need to. This hands
            // out nothing new: the token is no credential, it is bound to this session (an HMAC
            // of its id) and the request must still carry the cookie with the same value
            // (OWASP CSRF Prevention Cheat Sheet, signed double-submit cookie).
            if let Ok(v) = HeaderValue::from_str(&issued.csrf_token) {
                headers.insert(X_CSRF_TOKEN, v);
            }
            json!({
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "delivery": "cookie",
            })
        }
    };
    (headers, body)
}

/// The answer to a sign-in: the tokens, the device cookie (whatever the delivery: it is no
/// credential, and mobile clients are as worth keeping out of a lockout), and for an email
/// code whether taking the account back removed a password.
pub(crate) fn signed_in(state: &AppState, s: SignIn, delivery: Delivery) -> Response {
    let (mut headers, mut body) = token_parts(state, s.issued, delivery);
    cookies::set_device(&mut headers, &state.settings, &s.device_cookie);
    if let Some(removed) = s.password_removed {
        body["password_removed"] = removed.into();
    }
    (StatusCode::OK, headers, axum::Json(body)).into_response()
}

/// 204 with the session cookies cleared.
fn signed_out(state: &AppState) -> Response {
    let mut headers = HeaderMap::new();
    cookies::clear(&mut headers, &state.settings);
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// The answer to `otp/request` and `password/forgot`, whatever happened.
fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "status": "accepted", "detail": "If the address can receive mail, a message is on its way." })),
    )
        .into_response()
}

/// Validates the address and enforces `rules` keyed by its mailbox (and the client's IP).
async fn limited_mailbox(
    state: &AppState,
    ip: ClientIp,
    raw: &str,
    rules: &[ratelimit::Rule],
) -> Result<(String, ratelimit::RateLimitHeaders), ApiError> {
    let email = normalize_email("email", raw).map_err(|e| ApiError::Validation(vec![e]))?;
    let subject = Subject {
        ip: Some(ip.0),
        email: Some(mailbox(&email)),
        ..Subject::default()
    };
    let headers = ratelimit::enforce(state, rules, &subject).await?;
    Ok((email, headers))
}

pub async fn register(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<Register>,
) -> Result<Response, ApiError> {
    // Registration mails a code: its mailbox limit keeps aliases from mail-bombing the owner.
    let rules = limits::rules().register_mailbox;
    let (email, _) = limited_mailbox(&state, ip, &b.email, &rules).await?;
    let p = account::register(&state, &email, &b.password).await?;
    let body = json!({ "id": p.id, "email": p.email });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

pub async fn verify_email(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<VerifyEmail>,
) -> Result<Response, ApiError> {
    verify::verify_email(&state, &b.email, &b.code, Some(ip.0)).await?;
    let body = json!({ "email_verified": true });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Json(b): Json<Login>,
) -> Result<Response, ApiError> {
    let device = device::presented(&state, &headers).await?;
    let s =
        password_login::login(&state, &b.email, &b.password, Some(ip.0), device.as_ref()).await?;
    Ok(signed_in(&state, s, b.delivery))
}

pub async fn otp_request(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Json(b): Json<EmailOnly>,
) -> Result<Response, ApiError> {
    let device = device::presented(&state, &headers).await?;
    let limits = codes::request_code(&state, &b.email, ip.0, device.as_ref()).await?;
    let mut resp = accepted();
    limits.write(resp.headers_mut());
    Ok(resp)
}

pub async fn otp_verify(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Json(b): Json<VerifyCode>,
) -> Result<Response, ApiError> {
    let device = device::presented(&state, &headers).await?;
    let s = codes::verify_code(&state, &b.email, &b.code, Some(ip.0), device.as_ref()).await?;
    Ok(signed_in(&state, s, b.delivery))
}

/// A refresh token in the body (mobile), or the refresh cookie (web: same Origin and CSRF rules
/// as any cookie credential, bound to the token's session).
pub async fn refresh(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !body.is_empty() {
        let b: RefreshBody = http::json::parse(&body)?;
        let issued = rotation::refresh(&state, &b.refresh_token, Some(ip.0)).await?;
        return Ok(tokens(&state, issued, Delivery::Body));
    }
    let names = cookies::names(&state.settings);
    let token = cookies::get(&headers, names.refresh)
        .ok_or_else(|| ApiError::Unauthorized("No refresh token was presented.".into()))?;
    let (_, session_id) = rotation::owner_of(&state, &token).await?;
    extract::check_cookie_request(&state, &headers, &session_id).await?;
    let issued = rotation::refresh(&state, &token, Some(ip.0)).await?;
    Ok(tokens(&state, issued, Delivery::Cookie))
}

pub async fn logout(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // An idle web session outlives its 15-minute access token: logout must still end it, from
    // the refresh cookie (same Origin and CSRF rules) or a refresh token in the body.
    let (user_id, session_id, via) = match user {
        Ok(u) => (u.user_id, u.session_id, format!("{:?}", u.via)),
        Err(denied) => {
            let names = cookies::names(&state.settings);
            let from_body = if body.is_empty() {
                None
            } else {
                Some(http::json::parse::<RefreshBody>(&body)?.refresh_token)
            };
            let (token, via) = match (from_body, cookies::get(&headers, names.refresh)) {
                (Some(t), _) => (t, "RefreshBody"),
                (None, Some(t)) => (t, "RefreshCookie"),
                (None, None) => return Err(denied),
            };
            let (user_id, session_id) = rotation::owner_of(&state, &token).await?;
            if via == "RefreshCookie" {
                extract::check_cookie_request(&state, &headers, &session_id).await?;
            }
            (user_id, session_id, via.to_string())
        }
    };
    session::revoke(&state, &user_id, &session_id).await?;
    rampart_http::audit::record(
        &state,
        "logout",
        &user_id,
        Some(ip.0),
        json!({ "via": via }),
    )
    .await;
    Ok(signed_out(&state))
}

pub async fn me(State(state): State<AppState>, user: AuthUser) -> axum::Json<Profile> {
    // The session check already read the account.
    axum::Json(Profile::of(&state, &user.user, &user.account))
}

pub async fn forgot(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<EmailOnly>,
) -> Result<Response, ApiError> {
    let rules = limits::rules().forgot_mailbox;
    let (email, _) = limited_mailbox(&state, ip, &b.email, &rules).await?;
    password_reset::forgot_password(&state, &email).await;
    Ok(accepted())
}

pub async fn reset(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<Reset>,
) -> Result<Response, ApiError> {
    password_reset::reset_password(&state, &b.token, &b.new_password, Some(ip.0)).await?;
    Ok(signed_out(&state))
}

pub async fn change(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    user: AuthUser,
    Json(b): Json<Change>,
) -> Result<Response, ApiError> {
    let device = device::presented(&state, &headers).await?;
    password_login::change_password(
        &state,
        &user.user,
        password_login::Keeping {
            session_id: &user.session_id,
            end_others: b.end_other_sessions,
        },
        &b.current_password,
        &b.new_password,
        Some(ip.0),
        device.as_ref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
