//! `auth-api`: registration and address verification, password and email-code login, sessions
//! delivered as httpOnly cookies (web) or in the body (mobile), refresh rotation, logout,
//! password reset and change, the TOTP second factor, sign-in with Google and GitHub, the user's
//! own sessions, and operators suspending accounts (`/admin/users/*`).
//!
//! This crate is the route table: each path, its per-IP rate limits and its handler. The
//! handlers (`rampart_auth::http`), the flows behind them and the rate-limit table
//! (`rampart_auth::limits`) live in `shared`. `routes` are this function's routes on the
//! shared state; `router` adds the shared layers (what Lambda serves). The local stack merges
//! every function's `routes` under one set of layers.

use axum::Router;
use axum::routing::{MethodRouter, delete, get, post};
use rampart_auth::http as handle;
use rampart_auth::http_2fa as two_factor;
use rampart_auth::oauth::routes as oauth;
use rampart_auth::{client, sessions, suspension};
use rampart_http::AppState;
use rampart_http::health::{self, Dep};
use rampart_http::openapi;
use rampart_http::ratelimit::{self, Rule};
use rampart_http::{self as http, RouterOptions};
use rampart_platform::error::StartupError;

pub use rampart_auth::limits::{Rules, rules};

/// The function's name: its package, binary and the kebab-case of its SAM logical id.
pub const NAME: &str = "auth-api";

/// Dependencies `/auth/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store];

/// This function's contract, served at `/auth/openapi.json`.
pub fn openapi() -> openapi::Document {
    openapi::document("auth-api", "auth", vec![rampart_auth::openapi::openapi()])
}

pub fn routes(state: AppState) -> Router {
    let r = rules();
    // IP-keyed limits run as a layer in front of their route only (unknown paths are not
    // counted); limits keyed by the address are enforced by the handler once it read the body.
    let limited = |path: &str, route: MethodRouter<AppState>, rules: Vec<Rule>| {
        ratelimit::protect(Router::new().route(path, route), &state, rules)
    };
    let routes = Router::new()
        .merge(health::routes("/auth/health", DEPENDENCIES))
        .merge(openapi::serve("/auth/openapi.json", openapi))
        .merge(limited(
            "/auth/register",
            post(handle::register),
            r.register,
        ))
        .merge(limited(
            "/auth/verify-email",
            post(handle::verify_email),
            r.verify_email,
        ))
        .merge(limited("/auth/login", post(handle::login), r.login))
        .merge(limited("/auth/refresh", post(handle::refresh), r.refresh))
        .merge(limited(
            "/auth/password/forgot",
            post(handle::forgot),
            r.forgot,
        ))
        .merge(limited(
            "/auth/password/reset",
            post(handle::reset),
            r.reset,
        ))
        .route("/auth/otp/request", post(handle::otp_request))
        .merge(limited(
            "/auth/otp/verify",
            post(handle::otp_verify),
            r.otp_verify.clone(),
        ))
        .route("/auth/logout", post(handle::logout))
        .route("/auth/me", get(handle::me))
        .route("/auth/password/change", post(handle::change))
        .route("/auth/sessions", get(sessions::list_handler))
        .route(
            "/auth/sessions/end-others",
            post(sessions::end_others_handler),
        )
        .route("/auth/sessions/{id}", delete(sessions::end_handler))
        .route(
            "/admin/users/{id}/suspend",
            post(suspension::suspend_handler),
        )
        .route(
            "/admin/users/{id}/reinstate",
            post(suspension::reinstate_handler),
        )
        .route("/auth/2fa/totp/setup", post(two_factor::totp_setup))
        .route("/auth/2fa/totp/confirm", post(two_factor::totp_confirm))
        .route("/auth/2fa/totp/disable", post(two_factor::totp_disable))
        // A code check like the email code's: the same per-IP limit.
        .merge(limited(
            "/auth/2fa/verify",
            post(two_factor::verify),
            r.otp_verify,
        ))
        // Sign-in with Google and GitHub; the provider's answer counts like a sign-in attempt.
        .merge(limited(
            "/auth/oauth/{provider}/start",
            get(oauth::start),
            r.oauth_start,
        ))
        .merge(limited(
            "/auth/oauth/{provider}/callback",
            get(oauth::callback),
            r.oauth_callback,
        ))
        // Every request knows its client's class: a session started by any sign-in path
        // records it.
        .layer(axum::middleware::from_fn(client::scope))
        .with_state(state);
    http::serves(NAME, routes)
}

/// The whole product's contract, as committed (`openapi.json`, which a test keeps equal to what
/// the code generates). In AWS, template.yaml routes `GET /openapi.json` here; embedding the file
/// keeps every other function's routes and docs out of this binary.
pub const PRODUCT_CONTRACT: &str = include_str!("../../../openapi.json");

pub fn router(state: AppState) -> Router {
    // Lambda only: the local stack serves the merged document itself.
    let contract = Router::new().route(
        "/openapi.json",
        get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                PRODUCT_CONTRACT,
            )
        }),
    );
    let routes = routes(state.clone()).merge(http::serves(NAME, contract));
    http::finish(routes, &state, RouterOptions::default())
}

/// The domains that keep a part of the account item, registered so the profile shows it and a
/// take-back (an email-code sign-in or a reset of an unverified account) severs it: billing's
/// plan, Stripe customer and subscription. Without it the previous holder of a taken-back
/// account would keep its billing. Only that part: billing's export and erasure are gdpr-api's.
pub fn registry() -> rampart_http::registry::Registry<AppState> {
    rampart_http::registry::Registry::new(vec![std::sync::Arc::new(
        rampart_billing::owned::AccountPartOnly,
    )])
}

/// Production auth needs a real mail sender, and the app's https pages its mails link to
/// (nothing under the API serves them; a plain-http link would carry the reset token in clear).
pub fn check_production(state: &AppState) -> Result<(), StartupError> {
    let s = &state.settings;
    if !s.is_production() {
        return Ok(());
    }
    if s.mail_from.is_none() {
        return Err(StartupError(
            "MAIL_FROM must be set for auth-api in production (codes and reset links are mailed)"
                .into(),
        ));
    }
    if !s.app_url.starts_with("https://") {
        return Err(StartupError(format!(
            "APP_URL must be set to the app's https base URL for auth-api in production (the \
             reset and verification mails link to its pages), got {:?}",
            s.app_url
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_function_registers_billings_part_of_the_account() {
        // Without it a take-back would leave the previous holder's billing on the account.
        assert_eq!(registry().account_parts().count(), 1);
    }
}
