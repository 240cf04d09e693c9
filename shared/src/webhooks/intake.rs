//! Intake: a verified event is recorded once (conditional put keyed by provider + the event id
//! taken from signed content), a reference is enqueued, and the record is marked queued. A
//! duplicate changes nothing; a record a crash left unqueued is queued by the next delivery of
//! the same event (and by the cron's sweep).

use serde_json::{Value as Json, json};

use crate::error::ApiError;
use crate::jobs::Envelope;
use crate::state::AppState;
use crate::store::{Condition, EXPIRES_AT, GSI1PK, GSI1SK, Item, StoreError, Update, keys};

/// Message kind the worker dispatches webhook events on.
pub const JOB_KIND: &str = "webhook.process";
/// Payloads are kept 180 days (the retention for webhook records).
pub const RETENTION_SECS: i64 = crate::lifetimes::WEBHOOK_EVENT_SECS;

/// What a verified delivery is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// First delivery: recorded and queued.
    New,
    /// Already queued or processed: nothing changed.
    Duplicate,
    /// Recorded earlier but never queued (a crash in between): queued now.
    Requeued,
}

/// The job message for an event: a reference, never the payload.
pub fn job(provider: &str, event_id: &str) -> crate::queue::OutgoingMessage {
    Envelope::message(
        JOB_KIND,
        json!({ "provider": provider, "event_id": event_id }),
    )
}

/// Enqueues the event and marks its record queued (only if it is still `received`).
pub async fn enqueue(state: &AppState, provider: &str, event_id: &str) -> Result<(), ApiError> {
    state.queue.send(job(provider, event_id)).await?;
    let (pk, sk) = keys::webhook_event(provider, event_id);
    let mark = Update::new()
        .set("status", "queued")
        .set("queued_at", state.clock.now_ms());
    match state
        .store
        .update(&pk, &sk, mark, Some(Condition::eq("status", "received")))
        .await
    {
        // Already moved on (the worker was faster than this write): fine.
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn record(state: &AppState, v: Verified) -> Result<Intake, ApiError> {
    let now_ms = state.clock.now_ms();
    let (pk, sk) = keys::webhook_event(&v.provider, &v.event_id);
    let item = Item::new(&pk, &sk)
        .with("type", "webhook_event")
        .with("provider", v.provider.as_str())
        .with("event_id", v.event_id.as_str())
        .with("event_type", v.event_type.as_str())
        .with("status", "received")
        .with("attempts", 0)
        .with("payload", v.payload)
        .with("received_at", now_ms)
        .with(GSI1PK, keys::WEBHOOK_EVENTS_INDEX)
        .with(
            GSI1SK,
            format!("{now_ms:015}#{}#{}", v.provider, v.event_id),
        )
        .with(EXPIRES_AT, now_ms / 1000 + RETENTION_SECS);
    match state.store.put(item, Some(Condition::NotExists)).await {
        Ok(()) => {
            enqueue(state, &v.provider, &v.event_id).await?;
            Ok(Intake::New)
        }
        Err(StoreError::ConditionFailed { existing }) => {
            if existing.as_ref().and_then(|e| e.s("status")) == Some("received") {
                enqueue(state, &v.provider, &v.event_id).await?;
                Ok(Intake::Requeued)
            } else {
                Ok(Intake::Duplicate)
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn json_of(body: &[u8]) -> Option<Json> {
    serde_json::from_slice(body).ok()
}

fn str_at<'a>(j: &'a Json, path: &[&str]) -> Option<&'a str> {
    let mut cur = j;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

fn bad_event() -> ApiError {
    ApiError::BadRequest("The event could not be read.".into())
}

/// Stripe: `id` and `type` of the signed JSON body.
pub fn stripe_event(body: &[u8]) -> Result<(String, String), ApiError> {
    let j = json_of(body).ok_or_else(bad_event)?;
    Ok((
        str_at(&j, &["id"]).ok_or_else(bad_event)?.into(),
        str_at(&j, &["type"]).unwrap_or("unknown").into(),
    ))
}

/// Square: `event_id` and `type`.
pub fn square_event(body: &[u8]) -> Result<(String, String), ApiError> {
    let j = json_of(body).ok_or_else(bad_event)?;
    Ok((
        str_at(&j, &["event_id"]).ok_or_else(bad_event)?.into(),
        str_at(&j, &["type"]).unwrap_or("unknown").into(),
    ))
}

/// DocuSign Connect: `eventId` when present, else envelope + status event + generation time.
pub fn docusign_event(body: &[u8]) -> Result<(String, String), ApiError> {
    let j = json_of(body).ok_or_else(bad_event)?;
    let kind = str_at(&j, &["event"]).unwrap_or("unknown").to_string();
    if let Some(id) = str_at(&j, &["eventId"]) {
        return Ok((id.into(), kind));
    }
    let envelope = str_at(&j, &["data", "envelopeId"]).ok_or_else(bad_event)?;
    let at = str_at(&j, &["generatedDateTime"]).ok_or_else(bad_event)?;
    Ok((format!("{envelope}:{kind}:{at}"), kind))
}

/// Twilio parameters from a delivery body. JSON first: form decoding "succeeds" on a JSON body
/// (as one key with an empty value), so trying it first would lose every JSON callback.
pub fn twilio_params(raw: &[u8]) -> Vec<(String, String)> {
    if let Ok(j) = serde_json::from_slice::<Json>(raw)
        && let Some(o) = j.as_object()
    {
        return o
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect();
    }
    serde_urlencoded::from_bytes(raw).unwrap_or_default()
}

/// Twilio: `MessageSid` + status (status callbacks) or `MessageSid` (inbound messages).
pub fn twilio_event(
    params: &[(String, String)],
    inbound: bool,
) -> Result<(String, String), ApiError> {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let sid = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .ok_or_else(bad_event)?;
    if inbound {
        return Ok((format!("{sid}:inbound"), "message.inbound".into()));
    }
    let status = get("MessageStatus")
        .or_else(|| get("SmsStatus"))
        .ok_or_else(bad_event)?;
    Ok((format!("{sid}:{status}"), "message.status".into()))
}

/// Standard Webhooks: the signed `webhook-id`, and `type` from the body when it is JSON.
pub fn standard_event(webhook_id: &str, body: &[u8]) -> (String, String) {
    let kind = json_of(body)
        .and_then(|j| str_at(&j, &["type"]).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    (webhook_id.to_string(), kind)
}
