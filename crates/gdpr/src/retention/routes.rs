//! The operator routes of retention, as one router (mounted by `webhooks-api`, which serves
//! `/admin/*`): legal holds (`POST`/`GET /admin/legal-holds`, `DELETE /admin/legal-holds/{id}`)
//! and an on-demand run (`POST /admin/retention/run {"dry_run": true}`). Glue only: the flows
//! are in `hold` and the job in `retention`.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use serde::Deserialize;
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use super::hold::{self, NewHold};
use super::{Budget, Options};
use rampart_auth::operator::Admin;
use rampart_http::Json;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

/// A hold is a subject and a sentence.
const BODY_LIMIT: usize = 8 * 1024;
/// An on-demand run answers well inside the functions' 10-second Lambda timeout (template.yaml
/// Globals); a backlog is left to the next run (its checkpoint says where): `incomplete`.
const HTTP_RUN_BUDGET: Duration = Duration::from_secs(5);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/legal-holds", post(place).get(list))
        .route("/admin/legal-holds/{id}", delete(lift))
        .route("/admin/retention/run", post(run))
        .route_layer(RequestBodyLimitLayer::new(BODY_LIMIT))
}

async fn place(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<NewHold>,
) -> Result<Response, ApiError> {
    let hold = hold::place(&state, &admin, &req).await?;
    let location = HeaderValue::from_str(&format!("/admin/legal-holds/{}", hold.id))
        .map_err(ApiError::internal)?;
    let headers = [(header::LOCATION, location)];
    let body = axum::Json(hold.view());
    Ok((StatusCode::CREATED, admin.limits, headers, body).into_response())
}

async fn list(State(state): State<AppState>, admin: Admin) -> Result<Response, ApiError> {
    let holds = hold::list(&state).await?;
    let views: Vec<_> = holds.iter().map(hold::LegalHold::view).collect();
    Ok((admin.limits, axum::Json(json!({ "legal_holds": views }))).into_response())
}

async fn lift(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    hold::lift(&state, &admin, &id).await?;
    Ok((StatusCode::NO_CONTENT, admin.limits, ()).into_response())
}

/// Body of `POST /admin/retention/run`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Count what would go; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

async fn run(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<RunRequest>,
) -> Result<Response, ApiError> {
    let opts = Options {
        dry_run: req.dry_run,
        budget: Budget::for_duration(HTTP_RUN_BUDGET),
        ..Options::default()
    };
    let report = super::run_with(&state, &opts).await?;
    let detail =
        json!({ "by": admin.who, "dry_run": req.dry_run, "incomplete": report.incomplete });
    rampart_http::audit::record(&state, "retention_run", "retention", admin.ip, detail).await;
    Ok((admin.limits, axum::Json(report)).into_response())
}
