//! Policies applied by the job on both backends: what is past its period goes (or loses its IP
//! hash), what is inside stays, a dry run changes nothing and counts exactly what the real run
//! then removes, and a run cut short by its budget resumes to the same end state.

use rampart_gdpr::retention::{self, Budget, Options};

use super::{DAY_MS, audit_event, exists, policy, stored_audit, walked_record};
use rampart_tests::StateFx as Fx;

rampart_tests::on_backends!(
    crate::retention::embedded, crate::retention::aws;
    items_past_their_period_go_and_items_inside_stay,
    a_dry_run_deletes_nothing_and_counts_what_the_real_run_removes,
    a_run_stopped_at_its_budget_resumes_to_the_same_end_state,
    a_second_run_finds_nothing_left_to_do,
);

async fn items_past_their_period_go_and_items_inside_stay(fx: Fx) {
    let s = &fx.state;
    let old = walked_record(s, "r_old", 600).await;
    let young = walked_record(s, "r_young", 450).await;
    let old_login = audit_event(s, "u1", "a_old", 400).await;
    let young_login = audit_event(s, "u1", "a_young", 300).await;

    let report = retention::run(s).await.unwrap();

    assert!(!exists(s, &old).await, "600 days > the 500-day policy");
    assert!(exists(s, &young).await, "450 days is inside the period");
    let walked = policy(&report, "audit_events");
    assert_eq!((walked.due, walked.deleted), (1, 1));
    // The audit event outlives its IP hash: a year for the hash, 500 days for the event.
    let aged = stored_audit(s, &old_login).await.expect("still kept");
    assert_eq!(aged.ip_hash, None);
    assert_eq!(aged.kind, "login_success");
    let fresh = stored_audit(s, &young_login).await.unwrap();
    assert_eq!(fresh.ip_hash.as_deref(), Some("iphash"));
    assert_eq!(policy(&report, "audit_ip_hashes").anonymised, 1);
    assert!(!report.incomplete);
}

async fn a_dry_run_deletes_nothing_and_counts_what_the_real_run_removes(fx: Fx) {
    let s = &fx.state;
    let mut old = Vec::new();
    for i in 0..7 {
        old.push(walked_record(s, &format!("r_old_{i}"), 501 + i).await);
    }
    let young = walked_record(s, "r_young", 10).await;
    let login = audit_event(s, "u2", "a1", 450).await;

    let dry = retention::run_with(
        s,
        &Options {
            dry_run: true,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    assert!(dry.dry_run);
    assert_eq!(policy(&dry, "audit_events").due, 7);
    assert_eq!(policy(&dry, "audit_events").deleted, 0);
    assert_eq!(policy(&dry, "audit_ip_hashes").due, 1);
    for key in &old {
        assert!(exists(s, key).await, "a dry run deletes nothing");
    }
    assert!(stored_audit(s, &login).await.unwrap().ip_hash.is_some());

    let real = retention::run(s).await.unwrap();
    assert_eq!(policy(&real, "audit_events").deleted, 7);
    assert_eq!(policy(&real, "audit_ip_hashes").anonymised, 1);
    for key in &old {
        assert!(!exists(s, key).await);
    }
    assert!(exists(s, &young).await);
}

async fn a_run_stopped_at_its_budget_resumes_to_the_same_end_state(fx: Fx) {
    let s = &fx.state;
    let mut old = Vec::new();
    let mut young = Vec::new();
    for i in 0..45 {
        old.push(walked_record(s, &format!("r_o{i:03}"), 505 + i % 30).await);
        young.push(walked_record(s, &format!("r_y{i:03}"), 470 + i % 30).await);
    }
    let small = Options {
        budget: Budget::items(10),
        ..Options::default()
    };
    let mut deleted = 0;
    let mut runs = 0;
    loop {
        let r = retention::run_with(s, &small).await.unwrap();
        deleted += policy(&r, "audit_events").deleted;
        runs += 1;
        if !r.incomplete {
            break;
        }
        assert!(runs < 50, "each run makes progress");
    }
    assert!(
        runs > 4,
        "the budget cut the work into several runs ({runs})"
    );
    assert_eq!(deleted, 45, "every old record deleted exactly once");
    for key in &old {
        assert!(!exists(s, key).await);
    }
    for key in &young {
        assert!(exists(s, key).await, "nothing inside its period went");
    }
    // Time passes: the walk goes on from its checkpoint to what has aged meanwhile.
    fx.clock
        .advance(std::time::Duration::from_millis(30 * DAY_MS as u64));
    let later = retention::run(s).await.unwrap();
    let aged = young.len() - {
        let mut n = 0;
        for key in &young {
            n += usize::from(exists(s, key).await);
        }
        n
    };
    assert_eq!(policy(&later, "audit_events").deleted, aged);
    assert!(aged > 0);
}

async fn a_second_run_finds_nothing_left_to_do(fx: Fx) {
    let s = &fx.state;
    walked_record(s, "r_1", 520).await;
    audit_event(s, "u3", "a1", 800).await;
    retention::run(s).await.unwrap();
    let again = retention::run(s).await.unwrap();
    for p in &again.policies {
        assert_eq!((p.due, p.deleted, p.anonymised), (0, 0, 0), "{}", p.policy);
    }
}

/// The policy table against every domain's registration, with `json` as `RETENTION_POLICIES`.
fn with(json: &str) -> Result<Vec<rampart_gdpr::retention::Policy>, String> {
    let s = rampart_tests::settings(&[("RETENTION_POLICIES", json)]);
    rampart_gdpr::retention::policies::effective(&s, &rampart_local::registry())
}

#[test]
fn the_built_in_table_is_honourable() {
    let table = with("[]").unwrap();
    let names: std::collections::HashSet<_> = table.iter().map(|p| &p.name).collect();
    assert_eq!(names.len(), table.len(), "policy names are unique");
    assert_eq!(
        table.len(),
        14,
        "every built-in policy names a registered kind"
    );
}

#[test]
fn overrides_may_shorten_walked_periods_but_not_change_ttl_ones() {
    let t = with(r#"[{"name": "audit_ip_hashes", "keep_days": 90}]"#).unwrap();
    let p = t.iter().find(|p| p.name == "audit_ip_hashes").unwrap();
    assert_eq!(p.keep_days, 90);
    assert!(with(r#"[{"name": "webhook_events", "keep_days": 400}]"#).is_err());
    assert!(with(r#"[{"name": "sessions", "keep_days": 3}]"#).is_err());
    assert!(with(r#"[{"name": "webhook_events", "action": "anonymise"}]"#).is_err());
    assert!(
        with(r#"[{"name": "x", "kind": "nope", "keep_days": 1, "action": "delete"}]"#).is_err()
    );
    assert!(with(r#"[{"name": "audit_events", "age_field": "received_at"}]"#).is_err());
    let t =
        with(r#"[{"name": "old_audit", "kind": "audit", "keep_days": 30, "action": "delete"}]"#)
            .unwrap();
    assert_eq!(t.last().unwrap().age_field, "at_ms");
}
