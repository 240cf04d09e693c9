//! The cleanup-cron function's events: EventBridge Scheduler's hourly `{"job": "sweep"}` does
//! only the sweep, the daily input and a bare scheduled event run every policy, and
//! `{"dry_run": true}` previews without changing anything; a policy table the job cannot honour
//! stops startup.

use serde_json::json;

use super::{audit_event, stored_audit, walked_record};

#[tokio::test]
async fn the_cron_previews_on_a_dry_run_event_and_sweeps_only_on_the_hourly_one() {
    let fx = super::embedded().await.unwrap();
    let s = &fx.state;
    let event = walked_record(s, "r_old", 520).await;
    let login = audit_event(s, "u1", "a1", 400).await;

    let dry = cleanup_cron::handle(s, json!({"dry_run": true}))
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(super::policy(&dry, "audit_events").due, 1);
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
    assert_eq!(super::policy(&daily, "audit_events").deleted, 1);
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

/// Received webhook events are the deduplication records of their deliveries: a table removing
/// them while a re-post of the delivery would still be accepted (which it would then apply a
/// second time) stops every process that runs retention at startup, naming the row and the
/// window. Here through the registries cleanup-cron and gdpr-api check at startup.
#[test]
fn a_webhook_policy_inside_the_deduplication_window_stops_startup_naming_the_row_and_the_window() {
    for (rows, name) in [
        (
            r#"[{"name": "webhook_events", "keep_days": 90}]"#,
            "webhook_events",
        ),
        (
            r#"[{"name": "webhook_events", "keep_days": 179}]"#,
            "webhook_events",
        ),
        (
            r#"[{"name": "early_events", "kind": "webhook_event", "keep_days": 30, "action": "delete"}]"#,
            "early_events",
        ),
    ] {
        let settings = rampart_tests::settings(&[("RETENTION_POLICIES", rows)]);
        for registry in [cleanup_cron::registry(), gdpr_api::registry()] {
            let why =
                rampart_gdpr::retention::policies::effective(&settings, &registry).unwrap_err();
            assert!(why.starts_with(&format!("{name}: ")), "{why}");
            assert!(
                why.contains("the webhook deduplication window")
                    && why.contains("window of 179 days")
                    && why.contains("at least 180 days"),
                "{why}"
            );
        }
    }
    let built_in = rampart_tests::settings(&[(
        "RETENTION_POLICIES",
        r#"[{"name": "webhook_events", "keep_days": 180}]"#,
    )]);
    rampart_gdpr::retention::policies::effective(&built_in, &cleanup_cron::registry())
        .expect("the built-in period outlives the window");
}
