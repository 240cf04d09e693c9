//! Glue between Lambda events and the shared HTTP code: what the Lambda runtime attaches to a
//! request (its request id, API Gateway's source IP), and the runner every function's main uses.

use std::net::IpAddr;

use axum::Router;
use axum::extract::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// The Lambda invocation's request id, when running under the Lambda runtime.
pub fn lambda_request_id(req: &Request) -> Option<String> {
    req.lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
}

/// The caller's IP as API Gateway (or the function URL front end) saw it.
pub fn source_ip(req: &Request) -> Option<IpAddr> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref()?.parse().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Serves a function's router on the Lambda runtime.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router).await
}

/// Reads the settings, starts logging and assembles the state. A configuration the production
/// lockdown refuses stops the process here, with the reason in the log and the error.
pub async fn startup() -> Result<crate::AppState, lambda_http::Error> {
    let settings = crate::config::Settings::from_env()?;
    crate::telemetry::init(&settings);
    match crate::AppState::from_settings(settings, crate::clock::system()).await {
        Ok(s) => Ok(s),
        Err(e) => {
            tracing::error!(error = %e, "refusing to start");
            Err(e.into())
        }
    }
}

/// Builds the state from the environment and serves a function's router on Lambda.
pub async fn serve(build: fn(crate::AppState) -> Router) -> Result<(), lambda_http::Error> {
    let state = startup().await?;
    run(build(state)).await
}
