//! Operator routes over received events: listing newest first with filters and cursors,
//! inspecting one event, replaying it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart::AppState;
use rampart_store_sqlite::SqliteQueue;
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{STRIPE_NEW, embedded_state, settings, spawn_app_with, test_secrets};
use serde_json::{Value, json};

use super::{BASE_SETTINGS, now, processed, send_stripe, stripe_header};

#[tokio::test]
async fn operators_list_inspect_and_replay_events() {
    // The stack's queue, and a second handle on it that shows how many messages wait.
    let clock = rampart::clock::system();
    let db = Db::in_memory().unwrap();
    let queue = SqliteQueue::new(db.clone(), clock.clone(), "payments", 3);
    let waiting = SqliteQueue::new(db.clone(), clock.clone(), "payments", 3);
    let state = AppState::new(
        settings(BASE_SETTINGS),
        Arc::new(SqliteStore::new(db, clock.clone())),
        Arc::new(queue),
        test_secrets(clock.clone()),
        clock,
    );
    let app = spawn_app_with(state).await;
    for i in 0..3 {
        let body = json!({"id": format!("evt_op_{i}"), "type": "payment_intent.processing", "created": now(),
            "data": {"object": {"id": format!("pi_op_{i}"), "status": "processing"}}})
        .to_string();
        assert_eq!(
            send_stripe(&app, &body, Some(stripe_header(&body, STRIPE_NEW, now())))
                .await
                .status(),
            200
        );
        processed(&app, "stripe", &format!("evt_op_{i}")).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let admin = |path: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(rampart_tests::ADMIN_TOKEN)
    };
    assert_eq!(
        app.client
            .get(app.url("/admin/webhook-events"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let wrong = app
        .client
        .get(app.url("/admin/webhook-events"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let list: Value = admin("/admin/webhook-events?provider=stripe&status=processed&limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["evt_op_2", "evt_op_1"], "newest first, paged");
    let cursor = list["cursor"].as_str().unwrap();
    let next: Value = admin(&format!(
        "/admin/webhook-events?provider=stripe&limit=2&cursor={cursor}"
    ))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(next["events"][0]["event_id"], "evt_op_0");
    let none: Value = admin("/admin/webhook-events?status=failed")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(none["events"].as_array().unwrap().is_empty());

    let one: Value = admin("/admin/webhook-events/stripe/evt_op_1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["status"], "processed");
    assert_eq!(one["outcome"], "applied");
    assert_eq!(one["attempts"], 1);
    assert!(one.get("payload").is_none(), "payload only on request");
    let with: Value = admin("/admin/webhook-events/stripe/evt_op_1?include_payload=true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(with["payload"].as_str().unwrap().contains("pi_op_1"));
    assert_eq!(
        admin("/admin/webhook-events/stripe/nope")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let r = app
        .client
        .post(app.url("/admin/webhook-events/stripe/evt_op_1/replay"))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Until the worker has taken the replayed message and acked it, however long that takes.
    let deadline = Instant::now() + Duration::from_secs(30);
    while waiting.depth().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the replay was never consumed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after: Value = admin("/admin/webhook-events/stripe/evt_op_1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["attempts"], 1,
        "a replay of a processed event applies nothing again"
    );
    assert_eq!(
        app.state
            .queue
            .receive(10, Duration::from_secs(1), Duration::ZERO)
            .await
            .unwrap()
            .len(),
        0,
        "and leaves nothing queued"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn filtered_operator_listing_pages_through_everything_once() {
    let clock = rampart_tests::manual_clock();
    let state = embedded_state(settings(&[]), clock.clone());
    for i in 0..9 {
        let provider = if i % 3 == 0 { "square" } else { "stripe" };
        let v = rampart::webhooks::intake::Verified {
            provider: provider.into(),
            event_id: format!("e{i}"),
            event_type: "t".into(),
            occurred_at: None,
            payload: b"{}".to_vec(),
        };
        rampart::webhooks::intake::record(&state, v).await.unwrap();
        clock.advance(Duration::from_millis(10));
    }
    let filter = rampart::webhooks::admin::Filter {
        provider: Some("stripe".into()),
        status: None,
    };
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let (events, next) = rampart::webhooks::admin::list(&state, &filter, cursor, 2)
            .await
            .unwrap();
        assert!(events.len() <= 2);
        seen.extend(
            events
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().to_string()),
        );
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec!["e8", "e7", "e5", "e4", "e2", "e1"],
        "newest first, none skipped or repeated"
    );
}
