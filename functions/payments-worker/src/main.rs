//! Lambda entry point of `payments-worker` (SQS event source with ReportBatchItemFailures).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = rampart::lambda::startup().await?;
    let dispatcher = payments_worker::dispatcher();
    let (state, dispatcher) = (&state, &dispatcher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(
            payments_worker::handle(state, dispatcher, event.payload).await,
        )
    }))
    .await
}
