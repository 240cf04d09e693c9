//! Glue between Lambda events and the shared HTTP code: what the Lambda runtime attaches to a
//! request (its request id, API Gateway's source IP), and the runner every function's main uses.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

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

/// The https origin a request arrived at under Lambda: the request context's `domainName`, for a
/// function URL `https://<url-id>.lambda-url.<region>.on.aws` (AWS Lambda Developer Guide,
/// "Invoking Lambda function URLs"). `None` outside Lambda.
pub fn arrived_at(extensions: &http::Extensions) -> Option<String> {
    match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => ctx
            .domain_name
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| format!("https://{d}")),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Whether API Gateway routed this request (`None` outside Lambda). A function URL event carries
/// the placeholder route key `$default` (AWS Lambda Developer Guide, "Invoking Lambda function
/// URLs", request payload: function URLs do not use `routeKey` and set it to `$default`); an
/// HTTP API event names the route it matched (`ANY /admin/{proxy+}`; template.yaml declares no
/// `$default` route).
pub fn routed_by_api_gateway(req: &Request) -> Option<bool> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            Some(ctx.route_key.as_deref().is_some_and(|k| k != "$default"))
        }
        #[allow(unreachable_patterns)]
        _ => Some(false),
    }
}

/// Middleware for routes API Gateway may route but the public function URL must not reach (the
/// operator routes of the function that also serves provider webhooks): anything else is not
/// found. Outside Lambda (the local stack) the routes are served.
pub async fn only_through_api_gateway(
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if routed_by_api_gateway(&req).unwrap_or(true) {
        next.run(req).await
    } else {
        rampart_platform::error::ApiError::NotFound("No route matches this path.".into())
            .into_response()
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
pub async fn startup(clients: Clients) -> Result<crate::state::AppState, lambda_http::Error> {
    let settings = rampart_platform::config::Settings::from_env()?;
    rampart_platform::telemetry::init(&settings);
    // Metrics carry the function's own name, the dimension template.yaml's alarms select on.
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "lambda".into());
    rampart_platform::metrics::install(&function, true);
    let clock = rampart_platform::clock::system();
    match crate::state::AppState::from_settings_with(settings, clock, clients, lambda_aws).await {
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

/// A Lambda function's AWS configuration, read from the variables the Lambda runtime sets for
/// every function: `AWS_REGION`, and the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, valid for the execution environment's life
/// (AWS Lambda Developer Guide, "Defined runtime environment variables"). The SDK's default chain
/// would find the same credentials first; building the configuration directly skips its provider
/// walk (profile files read from disk, region and settings providers) on the cold-start path and
/// keeps STS, the profile parser and the metadata clients out of the binary (startup
/// and size). `AWS_ENDPOINT_URL` is still honoured, as the SDK documents it, for local peers.
pub fn aws_config() -> aws_config::SdkConfig {
    aws_config_from(&|name| std::env::var(name).ok())
}

/// [`aws_config`] with region and endpoint read through `env` (tests); credentials always come
/// from the process environment.
pub fn aws_config_from(env: &dyn Fn(&str) -> Option<String>) -> aws_config::SdkConfig {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    use aws_sdk_dynamodb::config::{Region, SharedCredentialsProvider};
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .http_client(rampart_platform::aws_http::client())
        .retry_config(crate::state::retry_config());
    config.set_region(env("AWS_REGION").map(Region::new));
    config.set_endpoint_url(env("AWS_ENDPOINT_URL"));
    config.build()
}

fn lambda_aws() -> Pin<Box<dyn Future<Output = aws_config::SdkConfig> + Send>> {
    Box::pin(std::future::ready(aws_config()))
}

/// Starts loading the secrets while the runtime asks for its first event, so the first request
/// that needs one (every signed webhook, every token) finds them loaded or in flight: one load,
/// shared by whoever asks first (`Secrets` lets one caller reload at a time). Production has
/// them already (the lockdown checks them at startup), so this finds them cached.
fn prefetch_secrets(state: &crate::state::AppState) {
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
    build: fn(crate::state::AppState) -> Router,
) -> Result<(), lambda_http::Error> {
    let state = startup(clients).await?;
    run(build(state)).await
}
