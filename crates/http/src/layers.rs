//! The middleware functions behind `finish`.

use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::X_REQUEST_ID;
use rampart_platform::error::{ApiError, PROBLEM_JSON, problem_response};

/// The request's id: the caller's `X-Request-Id` when it is sane, else Lambda's, else a random
/// UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

fn sane_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| s.to_string())
}

pub(super) async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(sane_request_id)
        .or_else(|| crate::lambda::lambda_request_id(&req))
        // Ours are random UUIDs (v4), the form Lambda's own request ids take.
        .unwrap_or_else(|| uuid::Uuid::new_v4().hyphenated().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(X_REQUEST_ID, value.clone());
    req.extensions_mut().insert(RequestId(id));
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(X_REQUEST_ID, value);
    resp
}

/// Runs the request inside its span (request id, method, route template, function, user id
/// once known, a webhook delivery's provider and event id once verified), so every line logged while serving it carries them, then logs one access line.
/// Never bodies, query strings, tokens or emails: the route is the matched template
/// (`/orders/{id}`), not the concrete path.
pub(super) async fn access_log(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route,
        function = tracing::field::Empty,
        user_id = tracing::field::Empty,
        provider = tracing::field::Empty,
        event_id = tracing::field::Empty,
    );
    async move {
        let resp = next.run(req).await;
        tracing::info!(
            target: "access",
            status = resp.status().as_u16(),
            latency_ms = start.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        resp
    }
    .instrument(span)
    .await
}

/// Error responses produced outside our handlers (405 from routing, 413 from the body limit,
/// rejections) become problem+json too; their headers (Allow, CORS) are kept.
pub(super) async fn problem_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    // JSON error bodies are ours and deliberate (problem+json, a health report); only bare
    // errors from routing and the layers get rewritten.
    let is_json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(PROBLEM_JSON.as_bytes()) || v.starts_with(b"application/json")
    });
    if status.as_u16() < 400 || is_json {
        return resp;
    }
    let detail = match status {
        StatusCode::NOT_FOUND => Some("No route matches this path.".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => {
            Some("This route does not accept that method.".to_string())
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            Some("The request body is larger than this route accepts.".to_string())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Some("This route does not accept that content type.".to_string())
        }
        _ => None,
    };
    let (mut parts, _) = resp.into_parts();
    let fresh = problem_response(status, detail, None);
    parts.headers.remove(header::CONTENT_LENGTH);
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.extend(fresh_parts.headers);
    Response::from_parts(parts, body)
}

pub(super) async fn not_found() -> Response {
    ApiError::NotFound("No route matches this path.".into()).into_response()
}

pub(super) fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    tracing::error!(panic = %msg, "handler panicked");
    problem_response(StatusCode::INTERNAL_SERVER_ERROR, None, None)
}
