//! Intake: a delivery is verified first (CPU only), then recorded once (a conditional put keyed
//! by provider + the event id taken from signed content) and a reference enqueued: two AWS calls
//! for a new event, one failed conditional put for a duplicate (`Store::put_then_send`; the
//! embedded store, whose queue shares its database, makes the pair one commit). Only deliveries that fail
//! verification (or are malformed) count against the per-IP webhook limit, so a provider's
//! legitimate burst is never answered 429 and its counter item is never a hot key.
//!
//! There is no "mark queued" write: a record stays `received` until the worker claims it, and
//! the intake sent its message right after the put, so `received_at` is when it was queued. A
//! send that fails (or a put whose answer was lost) marks the record not queued
//! (`enqueue_failed_at`) and answers 503; the provider's retry, seconds later, finds that mark in
//! the failed conditional put's answer and queues the event (`heal`). A record left unmarked by
//! a crash is queued by the first delivery (or the cron's sweep) once overdue. The worker's
//! claim keeps the effect single however many messages one event gets.
//!
//! Every line logged here carries the request span's `request_id`, and once the delivery is
//! verified its `provider` and `event_id` (`rampart_http::record_event`).

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::event::{Outcome, Status, WebhookEvent};
use super::heal::{heal, mark_not_queued};
pub use super::providers::Verified;
use super::providers::{AnyProvider, Delivery, Rejected};
use super::signature::VerifyError;
use rampart_http::ClientIp;
use rampart_http::jobs::Envelope;
use rampart_http::ratelimit::{self, KeyPart, Rule, Subject};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_platform::metrics::{self, Metric};
use rampart_store::{Condition, Item, PutThenSend, StoreError};

/// Message kind the worker dispatches webhook events on.
pub const JOB_KIND: &str = "webhook.process";
/// The per-IP rule that failed deliveries count against (`WEBHOOK_RATE_LIMIT`).
pub const RATE_RULE: &str = "webhook_ip";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// First delivery: recorded and queued.
    New,
    /// Already recorded and (as far as anyone can tell) queued or processed: nothing changed.
    Duplicate,
    /// Recorded earlier and known not queued, or overdue (`heal`): queued again now. A second
    /// message is harmless: the worker's claim dedupes.
    Requeued,
    /// Its own time is past `WEBHOOK_STALE_AFTER_SECS` (a provider that signs no timestamp):
    /// recorded as processed with outcome `stale`, never queued, answered 200.
    Stale,
}

impl Intake {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Duplicate => "duplicate",
            Self::Requeued => "requeued",
            Self::Stale => "stale",
        }
    }
}

/// One delivery as the intake route received it.
pub struct Inbound {
    pub headers: HeaderMap,
    pub path_and_query: String,
    pub params: Vec<(String, String)>,
    pub caller: Option<IpAddr>,
    /// The https origin the delivery arrived at under Lambda (the function URL).
    pub origin: Option<String>,
    pub body: Bytes,
}

impl FromRequest<AppState> for Inbound {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let params = RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map(|p| p.iter().map(|(k, v)| (k.into(), v.into())).collect())
            .unwrap_or_default();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let caller = parts.extensions.get::<ClientIp>().map(|c| c.0);
        let origin = rampart_http::lambda::arrived_at(&parts.extensions);
        let headers = std::mem::take(&mut parts.headers);
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            headers,
            path_and_query,
            params,
            caller,
            origin,
            body,
        })
    }
}

/// The answer to an accepted delivery (new or duplicate alike).
pub fn received() -> Response {
    axum::Json(json!({ "received": true })).into_response()
}

