//! Lambda entry point of `jobs-worker` (SQS event source with ReportBatchItemFailures).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = rampart_http::lambda::startup(rampart_http::lambda::Clients::ALL).await?;
    // The worker mails users (dunning): in production that must be a real mailer.
    if state.settings.is_production() && state.settings.mail_from.is_none() {
        return Err("MAIL_FROM must be set for jobs-worker in production".into());
    }
    let dispatcher = jobs_worker::dispatcher();
    let (state, dispatcher) = (&state, &dispatcher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let deadline = jobs_worker::deadline(event.context.deadline, now_ms);
        let batch = jobs_worker::handle_until(state, dispatcher, event.payload, Some(deadline));
        Ok::<SqsBatchResponse, Error>(batch.await)
    }))
    .await
}
