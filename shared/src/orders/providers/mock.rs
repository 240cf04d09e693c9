//! The mock provider: intents made up locally, settled by Standard Webhooks events from source
//! `mock` (`payment.succeeded`, `payment.failed`). The local stack's "customer paid" command
//! builds and signs such an event here and posts it through the real intake route.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value as Json, json};

use super::{Intent, IntentRequest, PaymentEvent, PaymentProvider, Provider, ProviderError};
use crate::crypto::{hmac_sha256, sha256_hex};
use crate::orders::records::PaymentStatus;

/// The Standard Webhooks source the mock provider's events arrive from.
pub const SOURCE: &str = "mock";
/// The secret holding `source=whsec_…` entries for Standard Webhooks sources.
pub const SECRETS: &str = "STANDARD_WEBHOOK_SECRETS";

/// Reached only through `providers::get` (the owner check).
pub(crate) struct Mock;

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

/// Derived from our payment id, like Stripe's idempotency key: a retry gets the same intent.
fn derived(label: &str, payment_id: &str, len: usize) -> String {
    sha256_hex(format!("{label}:{payment_id}").as_bytes())[..len].to_string()
}

#[async_trait]
impl PaymentProvider for Mock {
    fn provider(&self) -> Provider {
        Provider::Mock
    }

    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError> {
        let intent_id = format!("pi_mock_{}", derived("intent", &req.payment_id, 24));
        let client_secret = format!(
            "{intent_id}_secret_{}",
            derived("secret", &req.payment_id, 24)
        );
        Ok(Intent {
            intent_id,
            client_secret,
        })
    }

    fn parse_event(&self, event: &Json) -> Option<PaymentEvent> {
        let status = match event["type"].as_str()? {
            "payment.succeeded" => PaymentStatus::Succeeded,
            "payment.failed" => PaymentStatus::Failed,
            _ => return None,
        };
        Some(PaymentEvent {
            provider: Provider::Mock,
            intent_id: event["data"]["intent_id"].as_str()?.to_string(),
            status,
            event_time: event["data"]["created"].as_i64()?,
        })
    }
}

/// The event body (Standard Webhooks payload shape: `type`, `timestamp`, `data`).
pub fn event(intent_id: &str, settle: Settle, now_secs: i64) -> Json {
    json!({
        "type": settle.event_type(),
        "timestamp": rfc3339(now_secs),
        "data": { "intent_id": intent_id, "created": now_secs },
    })
}

/// `webhook-signature` for a Standard Webhooks delivery: `v1,` + base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` keyed by the base64 secret after `whsec_` (standardwebhooks.com).
pub fn signature(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD
        .decode(
            secret
                .trim()
                .strip_prefix("whsec_")
                .unwrap_or(secret.trim()),
        )
        .ok()?;
    let mut signed = format!("{msg_id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, &signed))
    ))
}

/// UTC date-time of epoch seconds (RFC 3339), by the days-to-civil conversion of the proleptic
/// Gregorian calendar.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_825_599), "2000-02-29T11:59:59Z");
    }

    #[test]
    fn signed_events_pass_the_intake_verifier_and_parse_back() {
        let secret = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        let body = event("pi_mock_1", Settle::Succeed, 1_767_225_600).to_string();
        let sig = signature(&secret, "msg_1", 1_767_225_600, body.as_bytes()).unwrap();
        crate::webhooks::providers::standard::verify_signature(
            Some("msg_1"),
            Some("1767225600"),
            Some(&sig),
            body.as_bytes(),
            &[secret],
            1_767_225_600,
        )
        .unwrap();
        let ev = Mock
            .parse_event(&serde_json::from_str(&body).unwrap())
            .unwrap();
        assert_eq!(ev.status, PaymentStatus::Succeeded);
        assert_eq!(ev.intent_id, "pi_mock_1");
        assert!(
            Mock.parse_event(&json!({"type": "payment.refunded"}))
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_same_payment_id_gets_the_same_intent() {
        let req = |id: &str| IntentRequest {
            payment_id: id.into(),
            order_id: "o".into(),
            payer: super::super::Payer {
                user_id: "u".into(),
                email: None,
            },
            amount: 1,
            currency: "EUR".into(),
        };
        let a = Mock.create_intent(&req("pay_a")).await.unwrap();
        assert_eq!(a, Mock.create_intent(&req("pay_a")).await.unwrap());
        assert_ne!(a, Mock.create_intent(&req("pay_b")).await.unwrap());
    }
}
