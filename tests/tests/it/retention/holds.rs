//! Legal holds against the job on both backends: what a hold keeps is never deleted or
//! anonymised (not by the walk, not by TTL), and lifting it lets the next run finish the work.

use std::time::Duration;

use rampart_gdpr::retention::hold::{ItemKeyInput, NewHold, SubjectInput};
use rampart_gdpr::retention::{self, hold};

use rampart_store::keys;

use super::{
    DAY_MS, audit_event, exists, operator, policy, stored_audit, stored_user, walked_record,
    webhook_event,
};
use rampart_tests::StateFx as Fx;

rampart_tests::on_backends!(
    crate::retention::embedded, crate::retention::aws;
    held_items_stay_and_are_counted_as_held,
    a_held_users_records_outlive_their_ttl,
    lifting_a_hold_lets_the_next_run_remove_what_it_kept,
    only_the_held_user_reads_as_held,
    a_hold_on_a_subject_that_does_not_exist_is_refused_and_stores_nothing,
    a_hold_on_a_credential_is_refused_naming_its_kind_and_the_code_still_expires,
    a_hold_placed_on_a_credential_earlier_never_pins_it,
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
    let kept_event = walked_record(s, "r_kept", 520).await;
    let other_event = walked_record(s, "r_other", 520).await;
    let held_login = audit_event(s, "u_held", "a1", 400).await;
    let free_login = audit_event(s, "u_free", "a2", 400).await;
    stored_user(s, "u_held").await;
    hold::place(s, &operator(), &user("u_held")).await.unwrap();
    hold::place(s, &operator(), &item(&kept_event))
        .await
        .unwrap();

    let report = retention::run(s).await.unwrap();

    assert!(exists(s, &kept_event).await, "the held record stays");
    assert!(!exists(s, &other_event).await);
    let held = stored_audit(s, &held_login).await.unwrap();
    assert_eq!(held.ip_hash.as_deref(), Some("iphash"), "not anonymised");
    assert_eq!(stored_audit(s, &free_login).await.unwrap().ip_hash, None);
    assert_eq!(policy(&report, "audit_events").held, 1);
    assert_eq!(policy(&report, "audit_events").deleted, 1);
    assert_eq!(policy(&report, "audit_ip_hashes").held, 1);
    assert_eq!(policy(&report, "audit_ip_hashes").anonymised, 1);
}

async fn a_held_users_records_outlive_their_ttl(fx: Fx) {
    let s = &fx.state;
    // A day before the seven-year audit lifetime ends.
    let age = 7 * 365 - 1;
    let held_login = audit_event(s, "u_held", "a1", age).await;
    let free_login = audit_event(s, "u_free", "a2", age).await;
    stored_user(s, "u_held").await;
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
    let event = walked_record(s, "r_1", 510).await;
    let placed = hold::place(s, &operator(), &item(&event)).await.unwrap();
    retention::run(s).await.unwrap();
    assert!(exists(s, &event).await);

    hold::lift(s, &operator(), &placed.id).await.unwrap();
    let report = retention::run(s).await.unwrap();
    assert!(!exists(s, &event).await);
    assert_eq!(policy(&report, "audit_events").deleted, 1);
}

async fn a_hold_on_a_subject_that_does_not_exist_is_refused_and_stores_nothing(fx: Fx) {
    let s = &fx.state;
    let customer = NewHold {
        subject: SubjectInput {
            customer_id: Some("cus_nobody".into()),
            ..SubjectInput::default()
        },
        reason: "case 9".into(),
    };
    let missing = ("whevt#stripe".to_string(), "evt#never_received".to_string());
    for (req, member) in [
        (user("u_typo"), "/subject/user_id"),
        (customer, "/subject/customer_id"),
        (item(&missing), "/subject/item_key"),
    ] {
        let e = hold::place(s, &operator(), &req).await.unwrap_err();
        let problem = problem_of(e).await;
        assert_eq!(problem["status"], 422, "{problem}");
        assert_eq!(problem["errors"][0]["pointer"], member, "{problem}");
    }
    assert!(
        hold::list(s).await.unwrap().is_empty(),
        "nothing half-written"
    );
    assert!(!hold::is_user_held(s, "u_typo").await.unwrap());
}

