//! The operator routes that read back what providers' events did: the event feed an app polls
//! (`/admin/provider-events`), envelopes, outgoing and inbound SMS, opt-outs and provider
//! payments (`provider_state`). Handlers only: request in, the read, the answer out; the
//! function serving them puts them behind its operator layers.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rampart_auth::operator::Admin;
use rampart_http::{AppState, Query};
use rampart_platform::error::ApiError;
use serde::Deserialize;

use super::effects::Tracked;
use super::feed::{self, FeedQuery};
use super::provider_state::{self, Listing};
use serde_json::json;

const DEFAULT_LIMIT: usize = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedParams {
    after: Option<String>,
    limit: Option<usize>,
    provider: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    outcome: Option<String>,
}

async fn events(
    State(state): State<AppState>,
    operator: Admin,
    Query(q): Query<FeedParams>,
) -> Result<Response, ApiError> {
    let page = feed::list(
        &state,
        FeedQuery {
            after: q.after,
            limit: q.limit.unwrap_or(DEFAULT_LIMIT),
            provider: q.provider,
            event_type: q.event_type,
            outcome: q.outcome,
        },
    )
    .await?;
    let body = json!({ "data": page.data, "cursor": page.cursor, "has_more": page.has_more });
    Ok((operator.limits, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

fn page(operator: Admin, l: Listing) -> Response {
    let body = json!({ "data": l.data, "cursor": l.cursor });
    (operator.limits, Json(body)).into_response()
}

async fn list_of(
    state: &AppState,
    operator: Admin,
    tracked: Tracked,
    q: ListParams,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    let listing = provider_state::list(state, tracked, q.status.as_deref(), q.cursor, limit);
    Ok(page(operator, listing.await?))
}

async fn envelopes(
    State(state): State<AppState>,
    operator: Admin,
    Query(q): Query<ListParams>,
) -> Result<Response, ApiError> {
    list_of(&state, operator, Tracked::Envelope, q).await
}

async fn envelope(
    State(state): State<AppState>,
    operator: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let v = provider_state::envelope(&state, &id).await?;
    Ok((operator.limits, Json(v)).into_response())
}

async fn messages(
    State(state): State<AppState>,
    operator: Admin,
    Query(q): Query<ListParams>,
) -> Result<Response, ApiError> {
    list_of(&state, operator, Tracked::SmsMessage, q).await
}

async fn message(
    State(state): State<AppState>,
    operator: Admin,
    Path(sid): Path<String>,
) -> Result<Response, ApiError> {
    let v = provider_state::message(&state, &sid).await?;
    Ok((operator.limits, Json(v)).into_response())
}

async fn payments(
    State(state): State<AppState>,
    operator: Admin,
    Query(q): Query<ListParams>,
) -> Result<Response, ApiError> {
    list_of(&state, operator, Tracked::ProviderPayment, q).await
}

async fn payment(
    State(state): State<AppState>,
    operator: Admin,
    Path((provider, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let v = provider_state::payment(&state, &provider, &id).await?;
    Ok((operator.limits, Json(v)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundParams {
    from: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn inbound(
    State(state): State<AppState>,
    operator: Admin,
    Query(q): Query<InboundParams>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    let listing = provider_state::inbound(&state, q.from.as_deref(), q.cursor, limit).await?;
    Ok(page(operator, listing))
}

async fn opt_out(
    State(state): State<AppState>,
    operator: Admin,
    Path(phone): Path<String>,
) -> Result<Response, ApiError> {
    let v = provider_state::opt_out(&state, &phone).await?;
    Ok((operator.limits, Json(v)).into_response())
}

/// The provider-state routes, for the operator router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/provider-events", get(events))
        .route("/admin/envelopes", get(envelopes))
        .route("/admin/envelopes/{id}", get(envelope))
        .route("/admin/sms/messages", get(messages))
        .route("/admin/sms/messages/{sid}", get(message))
        .route("/admin/sms/inbound", get(inbound))
        .route("/admin/sms/opt-outs/{phone}", get(opt_out))
        .route("/admin/provider-payments", get(payments))
        .route("/admin/provider-payments/{provider}/{id}", get(payment))
}
