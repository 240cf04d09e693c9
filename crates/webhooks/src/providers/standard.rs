//! Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<b64> ...`, HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed by the
//! base64 secret after `whsec_`. One secret (or several, during a rotation) per source:
//! `STANDARD_WEBHOOK_SECRETS=source=whsec_...,source=whsec_...`. Events are keyed by the signed
//! `webhook-id` under `standard:<source>`. Source `mock` carries the mock payment provider's
//! events (`mock_payment`: their one format), handed to orders as payment events; other sources
//! are recorded and marked ignored.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rampart_events::PaymentEvents;

use super::{Delivery, Provider, Rejected, Subject, Verified};
use crate::event::{Outcome, WebhookEvent};
use crate::payload::{json, str_at};
use crate::signature::{
    TIMESTAMP_TOLERANCE_SECS, VerifyError, b64_eq, configured, fresh, hmac_sha256,
};
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;

pub struct StandardWebhooks {
    /// Where source `mock`'s payment events go.
    pub payments: Arc<dyn PaymentEvents>,
}

/// The `webhook-signature` a sender puts on `body` (`v1,<base64>`); `None` when the secret is not
/// `whsec_` + base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = key(secret)?;
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac(&key, id, timestamp, body))
    ))
}

fn key(secret: &str) -> Option<Vec<u8>> {
    let s = secret.trim();
    STANDARD.decode(s.strip_prefix("whsec_").unwrap_or(s)).ok()
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    hmac_sha256(key, &signed)
}

