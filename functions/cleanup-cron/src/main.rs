//! Lambda entry point of `cleanup-cron` (EventBridge Scheduler target).

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = rampart::lambda::startup(rampart::lambda::Clients::NO_MAIL).await?;
    let state = &state;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let report = cleanup_cron::handle(state, event.payload).await?;
            Ok::<_, Error>(report)
        },
    ))
    .await
}
