//! Stripe over its HTTP API (`POST /v1/payment_intents`, form-encoded, Bearer secret key), and
//! Stripe's `payment_intent.*` events read into status changes.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as Json;

use super::{Intent, IntentRequest, PaymentEvent, PaymentProvider, Provider, ProviderError};
use crate::orders::records::PaymentStatus;
use crate::secrets::Secrets;

/// The secret key (`sk_live_…`), a key of the one application secret.
pub const API_KEY: &str = "STRIPE_API_KEY";
/// The API version the request and response shapes below follow (Stripe versions its API by
/// date; pinning it keeps a dashboard upgrade from changing them under us).
const API_VERSION: &str = "2024-06-20";
/// The whole call must end well inside the function's 10 s timeout (template.yaml), so a slow
/// Stripe turns into our 503 with Retry-After rather than a killed invocation.
const TIMEOUT: Duration = Duration::from_secs(6);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Retry-After when Stripe does not send one.
const DEFAULT_RETRY: Duration = Duration::from_secs(2);

/// Reached only through `providers::get` (the owner check).
pub(crate) struct Stripe {
    base: String,
    secrets: Arc<Secrets>,
    timeout: Duration,
}

/// One connection pool per process (building a client loads the trust store).
fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| tracing::error!(error = %e, "cannot build the Stripe HTTP client"))
                .ok()
        })
        .as_ref()
}

/// Stripe's `Idempotency-Key` for creating the intent of our payment `payment_id`: Stripe then
/// answers every retry with the intent it made the first time (keys live 24 hours there).
pub fn idempotency_key(payment_id: &str) -> String {
    format!("rampart-intent-{payment_id}")
}

fn unavailable(why: impl Into<String>, retry_after: Duration) -> ProviderError {
    ProviderError::Unavailable {
        why: why.into(),
        retry_after,
    }
}

