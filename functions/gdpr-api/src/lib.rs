//! `gdpr-api`: GDPR: account data export and erasure under `/account`, and the operator's
//! view of an erasure under `/admin/erasures` (the flows are in `rampart::gdpr`).
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of layers.

use axum::Router;
use rampart::AppState;
use rampart::billing::quota;
use rampart::health::{self, Dep};
use rampart::http::{self, RouterOptions};
use rampart::openapi;

/// Dependencies `/account/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store];

/// This function's contract, served at `/account/openapi.json`.
pub fn openapi() -> openapi::Document {
    openapi::document(
        "gdpr-api",
        "account",
        vec![rampart::gdpr::openapi::openapi()],
    )
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .merge(health::routes("/account/health", DEPENDENCIES))
        // Every signed-in `/account/*` call counts against the caller's daily quota (issue 9).
        .merge(quota::apply(rampart::gdpr::routes::routes(), &state))
        .merge(openapi::serve("/account/openapi.json", &openapi()))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions { body_limit: None };
    http::finish(routes(state.clone()), &state, opts)
}
