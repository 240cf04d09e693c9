//! Legal holds against the job on both backends: what a hold keeps is never deleted or
//! anonymised (not by the walk, not by TTL), and lifting it lets the next run finish the work.

use std::time::Duration;

use rampart::retention::hold::{ItemKeyInput, NewHold, SubjectInput};
use rampart::retention::{self, hold};

use super::{DAY_MS, audit_event, exists, operator, policy, stored_audit, webhook_event};
use rampart_tests::StateFx as Fx;

rampart_tests::on_backends!(
    crate::retention::embedded, crate::retention::aws;
    held_items_stay_and_are_counted_as_held,
    a_held_users_records_outlive_their_ttl,
    lifting_a_hold_lets_the_next_run_remove_what_it_kept,
    only_the_held_user_reads_as_held,
);

fn user(id: &str) -> NewHold {
    NewHold {
        subject: SubjectInput {
            user_id: Some(id.into()),
            ..SubjectInput::default()
        },
        reason: "litigation 2026-17".into(),
    }
}

fn item((pk, sk): &(String, String)) -> NewHold {
    NewHold {
        subject: SubjectInput {
            item_key: Some(ItemKeyInput {
                pk: pk.clone(),
                sk: sk.clone(),
            }),
            ..SubjectInput::default()
        },
        reason: "chargeback evidence".into(),
    }
}

async fn held_items_stay_and_are_counted_as_held(fx: Fx) {
    let s = &fx.state;
    let kept_event = webhook_event(s, "evt_kept", 120).await;
    let other_event = webhook_event(s, "evt_other", 120).await;
    let held_login = audit_event(s, "u_held", "a1", 400).await;
    let free_login = audit_event(s, "u_free", "a2", 400).await;
    hold::place(s, &operator(), &user("u_held")).await.unwrap();
    hold::place(s, &operator(), &item(&kept_event))
        .await
        .unwrap();

    let report = retention::run(s).await.unwrap();

    assert!(exists(s, &kept_event).await, "the held event stays");
    assert!(!exists(s, &other_event).await);
    let held = stored_audit(s, &held_login).await.unwrap();
    assert_eq!(held.ip_hash.as_deref(), Some("iphash"), "not anonymised");
    assert_eq!(stored_audit(s, &free_login).await.unwrap().ip_hash, None);
    assert_eq!(policy(&report, "webhook_events").held, 1);
    assert_eq!(policy(&report, "webhook_events").deleted, 1);
    assert_eq!(policy(&report, "audit_ip_hashes").held, 1);
    assert_eq!(policy(&report, "audit_ip_hashes").anonymised, 1);
}

async fn a_held_users_records_outlive_their_ttl(fx: Fx) {
    let s = &fx.state;
    // A day before the seven-year audit lifetime ends.
    let age = 7 * 365 - 1;
    let held_login = audit_event(s, "u_held", "a1", age).await;
    let free_login = audit_event(s, "u_free", "a2", age).await;
    let placed = hold::place(s, &operator(), &user("u_held")).await.unwrap();

    fx.clock.advance(Duration::from_millis(3 * DAY_MS as u64));
    retention::run(s).await.unwrap();

    assert!(stored_audit(s, &free_login).await.is_none(), "TTL took it");
    let kept = stored_audit(s, &held_login).await;
    assert!(kept.is_some(), "the hold keeps it past its expiry");

    hold::lift(s, &operator(), &placed.id).await.unwrap();
    assert!(
        stored_audit(s, &held_login).await.is_none(),
        "lifted: its own expiry is back, and it has passed"
    );
}

async fn lifting_a_hold_lets_the_next_run_remove_what_it_kept(fx: Fx) {
    let s = &fx.state;
    let event = webhook_event(s, "evt_1", 100).await;
    let placed = hold::place(s, &operator(), &item(&event)).await.unwrap();
    retention::run(s).await.unwrap();
    assert!(exists(s, &event).await);

    hold::lift(s, &operator(), &placed.id).await.unwrap();
    let report = retention::run(s).await.unwrap();
    assert!(!exists(s, &event).await);
    assert_eq!(policy(&report, "webhook_events").deleted, 1);
}

async fn only_the_held_user_reads_as_held(fx: Fx) {
    let s = &fx.state;
    let placed = hold::place(s, &operator(), &user("u1")).await.unwrap();
    assert!(hold::is_user_held(s, "u1").await.unwrap());
    assert!(!hold::is_user_held(s, "u2").await.unwrap());
    let set = hold::active(s).await.unwrap();
    assert!(set.holds_user("u1") && !set.holds_user("u2"));
    hold::lift(s, &operator(), &placed.id).await.unwrap();
    assert!(!hold::is_user_held(s, "u1").await.unwrap());
    assert!(hold::active(s).await.unwrap().is_empty());
}
