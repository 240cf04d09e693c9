//! Injected dependency faults (throttles, timeouts before and after the write) on both
//! backends: limits still never admit more than they allow, and a failed dependency reaches a
//! client as 503 problem+json with `Retry-After`, never as a 500.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rampart_http::AppState;
use rampart_http::ratelimit::{self, KeyPart, Rule, Subject};
use rampart_platform::faults::Faults;
use rampart_store::faulty::FaultyStore;
use rampart_store::queue::faulty::FaultyQueue;
use rampart_tests::StateFx as Fx;

rampart_tests::on_backends!(
    rampart_tests::embedded_state_fx, rampart_tests::dynamo_state_fx;
    limits_never_admit_more_than_allowed_under_faults,
    a_failed_dependency_answers_503_with_retry_after,
    a_message_redelivered_after_its_effect_landed_changes_nothing,
);

/// The fixture's state with every store and queue call going through the dice.
pub fn faulty(state: &AppState, rate: f64, seed: u64) -> (AppState, Arc<Faults>) {
    let faults = Arc::new(Faults::new(rate, seed, Duration::ZERO));
    let mut s = state.clone();
    s.store = Arc::new(FaultyStore::new(state.store.clone(), faults.clone()));
    s.queue = Arc::new(FaultyQueue::new(state.queue.clone(), faults.clone()));
    (s, faults)
}

async fn limits_never_admit_more_than_allowed_under_faults(fx: Fx) {
    let (state, faults) = faulty(&fx.state, 0.1, 42);
    let rule = Rule::new("faulty", 10, Duration::from_secs(60), &[KeyPart::Ip]);
    let subject = Subject {
        ip: Some("198.51.100.9".parse().unwrap()),
        ..Subject::default()
    };
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (state, rule, subject) = (state.clone(), rule.clone(), subject.clone());
        tasks.push(tokio::spawn(async move {
            ratelimit::check(&state, &rule, &subject).await
        }));
    }
    let (mut admitted, mut failed) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(d) => admitted += usize::from(d.allowed),
            Err(_) => failed += 1,
        }
    }
    assert!(faults.injected() > 0, "the dice never rolled a fault");
    assert!(failed > 0, "no call failed although faults were injected");
    assert!(admitted <= 10, "{admitted} admitted past a limit of 10");
    // A fault after the counter moved spends an admission the caller never saw: the limit
    // errs on the safe side, it never lets more through.
    assert!(
        admitted >= 1,
        "faults at 10% should not block every request"
    );
}

async fn a_failed_dependency_answers_503_with_retry_after(fx: Fx) {
    let (state, _faults) = faulty(&fx.state, 1.0, 7);
    let rule = Rule::new("always", 100, Duration::from_secs(60), &[KeyPart::Ip]);
    let app = Router::new().route(
        "/limited",
        get(
            move |axum::extract::State(st): axum::extract::State<AppState>| {
                let rule = rule.clone();
                async move {
                    let subject = Subject {
                        ip: Some("198.51.100.10".parse().unwrap()),
                        ..Subject::default()
                    };
                    ratelimit::check(&st, &rule, &subject).await.map(|_| "ok")
                }
            },
        ),
    );
    let addr = rampart_tests::serve_router(app.with_state(state)).await;
    let resp = reqwest::get(format!("http://{addr}/limited"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.headers()["content-type"],
        "application/problem+json",
        "a dependency failure is a problem document"
    );
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "urn:rampart:problem:unavailable");
    assert!(
        !body.to_string().contains("injected"),
        "no internal detail in the body: {body}"
    );
}