/// Verifies, records and enqueues one delivery for `provider`.
pub async fn receive(
    state: &AppState,
    provider: &dyn AnyProvider,
    inbound: Inbound,
) -> Result<Intake, ApiError> {
    tracing::Span::current().record("provider", provider.name());
    // Twilio and Square sign the URL they called: `PUBLIC_BASE_URL` when one is configured (a
    // custom domain in front), else the function URL this delivery arrived at.
    let public_base = match state.settings.public_base_url.as_str() {
        "" => inbound.origin.clone().unwrap_or_default(),
        configured => configured.trim_end_matches('/').to_string(),
    };
    let delivery = Delivery {
        public_base: &public_base,
        headers: &inbound.headers,
        body: &inbound.body,
        path_and_query: &inbound.path_and_query,
        params: &inbound.params,
        settings: &state.settings,
        now: state.clock.now_secs(),
    };
    // The current secret first; the previous one (read then) only when it does not verify.
    let checked = state
        .secrets
        .check_entries(provider.secret(), |secrets| {
            provider.check(&delivery, secrets)
        })
        .await
        .map_err(|e| unavailable("read_secrets", e))?;
    match checked {
        Ok(mut verified) => {
            rampart_http::record_event(provider.name(), &verified.event_id);
            verified.occurred_at = provider.own_time(state, &verified).await?;
            let stale =
                !provider.time_signed() && is_stale(state.clock.now_secs(), verified.occurred_at);
            let outcome = if stale {
                record_stale(state, verified).await?
            } else {
                record(state, verified).await?
            };
            let metric = match outcome {
                Intake::New => Some(Metric::WebhookReceived),
                Intake::Duplicate | Intake::Requeued => Some(Metric::WebhookDuplicate),
                Intake::Stale => None,
            };
            if let Some(metric) = metric {
                metrics::count(metric, &[("provider", provider.name())]);
            }
            tracing::info!(outcome = outcome.as_str(), "webhook accepted");
            Ok(outcome)
        }
        Err(why) => Err(refuse(state, provider.name(), why, inbound.caller).await),
    }
}

/// A refused delivery counts against the caller's per-IP limit (one conditional ADD), then
/// answers 400 (or 429 once over the limit). The log says which check failed; the answer never.
async fn refuse(
    state: &AppState,
    provider: &str,
    why: Rejected,
    caller: Option<IpAddr>,
) -> ApiError {
    let answer = match why {
        Rejected::Signature(VerifyError::NoSecret) => {
            // Our misconfiguration, not the caller's: not counted.
            tracing::error!(provider, "webhook secret not configured");
            return ApiError::Unavailable(format!("{provider} webhook secret not configured"));
        }
        Rejected::Signature(e) => {
            metrics::count(Metric::WebhookInvalidSignature, &[("provider", provider)]);
            tracing::info!(provider, reason = %e, "webhook rejected");
            ApiError::BadRequest("The webhook could not be verified.".into())
        }
        Rejected::Malformed => {
            metrics::count(Metric::WebhookInvalidSignature, &[("provider", provider)]);
            tracing::info!(provider, "webhook event unreadable");
            ApiError::BadRequest("The event could not be read.".into())
        }
        Rejected::UnknownSource => {
            tracing::info!(provider, "webhook for an unknown source");
            ApiError::NotFound("No webhook source of that name is configured.".into())
        }
    };
    let (limit, window) = state.settings.webhook_rate_limit;
    let rule = Rule::new(RATE_RULE, limit, window, &[KeyPart::Ip]);
    let subject = Subject {
        ip: caller,
        ..Subject::default()
    };
    if caller.is_some()
        && let Err(e) = ratelimit::enforce(state, &[rule], &subject).await
    {
        return e;
    }
    answer
}

/// The job message for an event: a reference, never the payload.
pub fn job(provider: &str, event_id: &str) -> rampart_store::queue::OutgoingMessage {
    Envelope::message(
        JOB_KIND,
        json!({ "provider": provider, "event_id": event_id }),
    )
}

/// Sends the event's job message (no store write: the record says `received` until claimed).
pub async fn enqueue(state: &AppState, provider: &str, event_id: &str) -> Result<(), ApiError> {
    state
        .queue
        .send(job(provider, event_id))
        .await
        .map_err(|e| unavailable("enqueue", e))?;
    Ok(())
}

