//! `billing-api`: Billing: plans, subscriptions and the Stripe customer link; and customer
//! instances (issue 10): operators manage customers and their API keys, instances report usage
//! and fetch offline-verifiable licenses.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of layers.

use axum::Router;
use rampart::AppState;
use rampart::health::{self, Dep};
use rampart::http::{self, RouterOptions};

/// Dependencies `/billing/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store];

pub fn routes(state: AppState) -> Router {
    Router::new()
        .merge(health::routes("/billing/health", DEPENDENCIES))
        // Customer instances: /admin/customers*, /usage*, /licenses/* (rampart::customers).
        .merge(rampart::customers::routes(&state))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions { body_limit: None };
    http::finish(routes(state.clone()), &state, opts)
}
