//! The worker job that deletes an erased user's Stripe customer: queued by the erasure's Stripe
//! step, retried by the queue on failure, and idempotent: the erasure record remembers when
//! Stripe confirmed, so a second message (a step re-run after a crash) makes no call at all,
//! and a customer already gone at Stripe (404) counts as deleted.

use async_trait::async_trait;
use serde_json::Value as Json;

use super::record::{self, Erasure};
use rampart_http::jobs::{JobError, JobHandler, JobMeta};
use rampart_http::state::AppState;
use rampart_store::{Condition, Update, keys, load};
use rampart_stripe::{Account, StripeClient, StripeError};

/// The message kind.
pub const KIND: &str = "gdpr.stripe_customer_delete";

pub struct DeleteStripeCustomer;

#[async_trait]
impl JobHandler for DeleteStripeCustomer {
    async fn handle(&self, state: &AppState, payload: &Json, _: &JobMeta) -> Result<(), JobError> {
        let id = payload["erasure_id"]
            .as_str()
            .ok_or_else(|| JobError::Malformed("no erasure_id".into()))?;
        let key = keys::erasure(id);
        let Some(e) = load::<Erasure>(&*state.store, &key)
            .await
            .map_err(JobError::failed)?
        else {
            tracing::warn!(
                erasure_id = id,
                "Stripe deletion for an unknown erasure; dropped"
            );
            return Ok(());
        };
        let (Some(customer), None) = (&e.stripe_customer_id, e.stripe_deleted_at) else {
            return Ok(());
        };
        // On behalf of the tombstone: the user is gone, and owner accounts never got here.
        let account = Account {
            user_id: e.tombstone_id.clone(),
            email: None,
        };
        let client = StripeClient::new(state);
        let stripe = client
            .for_account(&account, "gdpr_erasure")
            .await
            .map_err(JobError::failed)?;
        match stripe.delete_customer(customer).await {
            Ok(_) | Err(StripeError::NotFound(_)) => {}
            Err(e) => return Err(JobError::failed(e)),
        }
        let update = Update::new().set(record::STRIPE_DELETED_AT, state.clock.now_secs());
        state
            .store
            .update(&key.0, &key.1, update, Some(Condition::Exists))
            .await
            .map_err(JobError::failed)?;
        tracing::info!(erasure_id = id, "Stripe customer deleted");
        Ok(())
    }
}
