//! One error type for every HTTP route, rendered as RFC 9457 `application/problem+json`.
//!
//! The body says what is wrong in terms the client controls; internal causes are logged with
//! their full chain and never leave the process.
//!
//! This module names no other module of the crate: conversions from a domain's errors live
//! beside those errors (`store`, `queue`), so everything may depend on `error`.

use std::error::Error as StdError;
use std::fmt;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One failed field of a validated request body (RFC 9457 §3.2 extension member `errors`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer to the offending member, e.g. `/email`.
    pub pointer: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: &str, detail: impl Into<String>) -> Self {
        Self {
            pointer: format!("/{field}"),
            detail: detail.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unauthorized")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("too many requests")]
    TooManyRequests {
        retry_after_secs: u64,
        headers: HeaderMap,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
    /// A problem clients switch on by its own `type` (`urn:rampart:problem:<code>`), not the
    /// status's: `quota-exceeded`, `tier-limit`, `owner-exempt`.
    #[error("{}: {}", .0.code, .0.detail)]
    Coded(Box<Coded>),
}

/// The body of `ApiError::Coded` (boxed: it is rare and large).
#[derive(Debug)]
pub struct Coded {
    pub status: StatusCode,
    /// The last segment of the problem `type`.
    pub code: &'static str,
    pub detail: String,
    /// Put on the response (Retry-After, RateLimit fields).
    pub headers: HeaderMap,
    /// Extension members of the problem body (RFC 9457 §3.2), beside `type`, `title`, ...
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// A problem with a `type` of its own (`urn:rampart:problem:<code>`).
    pub fn coded(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self::Coded(Box::new(Coded {
            status,
            code,
            detail: detail.into(),
            headers: HeaderMap::new(),
            extensions: serde_json::Map::new(),
        }))
    }

    /// Extension members for the body of a coded problem (RFC 9457 §3.2; other variants are
    /// unchanged): what the client needs to go on, such as a second factor's `mfa_token`.
    pub fn with_extensions(mut self, members: serde_json::Map<String, serde_json::Value>) -> Self {
        if let Self::Coded(c) = &mut self {
            c.extensions.extend(members);
        }
        self
    }

    /// Headers for the response of a coded problem (other variants are unchanged).
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        if let Self::Coded(c) = &mut self {
            c.headers.extend(headers);
        }
        self
    }

    pub fn internal(err: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Coded(c) => c.status,
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            Self::BadRequest(d)
            | Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::UnsupportedMediaType(d)
            | Self::Unprocessable(d) => Some(d.clone()),
            Self::Validation(_) => Some("The request body has invalid fields.".into()),
            Self::MethodNotAllowed => Some("This route does not accept that method.".into()),
            Self::PayloadTooLarge => {
                Some("The request body is larger than this route accepts.".into())
            }
            Self::TooManyRequests {
                retry_after_secs, ..
            } => Some(format!(
                "Too many requests; retry after {retry_after_secs} seconds."
            )),
            Self::Unavailable(_) => Some("A dependency is unavailable; retry later.".into()),
            Self::Internal(_) => None,
            Self::Coded(c) => Some(c.detail.clone()),
        }
    }
}

/// `Retry-After` on a 503 from a dependency fault.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// The body of a problem response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// Stable problem `type` per status: clients may switch on it.
pub fn problem_type(status: StatusCode) -> String {
    let slug = match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        408 => "request-timeout",
        409 => "conflict",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        422 => "unprocessable",
        429 => "rate-limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "client-error",
    };
    format!("urn:rampart:problem:{slug}")
}

pub fn problem_response(
    status: StatusCode,
    detail: Option<String>,
    errors: Option<Vec<FieldError>>,
) -> Response {
    typed_problem_response(status, problem_type(status), detail, errors)
}

/// A problem response with a `type` of its own.
pub fn typed_problem_response(
    status: StatusCode,
    type_: String,
    detail: Option<String>,
    errors: Option<Vec<FieldError>>,
) -> Response {
    let problem = Problem {
        type_,
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

/// "a: b: c" for an error and its sources, for logs only.
pub fn cause_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(e) => {
                tracing::error!(error = %cause_chain(e.as_ref()), "internal error")
            }
            Self::Unavailable(why) => tracing::warn!(error = %why, "dependency unavailable"),
            _ => {}
        }
        let detail = self.detail();
        match self {
            Self::Validation(errors) => problem_response(status, detail, Some(errors)),
            Self::TooManyRequests {
                retry_after_secs,
                headers,
            } => {
                let mut resp = problem_response(status, detail, None);
                resp.headers_mut().extend(headers);
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                resp
            }
            Self::Unavailable(_) => {
                // A dependency hiccup (throttling, a timeout): worth retrying soon (RFC 9110
                // §10.2.3), and providers and SDKs honour it.
                let mut resp = problem_response(status, detail, None);
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
                );
                resp
            }
            Self::Coded(c) => {
                let type_ = format!("urn:rampart:problem:{}", c.code);
                let mut resp = if c.extensions.is_empty() {
                    typed_problem_response(status, type_, detail, None)
                } else {
                    problem_with_members(status, type_, detail, c.extensions)
                };
                resp.headers_mut().extend(c.headers);
                resp
            }
            _ => problem_response(status, detail, None),
        }
    }
}

/// A problem response with a `type` of its own and extension `members` (RFC 9457 §3.2).
fn problem_with_members(
    status: StatusCode,
    type_: String,
    detail: Option<String>,
    members: serde_json::Map<String, serde_json::Value>,
) -> Response {
    let problem = Problem {
        type_,
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        errors: None,
    };
    let mut body = match serde_json::to_value(&problem) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for (k, v) in members {
        body.entry(k).or_insert(v);
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

/// A startup failure: the process must not serve.
#[derive(Debug)]
pub struct StartupError(pub String);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for StartupError {}
