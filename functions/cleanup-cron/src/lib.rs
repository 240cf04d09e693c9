//! `cleanup-cron`: the scheduled retention job. EventBridge rules deliver a "Scheduled Event";
//! EventBridge Scheduler delivers whatever input the schedule names (template.yaml: hourly
//! `{"job": "sweep"}`, daily `{"job": "retention"}`). Any other event is a full run, and
//! `{"dry_run": true}` (a manual invoke) reports per policy what would go, changing nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use rampart_gdpr::retention::{self, Budget, Options, Report};
use rampart_http::AppState;

/// What retention may act on and what the erasures it resumes reach: every domain's
/// registration (a person's data spans them all).
pub fn registry() -> rampart_http::registry::Registry<AppState> {
    rampart_gdpr::registry(vec![
        Arc::new(rampart_auth::owned::AuthData),
        Arc::new(rampart_billing::owned::BillingData),
        Arc::new(rampart_orders::owned::OrdersData),
        Arc::new(rampart_webhooks::owned::WebhookData),
    ])
}

/// Stop this long before the Lambda deadline, so the checkpoint is written and the report
/// returned in time (a store call takes well under a second).
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// The run's options from the event: `dry_run` at the top level or in a scheduled event's
/// `detail`, `"job": "sweep"` for the hourly duties only; anything else is a full real run.
pub fn options(event: &serde_json::Value, budget: Budget) -> Options {
    let flag = |v: &serde_json::Value| v.get("dry_run").and_then(serde_json::Value::as_bool);
    let dry_run = flag(event)
        .or_else(|| event.get("detail").and_then(flag))
        .unwrap_or(false);
    let sweep_only = event.get("job").and_then(serde_json::Value::as_str) == Some("sweep");
    Options {
        dry_run,
        budget,
        sweep_only,
    }
}

/// The budget for an invocation whose deadline is `deadline_ms` (epoch ms, from the Lambda
/// context): the time left, less the margin.
pub fn budget(deadline_ms: u64, now_ms: u64) -> Budget {
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Budget::until(Instant::now() + left.saturating_sub(DEADLINE_MARGIN))
}

pub async fn handle(
    state: &AppState,
    event: serde_json::Value,
) -> Result<Report, rampart_store::StoreError> {
    handle_within(state, event, Budget::unbounded()).await
}

pub async fn handle_within(
    state: &AppState,
    event: serde_json::Value,
    budget: Budget,
) -> Result<Report, rampart_store::StoreError> {
    let opts = options(&event, budget);
    let label = serde_json::from_value::<EventBridgeEvent>(event)
        .ok()
        .map(|e| (e.id.unwrap_or_default(), e.detail_type))
        .unwrap_or_default();
    // Not `event_id`: in the logs that names a provider's webhook event.
    tracing::info!(scheduled_event_id = %label.0, detail_type = %label.1, dry_run = opts.dry_run, "retention run starting");
    let report = retention::run_with(state, &opts).await?;
    tracing::info!(
        expired_items_removed = report.expired_items_removed,
        webhooks_requeued = report.webhooks_requeued,
        erasures_resumed = report.erasures_resumed,
        incomplete = report.incomplete,
        dry_run = report.dry_run,
        "retention run finished"
    );
    Ok(report)
}
