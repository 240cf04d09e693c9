//! `webhooks-api`: provider webhook intake behind a Lambda function URL. Each route verifies the
//! provider's signature over the exact raw body, records the event once and enqueues it for
//! `payments-worker`; the answer is 200 as soon as the event is safely queued.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of
//! layers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rampart::AppState;
use rampart::error::ApiError;
use rampart::health::{self, Dep};
use rampart::http::{self, RouterOptions};
use rampart::ratelimit::{self, KeyPart, Rule};
use rampart::webhooks::intake::{self, Verified};
use rampart::webhooks::verify::{self, VerifyError};
use tower_http::limit::RequestBodyLimitLayer;

/// Dependencies `/webhooks/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store, Dep::Queue];
/// Body limit for this function's routes (provider payloads are small).
pub const BODY_LIMIT: usize = 256 * 1024;

fn reject(provider: &str, e: VerifyError) -> ApiError {
    if e == VerifyError::NoSecret {
        tracing::error!(provider, "webhook secret not configured");
        return ApiError::Unavailable(format!("{provider} webhook secret not configured"));
    }
    // The log says which category failed; the response never does.
    tracing::info!(provider, reason = %e, "webhook rejected");
    ApiError::BadRequest("The webhook could not be verified.".into())
}

/// Every accepted value of a provider secret (comma-separated; several during a rotation).
async fn secret_list(state: &AppState, name: &str) -> Result<Vec<String>, ApiError> {
    state
        .secrets
        .entries(name)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn received() -> Response {
    axum::Json(serde_json::json!({ "received": true })).into_response()
}

async fn accept(
    state: &AppState,
    provider: &str,
    (event_id, event_type): (String, String),
    body: Bytes,
) -> Result<Response, ApiError> {
    let outcome = intake::record(
        state,
        Verified {
            provider: provider.into(),
            event_id,
            event_type,
            payload: body.to_vec(),
        },
    )
    .await?;
    tracing::info!(provider, outcome = ?outcome, "webhook accepted");
    Ok(received())
}

async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let secrets = secret_list(&state, "STRIPE_WEBHOOK_SECRET").await?;
    verify::stripe(
        header(&headers, "stripe-signature"),
        &body,
        &secrets,
        state.clock.now_secs(),
    )
    .map_err(|e| reject("stripe", e))?;
    let ids = intake::stripe_event(&body)?;
    accept(&state, "stripe", ids, body).await
}

async fn square(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let keys = secret_list(&state, "SQUARE_WEBHOOK_SIGNATURE_KEY").await?;
    let url = state.settings.square_webhook_url.clone();
    verify::square(
        header(&headers, "x-square-hmacsha256-signature"),
        &url,
        &body,
        &keys,
    )
    .map_err(|e| reject("square", e))?;
    let ids = intake::square_event(&body)?;
    accept(&state, "square", ids, body).await
}

async fn docusign(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let keys = secret_list(&state, "DOCUSIGN_CONNECT_HMAC_KEYS").await?;
    let sigs: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-docusign-signature-"))
        .filter_map(|(_, v)| v.to_str().ok())
        .collect();
    verify::docusign(&sigs, &body, &keys).map_err(|e| reject("docusign", e))?;
    let ids = intake::docusign_event(&body)?;
    accept(&state, "docusign", ids, body).await
}

async fn twilio(
    state: AppState,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    inbound: bool,
) -> Result<Response, ApiError> {
    let tokens = secret_list(&state, "TWILIO_AUTH_TOKEN").await?;
    let url = format!(
        "{}{}",
        state.settings.public_base_url.trim_end_matches('/'),
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let signature = header(&headers, "x-twilio-signature");
    let is_json = header(&headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|c| c.starts_with("application/json"));
    let params: Vec<(String, String)> = if is_json {
        verify::twilio_json(signature, &url, &body, &tokens).map_err(|e| reject("twilio", e))?;
        intake::twilio_params(&body)
    } else {
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|_| ApiError::BadRequest("The event could not be read.".into()))?;
        verify::twilio_form(signature, &url, &params, &tokens).map_err(|e| reject("twilio", e))?;
        params
    };
    let ids = intake::twilio_event(&params, inbound)?;
    accept(&state, "twilio", ids, body).await
}

async fn twilio_status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    twilio(state, uri, headers, body, false).await
}

async fn twilio_inbound(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    twilio(state, uri, headers, body, true).await
}

