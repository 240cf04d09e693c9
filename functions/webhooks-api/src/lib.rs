//! `webhooks-api`: Provider webhook intake (behind a Lambda function URL): verify, record once, enqueue.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of layers.

use axum::Router;
use rampart::AppState;
use rampart::health::{self, Dep};
use rampart::http::{self, RouterOptions};
use tower_http::limit::RequestBodyLimitLayer;

/// Dependencies `/webhooks/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store, Dep::Queue];
/// Body limit for this function's routes (provider payloads are small).
pub const BODY_LIMIT: usize = 256 * 1024;

pub fn routes(state: AppState) -> Router {
    Router::new()
        .merge(health::routes("/webhooks/health", DEPENDENCIES))
        // Provider payloads are small; refuse anything bigger before reading it.
        .route_layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions {
        body_limit: Some(BODY_LIMIT),
    };
    http::finish(routes(state.clone()), &state, opts)
}
