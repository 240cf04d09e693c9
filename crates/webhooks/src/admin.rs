//! What operators see of webhook events: listing newest first with filters, one event, replay.

use base64::Engine;
use serde_json::{Value as Json, json};

use super::event::{Outcome, Status, WebhookEvent};
use super::paging::{self, Step};
use super::providers::Registry;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Query, keys, load};

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub provider: Option<String>,
    pub status: Option<String>,
}

impl Filter {
    /// A provider filter must name a registered provider (`stripe`, `standard:<source>`): a
    /// typo is a client error, not "no events".
    pub fn check_provider(&self, registry: &Registry) -> Result<(), ApiError> {
        match self.provider.as_deref() {
            Some(p) if registry.get(p).is_none() => {
                let known: Vec<&str> = registry.iter().map(|p| p.name()).collect();
                Err(ApiError::BadRequest(format!(
                    "Query parameter `provider` must be one of {}, got {p:?}.",
                    known.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }
}

pub fn view(e: &WebhookEvent, payload: bool) -> Json {
    let mut v = json!({
        "provider": e.provider,
        "event_id": e.event_id,
        "event_type": e.event_type,
        "status": e.status.as_str(),
        "outcome": e.outcome.map(Outcome::as_str),
        "attempts": e.attempts,
        "received_at": e.received_at,
        "queued_at": e.queued_at,
        "processed_at": e.processed_at,
        "last_error": e.last_error,
        "outcome_reason": e.outcome_reason,
    });
    if payload {
        let raw = e.payload();
        v["payload"] = match std::str::from_utf8(raw) {
            Ok(text) => Json::String(text.to_string()),
            Err(_) => Json::String(base64::engine::general_purpose::STANDARD.encode(raw)),
        };
    }
    v
}

/// Up to `limit` matching events, newest first, and the cursor to continue after the last one
/// returned (never past an event that matched but did not fit).
pub async fn list(
    state: &AppState,
    filter: &Filter,
    cursor: Option<String>,
    limit: usize,
) -> Result<(Vec<Json>, Option<String>), ApiError> {
    let limit = limit.clamp(1, 200);
    // An unknown filter value is a client error, not "no event has that status".
    if let Some(s) = filter
        .status
        .as_deref()
        .filter(|s| Status::parse(s).is_none())
    {
        let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::BadRequest(format!(
            "Query parameter `status` must be one of {}, got {s:?}.",
            known.join(", ")
        )));
    }
    let index = || Query::index(keys::WEBHOOK_EVENTS_INDEX).descending();
    let page = paging::filtered(state, index, cursor, limit, |i| {
        let Ok(e) = WebhookEvent::try_from(i) else {
            return Step::Skip;
        };
        let keep = filter.provider.as_deref().is_none_or(|p| e.provider == p)
            && filter
                .status
                .as_deref()
                .is_none_or(|s| e.status.as_str() == s);
        if keep {
            Step::Keep(view(&e, false))
        } else {
            Step::Skip
        }
    })
    .await?;
    // Newest first: the end of the index is the end of the list.
    Ok((page.items, page.cursor.filter(|_| page.has_more)))
}

pub async fn get_event(
    state: &AppState,
    provider: &str,
    event_id: &str,
) -> Result<WebhookEvent, ApiError> {
    load(&*state.store, &keys::webhook_event(provider, event_id))
        .await?
        .ok_or_else(|| ApiError::NotFound("No such event.".into()))
}

/// Re-enqueues an event. The worker's claim keeps the effect exactly once: a processed event is
/// not applied again; a failed one is retried. Returns the event's status at replay time.
pub async fn replay(state: &AppState, provider: &str, event_id: &str) -> Result<Status, ApiError> {
    rampart_http::record_event(provider, event_id);
    let event = get_event(state, provider, event_id).await?;
    super::intake::enqueue(state, provider, event_id).await?;
    tracing::info!("webhook event replayed by an operator");
    Ok(event.status)
}
