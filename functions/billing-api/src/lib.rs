//! `billing-api`: subscription billing under `/billing`: the tier table, the daily quota, Stripe
//! Checkout, cancel and resume. Business customers and their instances are `customers-api`.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of layers.

use axum::Router;
use rampart_http::AppState;
use rampart_http::health::{self, Dep};
use rampart_http::openapi;
use rampart_http::{self as http, RouterOptions};
use rampart_platform::error::StartupError;

/// The function's name: its package, binary and the kebab-case of its SAM logical id.
pub const NAME: &str = "billing-api";

/// Dependencies `/billing/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store];

/// This function's contract, served at `/billing/openapi.json`.
pub fn openapi() -> openapi::Document {
    openapi::document(
        "billing-api",
        "billing",
        vec![rampart_billing::openapi::openapi()],
    )
}

pub fn routes(state: AppState) -> Router {
    let routes = Router::new()
        .merge(health::routes("/billing/health", DEPENDENCIES))
        .merge(openapi::serve("/billing/openapi.json", openapi))
        // Subscription billing: /billing/* (rampart_billing), behind the daily quota.
        .merge(rampart_billing::routes(&state))
        .with_state(state);
    http::serves(NAME, routes)
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions { body_limit: None };
    http::finish(routes(state.clone()), &state, opts)
}

/// Stripe Checkout sends the user back to these pages of the app; in production they must be
/// the app's own https pages (nothing under the API serves them).
pub fn check_production(state: &AppState) -> Result<(), StartupError> {
    let s = &state.settings;
    if !s.is_production() {
        return Ok(());
    }
    for (name, url) in [
        ("CHECKOUT_SUCCESS_URL", &s.checkout_success_url),
        ("CHECKOUT_CANCEL_URL", &s.checkout_cancel_url),
    ] {
        if !url.starts_with("https://") {
            return Err(StartupError(format!(
                "{name} must be set to an https page of the app for billing-api in production \
                 (where Stripe Checkout returns the user), got {url:?}"
            )));
        }
    }
    Ok(())
}
