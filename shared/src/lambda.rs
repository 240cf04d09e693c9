//! Glue between Lambda events and the shared HTTP code: what the Lambda runtime attaches to a
//! request (its request id, API Gateway's source IP), and the runner every function's main uses.

use std::net::IpAddr;

use axum::Router;
use axum::extract::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

pub use crate::state::Clients;

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

/// API Gateway puts a named stage in front of the path (`/prod/auth/me`); routes are declared
/// without it, so it is removed before routing. The `$default` stage and function URLs have none.
pub fn strip_stage<B>(mut req: http::Request<B>) -> http::Request<B> {
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return req;
    };
    let prefix = format!("/{stage}");
    let path = req.uri().path();
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/".to_string(),
        Some(r) if r.starts_with('/') => r.to_string(),
        _ => return req,
    };
    let pq = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(p) = pq.parse() {
        parts.path_and_query = Some(p);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// The service Lambda runs for an HTTP function: the router behind stage stripping.
pub fn handler(
    router: Router,
) -> tower::util::MapRequest<Router, fn(lambda_http::Request) -> lambda_http::Request> {
    tower::ServiceExt::map_request(
        router,
        strip_stage as fn(lambda_http::Request) -> lambda_http::Request,
    )
}

/// Serves a function's router on the Lambda runtime.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(handler(router)).await
}

/// Reads the settings, starts logging and assembles the state with the optional `clients` the
/// function names (`Clients::NO_MAIL` keeps the SES client out of its binary). A configuration
/// the production lockdown refuses stops the process here, with the reason in the log and the
/// error.
pub async fn startup(clients: Clients) -> Result<crate::AppState, lambda_http::Error> {
    let settings = crate::config::Settings::from_env()?;
    crate::telemetry::init(&settings);
    // Metrics carry the function's own name, the dimension template.yaml's alarms select on.
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "lambda".into());
    crate::metrics::install(&function, true);
    match crate::AppState::from_settings_with(settings, crate::clock::system(), clients).await {
        Ok(s) => {
            prefetch_secrets(&s);
            Ok(s)
        }
        Err(e) => {
            tracing::error!(error = %e, "refusing to start");
            Err(e.into())
        }
    }
}

/// Starts loading the secrets while the runtime asks for its first event, so the first request
/// that needs one (every signed webhook, every token) finds them loaded or in flight: one load,
/// shared by whoever asks first (`Secrets` lets one caller reload at a time). Production has
/// them already (the lockdown checks them at startup), so this finds them cached.
fn prefetch_secrets(state: &crate::AppState) {
    let secrets = state.secrets.clone();
    tokio::spawn(async move {
        if let Err(e) = secrets.snapshot().await {
            tracing::warn!(error = %e, "secrets not loaded at startup; the first request retries");
        }
    });
}

/// Builds the state from the environment and serves a function's router on Lambda.
pub async fn serve(
    clients: Clients,
    build: fn(crate::AppState) -> Router,
) -> Result<(), lambda_http::Error> {
    let state = startup(clients).await?;
    run(build(state)).await
}
