//! `Admin`: the one operator check every `/admin` route takes. Proof the caller holds the
//! operator token (`ADMIN_API_TOKEN`, several during a rotation), behind a per-IP lockout of
//! failed attempts, each failure audited, each token rate-limited: every operator route has the
//! same defences.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rampart_http::ClientIp;
use rampart_http::ratelimit::{self, KeyPart, RateLimitHeaders, Rule, Subject};
use rampart_http::state::AppState;
use rampart_platform::crypto::{constant_time_eq, keyed_hash, sha256};
use rampart_platform::error::ApiError;
use serde_json::json;

pub const ADMIN_API_TOKEN: &str = "ADMIN_API_TOKEN";

const HOUR: Duration = Duration::from_secs(3600);

/// Failed operator authentications: 10 per hour per IP. Only failures count: 10 an hour for
/// every admin request would lock operators out of their own routes.
pub fn admin_failures() -> Rule {
    Rule::new("admin_auth_fail_ip", 10, HOUR, &[KeyPart::Ip])
}

/// Authenticated operator requests: 600 per hour per operator token.
pub fn operator() -> Rule {
    Rule::new("operator", 600, HOUR, &[KeyPart::User])
}

/// Proof of the token alone; only `Admin` runs it, behind the lockout.
struct Operator;

impl Operator {
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

/// An authenticated operator: who (a fingerprint of the token they used, so a rotation shows
/// which token acted), from where, and the rate-limit headers for the response.
#[derive(Debug, Clone)]
pub struct Admin {
    pub who: String,
    pub ip: Option<IpAddr>,
    pub limits: RateLimitHeaders,
}

/// `operator:<fingerprint>`: a keyed hash of the token, never the token.
async fn operator_id(state: &AppState, parts: &Parts) -> Result<String, ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim();
    let pepper = state.hash_pepper().await?;
    let fp = keyed_hash(&pepper, "operator", token);
    Ok(format!("operator:{}", &fp[..12]))
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = client_ip(parts);
        let ip_subject = Subject {
            ip,
            ..Subject::default()
        };
        // An IP past its failure budget is refused before the token is looked at, so a guess
        // that happens to be right is refused too (the throttle would mean nothing otherwise).
        // The cost: someone sharing the operators' egress IP can make them wait out the hour.
        if ip.is_some()
            && let Some(retry) = ratelimit::exhausted(state, &admin_failures(), &ip_subject).await?
        {
            tracing::info!("operator authentication refused: too many failures from this IP");
            return Err(ApiError::TooManyRequests {
                retry_after_secs: retry,
                headers: Default::default(),
            });
        }
        match Operator::from_request_parts(parts, state).await {
            Ok(Operator) => {
                let who = operator_id(state, parts).await?;
                let subject = Subject {
                    user: Some(who.clone()),
                    ..Subject::default()
                };
                let limits = ratelimit::enforce(state, &[operator()], &subject).await?;
                Ok(Admin { who, ip, limits })
            }
            Err(ApiError::Unauthorized(detail)) => {
                if ip.is_some() {
                    ratelimit::enforce(state, &[admin_failures()], &ip_subject).await?;
                }
                rampart_http::audit::record(state, "admin_auth_failed", "operator", ip, json!({}))
                    .await;
                Err(ApiError::Unauthorized(detail))
            }
            Err(other) => Err(other),
        }
    }
}

fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ClientIp>().map(|c| c.0)
}
