//! `customers-api`: business customers and their self-hosted instances. Operators manage
//! customers and their API keys under `/admin/customers`; instances report usage (`/usage*`)
//! and fetch offline-verifiable licenses (`/licenses/*`) with their `X-API-Key`, and every such
//! call counts against the customer's daily quota.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of layers.

use axum::Router;
use rampart_billing::quota;
use rampart_http::AppState;
use rampart_http::health::{self, Dep};
use rampart_http::openapi;
use rampart_http::{self as http, RouterOptions};
use rampart_platform::error::StartupError;

/// The function's name: its package, binary and the kebab-case of its SAM logical id.
pub const NAME: &str = "customers-api";

/// Dependencies `/usage/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store];

/// This function's contract, served at `/usage/openapi.json`.
pub fn openapi() -> openapi::Document {
    openapi::document(
        "customers-api",
        "usage",
        vec![rampart_billing::customers::openapi::openapi()],
    )
}

pub fn routes(state: AppState) -> Router {
    let routes = Router::new()
        .merge(health::routes("/usage/health", DEPENDENCIES))
        .merge(openapi::serve("/usage/openapi.json", openapi))
        .merge(quota::apply_api_keys(
            rampart_billing::customers::routes(&state),
            &state,
        ))
        .with_state(state);
    http::serves(NAME, routes)
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions { body_limit: None };
    http::finish(routes(state.clone()), &state, opts)
}

/// Every license names its issuer (`iss`), which instances may check: production must say it.
pub fn check_production(state: &AppState) -> Result<(), StartupError> {
    if state.settings.is_production() && state.settings.license_issuer.is_empty() {
        return Err(StartupError(
            "LICENSE_ISSUER must be set for customers-api in production (the `iss` of every license)"
                .into(),
        ));
    }
    Ok(())
}
