//! `billing-api`: subscription billing (issue 9: tiers, daily quota, Stripe Checkout, cancel and
//! resume); and customer instances (issue 10): operators manage customers and their API keys,
//! instances report usage and fetch offline-verifiable licenses.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of layers.

use axum::Router;
use rampart::AppState;
use rampart::billing::quota;
use rampart::health::{self, Dep};
use rampart::http::{self, RouterOptions};
use rampart::openapi;

/// Dependencies `/billing/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store];

/// This function's contract, served at `/billing/openapi.json`.
pub fn openapi() -> openapi::Document {
    openapi::document(
        "billing-api",
        "billing",
        vec![
            rampart::billing::openapi::openapi(),
            rampart::customers::openapi::openapi(),
        ],
    )
}

pub fn routes(state: AppState) -> Router {
    Router::new()
        .merge(health::routes("/billing/health", DEPENDENCIES))
        .merge(openapi::serve("/billing/openapi.json", &openapi()))
        // Subscription billing: /billing/* (rampart::billing), behind the daily quota.
        .merge(rampart::billing::routes(&state))
        // Customer instances: /admin/customers*, /usage*, /licenses/* (rampart::customers);
        // every X-API-Key call counts against the customer's daily quota.
        .merge(quota::apply_api_keys(
            rampart::customers::routes(&state),
            &state,
        ))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions { body_limit: None };
    http::finish(routes(state.clone()), &state, opts)
}
