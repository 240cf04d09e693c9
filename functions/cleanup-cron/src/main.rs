//! Lambda entry point of `cleanup-cron` (EventBridge Scheduler target).

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = rampart_http::lambda::startup(rampart_http::lambda::Clients::NO_MAIL)
        .await?
        .with_registry(cleanup_cron::registry());
    // A policy table the job could not honour stops the function at startup, naming the row.
    rampart_gdpr::retention::policies::effective(&state.settings, &state.registry)
        .map_err(|why| format!("RETENTION_POLICIES {why}"))?;
    let state = &state;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let budget = cleanup_cron::budget(event.context.deadline, now_ms);
            let report = cleanup_cron::handle_within(state, event.payload, budget).await?;
            Ok::<_, Error>(report)
        },
    ))
    .await
}
