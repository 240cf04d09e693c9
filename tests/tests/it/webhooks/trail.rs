//! One event, one trail: every JSON log line about a webhook event carries its `provider` and
//! `event_id`, so an operator follows it with one `jq` filter from the delivery (the request's
//! id, the intake's outcome, a failed dependency named by its operation) to the worker that
//! applied it (the queue message's id, its receive count and the job).

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use rampart_tests::{STRIPE_NEW, TestApp, embedded_state, settings, spawn_app_with};
use serde_json::{Value, json};

use super::failing::{FailingSends, FailingStore};
use super::{BASE_SETTINGS, now, stripe_header};
use crate::operations::captured_logs;

async fn app_failing_updates(failing: usize) -> TestApp {
    let mut state = embedded_state(settings(BASE_SETTINGS), rampart_platform::clock::system());
    state.store = Arc::new(FailingStore::failing_updates(state.store.clone(), failing));
    spawn_app_with(state).await
}

async fn app_failing_sends(failing: usize) -> TestApp {
    let mut state = embedded_state(settings(BASE_SETTINGS), rampart_platform::clock::system());
    state.queue = Arc::new(FailingSends {
        inner: state.queue.clone(),
        failing: AtomicUsize::new(failing),
    });
    spawn_app_with(state).await
}

/// Delivers a signed Stripe payment event with the caller's request id; returns the status.
async fn deliver(app: &TestApp, event_id: &str, request_id: &str) -> u16 {
    let body = json!({"id": event_id, "type": "payment_intent.succeeded", "created": now(),
        "data": {"object": {"id": format!("pi_{event_id}"), "status": "succeeded"}}})
    .to_string();
    app.client
        .post(app.url("/webhooks/stripe"))
        .header("stripe-signature", stripe_header(&body, STRIPE_NEW, now()))
        .header("x-request-id", request_id)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The event's lines, as `jq 'select(.event_id == "<id>")'` shows them, once the worker's
/// line about its effect has been written.
async fn trail(event_id: &str) -> Vec<Value> {
    let logs = captured_logs();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lines = logs.lines_where(|l| l["event_id"] == event_id);
        if lines
            .iter()
            .any(|l| l["message"] == "webhook event processed")
        {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "no effect line for {event_id}: {lines:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn find<'a>(lines: &'a [Value], message: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["message"] == message)
        .unwrap_or_else(|| panic!("no line {message:?} in {lines:#?}"))
}

/// Every line of the trail names the provider; intake lines the request, worker lines the
/// message and its job.
fn assert_well_formed(lines: &[Value]) {
    for l in lines {
        assert_eq!(l["provider"], "stripe", "{l}");
        let intake = l["request_id"].is_string();
        let worker = l["message_id"].is_string();
        assert!(intake ^ worker, "a line of a request or of a message: {l}");
        if worker {
            assert_eq!(l["job"], "webhook.process", "{l}");
            assert!(l["receive_count"].as_u64().is_some_and(|n| n >= 1), "{l}");
        }
    }
}

#[tokio::test]
async fn one_event_is_followed_through_the_logs_from_delivery_to_effect() {
    captured_logs();
    let app = super::app(&[]).await;
    let id = format!("evt_trail_{}", rampart_platform::crypto::random_id());
    let request_id = format!("req-{}", rampart_platform::crypto::random_id());
    assert_eq!(deliver(&app, &id, &request_id).await, 200);

    let lines = trail(&id).await;
    assert_well_formed(&lines);
    let accepted = find(&lines, "webhook accepted");
    assert_eq!(accepted["request_id"], request_id.as_str());
    assert_eq!(accepted["function"], "webhooks-api");
    assert_eq!(accepted["outcome"], "new");
    let access = lines
        .iter()
        .find(|l| l["target"] == "access")
        .expect("the access line names the event too");
    assert_eq!(access["status"], 200);
    assert_eq!(access["request_id"], request_id.as_str());
    let effect = find(&lines, "webhook event processed");
    assert_eq!(effect["outcome"], "applied");
    assert_eq!(effect["attempts"], 1);
    assert_eq!(effect["receive_count"], 1);
    assert!(
        effect["received_to_processed_ms"]
            .as_i64()
            .is_some_and(|ms| ms >= 0)
    );
    let at = |l: &Value| lines.iter().position(|x| x == l).unwrap();
    assert!(at(accepted) < at(effect), "delivery before effect");
    app.shutdown().await;
}

#[tokio::test]
async fn a_failed_enqueue_and_its_healing_redelivery_are_on_the_same_trail() {
    captured_logs();
    let app = app_failing_sends(1).await;
    let id = format!("evt_trail_{}", rampart_platform::crypto::random_id());
    let (first, second) = ("req-first-delivery", "req-second-delivery");
    let first = format!("{first}-{}", rampart_platform::crypto::random_id());
    let second = format!("{second}-{}", rampart_platform::crypto::random_id());
    assert_eq!(deliver(&app, &id, &first).await, 503, "the send failed");
    assert_eq!(
        deliver(&app, &id, &second).await,
        200,
        "the provider's retry"
    );

    let lines = trail(&id).await;
    assert_well_formed(&lines);
    let failed = find(
        &lines,
        "webhook event recorded but not queued; the provider's retry queues it",
    );
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["operation"], "enqueue");
    assert_eq!(failed["request_id"], first.as_str());
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("connection reset"),
        "{failed}"
    );
    let unavailable = find(&lines, "dependency unavailable");
    assert_eq!(unavailable["request_id"], first.as_str());
    assert!(
        unavailable["error"]
            .as_str()
            .unwrap()
            .starts_with("enqueue:"),
        "the 503's own line names the operation too: {unavailable}"
    );
    let healed = find(&lines, "webhook event queued again by a later delivery");
    assert_eq!(healed["request_id"], second.as_str());
    assert_eq!(healed["reason"], "not_queued");
    let accepted = lines
        .iter()
        .find(|l| l["message"] == "webhook accepted" && l["request_id"] == second.as_str())
        .expect("the retry's outcome");
    assert_eq!(accepted["outcome"], "requeued");
    let effect = find(&lines, "webhook event processed");
    assert_eq!(effect["outcome"], "applied");
    assert_eq!(effect["attempts"], 1, "queued once more, applied once");
    app.shutdown().await;
}

#[tokio::test]
async fn a_failed_worker_step_is_named_on_the_trail_with_the_message_that_retried_it() {
    captured_logs();
    let app = app_failing_updates(1).await;
    let id = format!("evt_trail_{}", rampart_platform::crypto::random_id());
    let request_id = format!("req-{}", rampart_platform::crypto::random_id());
    assert_eq!(deliver(&app, &id, &request_id).await, 200);

    let lines = trail(&id).await;
    assert_well_formed(&lines);
    let failed = find(&lines, "job failed; the queue will retry it");
    assert_eq!(failed["level"], "WARN");
    assert_eq!(
        failed["operation"], "claim",
        "the step that failed: {failed}"
    );
    assert!(
        failed["error"].as_str().unwrap().contains("throttled"),
        "{failed}"
    );
    assert_eq!(failed["receive_count"], 1);
    let effect = find(&lines, "webhook event processed");
    assert_eq!(effect["outcome"], "applied");
    assert_eq!(
        effect["message_id"], failed["message_id"],
        "the same message, received again"
    );
    assert_eq!(effect["receive_count"], 2);
    assert_eq!(effect["attempts"], 1, "the failed claim took nothing");
    app.shutdown().await;
}
