//! `jobs-worker`: the SQS consumer. Each record is dispatched by its message kind; only the
//! records that failed are reported back (partial batch failures), so SQS redelivers just those
//! and dead-letters them after the queue's maximum receives. Each record is handled inside its
//! own span (message id, receive count, job; a webhook event's provider and id), so its log
//! lines can be followed by any of them.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use rampart::AppState;
use rampart::events::Effects;
use rampart::jobs::{Dispatcher, JobMeta};
use tracing::Instrument;
use rampart::webhooks::Registry;
use rampart::webhooks::intake::JOB_KIND;
use rampart::webhooks::worker::ProcessWebhook;

/// Where provider events go: Stripe Billing's to billing, payments to orders.
pub fn effects() -> Effects {
    Effects {
        billing: Arc::new(rampart::billing::stripe_events::StripeBilling),
        payments: Arc::new(rampart::orders::PaymentEffects),
    }
}

/// The message kinds this worker handles.
pub fn dispatcher() -> Dispatcher {
    dispatcher_with(Registry::builtin_with(effects()))
}

/// The same, applying webhook events with the providers of `registry`.
pub fn dispatcher_with(registry: Registry) -> Dispatcher {
    Dispatcher::new()
        .register(JOB_KIND, ProcessWebhook::new(registry))
        .register(
            rampart::gdpr::job::KIND,
            rampart::gdpr::job::DeleteStripeCustomer,
        )
}

pub async fn handle(
    state: &AppState,
    dispatcher: &Dispatcher,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let Some(id) = record.message_id.clone() else {
            // Without an id SQS cannot be told which record failed; nothing to report.
            tracing::error!("SQS record without a message id");
            continue;
        };
        let meta = JobMeta {
            message_id: id.clone(),
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
        };
        let body = record.body.unwrap_or_default();
        let result = async {
            let r = dispatcher.dispatch(state, &body, &meta).await;
            if let Err(e) = &r {
                rampart::jobs::log_failure(e);
            }
            r
        }
        .instrument(rampart::jobs::message_span(&meta))
        .await;
        if result.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
