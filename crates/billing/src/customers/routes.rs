//! The customer routes as one router, mounted by `customers-api`: operators manage customers and
//! keys under `/admin/customers` (admin bearer token), instances report usage and fetch their
//! license with `X-API-Key` (each route naming the scope it needs), and anyone may read the
//! license JWKS. Request and response glue only; the flows are in the sibling modules.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use super::admin::{self, CustomerChanges, NewCustomer, RotateOptions, customer_view, key_view};
use super::auth::{ApiCaller, Caller};
use super::scope::Scope;
use super::usage::{self, Outcome, Report, event_view};
use super::{license, limits};
use rampart_auth::operator::Admin;
use rampart_http::ratelimit::{self, RateLimitHeaders, Subject};
use rampart_http::state::AppState;
use rampart_http::{IDEMPOTENT_REPLAYED, Json, Query};
use rampart_platform::error::ApiError;

/// Every body here is a few hundred bytes.
const BODY_LIMIT: usize = 16 * 1024;
/// Instances may cache the JWKS briefly; a new key is announced at least this long before it
/// signs (see the rotation procedure in docs/billing.md).
const JWKS_MAX_AGE_SECS: u32 = 300;

pub fn routes(state: &AppState) -> Router<AppState> {
    let public = Router::new().route("/licenses/jwks.json", get(jwks));
    let public = ratelimit::protect(public, state, vec![limits::unauthenticated()]);
    Router::new()
        .route("/admin/customers", post(create).get(list))
        .route(
            "/admin/customers/{id}",
            get(one).patch(change).delete(remove),
        )
        .route("/admin/customers/{id}/usage", get(customer_usage))
        .route("/admin/customers/{id}/api-keys", post(rotate))
        .route("/admin/customers/{id}/api-keys/{key_id}", delete(revoke))
        .route("/usage", post(report))
        .route("/usage/summary", get(summary))
        .route("/licenses/current", get(current_license))
        .merge(public)
        .route_layer(RequestBodyLimitLayer::new(BODY_LIMIT))
}

async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<NewCustomer>,
) -> Result<Response, ApiError> {
    let (customer, issued) = admin::create(&state, &admin, &req).await?;
    let now = state.clock.now_secs();
    let body = json!({
        "customer": customer_view(&customer),
        "api_key": issued.secret,
        "key": key_view(&issued.key, now),
    });
    let location = HeaderValue::from_str(&format!("/admin/customers/{}", customer.id))
        .map_err(ApiError::internal)?;
    let headers = [(header::LOCATION, location)];
    Ok((StatusCode::CREATED, admin.limits, headers, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let (customers, cursor) = admin::list(&state, &admin, q.cursor, q.limit.unwrap_or(50)).await?;
    let customers: Vec<_> = customers.iter().map(customer_view).collect();
    let body = json!({ "customers": customers, "cursor": cursor });
    Ok((admin.limits, axum::Json(body)).into_response())
}

async fn one(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (customer, keys) = admin::get(&state, &admin, &id).await?;
    let now = state.clock.now_secs();
    let keys: Vec<_> = keys.iter().map(|k| key_view(k, now)).collect();
    let body = json!({ "customer": customer_view(&customer), "api_keys": keys });
    Ok((admin.limits, axum::Json(body)).into_response())
}

/// A JSON body a route may also receive empty (`None` then).
fn optional_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Option<T>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "Send the body as application/json.".into(),
        ));
    }
    rampart_http::json::parse(body).map(Some)
}

async fn change(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // No body is the same mistake as `{}`: nothing to change (422, not a parse error).
    let changes: CustomerChanges = optional_body(&headers, &body)?.unwrap_or_default();
    let customer = admin::update(&state, &admin, &id, &changes).await?;
    let body = json!({ "customer": customer_view(&customer) });
    Ok((admin.limits, axum::Json(body)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let deleted = admin::delete(&state, &admin, &id).await?;
    let body = json!({
        "id": deleted.customer.id,
        "deleted_at": deleted.customer.deleted_at,
        "revoked_key_ids": deleted.revoked_key_ids,
    });
    Ok((admin.limits, axum::Json(body)).into_response())
}

async fn customer_usage(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<SummaryQuery>,
) -> Result<Response, ApiError> {
    let range = usage::range(q.from.as_deref(), q.to.as_deref(), state.clock.now_secs())?;
    let body = admin::usage(&state, &admin, &id, range).await?;
    Ok((admin.limits, axum::Json(body)).into_response())
}

async fn rotate(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // No body: a full-access key without expiry, the old keys kept until revoked.
    let opts: RotateOptions = optional_body(&headers, &body)?.unwrap_or_default();
    let rotated = admin::rotate(&state, &admin, &id, &opts).await?;
    let now = state.clock.now_secs();
    let (ends_at, ending) = rotated.old_keys_end.unzip();
    let body = json!({
        "api_key": rotated.issued.secret,
        "key": key_view(&rotated.issued.key, now),
        "old_keys_expire_at": ends_at,
        "old_key_ids": ending,
    });
    Ok((StatusCode::CREATED, admin.limits, axum::Json(body)).into_response())
}

async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let key = admin::revoke(&state, &admin, &id, &key_id).await?;
    let body = json!({ "key": key_view(&key, state.clock.now_secs()) });
    Ok((admin.limits, axum::Json(body)).into_response())
}

/// Per-customer limits count every key of the customer together.
async fn per_customer(
    state: &AppState,
    rule: ratelimit::Rule,
    caller: &Caller,
) -> Result<RateLimitHeaders, ApiError> {
    let subject = Subject {
        api_key: Some(caller.customer_id.clone()),
        ..Subject::default()
    };
    ratelimit::enforce(state, &[rule], &subject).await
}

async fn report(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Json(r): Json<Report>,
) -> Result<Response, ApiError> {
    caller.require(Scope::UsageWrite)?;
    let limits = per_customer(&state, limits::usage(), &caller).await?;
    Ok(
        match usage::report(&state, &caller.customer_id, &r).await? {
            Outcome::Recorded(e) => {
                (StatusCode::ACCEPTED, limits, axum::Json(event_view(&e))).into_response()
            }
            Outcome::Replayed(e) => {
                let replayed = [(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"))];
                (StatusCode::OK, limits, replayed, axum::Json(event_view(&e))).into_response()
            }
        },
    )
}

/// The range of a usage report, the same for the customer's key and for operators.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn summary(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Query(q): Query<SummaryQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::UsageRead)?;
    let limits = per_customer(&state, limits::usage_summary(), &caller).await?;
    let now = state.clock.now_secs();
    let range = usage::range(q.from.as_deref(), q.to.as_deref(), now)?;
    let body = usage::summary(&state, &caller.customer_id, range).await?;
    Ok((limits, axum::Json(body)).into_response())
}

async fn current_license(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Response, ApiError> {
    caller.require(Scope::LicensesRead)?;
    let limits = per_customer(&state, limits::license(), &caller).await?;
    let issued = license::issue(&state, &caller.customer_id).await?;
    let c = &issued.claims;
    let body = json!({
        "license": issued.token,
        "kid": issued.kid,
        "tier": c.tier,
        "limits": c.limits,
        "issued_at": c.iat,
        "expires_at": c.exp,
    });
    Ok((limits, axum::Json(body)).into_response())
}

async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let body = license::jwks(&state).await?;
    let cache = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECS}"))
        .map_err(ApiError::internal)?;
    Ok(([(header::CACHE_CONTROL, cache)], axum::Json(body)).into_response())
}
