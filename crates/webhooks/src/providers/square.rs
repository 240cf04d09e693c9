//! Square: `x-square-hmacsha256-signature`, base64 HMAC-SHA256 of the notification URL exactly
//! as registered (`SQUARE_WEBHOOK_URL`) followed by the body. Events are keyed by `event_id`;
//! `payment.*` events move the payment's status forward.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Delivery, Provider, Rejected, Subject, Verified};
use crate::effects::{Tracked, forward_only};
use crate::event::{Outcome, WebhookEvent};
use crate::payload::{json, rfc3339_secs, str_at, string_at};
use crate::signature::{VerifyError, any, b64_eq, configured, hmac_sha256};
use rampart_events::payments::PaymentStatus;
use rampart_http::jobs::JobError;
use rampart_http::state::AppState;
use rampart_store::keys;

pub struct Square;

/// The `x-square-hmacsha256-signature` Square sends for `body` delivered to `url`.
pub fn sign(key: &str, url: &str, body: &[u8]) -> String {
    STANDARD.encode(mac(key, url, body))
}

fn mac(key: &str, url: &str, body: &[u8]) -> [u8; 32] {
    let mut signed = url.as_bytes().to_vec();
    signed.extend_from_slice(body);
    hmac_sha256(key.as_bytes(), &signed)
}

/// Checks the signature of `body` as delivered to `url`.
pub fn verify_signature(
    header: Option<&str>,
    url: &str,
    body: &[u8],
    keys: &[String],
) -> Result<(), VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    let keys = configured(keys)?;
    any(keys.iter().any(|k| b64_eq(&mac(k, url, body), header)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SquareEvent {
    /// A `payment.*` event: the payment and its status in Square's words.
    Payment {
        id: Option<String>,
        status: Option<String>,
    },
    /// A `refund.*` event: the refunded payment and the refund's status in Square's words.
    Refund {
        payment_id: Option<String>,
        status: Option<String>,
    },
    Other,
}

/// A completed refund moves Square's payment past every status of the payment ladder: no later
/// `payment.updated` brings it back to COMPLETED. Square's orders are not ours (orders are paid
/// with Stripe or the mock), so this is Square's own record only.
const REFUNDED: (&str, i64) = ("refunded", 4);

#[async_trait]
impl Provider for Square {
    type Event = SquareEvent;
    const NAME: &'static str = "square";
    const PATHS: &'static [&'static str] = &["/webhooks/square"];
    const SECRET: &'static str = "SQUARE_WEBHOOK_SIGNATURE_KEY";

    fn verify(&self, d: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected> {
        // Unset in Lambda without PUBLIC_BASE_URL: the function URL's own path.
        let url = match d.settings.square_webhook_url.as_str() {
            "" => format!("{}/webhooks/square", d.public_base),
            registered => registered.to_string(),
        };
        verify_signature(
            d.header("x-square-hmacsha256-signature"),
            &url,
            d.body,
            secrets,
        )?;
        let j = json(d.body).ok_or(Rejected::Malformed)?;
        let id = str_at(&j, &["event_id"]).ok_or(Rejected::Malformed)?;
        let kind = str_at(&j, &["type"]).unwrap_or("unknown");
        let at = str_at(&j, &["created_at"]).and_then(rfc3339_secs);
        Ok(d.verified(Self::NAME, id, kind, at))
    }

    fn subject(&self, ev: &SquareEvent) -> Option<Subject> {
        match ev {
            SquareEvent::Payment { id, .. } => id.as_ref(),
            SquareEvent::Refund { payment_id, .. } => payment_id.as_ref(),
            SquareEvent::Other => None,
        }
        .map(|id| Subject::new("payment", id))
    }

    fn parse(&self, event: &WebhookEvent) -> Result<SquareEvent, JobError> {
        let ev: serde_json::Value = serde_json::from_slice(event.payload())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let kind = str_at(&ev, &["type"]).unwrap_or_default();
        if kind.starts_with("refund.") {
            let refund = &ev["data"]["object"]["refund"];
            return Ok(SquareEvent::Refund {
                payment_id: string_at(refund, &["payment_id"]),
                status: string_at(refund, &["status"]),
            });
        }
        if !kind.starts_with("payment.") {
            return Ok(SquareEvent::Other);
        }
        let payment = &ev["data"]["object"]["payment"];
        Ok(SquareEvent::Payment {
            id: string_at(payment, &["id"]),
            status: string_at(payment, &["status"]),
        })
    }

    async fn apply(
        &self,
        state: &AppState,
        event: &WebhookEvent,
        ev: SquareEvent,
    ) -> Result<Outcome, JobError> {
        if let SquareEvent::Refund {
            payment_id: Some(id),
            status: Some(status),
        } = &ev
        {
            if status != "COMPLETED" {
                return Ok(Outcome::Ignored);
            }
            let key = keys::provider_payment_status(Self::NAME, id);
            let (word, rank) = REFUNDED;
            return forward_only(state, key, Tracked::ProviderPayment, word, rank, event).await;
        }
        let SquareEvent::Payment {
            id: Some(id),
            status: Some(status),
        } = ev
        else {
            return Ok(Outcome::Ignored);
        };
        // The one payment ladder, for a payment no order of ours was made with (Square's own).
        let Some(status) = PaymentStatus::of_provider_word(&status) else {
            return Ok(Outcome::Ignored);
        };
        let key = keys::provider_payment_status(Self::NAME, &id);
        forward_only(
            state,
            key,
            Tracked::ProviderPayment,
            status.as_str(),
            status.rank(),
            event,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    //! Vectors computed with Python's `hmac` following Square's documented algorithm.
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.subscription.updated"}"#;

    #[test]
    fn square_signs_the_registered_url_and_the_body() {
        let url = "https://api.example.com/webhooks/square";
        let sig = Some("9HXeGpfuY+c7eQ6DoENPsu6uMTkSVsPY15UK+O3K5Os=");
        let keys = vec!["sq_signature_key_123".to_string()];
        assert_eq!(verify_signature(sig, url, BODY, &keys), Ok(()));
        assert_eq!(
            Some(sign(&keys[0], url, BODY).as_str()),
            sig,
            "signs as Square does"
        );
        let rotated = vec!["old".to_string(), keys[0].clone()];
        assert_eq!(verify_signature(sig, url, BODY, &rotated), Ok(()));
        let other_url = "https://api.example.com/other";
        let mismatch = Err(VerifyError::Mismatch);
        assert_eq!(verify_signature(sig, other_url, BODY, &keys), mismatch);
        assert_eq!(verify_signature(sig, url, b"{}", &keys), mismatch);
        let missing = verify_signature(None, url, BODY, &keys);
        assert_eq!(missing, Err(VerifyError::Missing));
    }
}
