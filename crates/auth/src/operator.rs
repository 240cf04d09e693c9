//! `Operator`: proof the caller holds the operator token (`ADMIN_API_TOKEN`, several during a
//! rotation). Routes never take it directly: they take `customers::auth::Admin`, which runs this
//! check behind the per-IP lockout of failed attempts, audits each failure and limits each
//! token, so every operator route has the same defences.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use rampart_http::state::AppState;
use rampart_platform::crypto::{constant_time_eq, sha256};
use rampart_platform::error::ApiError;

pub const ADMIN_API_TOKEN: &str = "ADMIN_API_TOKEN";

pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let denied = || ApiError::Unauthorized("Operator authentication is required.".into());
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(denied)?;
        let tokens = state
            .secrets
            .entries(ADMIN_API_TOKEN)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        // Compare digests: constant time and independent of the token's length; every
        // accepted token is compared, whichever matches.
        let given = sha256(given.trim().as_bytes());
        let ok = tokens.iter().fold(false, |acc, t| {
            acc | constant_time_eq(&sha256(t.as_bytes()), &given)
        });
        if ok {
            Ok(Operator)
        } else {
            tracing::warn!("operator authentication failed");
            Err(denied())
        }
    }
}
