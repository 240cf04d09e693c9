//! The `/billing/*` routes as one router, mounted by `billing-api`: the public tier table, and
//! for a signed-in user the subscription, usage and entitlements views, checkout (honouring
//! `Idempotency-Key`), plan changes, the Billing Portal, cancel and resume, behind the daily
//! quota (which exempts `GET /billing/usage`); checkout's default return pages and the
//! operator's customer link outside it. Request and response glue only; the flows are the siblings.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use super::adopt::{self, LinkBody, Linked};
use super::change::{self, ChangeBody};
use super::checkout::{self, CheckoutBody};
use super::{entitlements, limits, pages, portal, quota, subscription};
use crate::account::Billed;
use rampart_auth::AuthUser;
use rampart_auth::operator::Admin;
use rampart_http::idempotency::request::{self, Reply, WriteRequest};
use rampart_http::idempotency::{self, Claim};
use rampart_http::json;
use rampart_http::ratelimit;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

/// Every body here is a few bytes (`{"tier": "pro"}`).
const BODY_LIMIT: usize = 4 * 1024;

pub fn routes(state: &AppState) -> Router<AppState> {
    let router = Router::new()
        .route("/billing/tiers", get(tiers))
        .route("/billing/subscription", get(current))
        .route("/billing/usage", get(usage))
        .route("/billing/entitlements", get(entitlements_view))
        .route("/billing/checkout-session", post(checkout_session))
        .route("/billing/cancel", post(cancel))
        .route("/billing/resume", post(resume))
        .route("/billing/subscription/change", post(change_plan))
        .route("/billing/portal-session", post(portal_session))
        .route_layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    // Outside the quota: pages a browser lands on, and an operator route (counted by its own
    // operator limit).
    let uncounted = Router::new()
        .route("/billing/checkout/success", get(pages::success))
        .route("/billing/checkout/canceled", get(pages::canceled))
        .route("/admin/billing/customer-links", post(link_customer))
        .route_layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    quota::apply(router, state).merge(uncounted)
}

async fn tiers(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(entitlements::tiers(&state))
}

async fn current(user: AuthUser) -> Result<axum::Json<serde_json::Value>, ApiError> {
    Ok(axum::Json(subscription::view(&Billed::of(&user)?)))
}

async fn usage(State(state): State<AppState>, user: AuthUser) -> Result<Response, ApiError> {
    let body = entitlements::usage(&state, &Billed::of(&user)?).await?;
    Ok(axum::Json(body).into_response())
}

async fn entitlements_view(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let body = entitlements::entitlements(&state, &Billed::of(&user)?).await?;
    Ok(axum::Json(body).into_response())
}

/// A checkout honours `Idempotency-Key` through the one idempotent path: a retry replays the
/// session it started (Stripe's own idempotency key is derived from the client's, so a retry
/// after our failure reaches the same session too).
async fn checkout_session(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let limits = ratelimit::enforce_for_user(&state, limits::checkout(), &user.user_id).await?;
    let start = async |key: Option<&str>| {
        let body: CheckoutBody = json::body(&headers, &body)?;
        let started = checkout::start(&state, &Billed::of(&user)?, &body.tier, key).await?;
        Ok::<_, ApiError>(json!({ "id": started.id, "url": started.url }))
    };
    let Some(key) = request::optional_key(&headers)? else {
        let view = start(None).await?;
        return Ok((StatusCode::CREATED, limits, axum::Json(view)).into_response());
    };
    let req = WriteRequest {
        headers: &headers,
        path: uri.path_and_query().map_or("/", |p| p.as_str()),
        body: &body,
    };
    let scope = format!("user:{}", user.user_id);
    let guard = match request::claim(&state, &scope, &key, req).await? {
        Claim::Replay(r) => return Ok(r.into_response()),
        Claim::Acquired(g) => g,
    };
    let view = request::release_on_error(&state, &guard, start(Some(&key)).await).await?;
    let resp = request::stored(StatusCode::CREATED.as_u16(), None, &view);
    idempotency::complete(&state.store, &guard, &resp).await?;
    Ok(Reply::Fresh { resp, limits }.into_response())
}

async fn cancel(State(state): State<AppState>, user: AuthUser) -> Result<Response, ApiError> {
    let limits = ratelimit::enforce_for_user(&state, limits::cancel(), &user.user_id).await?;
    let after = subscription::cancel(&state, &Billed::of(&user)?).await?;
    let body = subscription::view(&after);
    Ok((StatusCode::ACCEPTED, limits, axum::Json(body)).into_response())
}

async fn resume(State(state): State<AppState>, user: AuthUser) -> Result<Response, ApiError> {
    let limits = ratelimit::enforce_for_user(&state, limits::resume(), &user.user_id).await?;
    let after = subscription::resume(&state, &Billed::of(&user)?).await?;
    let body = subscription::view(&after);
    Ok((limits, axum::Json(body)).into_response())
}

/// A plan change is applied by Stripe's confirming webhook: 202 with what was asked for.
async fn change_plan(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let limits = ratelimit::enforce_for_user(&state, limits::change(), &user.user_id).await?;
    let key = request::optional_key(&headers)?;
    let body: ChangeBody = json::body(&headers, &body)?;
    let view = change::request(&state, &Billed::of(&user)?, &body.tier, key.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, limits, axum::Json(view)).into_response())
}

async fn portal_session(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let limits = ratelimit::enforce_for_user(&state, limits::portal(), &user.user_id).await?;
    let opened = portal::open(&state, &Billed::of(&user)?).await?;
    let body = json!({ "id": opened.id, "url": opened.url });
    Ok((StatusCode::CREATED, limits, axum::Json(body)).into_response())
}

/// 201 when the link is made, 200 when it was already there.
async fn link_customer(
    State(state): State<AppState>,
    admin: Admin,
    rampart_http::Json(body): rampart_http::Json<LinkBody>,
) -> Result<Response, ApiError> {
    let status = match adopt::link(&state, &admin, &body).await? {
        Linked::Created => StatusCode::CREATED,
        Linked::Already => StatusCode::OK,
    };
    let view = json!({ "user_id": body.user_id, "customer_id": body.customer_id });
    Ok((status, admin.limits, axum::Json(view)).into_response())
}