impl Stripe {
    pub(crate) fn new(state: &crate::state::AppState) -> Self {
        Self {
            base: state
                .settings
                .stripe_api_base
                .trim_end_matches('/')
                .to_string(),
            secrets: state.secrets.clone(),
            timeout: TIMEOUT,
        }
    }
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError> {
        let key = self
            .secrets
            .get(API_KEY)
            .await
            .map_err(|e| unavailable(e.to_string(), DEFAULT_RETRY))?
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                tracing::error!("STRIPE_API_KEY is not set; Stripe payments cannot be created");
                unavailable("STRIPE_API_KEY is not set", Duration::from_secs(60))
            })?;
        let client = client().ok_or_else(|| unavailable("no HTTP client", DEFAULT_RETRY))?;
        let amount = req.amount.to_string();
        let currency = req.currency.to_ascii_lowercase();
        let form = serde_urlencoded::to_string([
            ("amount", amount.as_str()),
            ("currency", currency.as_str()),
            ("metadata[order_id]", req.order_id.as_str()),
            ("metadata[user_id]", req.payer.user_id.as_str()),
            ("metadata[payment_id]", req.payment_id.as_str()),
        ])
        .map_err(|e| ProviderError::Refused(e.to_string()))?;
        let resp = client
            .post(format!("{}/v1/payment_intents", self.base))
            .bearer_auth(key.trim())
            .header("Idempotency-Key", idempotency_key(&req.payment_id))
            .header("Stripe-Version", API_VERSION)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .timeout(self.timeout)
            .body(form)
            .send()
            .await
            // Timeouts and refused connections: the intent may or may not exist at Stripe;
            // the retry carries the same idempotency key, so it cannot become a second one.
            .map_err(|e| unavailable(format!("request failed: {e}"), DEFAULT_RETRY))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_RETRY, |s| Duration::from_secs(s.clamp(1, 60)));
        let body: Json = resp
            .json()
            .await
            .map_err(|e| unavailable(format!("unreadable response: {e}"), DEFAULT_RETRY))?;
        // 409: a concurrent request with the same idempotency key is still running at Stripe.
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 409 {
            return Err(unavailable(format!("HTTP {status}"), retry_after));
        }
        if !status.is_success() {
            // Type and code only: Stripe's message may echo request parameters.
            let err = &body["error"];
            return Err(ProviderError::Refused(format!(
                "HTTP {status} {} {}",
                err["type"].as_str().unwrap_or("unknown"),
                err["code"].as_str().unwrap_or("")
            )));
        }
        match (body["id"].as_str(), body["client_secret"].as_str()) {
            (Some(id), Some(secret)) => Ok(Intent {
                intent_id: id.to_string(),
                client_secret: secret.to_string(),
            }),
            _ => Err(ProviderError::Refused(
                "payment intent without id or client_secret".into(),
            )),
        }
    }

    /// `payment_intent.succeeded|payment_failed|canceled|processing`. The status comes from the
    /// event type: after a failure Stripe puts the intent back to `requires_payment_method`, so
    /// the object's own status would not say it failed.
    fn parse_event(&self, event: &Json) -> Option<PaymentEvent> {
        let status = match event["type"].as_str()? {
            "payment_intent.succeeded" => PaymentStatus::Succeeded,
            "payment_intent.payment_failed" => PaymentStatus::Failed,
            "payment_intent.canceled" => PaymentStatus::Canceled,
            "payment_intent.processing" => PaymentStatus::Processing,
            _ => return None,
        };
        Some(PaymentEvent {
            provider: Provider::Stripe,
            intent_id: event["data"]["object"]["id"].as_str()?.to_string(),
            status,
            event_time: event["created"].as_i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::providers::Payer;

    fn stripe(base: &str) -> Stripe {
        let clock = crate::clock::system();
        let source = crate::secrets::local::LocalSource::from_map(
            [(API_KEY.to_string(), "sk_test_123".to_string())].into(),
        );
        Stripe {
            base: base.into(),
            secrets: Arc::new(Secrets::new(
                Box::new(source),
                clock,
                Duration::from_secs(60),
            )),
            timeout: TIMEOUT,
        }
    }

    fn request() -> IntentRequest {
        IntentRequest {
            payment_id: "pay_1".into(),
            order_id: "ord_1".into(),
            payer: Payer {
                user_id: "u".into(),
                email: None,
            },
            amount: 1500,
            currency: "EUR".into(),
        }
    }

    #[tokio::test]
    async fn a_stripe_that_never_answers_is_unavailable_after_the_timeout() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let s = Stripe {
            timeout: Duration::from_millis(300),
            ..stripe(&format!("http://{addr}"))
        };
        let started = std::time::Instant::now();
        let e = s.create_intent(&request()).await.unwrap_err();
        assert!(matches!(e, ProviderError::Unavailable { .. }), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        hold.abort();
    }

    #[tokio::test]
    async fn nothing_listening_is_unavailable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let e = stripe(&format!("http://{addr}"))
            .create_intent(&request())
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Unavailable { .. }), "{e:?}");
    }

    #[test]
    fn payment_intent_events_map_by_type() {
        let ev = |ty: &str| serde_json::json!({"type": ty, "created": 5, "data": {"object": {"id": "pi_1", "status": "requires_payment_method"}}});
        let s = stripe("http://unused");
        let failed = s.parse_event(&ev("payment_intent.payment_failed")).unwrap();
        assert_eq!(failed.status, PaymentStatus::Failed);
        assert_eq!((failed.intent_id.as_str(), failed.event_time), ("pi_1", 5));
        assert_eq!(
            s.parse_event(&ev("payment_intent.succeeded"))
                .unwrap()
                .status,
            PaymentStatus::Succeeded
        );
        assert!(s.parse_event(&ev("payment_intent.created")).is_none());
        assert!(s.parse_event(&ev("invoice.paid")).is_none());
    }
}
