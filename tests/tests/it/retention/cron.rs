//! The cleanup-cron function's events: EventBridge Scheduler's hourly `{"job": "sweep"}` does
//! only the sweep, the daily input and a bare scheduled event run every policy, and
//! `{"dry_run": true}` previews without changing anything.

use serde_json::json;

use super::{audit_event, stored_audit, webhook_event};

#[tokio::test]
async fn the_cron_previews_on_a_dry_run_event_and_sweeps_only_on_the_hourly_one() {
    let fx = super::embedded().await.unwrap();
    let s = &fx.state;
    let event = webhook_event(s, "evt_old", 120).await;
    let login = audit_event(s, "u1", "a1", 400).await;

    let dry = cleanup_cron::handle(s, json!({"dry_run": true}))
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(super::policy(&dry, "webhook_events").due, 1);
    assert!(super::exists(s, &event).await);

    let hourly = cleanup_cron::handle(s, json!({"job": "sweep"}))
        .await
        .unwrap();
    assert!(
        hourly.policies.is_empty(),
        "the hourly run applies no policy"
    );
    assert!(super::exists(s, &event).await);

    let daily = cleanup_cron::handle(s, json!({"job": "retention"}))
        .await
        .unwrap();
    assert_eq!(super::policy(&daily, "webhook_events").deleted, 1);
    assert!(!super::exists(s, &event).await);
    assert_eq!(stored_audit(s, &login).await.unwrap().ip_hash, None);
}

#[test]
fn a_policy_table_the_job_cannot_honour_is_refused_naming_the_row() {
    let settings = rampart_tests::settings(&[(
        "RETENTION_POLICIES",
        r#"[{"name": "sessions", "keep_days": 3}]"#,
    )]);
    let why = rampart_gdpr::retention::policies::effective(&settings, &rampart_local::registry())
        .unwrap_err();
    assert!(why.starts_with("sessions:"), "{why}");
    let malformed = rampart_platform::config::Settings::from_lookup(|k| {
        (k == "RETENTION_POLICIES").then(|| r#"{"name": 1}"#.to_string())
    });
    assert!(
        malformed
            .unwrap_err()
            .to_string()
            .contains("RETENTION_POLICIES")
    );
}