/// SQS delivers at least once: a message whose deletion failed (the answer lost, the batch
/// response never reached SQS) comes back. Processing it again must change nothing.
async fn a_message_redelivered_after_its_effect_landed_changes_nothing(fx: Fx) {
    use rampart_webhooks::intake::{self, Verified};
    let now = rampart_platform::clock::Clock::now_secs(&*fx.clock);
    let payload = serde_json::json!({
        "id": "evt_redelivered", "type": "payment_intent.succeeded", "created": now,
        "data": {"object": {"id": "pi_redelivered", "status": "succeeded"}}
    });
    intake::record(
        &fx.state,
        Verified {
            provider: "stripe".into(),
            event_id: "evt_redelivered".into(),
            event_type: "payment_intent.succeeded".into(),
            occurred_at: Some(now),
            payload: payload.to_string().into_bytes(),
        },
    )
    .await
    .unwrap();
    let msg = fx
        .state
        .queue
        .receive(1, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap()
        .pop()
        .expect("the intake queued the event");
    let delivery = |receive_count: u32| -> aws_lambda_events::event::sqs::SqsEvent {
        serde_json::from_value(serde_json::json!({"Records": [{
            "messageId": msg.id, "receiptHandle": format!("rh-{receive_count}"), "body": msg.body,
            "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
            "messageAttributes": {}, "eventSource": "aws:sqs"
        }]}))
        .unwrap()
    };
    let dispatcher = jobs_worker::dispatcher();
    let first = jobs_worker::handle(&fx.state, &dispatcher, delivery(1)).await;
    assert!(
        first.batch_item_failures.is_empty(),
        "applied the first time"
    );
    let record_after_first = fx
        .state
        .store
        .get("whevt#stripe", "evt#evt_redelivered")
        .await
        .unwrap()
        .unwrap();
    let payment_after_first = fx
        .state
        .store
        .get("payment#stripe#pi_redelivered", "status")
        .await
        .unwrap()
        .unwrap();
    // The deletion failed: SQS hands the same message over again, later.
    fx.clock.advance(Duration::from_secs(120));
    let again = jobs_worker::handle(&fx.state, &dispatcher, delivery(2)).await;
    assert!(
        again.batch_item_failures.is_empty(),
        "a redelivery of a processed event succeeds (and is deleted this time)"
    );
    let record_after_again = fx
        .state
        .store
        .get("whevt#stripe", "evt#evt_redelivered")
        .await
        .unwrap()
        .unwrap();
    let payment_after_again = fx
        .state
        .store
        .get("payment#stripe#pi_redelivered", "status")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record_after_again, record_after_first,
        "the event record is untouched: no second attempt, no new outcome"
    );
    assert_eq!(
        payment_after_again, payment_after_first,
        "the effect is not applied again"
    );
}

#[tokio::test]
async fn the_local_stack_shows_its_counters_as_prometheus_text() {
    let app = rampart_tests::spawn_app().await;
    let forged = app
        .client
        .post(app.url("/webhooks/square"))
        .header("x-square-hmacsha256-signature", "Zm9yZ2Vk")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let resp = app
        .client
        .get(app.url("/_local/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = resp.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("rampart_webhook_invalid_signature_total{")
                && l.contains("provider=\"square\"")
        })
        .unwrap_or_else(|| panic!("no square invalid-signature counter in:\n{text}"));
    let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1, "{line}");
    assert!(text.contains("# TYPE rampart_webhook_invalid_signature_total counter"));
    app.shutdown().await;
}

#[test]
fn production_refuses_injected_faults_and_names_the_setting() {
    let prod = rampart_tests::settings(&[("APP_ENV", "production"), ("FAULT_RATE", "0.1")]);
    let problems = prod.production_problems().join("; ");
    assert!(problems.contains("FAULT_RATE"), "{problems}");
    let bad = rampart_platform::config::Settings::from_lookup(|k| {
        (k == "FAULT_RATE").then(|| "2".into())
    });
    assert!(bad.unwrap_err().to_string().contains("FAULT_RATE"));
}

#[tokio::test]
async fn fault_rate_wraps_the_store_and_queue_of_a_configured_state() {
    let dir = std::env::temp_dir().join(format!(
        "rampart-faults-{}",
        rampart_platform::crypto::random_id()
    ));
    let settings = rampart_tests::settings(&[
        ("FAULT_RATE", "1"),
        ("FAULT_SEED", "3"),
        ("DATA_DIR", dir.to_str().unwrap()),
    ]);
    let state = AppState::from_settings(
        settings,
        rampart_platform::clock::system(),
        rampart_local::CLIENTS,
    )
    .await
    .unwrap();
    let err = state.store.get("p", "s").await.unwrap_err();
    assert!(err.to_string().contains("injected fault"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
