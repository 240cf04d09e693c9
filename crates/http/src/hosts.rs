//! The host allowlist every router gets (`ALLOWED_HOSTS`): a request whose `Host` the API does
//! not answer for is refused with 400 `host-not-allowed` before any route runs, health routes
//! included (OWASP WSTG-INPV-17, Host header injection). With no list every host is served
//! (local development).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rampart_platform::config::hosts::{HostPattern, host_allowed};
use rampart_platform::error::ApiError;

/// The request's host: its one `Host` header, else the URI's authority (HTTP/2's `:authority`,
/// which hyper puts there). `Err` for several `Host` headers (RFC 9112 3.2: answered 400).
fn host_of(req: &Request) -> Result<Option<&str>, ()> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(()),
        (Some(v), None) => Ok(v.to_str().ok()),
        (None, _) => Ok(req.uri().authority().map(|a| a.as_str())),
    }
}

pub(super) async fn check(allowed: Arc<[HostPattern]>, req: Request, next: Next) -> Response {
    if allowed.is_empty() {
        return next.run(req).await;
    }
    let admitted = matches!(host_of(&req), Ok(Some(h)) if host_allowed(&allowed, h));
    if admitted {
        return next.run(req).await;
    }
    // The value is the client's: logged only as refused, never echoed back.
    tracing::warn!("request refused: its Host is not in ALLOWED_HOSTS");
    ApiError::coded(
        StatusCode::BAD_REQUEST,
        "host-not-allowed",
        "This API does not answer for the host named in the request's Host header.",
    )
    .into_response()
}
