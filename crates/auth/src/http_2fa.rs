//! The second factor's route handlers: TOTP setup, confirmation and disabling for the
//! signed-in user, and completing a sign-in with the challenge's `mfa_token`. Secrets and
//! recovery codes are answered once, never cached (`Cache-Control: no-store`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::factor::Offered;
use super::http::{Delivery, signed_in};
use super::{AuthUser, device, enrol, second_factor};
use rampart_http::state::AppState;
use rampart_http::{ClientIp, Json};
use rampart_platform::error::{ApiError, FieldError};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    /// The current 6-digit code of the new secret.
    code: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpDisable {
    /// A current 6-digit code of the authenticator app...
    #[serde(default)]
    code: Option<String>,
    /// ...or one of the recovery codes (used up).
    #[serde(default)]
    recovery_code: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactor {
    /// From the `second-factor-required` answer of the sign-in.
    mfa_token: String,
    /// A current 6-digit code of the authenticator app...
    #[serde(default)]
    code: Option<String>,
    /// ...or one of the recovery codes (used up).
    #[serde(default)]
    recovery_code: Option<String>,
    #[serde(default)]
    delivery: Delivery,
}

fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn totp_setup(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let s = enrol::setup(&state, &user.user).await?;
    let body = json!({
        "secret": s.secret,
        "otpauth_uri": s.otpauth_uri,
        "expires_in": s.expires_in,
    });
    Ok(no_store(StatusCode::OK, body))
}

pub async fn totp_confirm(
    State(state): State<AppState>,
    ip: ClientIp,
    user: AuthUser,
    Json(b): Json<TotpConfirm>,
) -> Result<Response, ApiError> {
    let codes = enrol::confirm(&state, &user.user, &b.code, Some(ip.0)).await?;
    Ok(no_store(StatusCode::OK, json!({ "recovery_codes": codes })))
}

pub async fn totp_disable(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    user: AuthUser,
    Json(b): Json<TotpDisable>,
) -> Result<Response, ApiError> {
    let offered = Offered::from_fields(b.code.as_deref(), b.recovery_code.as_deref())?;
    let device = device::presented(&state, &headers).await?;
    enrol::disable(&state, &user.user, offered, Some(ip.0), device.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn verify(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Json(b): Json<SecondFactor>,
) -> Result<Response, ApiError> {
    if b.mfa_token.trim().is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "mfa_token",
            "is required: the token of the second-factor-required answer",
        )]));
    }
    let offered = Offered::from_fields(b.code.as_deref(), b.recovery_code.as_deref())?;
    let device = device::presented(&state, &headers).await?;
    let s =
        second_factor::verify(&state, &b.mfa_token, offered, Some(ip.0), device.as_ref()).await?;
    Ok(signed_in(&state, s, b.delivery))
}
