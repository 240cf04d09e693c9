//! Operator routes over received events: listing newest first with filters and cursors,
//! inspecting one event, replaying it; and the one operator check every `/admin` route runs
//! (the per-IP lockout of failed attempts, each failure audited), on both backends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_http::AppState;
use rampart_store_sqlite::SqliteQueue;
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{STRIPE_NEW, embedded_state, settings, spawn_app_with, test_secrets};
use serde_json::{Value, json};

use super::{BASE_SETTINGS, now, processed, send_stripe, stripe_header};

#[tokio::test]
async fn operators_list_inspect_and_replay_events() {
    // The stack's queue, and a second handle on it that shows how many messages wait.
    let clock = rampart_platform::clock::system();
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
        let v = rampart_webhooks::intake::Verified {
            provider: provider.into(),
            event_id: format!("e{i}"),
            event_type: "t".into(),
            occurred_at: None,
            payload: b"{}".to_vec(),
        };
        rampart_webhooks::intake::record(&state, v).await.unwrap();
        clock.advance(Duration::from_millis(10));
    }
    let filter = rampart_webhooks::admin::Filter {
        provider: Some("stripe".into()),
        status: None,
    };
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let (events, next) = rampart_webhooks::admin::list(&state, &filter, cursor, 2)
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

rampart_tests::on_backends!(rampart_tests::embedded_state_fx, rampart_tests::dynamo_state_fx;
    every_admin_route_runs_the_operator_lockout_and_audits_wrong_tokens,
);

/// Every `/admin` route of the contract with its path parameters filled in.
fn admin_routes() -> Vec<(reqwest::Method, String)> {
    let doc = serde_json::to_value(rampart_local::openapi()).unwrap();
    let mut routes = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/admin/") {
            continue;
        }
        let filled = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in ops.as_object().unwrap().keys() {
            if let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) {
                routes.push((m, filled.clone()));
            }
        }
    }
    routes
}

/// Wrong operator tokens at the webhook-event routes count against the IP's failure budget and
/// are audited like anywhere else; once the IP is locked out, the right token is refused on
/// every `/admin` route from there (429), while another IP still gets in.
async fn every_admin_route_runs_the_operator_lockout_and_audits_wrong_tokens(
    mut fx: rampart_tests::StateFx,
) {
    fx.state.settings = Arc::new(settings(BASE_SETTINGS));
    let app = spawn_app_with(fx.state.clone()).await;
    let from = |ip: &str, m: reqwest::Method, path: &str, token: &str| {
        app.client
            .request(m, app.url(path))
            .bearer_auth(token)
            .header("x-forwarded-for", ip)
            .send()
    };
    let guesser = "203.0.113.77";
    for i in 0..10 {
        let path = if i % 2 == 0 {
            "/admin/webhook-events"
        } else {
            "/admin/webhook-events/stripe/evt_x"
        };
        let r = from(guesser, reqwest::Method::GET, path, &format!("guess-{i}"))
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "guess {i}");
    }
    let audited = app
        .state
        .store
        .query(rampart_store::Query::table("audit#operator").limit(100))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|i| i.s("kind") == Some("admin_auth_failed"))
        .count();
    assert_eq!(audited, 10, "every wrong token is audited");

    let routes = admin_routes();
    assert!(routes.len() >= 12, "{routes:?}");
    for (m, path) in &routes {
        let r = from(guesser, m.clone(), path, rampart_tests::ADMIN_TOKEN)
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            429,
            "{m} {path}: the right token from a locked-out IP"
        );
        assert!(r.headers().contains_key("retry-after"), "{m} {path}");
    }
    let r = from(
        "198.51.100.77",
        reqwest::Method::GET,
        "/admin/webhook-events",
        rampart_tests::ADMIN_TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "another IP is not locked out");
    app.shutdown().await;
}
