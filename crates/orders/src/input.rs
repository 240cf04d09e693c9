//! Request and response glue of the shop's routes: the shared idempotent path and JSON bodies
//! in the shop's error type, and paging parameters.

use rampart_http::idempotency::request;
use rampart_platform::error::{ApiError, FieldError};

/// The shop's routes answer through the one idempotent path (`idempotency::request`).
pub use rampart_http::idempotency::request::{Reply, WriteRequest as PostRequest, json, stored};
pub use rampart_http::idempotency::{Claim as Claimed, Guard};

pub fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::Validation(errors)
}

/// The required `Idempotency-Key` (400 `idempotency-key-missing` without one).
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<String, ApiError> {
    request::required_key(headers)
}

/// A JSON body of exactly the expected shape (the shared rules of `http::json::body`).
pub fn json_body<T: serde::de::DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    rampart_http::json::body(headers, body)
}

/// Claims the caller's key for this exact request, scoped by the user.
pub async fn claim(
    state: &rampart_http::state::AppState,
    user_id: &str,
    key: &str,
    req: PostRequest<'_>,
) -> Result<Claimed, ApiError> {
    request::claim(state, &format!("user:{user_id}"), key, req).await
}

pub use rampart_http::idempotency::request::release_on_error;

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
    pub fn parse(query: Option<&str>) -> Result<(usize, Option<String>), ApiError> {
        // The shared query rules: an unknown parameter is 400 naming it, as on every listing.
        let p: Paging = rampart_http::query::parse(query.unwrap_or_default())?;
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
