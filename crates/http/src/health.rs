//! `GET /<group>/health`: the status of each dependency a function uses; 503 when one is down.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dep {
    Store,
    Queue,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

async fn check(state: &AppState, dep: Dep) -> bool {
    let fut = async {
        match dep {
            Dep::Store => state.store.health().await.map_err(|e| e.to_string()),
            Dep::Queue => state.queue.health().await.map_err(|e| e.to_string()),
        }
    };
    match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(dependency = ?dep, error = %e, "health check failed");
            false
        }
        Err(_) => {
            tracing::warn!(dependency = ?dep, "health check timed out");
            false
        }
    }
}

pub async fn report(state: &AppState, deps: &[Dep]) -> Response {
    let mut checks = serde_json::Map::new();
    let mut all_ok = true;
    for dep in deps {
        let ok = check(state, *dep).await;
        all_ok &= ok;
        let name = match dep {
            Dep::Store => "store",
            Dep::Queue => "queue",
        };
        checks.insert(name.into(), json!(if ok { "ok" } else { "down" }));
    }
    let status = if all_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "status": if all_ok { "ok" } else { "degraded" }, "checks": checks });
    (status, axum::Json(body)).into_response()
}

/// The health route of one group.
pub fn routes(path: &str, deps: &'static [Dep]) -> Router<AppState> {
    Router::new().route(
        path,
        get(move |State(state): State<AppState>| async move { report(&state, deps).await }),
    )
}
