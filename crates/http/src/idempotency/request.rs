//! The request side of the one idempotent path, for a route handler: the caller's key, the
//! claim of that key for this exact request (scoped by the caller, so two callers' keys never
//! collide), giving it back when the work failed, and the answers (fresh, replayed, plain).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rampart_platform::error::ApiError;
use serde_json::Value as Json;

use super::{Claim, Guard, StoredResponse};
use crate::IDEMPOTENCY_KEY;
use crate::ratelimit::RateLimitHeaders;
use crate::state::AppState;

/// What a write route hands down from the request.
#[derive(Debug, Clone, Copy)]
pub struct WriteRequest<'a> {
    pub headers: &'a HeaderMap,
    /// Path and query, as the idempotency hash covers them.
    pub path: &'a str,
    pub body: &'a [u8],
}

/// A write route's answer.
#[derive(Debug)]
pub enum Reply {
    /// The response just recorded under the idempotency key.
    Fresh {
        resp: StoredResponse,
        limits: RateLimitHeaders,
    },
    /// A repeat of a completed request: the recorded response, `Idempotent-Replayed: true`.
    Replayed(StoredResponse),
    Json {
        status: StatusCode,
        body: Json,
        limits: RateLimitHeaders,
    },
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Replayed(r) => r.into_response(),
            Reply::Fresh { resp, limits } => {
                let mut out = (
                    StatusCode::from_u16(resp.status).unwrap_or(StatusCode::OK),
                    resp.body,
                )
                    .into_response();
                for (k, v) in resp.headers {
                    if let (Ok(k), Ok(v)) =
                        (header::HeaderName::try_from(k), HeaderValue::try_from(v))
                    {
                        out.headers_mut().insert(k, v);
                    }
                }
                limits.write(out.headers_mut());
                out
            }
            Reply::Json {
                status,
                body,
                limits,
            } => {
                let mut out = (status, axum::Json(body)).into_response();
                limits.write(out.headers_mut());
                out
            }
        }
    }
}

pub fn json(status: StatusCode, body: Json) -> Reply {
    Reply::Json {
        status,
        body,
        limits: RateLimitHeaders::default(),
    }
}

/// A response to record: JSON, with `Location` when it names a new resource.
pub fn stored(
    status: u16,
    location: Option<String>,
    body: &impl serde::Serialize,
) -> StoredResponse {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(l) = location {
        headers.push(("location".to_string(), l));
    }
    StoredResponse {
        status,
        headers,
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

/// 400 `idempotency-key-missing`: the route cannot run without a key.
pub fn key_missing() -> ApiError {
    ApiError::coded(
        StatusCode::BAD_REQUEST,
        "idempotency-key-missing",
        "This route requires an Idempotency-Key header.",
    )
}

/// The caller's `Idempotency-Key`, checked (`None` when there is none).
pub fn optional_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(&IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .map_err(|_| ApiError::BadRequest("Idempotency-Key must be visible ASCII.".into()))?;
    super::validate_key(key)?;
    Ok(Some(key.to_string()))
}

/// The required `Idempotency-Key` (400 `idempotency-key-missing` without one).
pub fn required_key(headers: &HeaderMap) -> Result<String, ApiError> {
    optional_key(headers)?.ok_or_else(key_missing)
}

/// Claims `key` for this exact request within `scope` (`user:<id>`, `customer:<id>`): a replay,
/// 409 while the first runs, 422 for another request under the same key.
pub async fn claim(
    state: &AppState,
    scope: &str,
    key: &str,
    req: WriteRequest<'_>,
) -> Result<Claim, ApiError> {
    let hash = super::request_hash("POST", req.path, req.body);
    super::claim(
        &state.store,
        state.clock.now_secs(),
        state.settings.idempotency_ttl,
        scope,
        key,
        &hash,
    )
    .await
}

/// Gives the key back when the work under it failed, so a retry runs it again (nothing of it
/// was written: the business writes and the recorded response commit together).
pub async fn release_on_error<T, E>(
    state: &AppState,
    guard: &Guard,
    result: Result<T, E>,
) -> Result<T, E> {
    if result.is_err()
        && let Err(e) = super::release(&state.store, guard).await
    {
        tracing::warn!(error = %e, "could not release an idempotency claim; it lapses at its deadline");
    }
    result
}
