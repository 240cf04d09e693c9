//! `cleanup-cron`: the EventBridge-scheduled retention job.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use rampart::AppState;
use rampart::retention::{self, Report};

pub async fn handle(state: &AppState, event: EventBridgeEvent) -> Result<Report, rampart::store::StoreError> {
    tracing::info!(
        event_id = event.id.as_deref().unwrap_or(""),
        detail_type = %event.detail_type,
        "retention run starting"
    );
    let report = retention::run(state).await?;
    tracing::info!(
        expired_items_removed = report.expired_items_removed,
        incomplete = report.incomplete,
        "retention run finished"
    );
    Ok(report)
}
