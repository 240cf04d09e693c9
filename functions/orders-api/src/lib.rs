//! `orders-api`: the eSIM shop's routes (catalog, orders, payments, eSIM activation). Each
//! handler hands the request down to `rampart_orders` once; the flows live there.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of layers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::{get, post};
use rampart_auth::AuthUser;
use rampart_billing::quota;
use rampart_http::AppState;
use rampart_http::health::{self, Dep};
use rampart_http::openapi;
use rampart_http::{self as http, RouterOptions};
use rampart_orders::{self as orders, PostRequest, Reply, read};
use rampart_platform::error::ApiError;
use tower_http::limit::RequestBodyLimitLayer;

/// The function's name: its package, binary and the kebab-case of its SAM logical id.
pub const NAME: &str = "orders-api";

/// Dependencies `/orders/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store, Dep::Queue];
/// Shop bodies are a few fields; refuse anything bigger before reading it.
pub const BODY_LIMIT: usize = 16 * 1024;

type Answer = Result<Reply, ApiError>;

fn post_request<'a>(headers: &'a HeaderMap, uri: &'a Uri, body: &'a Bytes) -> PostRequest<'a> {
    PostRequest {
        headers,
        path: uri.path_and_query().map_or("/", |p| p.as_str()),
        body,
    }
}

async fn catalog(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(read::catalog(&state))
}

async fn create_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Answer {
    orders::create_order(&state, &user, post_request(&headers, &uri, &body)).await
}

async fn list_orders(
    State(state): State<AppState>,
    user: AuthUser,
    RawQuery(q): RawQuery,
) -> Answer {
    read::orders(&state, &user.user_id, q.as_deref()).await
}

async fn get_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Answer {
    read::order(&state, &user.user_id, &id).await
}

async fn create_payment(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Answer {
    orders::create_payment(&state, &user, post_request(&headers, &uri, &body)).await
}

async fn get_payment(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Answer {
    read::payment(&state, &user.user_id, &id).await
}

async fn list_esims(
    State(state): State<AppState>,
    user: AuthUser,
    RawQuery(q): RawQuery,
) -> Answer {
    read::esims(&state, &user.user_id, q.as_deref()).await
}

async fn activate(State(state): State<AppState>, user: AuthUser, Path(id): Path<String>) -> Answer {
    orders::activate(&state, &user, &id).await
}

/// This function's contract, served at `/orders/openapi.json`.
pub fn openapi() -> openapi::Document {
    openapi::document("orders-api", "orders", vec![orders::openapi::openapi()])
}

pub fn routes(state: AppState) -> Router {
    // Every signed-in call to the shop counts against the caller's daily quota;
    // the public catalog and health do not (no identity, or exempt).
    let metered = Router::new()
        .route("/orders", post(create_order).get(list_orders))
        .route("/orders/{id}", get(get_order))
        .route("/payments", post(create_payment))
        .route("/payments/{id}", get(get_payment))
        .route("/esims", get(list_esims))
        .route("/esims/{id}/activate", post(activate));
    let routes = quota::apply(metered, &state)
        .route("/catalog", get(catalog))
        .route_layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .merge(health::routes("/orders/health", DEPENDENCIES))
        .merge(openapi::serve("/orders/openapi.json", openapi))
        .with_state(state);
    http::serves(NAME, routes)
}

pub fn router(state: AppState) -> Router {
    let opts = RouterOptions {
        body_limit: Some(BODY_LIMIT),
    };
    http::finish(routes(state.clone()), &state, opts)
}
