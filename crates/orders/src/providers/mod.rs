//! Payment providers behind one trait: create an intent, and read the provider's own payment
//! events as typed status changes. Every provider is reached through `Guarded`, which refuses
//! owner and test accounts (`OWNER_ACCOUNT_IDS`) before the provider is ever called.

pub mod mock;
pub mod stripe;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use rampart_http::state::AppState;

/// The providers an order can be paid with (one list, shared with the events that pay them).
pub use rampart_events::payments::PaymentProvider as Provider;

/// Who pays: the owner check needs the id and the email (owners may be listed by either). The
/// same account the Stripe client checks, so there is one owner rule.
pub use rampart_stripe::Account as Payer;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRequest {
    /// Our payment id: the provider's idempotency key is derived from it, so a retry of the
    /// same payment never makes a second intent.
    pub payment_id: String,
    pub order_id: String,
    pub payer: Payer,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub intent_id: String,
    pub client_secret: String,
}

/// A provider's payment event, read into the status change it means (by the webhook provider
/// that received it: one parser per wire format).
pub use rampart_events::payments::PaymentEvent;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// An owner or test account: no provider call is made (403 `owner-exempt`).
    #[error("owner and test accounts are exempt from payments")]
    OwnerExempt,
    /// Timeout, connection failure, 5xx, rate limit: retry after the given time (503).
    #[error("payment provider unavailable: {why}")]
    Unavailable { why: String, retry_after: Duration },
    /// The provider refused the request (our bug or its configuration): not retryable as is.
    #[error("payment provider refused the request: {0}")]
    Refused(String),
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    fn provider(&self) -> Provider;
    /// Creates (or, for a payment id seen before, returns) the provider's payment intent.
    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError>;
}

/// The only way to reach a provider: refuses owner and test accounts before any call, with an
/// audit event and a critical log line, whoever the caller is.
pub struct Guarded {
    state: AppState,
    inner: Arc<dyn PaymentProvider>,
}

/// The provider `p`, behind the owner check.
pub fn get(state: &AppState, p: Provider) -> Guarded {
    let inner: Arc<dyn PaymentProvider> = match p {
        Provider::Stripe => Arc::new(stripe::Stripe::new(state)),
        Provider::Mock => Arc::new(mock::Mock),
    };
    Guarded {
        state: state.clone(),
        inner,
    }
}

pub use rampart_stripe::is_owner;

impl Guarded {
    /// Refuses owner and test accounts; the refusal is audited and logged as critical (someone
    /// tried to charge an account that must never be charged).
    pub async fn authorize(&self, payer: &Payer, order_id: &str) -> Result<(), ProviderError> {
        if !is_owner(&self.state.settings.owner_account_ids, payer) {
            return Ok(());
        }
        tracing::error!(
            critical = true,
            provider = self.inner.provider().as_str(),
            "payment refused: owner or test account"
        );
        rampart_http::audit::record(
            &self.state,
            "payment_owner_exempt",
            &payer.user_id,
            None,
            json!({ "order_id": order_id, "provider": self.inner.provider().as_str() }),
        )
        .await;
        Err(ProviderError::OwnerExempt)
    }
}

#[async_trait]
impl PaymentProvider for Guarded {
    fn provider(&self) -> Provider {
        self.inner.provider()
    }

    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError> {
        self.authorize(&req.payer, &req.order_id).await?;
        self.inner.create_intent(req).await
    }
}
