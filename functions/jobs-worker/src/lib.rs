//! `jobs-worker`: the SQS consumer. Each record is dispatched by its message kind; only the
//! records that failed are reported back (partial batch failures), so SQS redelivers just those
//! and dead-letters them after the queue's maximum receives.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use rampart_events::Effects;
use rampart_http::AppState;
use rampart_http::jobs::{Dispatcher, JobMeta};
use rampart_webhooks::Registry;
use rampart_webhooks::intake::JOB_KIND;
use rampart_webhooks::worker::ProcessWebhook;

/// Where provider events go: Stripe Billing's to billing, payments to orders.
pub fn effects() -> Effects {
    Effects {
        billing: Arc::new(rampart_billing::stripe_events::StripeBilling),
        payments: Arc::new(rampart_orders::PaymentEffects),
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
            rampart_gdpr::job::KIND,
            rampart_gdpr::job::DeleteStripeCustomer,
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
        if let Err(e) = dispatcher.dispatch(state, &body, &meta).await {
            tracing::warn!(message_id = %id, receive_count = meta.receive_count, error = %e, "record failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
