//! Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 of the full public URL Twilio called followed
//! by the POST form parameters sorted by name (name then value); JSON bodies sign the URL
//! carrying `bodySHA256`, which must equal the body's SHA-256. Status callbacks are keyed by
//! message SID + status and move the SMS's status forward; inbound messages are keyed by SID and
//! apply STOP/START opt-outs in the order of their `DateSent` where Twilio sends one. Twilio
//! signs no time: a message SID's first delivery is remembered (`TwilioSid`) and is the event's
//! own time for the staleness rule. Payloads carry phone numbers and texts: dropped once
//! applied.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value as Json;

use super::{Delivery, Provider, Rejected, Subject, Verified};
use crate::effects::{Tracked, forward_only};
use crate::event::{Outcome, WebhookEvent};
use crate::payload::rfc2822_secs;
use crate::signature::{
    VerifyError, any, b64_eq, configured, constant_time_eq, hmac_sha1, sha256_hex,
};
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;
use rampart_platform::crypto::keyed_hash;
use rampart_platform::error::ApiError;
use rampart_store::record::TYPE;
use rampart_store::{Condition, EXPIRES_AT, Record, StoreError, Update, keys};

pub mod records;

pub use records::{InboundSms, SmsOptOut, TwilioSid, optout};

pub struct Twilio;

const STATUS_PATH: &str = "/webhooks/twilio/status";
const INBOUND_PATH: &str = "/webhooks/twilio/inbound";
const INBOUND: &str = "message.inbound";
const STATUS: &str = "message.status";

/// Form-encoded callbacks. `url`: the full public URL Twilio called, query included.
pub fn verify_form(
    header: Option<&str>,
    url: &str,
    params: &[(String, String)],
    tokens: &[String],
) -> Result<(), VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    let tokens = configured(tokens)?;
    let signed = signed_text(url, params);
    any(tokens
        .iter()
        .any(|t| b64_eq(&hmac_sha1(t.as_bytes(), signed.as_bytes()), header)))
}

/// What Twilio signs: the URL, then every parameter's name and value, sorted by name.
fn signed_text(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut signed = url.to_string();
    for (k, v) in sorted {
        signed.push_str(k);
        signed.push_str(v);
    }
    signed
}

/// The `X-Twilio-Signature` Twilio sends for a form callback to `url` (`rampart-local send`).
pub fn sign_form(token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(hmac_sha1(
        token.as_bytes(),
        signed_text(url, params).as_bytes(),
    ))
}

/// JSON bodies: the URL carries `bodySHA256`, which must match the body.
pub fn verify_json(
    header: Option<&str>,
    url: &str,
    body: &[u8],
    tokens: &[String],
) -> Result<(), VerifyError> {
    let claimed = url
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("bodySHA256="))
        .ok_or(VerifyError::Malformed)?;
    if !constant_time_eq(
        claimed.to_ascii_lowercase().as_bytes(),
        sha256_hex(body).as_bytes(),
    ) {
        return Err(VerifyError::Mismatch);
    }
    verify_form(header, url, &[], tokens)
}

/// Twilio parameters from a delivery body. JSON first: form decoding "succeeds" on a JSON body
/// (as one key with an empty value), so trying it first would lose every JSON callback.
pub fn params(raw: &[u8]) -> Vec<(String, String)> {
    if let Ok(j) = serde_json::from_slice::<Json>(raw)
        && let Some(o) = j.as_object()
    {
        return o
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                (k.clone(), v)
            })
            .collect();
    }
    serde_urlencoded::from_bytes(raw).unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|k| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsEvent {
    Status {
        sid: String,
        status: String,
    },
    Inbound {
        sid: String,
        from: String,
        to: Option<String>,
        body: String,
        /// `DateSent` (epoch seconds), when present.
        sent_at: Option<i64>,
    },
    Other,
}

/// STOP-family and START-family keywords (the carrier-standard opt-out/opt-in words, CTIA
/// Messaging Principles and Best Practices §5.1).
fn opt_keyword(body: &str) -> Option<bool> {
    match body.trim().to_ascii_uppercase().as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(true),
        "START" | "YES" | "UNSTOP" => Some(false),
        _ => None,
    }
}