/// Checks a delivery; returns the signed timestamp. `secrets`: `whsec_<base64>` values.
pub fn verify_signature(
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
) -> Result<i64, VerifyError> {
    let (Some(id), Some(ts), Some(sig)) = (id, timestamp, signature) else {
        return Err(VerifyError::Missing);
    };
    let secrets = configured(secrets)?;
    let ts: i64 = ts.trim().parse().map_err(|_| VerifyError::Malformed)?;
    fresh(ts, now, TIMESTAMP_TOLERANCE_SECS)?;
    let keys: Vec<Vec<u8>> = secrets.iter().filter_map(|s| key(s)).collect();
    if keys.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let given: Vec<&str> = sig
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .collect();
    if given.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let ok = keys.iter().any(|k| {
        let mac = mac(k, id, ts, body);
        given.iter().any(|g| b64_eq(&mac, g))
    });
    if ok {
        Ok(ts)
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[async_trait]
impl Provider for StandardWebhooks {
    type Event = Option<rampart_events::payments::PaymentEvent>;
    const NAME: &'static str = "standard";
    const PATHS: &'static [&'static str] = &["/webhooks/standard/{source}"];
    const SECRET: &'static str = "STANDARD_WEBHOOK_SECRETS";
    const TIME_SIGNED: bool = true;

    fn verify(&self, d: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected> {
        let source = d.param("source").unwrap_or_default();
        // `source=whsec_...` entries; several for one source are a rotation.
        let mine: Vec<String> = secrets
            .iter()
            .filter_map(|e| e.split_once('=').filter(|(s, _)| *s == source))
            .map(|(_, v)| v.to_string())
            .collect();
        if mine.is_empty() {
            // Like an unknown route: a 404, counted against the caller's
            // per-IP limit like any refused delivery, so probing for sources is bounded.
            return Err(Rejected::UnknownSource);
        }
        let id = d.header("webhook-id");
        let ts = verify_signature(
            id,
            d.header("webhook-timestamp"),
            d.header("webhook-signature"),
            d.body,
            &mine,
            d.now,
        )?;
        let kind = json(d.body);
        let kind = kind.as_ref().and_then(|j| str_at(j, &["type"]));
        Ok(d.verified(
            format!("{}:{source}", Self::NAME),
            id.unwrap_or_default(),
            kind.unwrap_or("unknown"),
            Some(ts),
        ))
    }

    fn subject(&self, ev: &Self::Event) -> Option<Subject> {
        ev.as_ref().map(|p| Subject::new("payment", &p.intent_id))
    }

    fn parse(
        &self,
        event: &WebhookEvent,
    ) -> Result<Option<rampart_events::payments::PaymentEvent>, JobError> {
        if event.provider != format!("{}:{}", Self::NAME, mock_payment::SOURCE) {
            return Ok(None);
        }
        let j: serde_json::Value = serde_json::from_slice(event.payload())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        Ok(mock_payment::parse(&j))
    }

    async fn apply(
        &self,
        state: &AppState,
        event: &WebhookEvent,
        ev: Option<rampart_events::payments::PaymentEvent>,
    ) -> Result<Outcome, JobError> {
        match ev {
            Some(ev) => crate::effects::payment(state, &*self.payments, event, ev).await,
            None => Ok(Outcome::Ignored),
        }
    }
}

/// The mock payment provider's events, as they arrive from Standard Webhooks source `mock`:
/// `payment.succeeded|failed` with the intent and the event's time. The local stack's "customer
/// paid" command and the tests build them here; the worker reads them here: one format.
pub mod mock_payment {
    use rampart_events::payments::{PaymentEvent, PaymentProvider, PaymentStatus};
    use serde_json::{Value as Json, json};

    /// The Standard Webhooks source the mock provider's events arrive from.
    pub const SOURCE: &str = "mock";
    /// The secret holding `source=whsec_…` entries for Standard Webhooks sources.
    pub const SECRETS: &str = "STANDARD_WEBHOOK_SECRETS";

    /// How the simulated customer's payment ends.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Settle {
        Succeed,
        Fail,
    }

    impl Settle {
        pub fn event_type(self) -> &'static str {
            match self {
                Settle::Succeed => "payment.succeeded",
                Settle::Fail => "payment.failed",
            }
        }
    }

    /// The event body (Standard Webhooks payload shape: `type`, `timestamp`, `data`).
    pub fn event(intent_id: &str, settle: Settle, now_secs: i64) -> Json {
        json!({
            "type": settle.event_type(),
            "timestamp": rampart_platform::clock::rfc3339(now_secs),
            "data": { "intent_id": intent_id, "created": now_secs },
        })
    }

    /// The payment event a body means, `None` for another event type.
    pub fn parse(event: &Json) -> Option<PaymentEvent> {
        let status = match event["type"].as_str()? {
            "payment.succeeded" => PaymentStatus::Succeeded,
            "payment.failed" => PaymentStatus::Failed,
            _ => return None,
        };
        Some(PaymentEvent {
            provider: PaymentProvider::Mock,
            intent_id: event["data"]["intent_id"].as_str()?.to_string(),
            status,
            event_time: event["data"]["created"].as_i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    //! Vectors computed with Python's `hmac` following the Standard Webhooks specification.
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.subscription.updated"}"#;
    const T: i64 = 1_767_225_600;
    const SIG: &str = "v1,YSX70sQmEU8n56MJ9VyD2VY4Mk2GxS+qpOhWZHhqwmY=";
    const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const OTHER: &str = "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ=";

    fn check(
        id: &str,
        sig: &str,
        body: &[u8],
        secrets: &[&str],
        now: i64,
    ) -> Result<i64, VerifyError> {
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let ts = T.to_string();
        verify_signature(Some(id), Some(&ts), Some(sig), body, &secrets, now)
    }

    #[test]
    fn signed_mock_payments_pass_the_verifier_and_parse_back() {
        use super::mock_payment::{Settle, event, parse};
        let body = event("pi_mock_1", Settle::Succeed, T).to_string();
        let sig = sign(SECRET, "msg_1", T, body.as_bytes()).unwrap();
        let secrets = vec![SECRET.to_string()];
        let ts = T.to_string();
        let at = verify_signature(
            Some("msg_1"),
            Some(&ts),
            Some(&sig),
            body.as_bytes(),
            &secrets,
            T,
        );
        assert_eq!(at, Ok(T));
        let ev = parse(&serde_json::from_str(&body).unwrap()).unwrap();
        assert_eq!(ev.status.as_str(), "succeeded");
        assert_eq!(ev.intent_id, "pi_mock_1");
        assert!(parse(&serde_json::json!({"type": "payment.refunded"})).is_none());
    }

    #[test]
    fn standard_webhooks_sign_id_timestamp_and_body() {
        assert_eq!(check("msg_2Lx", SIG, BODY, &[SECRET], T), Ok(T));
        let signed = sign(SECRET, "msg_2Lx", T, BODY);
        assert_eq!(signed.as_deref(), Some(SIG), "signs as the spec says");
        let multi = format!("v1,AAAA {SIG}");
        assert_eq!(check("msg_2Lx", &multi, BODY, &[SECRET], T + 299), Ok(T));
        let mismatch = Err(VerifyError::Mismatch);
        assert_eq!(check("msg_other", SIG, BODY, &[SECRET], T), mismatch);
        let stale = Err(VerifyError::Stale);
        assert_eq!(check("msg_2Lx", SIG, BODY, &[SECRET], T + 301), stale);
        assert_eq!(check("msg_2Lx", SIG, BODY, &[SECRET], T - 301), stale);
        let secret = vec![SECRET.to_string()];
        let no_ts = verify_signature(Some("msg_2Lx"), None, Some(SIG), BODY, &secret, T);
        assert_eq!(no_ts, Err(VerifyError::Missing));
        let rotated = check("msg_2Lx", SIG, BODY, &[OTHER, SECRET], T);
        assert_eq!(rotated, Ok(T), "rotation");
        assert_eq!(check("msg_2Lx", SIG, BODY, &[OTHER], T), mismatch);
        assert_eq!(
            check("msg_2Lx", SIG, b"{}", &[SECRET], T),
            mismatch,
            "tampered"
        );
    }
}
