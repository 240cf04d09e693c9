//! The operator routes of webhooks, behind the serving function's operator layers: received
//! events (list, one, replay: `admin`) and the provider state their effects left (`readback`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use rampart_auth::operator::Admin;
use rampart_http::Query;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use serde::Deserialize;
use serde_json::json;

use super::admin::{self, Filter};
use super::providers::Registry;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    provider: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn list_route(
    State(state): State<AppState>,
    Extension(registry): Extension<Arc<Registry>>,
    operator: Admin,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = Filter {
        provider: q.provider,
        status: q.status,
    };
    filter.check_provider(&registry)?;
    let (events, cursor) = admin::list(&state, &filter, q.cursor, q.limit.unwrap_or(50)).await?;
    let body = Json(json!({ "events": events, "cursor": cursor }));
    Ok((operator.limits, body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OneQuery {
    #[serde(default)]
    include_payload: bool,
}

async fn one(
    State(state): State<AppState>,
    operator: Admin,
    Path((provider, event_id)): Path<(String, String)>,
    Query(q): Query<OneQuery>,
) -> Result<Response, ApiError> {
    let event = admin::get_event(&state, &provider, &event_id).await?;
    let body = Json(admin::view(&event, q.include_payload));
    Ok((operator.limits, body).into_response())
}

async fn replay_route(
    State(state): State<AppState>,
    operator: Admin,
    Path((provider, event_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let status = admin::replay(&state, &provider, &event_id).await?;
    let body = json!({ "replayed": true, "status": status.as_str() });
    Ok((StatusCode::ACCEPTED, operator.limits, Json(body)).into_response())
}

/// Every operator route of webhooks, for the providers of `registry`.
pub fn routes(registry: &Registry) -> Router<AppState> {
    Router::new()
        .route(
            "/admin/webhook-events",
            get(list_route).layer(Extension(Arc::new(registry.clone()))),
        )
        .route("/admin/webhook-events/{provider}/{event_id}", get(one))
        .route(
            "/admin/webhook-events/{provider}/{event_id}/replay",
            post(replay_route),
        )
        .merge(super::readback::routes())
}
