//! `gdpr-api`: GDPR and retention: account data export and erasure under `/account`, the
//! operator's view of an erasure under `/admin/erasures`, legal holds under `/admin/legal-holds`
//! and on-demand retention runs at `/admin/retention/run` (the flows are in `rampart_gdpr` and
//! `rampart_gdpr::retention`).
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of layers.

use std::sync::Arc;

use axum::Router;
use rampart_billing::quota;
use rampart_http::AppState;
use rampart_http::health::{self, Dep};
use rampart_http::openapi;
use rampart_http::ratelimit::{self, KeyPart, Rule};
use rampart_http::{self as http, RouterOptions};

/// The function's name: its package, binary and the kebab-case of its SAM logical id.
pub const NAME: &str = "gdpr-api";

/// Dependencies `/account/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store];

/// This function's contract, served at `/account/openapi.json`.
pub fn openapi() -> openapi::Document {
    openapi::document(
        "gdpr-api",
        "account",
        vec![
            rampart_gdpr::openapi::openapi(),
            rampart_gdpr::retention::openapi::openapi(),
        ],
    )
}

/// What the domains store for a person and what retention may act on: every domain's
/// registration, since a person's data spans them all.
pub fn registry() -> rampart_http::registry::Registry<AppState> {
    rampart_gdpr::registry(vec![
        Arc::new(rampart_auth::owned::AuthData),
        Arc::new(rampart_billing::owned::BillingData),
        Arc::new(rampart_orders::owned::OrdersData),
        Arc::new(rampart_webhooks::owned::WebhookData),
    ])
}

pub fn routes(state: AppState) -> Router {
    let state = state.with_registry(registry());
    let routes = Router::new()
        .merge(health::routes("/account/health", DEPENDENCIES))
        // Every signed-in `/account/*` call counts against the caller's daily quota.
        .merge(quota::apply(rampart_gdpr::routes::routes(), &state))
        .merge(operator(&state))
        .merge(openapi::serve("/account/openapi.json", openapi))
        .with_state(state);
    http::serves(NAME, routes)
}

/// Legal holds and on-demand retention runs, with the per-IP limit every operator route has.
fn operator(state: &AppState) -> Router<AppState> {
    let minute = std::time::Duration::from_secs(60);
    ratelimit::protect(
        rampart_gdpr::retention::routes::routes(),
        state,
        vec![Rule::new("admin_ip", 60, minute, &[KeyPart::Ip])],
    )
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions { body_limit: None };
    http::finish(routes(state.clone()), &state, opts)
}