async fn standard(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // `source=whsec_...,source=whsec_...`: several entries for one source are a rotation.
    let secrets: Vec<String> = secret_list(&state, "STANDARD_WEBHOOK_SECRETS")
        .await?
        .into_iter()
        .filter_map(|e| {
            e.split_once('=')
                .filter(|(s, _)| *s == source)
                .map(|(_, v)| v.to_string())
        })
        .collect();
    if secrets.is_empty() {
        // The same answer as a bad signature: callers cannot probe which sources exist.
        return Err(reject("standard", VerifyError::Mismatch));
    }
    let id = header(&headers, "webhook-id");
    verify::standard(
        id,
        header(&headers, "webhook-timestamp"),
        header(&headers, "webhook-signature"),
        &body,
        &secrets,
        state.clock.now_secs(),
    )
    .map_err(|e| reject("standard", e))?;
    let ids = intake::standard_event(id.unwrap_or_default(), &body);
    accept(&state, &format!("standard:{source}"), ids, body).await
}

pub fn routes(state: AppState) -> Router {
    let (limit, window) = state.settings.webhook_rate_limit;
    let intake = Router::new()
        .route("/webhooks/stripe", post(stripe))
        .route("/webhooks/square", post(square))
        .route("/webhooks/docusign", post(docusign))
        .route("/webhooks/twilio/status", post(twilio_status))
        .route("/webhooks/twilio/inbound", post(twilio_inbound))
        .route("/webhooks/standard/{source}", post(standard));
    let intake = ratelimit::protect(
        intake,
        &state,
        vec![Rule::new("webhook_ip", limit, window, &[KeyPart::Ip])],
    );
    Router::new()
        .merge(health::routes("/webhooks/health", DEPENDENCIES))
        .merge(intake)
        .merge(admin::routes(&state))
        // Provider payloads are small; refuse anything bigger before reading it.
        .route_layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions {
        body_limit: Some(BODY_LIMIT),
    };
    http::finish(routes(state.clone()), &state, opts)
}

/// Operator routes: `Authorization: Bearer <ADMIN_API_TOKEN>`.
pub mod admin {
    use axum::Router;
    use axum::extract::{Path, Query, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use rampart::AppState;
    use rampart::auth::operator::Operator;
    use rampart::error::ApiError;
    use rampart::ratelimit::{self, KeyPart, Rule};
    use rampart::webhooks::admin::{self, Filter};
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct ListQuery {
        provider: Option<String>,
        status: Option<String>,
        cursor: Option<String>,
        limit: Option<usize>,
    }

    #[derive(Deserialize)]
    struct OneQuery {
        #[serde(default)]
        include_payload: bool,
    }

    async fn list(
        State(state): State<AppState>,
        _: Operator,
        Query(q): Query<ListQuery>,
    ) -> Result<Response, ApiError> {
        let filter = Filter {
            provider: q.provider,
            status: q.status,
        };
        let (events, cursor) =
            admin::list(&state, &filter, q.cursor, q.limit.unwrap_or(50)).await?;
        Ok(axum::Json(json!({ "events": events, "cursor": cursor })).into_response())
    }

    async fn one(
        State(state): State<AppState>,
        _: Operator,
        Path((provider, event_id)): Path<(String, String)>,
        Query(q): Query<OneQuery>,
    ) -> Result<Response, ApiError> {
        let item = admin::get(&state, &provider, &event_id).await?;
        Ok(axum::Json(admin::view(&item, q.include_payload)).into_response())
    }

    async fn replay(
        State(state): State<AppState>,
        _: Operator,
        Path((provider, event_id)): Path<(String, String)>,
    ) -> Result<Response, ApiError> {
        let status = admin::replay(&state, &provider, &event_id).await?;
        let body = json!({ "replayed": true, "status": status });
        Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
    }

    pub fn routes(state: &AppState) -> Router<AppState> {
        let r = Router::new()
            .route("/admin/webhook-events", get(list))
            .route("/admin/webhook-events/{provider}/{event_id}", get(one))
            .route(
                "/admin/webhook-events/{provider}/{event_id}/replay",
                post(replay),
            );
        let minute = std::time::Duration::from_secs(60);
        ratelimit::protect(
            r,
            state,
            vec![Rule::new("admin_ip", 60, minute, &[KeyPart::Ip])],
        )
    }
}

/// Twilio signs the public URL it called and Square the registered one: in production both
/// must be configured, or every delivery from them would be refused.
pub fn check_production(state: &AppState) -> Result<(), rampart::error::StartupError> {
    let s = &state.settings;
    if s.is_production() && !s.public_base_url.starts_with("https://") {
        return Err(rampart::error::StartupError(
            "PUBLIC_BASE_URL must be the https URL providers call (webhooks-api in production)"
                .into(),
        ));
    }
    Ok(())
}