#[async_trait]
impl Provider for Twilio {
    type Event = SmsEvent;
    const NAME: &'static str = "twilio";
    const PATHS: &'static [&'static str] = &[STATUS_PATH, INBOUND_PATH];
    const SECRET: &'static str = "TWILIO_AUTH_TOKEN";
    const KEEPS_PAYLOAD: bool = false;

    /// The first delivery of the message SID, remembered for `TWILIO_SID_SECS` (one
    /// conditional write: the first time is set only if absent).
    async fn own_time(&self, state: &AppState, v: &Verified) -> Result<Option<i64>, ApiError> {
        let sid = v.event_id.split(':').next().unwrap_or_default();
        let (pk, sk) = keys::twilio_sid(sid);
        let now = state.clock.now_secs();
        let update = Update::new()
            .set(TYPE, TwilioSid::KIND)
            .set_if_absent(TwilioSid::FIRST_SEEN, now)
            .set_if_absent(
                EXPIRES_AT,
                now + rampart_platform::lifetimes::TWILIO_SID_SECS,
            );
        let item = state.store.update(&pk, &sk, update, None).await?;
        Ok(Some(TwilioSid::try_from(&item)?.first_seen))
    }

    fn verify(&self, d: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected> {
        let url = format!("{}{}", d.public_base, d.path_and_query);
        let signature = d.header("x-twilio-signature");
        let is_json = d
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"));
        let params = if is_json {
            verify_json(signature, &url, d.body, secrets)?;
            params(d.body)
        } else {
            let form: Vec<(String, String)> =
                serde_urlencoded::from_bytes(d.body).map_err(|_| Rejected::Malformed)?;
            verify_form(signature, &url, &form, secrets)?;
            form
        };
        let sid = param(&params, &["MessageSid", "SmsSid"]).ok_or(Rejected::Malformed)?;
        let path = d.path_and_query.split('?').next().unwrap_or_default();
        if path == INBOUND_PATH {
            return Ok(d.verified(Self::NAME, format!("{sid}:inbound"), INBOUND, None));
        }
        let status = param(&params, &["MessageStatus", "SmsStatus"]).ok_or(Rejected::Malformed)?;
        Ok(d.verified(Self::NAME, format!("{sid}:{status}"), STATUS, None))
    }

    fn subject(&self, ev: &SmsEvent) -> Option<Subject> {
        match ev {
            SmsEvent::Status { sid, .. } => Some(Subject::new("message", sid)),
            SmsEvent::Inbound { sid, .. } => Some(Subject::new("inbound_message", sid)),
            SmsEvent::Other => None,
        }
    }

    fn parse(&self, event: &WebhookEvent) -> Result<SmsEvent, JobError> {
        let params = params(event.payload());
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let Some(sid) = get("MessageSid").or_else(|| get("SmsSid")) else {
            return Ok(SmsEvent::Other);
        };
        if event.event_type.as_deref() == Some(INBOUND) {
            let sent_at = get("DateSent").as_deref().and_then(rfc2822_secs);
            return Ok(match (get("From"), get("Body")) {
                (Some(from), Some(body)) => SmsEvent::Inbound {
                    sid,
                    from,
                    to: get("To"),
                    body,
                    sent_at,
                },
                _ => SmsEvent::Other,
            });
        }
        let status = get("MessageStatus").or_else(|| get("SmsStatus"));
        Ok(SmsEvent::Status {
            sid,
            status: status.unwrap_or_default(),
        })
    }

    async fn apply(
        &self,
        state: &AppState,
        event: &WebhookEvent,
        ev: SmsEvent,
    ) -> Result<Outcome, JobError> {
        match ev {
            SmsEvent::Other => Ok(Outcome::Ignored),
            SmsEvent::Inbound {
                sid,
                from,
                to,
                body,
                sent_at,
            } => {
                // Every inbound text is kept for the app to read (a put by SID: a re-run writes
                // the same item); a STOP/START keyword also moves the number's opt-out state.
                let opted = opt_keyword(&body);
                let message = InboundSms {
                    sid,
                    from: from.clone(),
                    to,
                    body,
                    sent_at,
                    received_at: event.received_at,
                };
                state
                    .store
                    .put((&message).into(), None)
                    .await
                    .map_err(JobError::failed)?;
                let Some(opted_out) = opted else {
                    return Ok(Outcome::Applied);
                };
                let pepper = state.hash_pepper().await.map_err(JobError::failed)?;
                // Phone numbers are personal data: the state sits under a keyed hash.
                let (pk, sk) = keys::sms_optout(&keyed_hash(&pepper, "phone", &from));
                // The sender's order (`DateSent`) where Twilio states it, else ours; within
                // one second of `DateSent`, the later arrival wins.
                let at = sent_at.map_or(event.received_at, |s| s * 1000);
                let received = event.received_at;
                let update = Update::new()
                    .set(TYPE, SmsOptOut::KIND)
                    .set(optout::OPTED_OUT, opted_out)
                    .set(optout::CHANGED_AT, at)
                    .set(optout::RECEIVED_AT, received);
                let changed = optout::CHANGED_AT;
                let later_arrival = Condition::AttrNotExists(optout::RECEIVED_AT.into())
                    .or(Condition::lt(optout::RECEIVED_AT, received));
                let cond = Condition::AttrNotExists(changed.into())
                    .or(Condition::lt(changed, at))
                    .or(Condition::eq(changed, at).and(later_arrival));
                match state.store.update(&pk, &sk, update, Some(cond)).await {
                    Ok(_) => Ok(Outcome::Applied),
                    Err(StoreError::ConditionFailed { .. }) => Ok(Outcome::Superseded),
                    Err(e) => Err(JobError::failed(e)),
                }
            }
            SmsEvent::Status { sid, status } => {
                let (status, rank) = match status.as_str() {
                    "queued" | "accepted" => ("queued", 1),
                    "sending" | "sent" => ("sent", 2),
                    "delivered" => ("delivered", 3),
                    "undelivered" => ("undelivered", 3),
                    "failed" => ("failed", 3),
                    _ => return Ok(Outcome::Ignored),
                };
                let key = keys::sms_status(&sid);
                forward_only(state, key, Tracked::SmsMessage, status, rank, event).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Vectors computed with Python's `hmac`/`hashlib` following Twilio's documented algorithm.
    use super::*;

    const URL: &str = "https://api.example.com/webhooks/twilio/status";
    const SIG: Option<&str> = Some("bNXUi+JLOTAHX777dIr6RMkux/k=");

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn twilio_signs_the_url_and_the_sorted_form() {
        let params: Vec<(String, String)> = [
            ("MessageSid", "SM123"),
            ("MessageStatus", "delivered"),
            ("To", "+15550001111"),
            ("AccountSid", "AC1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let tokens = s(&["twilio_auth_token_abc"]);
        let mismatch = Err(VerifyError::Mismatch);
        assert_eq!(verify_form(SIG, URL, &params, &tokens), Ok(()));
        let signed = sign_form("twilio_auth_token_abc", URL, &params);
        assert_eq!(Some(signed.as_str()), SIG, "signs as Twilio does");
        let mut tampered = params.clone();
        tampered[1].1 = "failed".into();
        assert_eq!(verify_form(SIG, URL, &tampered, &tokens), mismatch);
        let missing = verify_form(None, URL, &params, &tokens);
        assert_eq!(missing, Err(VerifyError::Missing));
        let wrong = s(&["wrong_token"]);
        assert_eq!(
            verify_form(SIG, URL, &params, &wrong),
            mismatch,
            "wrong token"
        );
        let rotated = s(&["new_token", "twilio_auth_token_abc"]);
        assert_eq!(verify_form(SIG, URL, &params, &rotated), Ok(()), "rotation");
        let inbound = "https://api.example.com/webhooks/twilio/inbound";
        let other_url = verify_form(SIG, inbound, &params, &tokens);
        assert_eq!(other_url, mismatch, "the URL is signed");
    }

    #[test]
    fn twilio_json_bodies_must_match_the_signed_body_hash() {
        let body = br#"{"id":"evt_1","type":"customer.subscription.updated"}"#;
        let tokens = s(&["twilio_auth_token_abc"]);
        let hash = "95308c7cd2a031ee2f3aa1dc69e593206b77aee01be4a78a1c443c5a10699a36";
        let url = format!("{URL}?bodySHA256={hash}");
        let sig = Some("pCYB+bIGTfZIb9MZ8J+OCSKgpEc=");
        assert_eq!(verify_json(sig, &url, body, &tokens), Ok(()));
        let other = verify_json(sig, &url, b"{}", &tokens);
        assert_eq!(other, Err(VerifyError::Mismatch), "the body must match");
    }
}