/// A dependency's failure as the 503 the provider retries, naming the step that failed.
pub(crate) fn unavailable(operation: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("{operation}: {e}"))
}

/// Whether an event of `occurred_at` (epoch seconds) is too old to be anything but a replay.
pub fn is_stale(now_secs: i64, occurred_at: Option<i64>) -> bool {
    occurred_at
        .is_some_and(|t| now_secs - t > rampart_platform::lifetimes::WEBHOOK_STALE_AFTER_SECS)
}

/// Records a stale event as processed (`stale`) without its payload, never queued: operators
/// see it, and a repeat of it is a plain duplicate.
pub async fn record_stale(state: &AppState, v: Verified) -> Result<Intake, ApiError> {
    let now_ms = state.clock.now_ms();
    let mut event = WebhookEvent::received(
        v.provider,
        v.event_id,
        v.event_type,
        v.occurred_at,
        Vec::new(),
        now_ms,
    );
    event.status = Status::Processed;
    event.outcome = Some(Outcome::Stale);
    event.payload = None;
    event.payload_redacted = true;
    event.processed_at = Some(now_ms);
    tracing::warn!(
        provider = %event.provider,
        occurred_at = ?event.occurred_at,
        "stale webhook event refused (a replay of an old delivery?)"
    );
    match state
        .store
        .put(Item::from(&event), Some(Condition::NotExists))
        .await
    {
        Ok(()) => Ok(Intake::Stale),
        Err(StoreError::ConditionFailed { .. }) => Ok(Intake::Duplicate),
        Err(e) => Err(e.into()),
    }
}

/// Records a verified event once and enqueues it; a delivery of an event already recorded
/// queues it again when `heal` says so.
pub async fn record(state: &AppState, v: Verified) -> Result<Intake, ApiError> {
    let now_ms = state.clock.now_ms();
    let event = WebhookEvent::received(
        v.provider,
        v.event_id,
        v.event_type,
        v.occurred_at,
        v.payload,
        now_ms,
    );
    let recorded = state
        .store
        .put_then_send(
            Item::from(&event),
            Some(Condition::NotExists),
            &*state.queue,
            job(&event.provider, &event.event_id),
        )
        .await;
    match recorded {
        Ok(()) => Ok(Intake::New),
        Err(PutThenSend::Send(e)) => {
            tracing::warn!(
                operation = "enqueue",
                error = %e,
                "webhook event recorded but not queued; the provider's retry queues it"
            );
            mark_not_queued(state, &event).await;
            Err(unavailable("enqueue", e))
        }
        Err(PutThenSend::Put(StoreError::ConditionFailed { existing })) => {
            // The failed put hands back the stored record: no second read.
            let stored = existing
                .as_deref()
                .and_then(|i| WebhookEvent::try_from(i).ok());
            let Some(why) = stored.as_ref().and_then(|s| heal(s, now_ms)) else {
                return Ok(Intake::Duplicate);
            };
            match enqueue(state, &event.provider, &event.event_id).await {
                Ok(()) => {
                    tracing::info!(
                        reason = why.as_str(),
                        "webhook event queued again by a later delivery"
                    );
                    Ok(Intake::Requeued)
                }
                Err(e) => {
                    tracing::warn!(
                        operation = "enqueue",
                        reason = why.as_str(),
                        error = %e,
                        "webhook event still not queued; the provider's retry queues it"
                    );
                    Err(e)
                }
            }
        }
        Err(PutThenSend::Put(e)) => {
            tracing::warn!(
                operation = "record_event",
                error = %e,
                "webhook event not recorded, or its answer was lost"
            );
            // A lost answer means the put may have landed, unqueued: mark it so the provider's
            // retry queues it. If nothing landed, the mark's condition fails and writes nothing.
            mark_not_queued(state, &event).await;
            Err(match e {
                StoreError::Unavailable { what, .. } => unavailable("record_event", what),
                other => other.into(),
            })
        }
    }
}
