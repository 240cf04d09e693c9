//! The mock provider: intents made up locally, settled by Standard Webhooks events from source
//! `mock` (`payment.succeeded`, `payment.failed`; their format is the webhooks crate's
//! `standard::mock_payment`). The local stack's "customer paid" command signs such an event and
//! posts it through the real intake route.

use async_trait::async_trait;

use super::{Intent, IntentRequest, PaymentProvider, Provider, ProviderError};
use rampart_platform::crypto::sha256_hex;

/// Reached only through `providers::get` (the owner check).
pub(crate) struct Mock;

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
}

#[cfg(test)]
mod tests {
    use super::*;

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
