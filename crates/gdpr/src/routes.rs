//! The GDPR routes as one router, mounted by `gdpr-api`: the signed-in user's export and
//! erasure under `/account`, and the operator's view of an erasure under `/admin/erasures`.
//! Request and response glue only; the flows are in the sibling modules.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::erasure::{self, Confirm};
use super::export;
use super::record::{Erasure, Status};
use rampart_auth::AuthUser;
use rampart_auth::operator::Admin;
use rampart_http::ratelimit::{self, KeyPart, Rule};
use rampart_http::state::AppState;
use rampart_http::{ClientIp, Json};
use rampart_platform::error::ApiError;
use rampart_store::{keys, load};

const HOUR: Duration = Duration::from_secs(3600);

/// An export reads everything the user has and may call Stripe: 10 an hour per user is plenty
/// for a person and bounds the cost of a stolen session (OWASP API Security Top 10, API4:2023
/// unrestricted resource consumption).
pub fn export_limit() -> Rule {
    Rule::new("gdpr_export_user", 10, HOUR, &[KeyPart::User])
}

/// One accepted deletion an hour per user. Only a confirmed request (the word and the password
/// or code checked) spends it: a typo must not lock the owner out of erasure for an hour, and
/// wrong passwords already count against the sign-in throttle.
pub fn delete_limit() -> Rule {
    Rule::new("gdpr_delete_user", 1, HOUR, &[KeyPart::User])
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/export", get(export_route))
        .route("/account/delete", post(delete_route))
        .route("/admin/erasures/{id}", get(admin_erasure))
}

async fn export_route(State(state): State<AppState>, user: AuthUser) -> Result<Response, ApiError> {
    let limits = ratelimit::enforce_for_user(&state, export_limit(), &user.user_id).await?;
    let doc = export::build(&state, user.user).await?;
    // `YYYY-MM-DD` of today (UTC): the date part of the RFC 3339 time.
    let day = rampart_platform::clock::rfc3339(state.clock.now_secs())[..10].to_string();
    let disposition = format!("attachment; filename=\"rampart-export-{day}.json\"");
    let headers = [
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
        ),
        // Personal data: never kept by a shared cache or the browser's.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((limits, headers, axum::Json(doc)).into_response())
}

fn accepted(e: &Erasure) -> Response {
    let body = json!({ "erasure_id": e.id, "status": e.status.as_str() });
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

async fn delete_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
    ip: Result<ClientIp, ApiError>,
    Json(body): Json<Confirm>,
) -> Result<Response, ApiError> {
    let user = match user {
        Ok(u) => u,
        Err(ApiError::Unauthorized(why)) => {
            // The same request again (its answer was lost): its token names a user whose
            // erasure began, so it gets that erasure's answer. Nothing else is reachable.
            return match repeated(&state, &headers).await? {
                Some(e) => Ok(accepted(&e)),
                None => Err(ApiError::Unauthorized(why)),
            };
        }
        Err(other) => return Err(other),
    };
    erasure::confirm(&state, &user.user, &body, ip.ok().map(|c| c.0)).await?;
    let limits = ratelimit::enforce_for_user(&state, delete_limit(), &user.user_id).await?;
    let e = erasure::start(&state, &user.user).await?;
    let mut resp = accepted(&e);
    limits.write(resp.headers_mut());
    Ok(resp)
}

/// The erasure of the user a (now dead) access token names, if one began.
async fn repeated(state: &AppState, headers: &HeaderMap) -> Result<Option<Erasure>, ApiError> {
    let names = rampart_auth::cookies::names(&state.settings);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| rampart_auth::cookies::get(headers, names.access));
    let Some(token) = token else {
        return Ok(None);
    };
    let Ok((user_id, _)) = rampart_auth::extract::verify_access_token(state, token.trim()).await
    else {
        return Ok(None);
    };
    match erasure::of_user(state, &user_id).await? {
        // A retry finishes what a crash left (the steps are idempotent).
        Some(e) if e.status != Status::Erased => erasure::resume(state, &e.id).await.map(Some),
        other => Ok(other),
    }
}

async fn admin_erasure(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let found: Option<Erasure> = if id.len() <= 64 {
        load(&*state.store, &keys::erasure(&id)).await?
    } else {
        None
    };
    let e = found.ok_or_else(|| ApiError::NotFound("No such erasure.".into()))?;
    Ok((admin.limits, axum::Json(erasure::view(&e))).into_response())
}