/// The problem+json body a client gets for `e`.
async fn problem_of(e: rampart_platform::error::ApiError) -> serde_json::Value {
    use axum::response::IntoResponse;
    let body = e.into_response().into_body();
    let bytes = axum::body::to_bytes(body, 1 << 16).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn only_the_held_user_reads_as_held(fx: Fx) {
    let s = &fx.state;
    stored_user(s, "u1").await;
    let placed = hold::place(s, &operator(), &user("u1")).await.unwrap();
    assert!(hold::is_user_held(s, "u1").await.unwrap());
    assert!(!hold::is_user_held(s, "u2").await.unwrap());
    let set = hold::active(s).await.unwrap();
    assert!(set.holds_user("u1") && !set.holds_user("u2"));
    hold::lift(s, &operator(), &placed.id).await.unwrap();
    assert!(!hold::is_user_held(s, "u1").await.unwrap());
    assert!(hold::active(s).await.unwrap().is_empty());
}

/// The 6-digit code of the newest sign-in mail to `to` (the local outbox).
async fn newest_code(app: &rampart_tests::TestApp, to: &str) -> String {
    let mails: serde_json::Value = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = mails[0]["body"].as_str().unwrap();
    body.split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_string()
}

/// A hold keeps records, not access: an item hold naming a credential (a live sign-in code, a
/// session, or a credential's key before anything is stored there) is refused with a 422 that
/// names the kind, nothing is held, and the code dies at its 10 minutes as always. A hold on
/// any other item still works.
async fn a_hold_on_a_credential_is_refused_naming_its_kind_and_the_code_still_expires(fx: Fx) {
    let s = &fx.state;
    let app = rampart_tests::spawn_app_with(s.clone()).await;
    let email = "held.code@example.com";
    let post = |path: &str, body: serde_json::Value| {
        app.client
            .post(app.url(path))
            .bearer_auth(rampart_tests::ADMIN_TOKEN)
            .json(&body)
            .send()
    };
    let hold_on = |(pk, sk): &(String, String)| serde_json::json!({"subject": {"item_key": {"pk": pk, "sk": sk}}, "reason": "case 7"});
    let r = post("/auth/otp/request", serde_json::json!({"email": email}))
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let code = newest_code(&app, email).await;
    let eh = rampart_auth::email_hash(s, email).await.unwrap();
    // A session of another account, signed in with its own code.
    let other = "held.session@example.com";
    post("/auth/otp/request", serde_json::json!({"email": other}))
        .await
        .unwrap();
    let other_code = newest_code(&app, other).await;
    let r = post(
        "/auth/otp/verify",
        serde_json::json!({"email": other, "code": other_code, "delivery": "body"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let access = r.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (user_id, session_id) = rampart_auth::extract::verify_access_token(s, &access)
        .await
        .unwrap();

    let credentials = [
        (keys::otp(&eh), "otp"),
        (keys::session(&user_id, &session_id), "session"),
        (keys::password_reset("no-such-token-yet"), "password_reset"),
    ];
    for (key, kind) in &credentials {
        let r = post("/admin/legal-holds", hold_on(key)).await.unwrap();
        assert_eq!(r.status(), 422, "{key:?}");
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["type"], "urn:rampart:problem:unprocessable", "{p}");
        assert_eq!(p["errors"][0]["pointer"], "/subject/item_key", "{p}");
        let detail = p["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("`{kind}`")), "names the kind: {p}");
    }
    assert!(hold::list(s).await.unwrap().is_empty(), "nothing is held");

    let event = webhook_event(s, "evt_evidence", 1).await;
    let r = post("/admin/legal-holds", hold_on(&event)).await.unwrap();
    assert_eq!(r.status(), 201, "other items are still held");

    // The code's ten minutes pass; a retention run changes nothing about that.
    fx.clock.advance(Duration::from_secs(11 * 60));
    retention::run(s).await.unwrap();
    let r = post(
        "/auth/otp/verify",
        serde_json::json!({"email": email, "code": code, "delivery": "body"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401, "the code expired as always");
    app.shutdown().await;
}

/// A hold already standing on a credential's key (placed before such holds were refused)
/// never pins it: the code keeps its own expiry through a retention run.
async fn a_hold_placed_on_a_credential_earlier_never_pins_it(fx: Fx) {
    let s = &fx.state;
    let otp = rampart_auth::Otp {
        email_hash: "h-earlier".into(),
        device_id: None,
        code_hash: "x".into(),
        attempts: 0,
        expires_at: s.clock.now_secs() + 600,
    };
    s.store.put((&otp).into(), None).await.unwrap();
    let (pk, sk) = keys::otp("h-earlier");
    let earlier = hold::LegalHold {
        id: "h-earlier".into(),
        subject: hold::Subject::Item {
            pk: pk.clone(),
            sk: sk.clone(),
        },
        reason: "placed before".into(),
        created_at: s.clock.now_secs(),
        created_by: "operator:test".into(),
    };
    s.store.put((&earlier).into(), None).await.unwrap();
    let marker = hold::HoldMarker {
        subject_label: earlier.subject.label(),
        hold_id: earlier.id.clone(),
    };
    s.store.put((&marker).into(), None).await.unwrap();

    retention::run(s).await.unwrap();

    let item = s
        .store
        .get(&pk, &sk)
        .await
        .unwrap()
        .expect("the code is live");
    assert_eq!(item.expires_at(), Some(otp.expires_at), "not pinned");
    fx.clock.advance(Duration::from_secs(601));
    assert!(s.store.get(&pk, &sk).await.unwrap().is_none(), "it expired");
}
