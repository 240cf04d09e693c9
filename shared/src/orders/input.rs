//! Request and response glue of the shop's routes: the Idempotency-Key claim around a write,
//! strict JSON bodies, paging parameters, and the replies (fresh, replayed, plain JSON).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use super::problem::OrderError;
use crate::error::{ApiError, FieldError};
use crate::http::IDEMPOTENCY_KEY;
use crate::idempotency::{self, Claim, Guard, StoredResponse};
use crate::ratelimit::RateLimitHeaders;
use crate::state::AppState;

/// What a write route hands down from the request.
#[derive(Debug, Clone, Copy)]
pub struct PostRequest<'a> {
    pub headers: &'a HeaderMap,
    /// Path and query, as the idempotency hash covers them.
    pub path: &'a str,
    pub body: &'a [u8],
}

/// A shop route's answer.
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

pub fn invalid(errors: Vec<FieldError>) -> OrderError {
    OrderError::Api(ApiError::Validation(errors))
}

/// The required `Idempotency-Key` (400 `idempotency-key-missing` without one).
pub fn idempotency_key(headers: &HeaderMap) -> Result<String, OrderError> {
    let raw = headers
        .get(&IDEMPOTENCY_KEY)
        .ok_or_else(OrderError::key_missing)?;
    let key = raw
        .to_str()
        .map_err(|_| ApiError::BadRequest("Idempotency-Key must be visible ASCII.".into()))?;
    idempotency::validate_key(key)?;
    Ok(key.to_string())
}

/// A JSON body of exactly the expected shape: 415 for another content type, 400 for broken
/// JSON, 422 naming the member for a wrong or unknown field.
pub fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, OrderError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(
            ApiError::UnsupportedMediaType("Send the body as application/json.".into()).into(),
        );
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest("Malformed JSON body: the body is empty.".into()).into());
    }
    Ok(crate::http::json::parse(body)?)
}

pub enum Claimed {
    Acquired(Guard),
    Replay(StoredResponse),
}

/// Claims the caller's key for this exact request (scoped by user, as the idempotency
/// middleware does): a replay, 409 while the first runs, 422 for another request.
pub async fn claim(
    state: &AppState,
    user_id: &str,
    key: &str,
    req: PostRequest<'_>,
) -> Result<Claimed, OrderError> {
    let hash = idempotency::request_hash("POST", req.path, req.body);
    let scope = format!("user:{user_id}");
    match idempotency::claim(
        &state.store,
        state.clock.now_secs(),
        state.settings.idempotency_ttl,
        &scope,
        key,
        &hash,
    )
    .await?
    {
        Claim::Acquired(g) => Ok(Claimed::Acquired(g)),
        Claim::Replay(r) => Ok(Claimed::Replay(r)),
    }
}

/// Gives the key back when the work under it failed, so a retry runs it again (nothing of it
/// was written: the business writes and the recorded response commit together).
pub async fn release_on_error<T>(
    state: &AppState,
    guard: &Guard,
    result: Result<T, OrderError>,
) -> Result<T, OrderError> {
    if result.is_err()
        && let Err(e) = idempotency::release(&state.store, guard).await
    {
        tracing::warn!(error = %e, "could not release an idempotency claim; it lapses at its deadline");
    }
    result
}

/// `?limit=&cursor=` of a listing; anything else is refused.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

impl Paging {
    pub fn parse(query: Option<&str>) -> Result<(usize, Option<String>), OrderError> {
        // The shared query rules: an unknown parameter is 400 naming it, as on every listing.
        let p: Paging = crate::http::query::parse(query.unwrap_or_default())?;
        let limit = match p.limit.as_deref() {
            None => DEFAULT_PAGE,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| invalid(vec![FieldError::new("limit", "must be 1 to 100")]))?,
        };
        Ok((limit, p.cursor.filter(|c| !c.is_empty())))
    }
}
