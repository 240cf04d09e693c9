//! What every Rampart function is built from, above the platform and the store: the shared
//! state and how Lambda runs a function (`state`, `lambda`), the layers and extractors every
//! router gets (request id, a tracing span and access log per request, security headers, the
//! host allowlist (`hosts`), CORS from an allowlist, problem+json for every error, panic capture, client IP, body limit; JSON
//! and query extractors whose rejections are problems), rate limits, the one idempotent path,
//! the OpenAPI contract's shared parts, health, the audit log, mail and the job dispatcher.

pub mod account;
pub mod audit;
pub mod health;
pub mod idempotency;
pub mod jobs;
pub mod lambda;
pub mod mail;
pub mod openapi;
pub mod ratelimit;
pub mod registry;
pub mod state;

pub mod client_ip;
mod hosts;
pub mod json;
mod layers;
pub mod query;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

pub use client_ip::ClientIp;
pub use json::Json;
pub use layers::RequestId;
pub use query::Query;
pub use state::AppState;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_CSRF_TOKEN: HeaderName = HeaderName::from_static("x-csrf-token");
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Tags every route of a function's router with the function's name: the request span's
/// `function` field comes from the router that matched (the same routers Lambda serves one by
/// one and the local stack merges), never from a hand-kept table of path prefixes.
pub fn serves(function: &'static str, routes: Router) -> Router {
    routes.route_layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            tracing::Span::current().record("function", function);
            next.run(req)
        },
    ))
}

/// Adds the signed-in user to the current request's span: every later line of the request
/// carries `user_id`. Called by the authentication extractors once the session is checked.
pub fn record_user(user_id: &str) {
    tracing::Span::current().record("user_id", user_id);
}

/// Adds the provider event being handled to the current span (a webhook delivery's request
/// span, a queue message's span): every later line of it carries `provider` and `event_id`, so
/// one event can be followed from its delivery to its effect.
pub fn record_event(provider: &str, event_id: &str) {
    let span = tracing::Span::current();
    span.record("provider", provider);
    span.record("event_id", event_id);
}

/// Per-router choices on top of the settings.
#[derive(Debug, Clone, Default)]
pub struct RouterOptions {
    /// Overrides `BODY_LIMIT_BYTES` for this router.
    pub body_limit: Option<usize>,
}

fn cors(state: &AppState) -> CorsLayer {
    let origins: Vec<HeaderValue> = state
        .settings
        .cors_allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            X_CSRF_TOKEN,
            IDEMPOTENCY_KEY,
            X_REQUEST_ID,
        ])
        // X-CSRF-Token: login and refresh hand the app its CSRF token here, for an app whose
        // origin cannot read the API host's cookie.
        .expose_headers([
            X_REQUEST_ID,
            X_CSRF_TOKEN,
            header::RETRY_AFTER,
            RATELIMIT,
            RATELIMIT_POLICY,
            IDEMPOTENT_REPLAYED,
            header::LOCATION,
        ])
        .max_age(Duration::from_secs(600))
}

/// Adds the 404 fallback and every shared layer to a function's routes.
pub fn finish(routes: Router, state: &AppState, opts: RouterOptions) -> Router {
    let limit = opts.body_limit.unwrap_or(state.settings.body_limit_bytes);
    let hsts = state.settings.is_production().then(|| {
        // Two years with subdomains: the OWASP HTTP Security Response Headers cheat sheet value.
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        )
    });
    let trusted = state.settings.trusted_proxies.clone();
    let hosts: std::sync::Arc<[_]> = state.settings.allowed_hosts.clone().into();
    let stack = ServiceBuilder::new()
        .layer(axum::middleware::from_fn(layers::request_id))
        .layer(axum::middleware::from_fn(layers::access_log))
        .option_layer(hsts)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Every API response may carry user data; nothing here is meant for shared caches.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        // Inside the request id, log and security headers (a refusal carries them), before
        // CORS and every route (a preflight or a health check from a wrong host is refused too).
        .layer(axum::middleware::from_fn(move |req, next| {
            hosts::check(hosts.clone(), req, next)
        }))
        .layer(cors(state))
        .layer(axum::middleware::from_fn(layers::problem_errors))
        .layer(CatchPanicLayer::custom(layers::panic_response))
        .layer(axum::middleware::from_fn(move |req, next| {
            client_ip::layer(trusted.clone(), req, next)
        }))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(DefaultBodyLimit::disable());
    routes.fallback(layers::not_found).layer(stack)
}
