//! `POST /_local/payments/{intent_id}/succeed|fail` (local stack only, never in Lambda): the mock
//! provider's "customer completed / failed the payment". It signs a Standard Webhooks event from
//! source `mock` with the dev secret and hands it to the real intake route, so what follows
//! (verify, record, queue, worker) is exactly the production path.

use std::net::{IpAddr, Ipv4Addr};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Request, StatusCode};
use axum::routing::post;
use serde_json::json;
use tower::ServiceExt;

use rampart_http::AppState;
use rampart_http::ClientIp;
use rampart_http::idempotency::request::{self as input, Reply};
use rampart_orders::Provider;
use rampart_platform::crypto::random_id;
use rampart_platform::error::ApiError;
use rampart_webhooks::providers::standard::mock_payment::{self as mock, SECRETS, SOURCE, Settle};
use rampart_webhooks::providers::standard::sign;

/// The route, posting into `intake` (the webhooks function's routes).
pub fn routes(state: AppState, intake: Router) -> Router {
    Router::new()
        .route("/_local/payments/{intent_id}/{action}", post(settle))
        .with_state((state, intake))
}

fn is_mock_intent(id: &str) -> bool {
    id.strip_prefix("pi_mock_")
        .is_some_and(|h| h.len() == 24 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn settle(
    State((state, intake)): State<(AppState, Router)>,
    Path((intent_id, action)): Path<(String, String)>,
) -> Result<Reply, ApiError> {
    let settle = match action.as_str() {
        "succeed" => Settle::Succeed,
        "fail" => Settle::Fail,
        _ => return Err(ApiError::NotFound("No route matches this path.".into())),
    };
    let unknown = || ApiError::NotFound("No such mock payment intent.".into());
    if !is_mock_intent(&intent_id) {
        return Err(unknown());
    }
    if !rampart_orders::events::is_our_intent(&state, Provider::Mock, &intent_id).await? {
        return Err(unknown());
    }
    let prefix = format!("{SOURCE}=");
    let secret = state
        .secrets
        .entries(SECRETS)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .into_iter()
        .find_map(|e| e.strip_prefix(&prefix).map(str::to_string))
        .ok_or_else(|| {
            ApiError::Unavailable(format!(
                "{SECRETS} has no {SOURCE}= entry (delete .data/dev-secrets.json to regenerate it)"
            ))
        })?;
    let now = state.clock.now_secs();
    let msg_id = format!("msg_{}", random_id());
    let body = mock::event(&intent_id, settle, now).to_string();
    let signature = sign(&secret, &msg_id, now, body.as_bytes())
        .ok_or_else(|| ApiError::internal("the mock webhook secret is not whsec_ base64"))?;
    let mut req = Request::post(format!("/webhooks/standard/{SOURCE}"))
        .header("content-type", "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(Body::from(body))
        .map_err(ApiError::internal)?;
    // The intake's per-IP limit needs the client address the shared layers would have set.
    req.extensions_mut()
        .insert(ClientIp(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let resp = match intake.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let intake_status = resp.status();
    tracing::info!(intent_id = %intent_id, event = settle.event_type(), status = intake_status.as_u16(), "local payment event sent");
    let status = if intake_status.is_success() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok(input::json(
        status,
        json!({
            "intent_id": intent_id,
            "type": settle.event_type(),
            "webhook_id": msg_id,
            "intake_status": intake_status.as_u16(),
        }),
    ))
}
