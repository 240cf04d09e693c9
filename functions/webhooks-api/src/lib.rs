//! `webhooks-api`: provider webhook intake behind a Lambda function URL, and the operator routes
//! over received events and the provider state they left (`rampart_webhooks::readback`). One
//! intake route per path of each registered provider (`rampart_webhooks::providers`); each
//! answers 200 once the event is recorded and queued.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of
//! layers.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use rampart_http::AppState;
use rampart_http::health::{self, Dep};
use rampart_http::lambda::only_through_api_gateway;
use rampart_http::openapi;
use rampart_http::ratelimit::{self, KeyPart, Rule};
use rampart_http::{self as http, RouterOptions};
use rampart_platform::error::{ApiError, StartupError};
use rampart_webhooks::intake::{self, Inbound};
use rampart_webhooks::providers::{AnyProvider, Registry};
use tower_http::limit::RequestBodyLimitLayer;

/// The function's name: its package, binary and the kebab-case of its SAM logical id.
pub const NAME: &str = "webhooks-api";

/// Dependencies `/webhooks/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store, Dep::Queue];
/// Body limit for this function's routes (provider payloads are small).
pub const BODY_LIMIT: usize = 256 * 1024;

type Which = Extension<Arc<dyn AnyProvider>>;

async fn deliver(
    State(state): State<AppState>,
    Extension(provider): Which,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    intake::receive(&state, &*provider, inbound).await?;
    Ok(intake::received())
}

/// This function's contract for the built-in providers, served at `/webhooks/openapi.json`.
pub fn openapi() -> openapi::Document {
    openapi_with(&Registry::builtin())
}

pub fn openapi_with(registry: &Registry) -> openapi::Document {
    let part = rampart_webhooks::openapi::openapi(registry);
    openapi::document("webhooks-api", "webhooks", vec![part])
}

/// This function's routes for the built-in providers.
pub fn routes(state: AppState) -> Router {
    routes_with(state, &Registry::builtin())
}

/// This function's routes for the providers of `registry`.
pub fn routes_with(state: AppState, registry: &Registry) -> Router {
    let mut intake = Router::new();
    for provider in registry.iter() {
        for path in provider.paths() {
            let which = Extension(provider.clone());
            intake = intake.route(path, post(deliver).layer(which));
        }
    }
    let minute = std::time::Duration::from_secs(60);
    let operator = rampart_webhooks::admin_routes::routes(registry);
    let operator = ratelimit::protect(
        operator,
        &state,
        vec![Rule::new("admin_ip", 60, minute, &[KeyPart::Ip])],
    )
    // Operator routes: through API Gateway's `/admin/{proxy+}` route only, never through the
    // public function URL (`AuthType: NONE`, for providers).
    .route_layer(axum::middleware::from_fn(only_through_api_gateway));
    let routes = Router::new()
        .merge(health::routes("/webhooks/health", DEPENDENCIES))
        .merge(openapi::serve("/webhooks/openapi.json", {
            let registry = registry.clone();
            move || openapi_with(&registry)
        }))
        .merge(intake)
        .merge(operator)
        // Provider payloads are small; refuse anything bigger before reading it.
        .route_layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .with_state(state);
    http::serves(NAME, routes)
}

/// The routes with the shared layers: what Lambda serves.
pub fn router(state: AppState) -> Router {
    router_with(state, &Registry::builtin())
}

pub fn router_with(state: AppState, registry: &Registry) -> Router {
    let opts = RouterOptions {
        body_limit: Some(BODY_LIMIT),
    };
    http::finish(routes_with(state.clone(), registry), &state, opts)
}

/// Twilio signs the public URL it called and Square the registered one: a configured base URL
/// must be https in production. Unset, each delivery is checked against the function URL it
/// arrived at (always https).
pub fn check_production(state: &AppState) -> Result<(), StartupError> {
    let url = &state.settings.public_base_url;
    if state.settings.is_production() && !(url.is_empty() || url.starts_with("https://")) {
        let why = "PUBLIC_BASE_URL must be an https URL, or unset for the function URL";
        return Err(StartupError(format!("{why} (webhooks-api in production)")));
    }
    Ok(())
}
