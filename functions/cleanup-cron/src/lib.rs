//! `cleanup-cron`: the scheduled retention job. EventBridge rules deliver a "Scheduled Event";
//! EventBridge Scheduler delivers whatever input the schedule names. Both are accepted: the
//! event only labels the run in the log.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use rampart::AppState;
use rampart::retention::{self, Report};

pub async fn handle(
    state: &AppState,
    event: serde_json::Value,
) -> Result<Report, rampart::store::StoreError> {
    let label = serde_json::from_value::<EventBridgeEvent>(event)
        .ok()
        .map(|e| (e.id.unwrap_or_default(), e.detail_type))
        .unwrap_or_default();
    tracing::info!(event_id = %label.0, detail_type = %label.1, "retention run starting");
    let report = retention::run(state).await?;
    tracing::info!(
        expired_items_removed = report.expired_items_removed,
        incomplete = report.incomplete,
        "retention run finished"
    );
    Ok(report)
}
