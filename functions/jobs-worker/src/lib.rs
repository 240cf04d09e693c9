//! `jobs-worker`: the SQS consumer. Each record is dispatched by its message kind; only the
//! records that failed are reported back (partial batch failures), so SQS redelivers just those
//! and dead-letters them after the queue's maximum receives. A batch never outlasts the
//! invocation: records not started before the deadline (less one record's budget) are reported
//! as failures, untouched, instead of being cut off by the timeout with nothing reported. Each
//! record is handled inside its own span (message id, receive count, job; a webhook event's
//! provider and id), so its log lines can be followed by any of them.

use std::time::{Duration, Instant};

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use rampart_events::Effects;
use rampart_http::AppState;
use rampart_http::jobs::{Dispatcher, JobMeta, log_failure, message_span};
use rampart_webhooks::Registry;
use rampart_webhooks::intake::JOB_KIND;
use rampart_webhooks::worker::ProcessWebhook;
use tracing::Instrument;

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

/// The longest one record may take: a Stripe call ends within 8 s (`rampart_stripe`'s call
/// deadline) and the claim and result writes take well under a second each. A record is only
/// started while at least this much time is left.
pub const RECORD_BUDGET: Duration = Duration::from_secs(10);
/// Kept free at the very end for answering the runtime: a record still running this close to
/// the deadline is abandoned and reported as failed (its writes are conditional, so a later
/// delivery finishes it like after a crash).
pub const ANSWER_MARGIN: Duration = Duration::from_millis(500);

pub async fn handle(
    state: &AppState,
    dispatcher: &Dispatcher,
    event: SqsEvent,
) -> SqsBatchResponse {
    handle_until(state, dispatcher, event, None).await
}

/// The deadline of an invocation whose Lambda context says `deadline_ms` (epoch milliseconds),
/// as an `Instant` on this process's clock.
pub fn deadline(deadline_ms: u64, now_ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// Runs the batch's records one after another until `deadline` (the Lambda invocation's) is
/// near: a record is started only while [`RECORD_BUDGET`] is left, and each runs at most until
/// [`ANSWER_MARGIN`] before the deadline. Every record not run to success is reported back, so
/// SQS redelivers exactly those (each receive counts toward the dead-letter queue either way,
/// as it would after a timeout, but a timeout would redeliver the successes too).
pub async fn handle_until(
    state: &AppState,
    dispatcher: &Dispatcher,
    event: SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut deferred = 0usize;
    for record in event.records {
        let Some(id) = record.message_id.clone() else {
            // Without an id SQS cannot be told which record failed; nothing to report.
            tracing::error!("SQS record without a message id");
            continue;
        };
        let fail = |response: &mut SqsBatchResponse| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.clone();
            response.batch_item_failures.push(failure);
        };
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l < RECORD_BUDGET) {
            deferred += 1;
            fail(&mut response);
            continue;
        }
        let meta = JobMeta {
            message_id: id.clone(),
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
        };
        let body = record.body.unwrap_or_default();
        let span = message_span(&meta);
        let handled = async {
            let run = dispatcher.dispatch(state, &body, &meta);
            let outcome = match left {
                Some(l) => match tokio::time::timeout(l.saturating_sub(ANSWER_MARGIN), run).await {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::warn!(
                            "record abandoned at the invocation's deadline; the queue will retry it"
                        );
                        return false;
                    }
                },
                None => run.await,
            };
            if let Err(e) = &outcome {
                log_failure(e);
            }
            outcome.is_ok()
        };
        if !handled.instrument(span).await {
            fail(&mut response);
        }
    }
    if deferred > 0 {
        tracing::warn!(
            deferred,
            "records left for redelivery: the invocation's deadline was near"
        );
    }
    response
}
