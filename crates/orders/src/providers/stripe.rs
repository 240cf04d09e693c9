//! Stripe over its HTTP API (`POST /v1/payment_intents`, form-encoded, Bearer secret key), and
//! Stripe's `payment_intent.*` events read into status changes.

use std::time::Duration;

use async_trait::async_trait;

use super::{Intent, IntentRequest, PaymentProvider, Provider, ProviderError};
use rampart_stripe::{PaymentIntentRequest, StripeClient, StripeError};

/// Reached only through `providers::get` (the owner check), and then through the one Stripe
/// client (`rampart_stripe`), whose own owner check, timeouts and same-key retries apply too.
pub(crate) struct Stripe {
    client: StripeClient,
}

/// Stripe's `Idempotency-Key` for creating the intent of our payment `payment_id`: Stripe then
/// answers every retry with the intent it made the first time (keys live 24 hours there).
pub fn idempotency_key(payment_id: &str) -> String {
    format!("rampart-intent-{payment_id}")
}

/// Our provider error for the client's: what can be retried is 503, the rest is refused.
fn provider_error(e: StripeError) -> ProviderError {
    match e {
        StripeError::OwnerExempt => ProviderError::OwnerExempt,
        StripeError::NotConfigured => ProviderError::Unavailable {
            why: "STRIPE_API_KEY is not set".into(),
            retry_after: Duration::from_secs(60),
        },
        StripeError::Unavailable {
            why,
            retry_after_secs,
        } => ProviderError::Unavailable {
            why,
            retry_after: Duration::from_secs(retry_after_secs.max(1)),
        },
        e @ (StripeError::NotFound(_)
        | StripeError::Refused { .. }
        | StripeError::Unreadable(_)) => ProviderError::Refused(e.to_string()),
    }
}

impl Stripe {
    pub(crate) fn new(state: &rampart_http::state::AppState) -> Self {
        Self {
            client: StripeClient::new(state),
        }
    }
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError> {
        let stripe = self
            .client
            .for_account(&req.payer, "payment_intent")
            .await
            .map_err(provider_error)?;
        let metadata = [
            ("order_id", req.order_id.as_str()),
            ("payment_id", req.payment_id.as_str()),
        ];
        let intent = stripe
            .create_payment_intent(
                &PaymentIntentRequest {
                    amount: req.amount,
                    currency: &req.currency,
                    metadata: &metadata,
                },
                &idempotency_key(&req.payment_id),
            )
            .await
            .map_err(provider_error)?;
        match intent.client_secret {
            Some(secret) => Ok(Intent {
                intent_id: intent.id,
                client_secret: secret,
            }),
            None => Err(ProviderError::Refused(
                "payment intent without client_secret".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_client_errors_stay_retryable_and_the_rest_are_refusals() {
        let e = provider_error(StripeError::Unavailable {
            why: "HTTP 502".into(),
            retry_after_secs: 7,
        });
        assert!(
            matches!(e, ProviderError::Unavailable { retry_after, .. } if retry_after == Duration::from_secs(7))
        );
        assert!(matches!(
            provider_error(StripeError::NotConfigured),
            ProviderError::Unavailable { .. }
        ));
        assert!(matches!(
            provider_error(StripeError::OwnerExempt),
            ProviderError::OwnerExempt
        ));
        assert!(matches!(
            provider_error(StripeError::NotFound("price".into())),
            ProviderError::Refused(_)
        ));
    }
}
