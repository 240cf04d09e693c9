//! The SQS worker and the retention cron, fed JSON event fixtures.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use rampart_http::AppState;
use rampart_http::jobs::{Dispatcher, JobError, JobHandler, JobMeta};
use rampart_platform::clock::{Clock, SharedClock};
use rampart_store::{EXPIRES_AT, Item, Update};
use rampart_tests::{embedded_state, manual_clock, settings};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Counts the payload's `n` into the store, so the test can see what ran.
struct Ok_;
#[async_trait]
impl JobHandler for Ok_ {
    async fn handle(
        &self,
        state: &AppState,
        payload: &serde_json::Value,
        meta: &JobMeta,
    ) -> Result<(), JobError> {
        let n = payload["n"]
            .as_i64()
            .ok_or_else(|| JobError::Malformed("n".into()))?;
        state
            .store
            .update(
                "jobs",
                "seen",
                Update::new()
                    .add("sum", n)
                    .set("last", meta.message_id.as_str()),
                None,
            )
            .await
            .map_err(JobError::failed)?;
        Ok(())
    }
}

struct Fail;
#[async_trait]
impl JobHandler for Fail {
    async fn handle(
        &self,
        _: &AppState,
        _: &serde_json::Value,
        _: &JobMeta,
    ) -> Result<(), JobError> {
        Err(JobError::refused("downstream said no"))
    }
}

#[tokio::test]
async fn sqs_batch_reports_only_the_failures() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let dispatcher = Dispatcher::new()
        .register("test.ok", Ok_)
        .register("test.fail", Fail);
    let event: SqsEvent = serde_json::from_str(&fixture("sqs_batch.json")).unwrap();
    let resp = jobs_worker::handle(&state, &dispatcher, event).await;
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        vec!["msg-2", "msg-3", "msg-4"],
        "failed, malformed and unknown kinds"
    );
    let seen = state.store.get("jobs", "seen").await.unwrap().unwrap();
    assert_eq!(seen.n("sum"), Some(6), "both good records ran once");
    let json = serde_json::to_value(&resp).unwrap();
    assert_eq!(
        json["batchItemFailures"][0]["itemIdentifier"], "msg-2",
        "the wire shape SQS expects"
    );
}

#[tokio::test]
async fn a_batch_near_its_deadline_takes_no_record_and_reports_every_one() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let dispatcher = Dispatcher::new()
        .register("test.ok", Ok_)
        .register("test.fail", Fail);
    let event: SqsEvent = serde_json::from_str(&fixture("sqs_batch.json")).unwrap();
    let ids: Vec<String> = event
        .records
        .iter()
        .filter_map(|r| r.message_id.clone())
        .collect();
    // Less time left than one record's budget: nothing may start.
    let deadline = std::time::Instant::now() + jobs_worker::RECORD_BUDGET / 2;
    let resp = jobs_worker::handle_until(&state, &dispatcher, event, Some(deadline)).await;
    let failed: Vec<String> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, ids, "every record is handed back for redelivery");
    assert!(
        state.store.get("jobs", "seen").await.unwrap().is_none(),
        "no record ran"
    );
    // With the budget there, the same batch runs as without a deadline.
    let event: SqsEvent = serde_json::from_str(&fixture("sqs_batch.json")).unwrap();
    let later = std::time::Instant::now() + jobs_worker::RECORD_BUDGET * 3;
    let resp = jobs_worker::handle_until(&state, &dispatcher, event, Some(later)).await;
    assert_eq!(resp.batch_item_failures.len(), 3, "only the real failures");
}

#[tokio::test]
async fn production_dispatcher_fails_unknown_kinds_into_the_dlq_path() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let event: SqsEvent = serde_json::from_str(&fixture("sqs_batch.json")).unwrap();
    let resp = jobs_worker::handle(&state, &jobs_worker::dispatcher(), event).await;
    assert_eq!(
        resp.batch_item_failures.len(),
        5,
        "nothing is silently dropped"
    );
}

#[tokio::test]
async fn scheduled_event_sweeps_expired_items() {
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    let state = embedded_state(settings(&[]), shared);
    let now = clock.now_secs();
    for i in 0..1203 {
        state
            .store
            .put(
                Item::new("old", format!("{i:05}")).with(EXPIRES_AT, now - 1),
                None,
            )
            .await
            .unwrap();
    }
    state
        .store
        .put(Item::new("keep", "1").with(EXPIRES_AT, now + 60), None)
        .await
        .unwrap();
    state.store.put(Item::new("keep", "2"), None).await.unwrap();
    let event: serde_json::Value =
        serde_json::from_str(&fixture("eventbridge_scheduled.json")).unwrap();
    let report = cleanup_cron::handle(&state, event).await.unwrap();
    assert_eq!(report.expired_items_removed, 1203);
    assert!(!report.incomplete);
    assert!(state.store.get("keep", "1").await.unwrap().is_some());
    assert!(state.store.get("keep", "2").await.unwrap().is_some());
    // Scheduler targets may send a bare `{}`: still a run.
    let again = cleanup_cron::handle(&state, serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(again.expired_items_removed, 0);
}

#[tokio::test]
async fn the_cron_reports_what_waits_in_the_dead_letter_queue() {
    use std::time::Duration;
    let clock = manual_clock();
    let state = embedded_state(settings(&[]), clock.clone());
    state
        .queue
        .send(rampart_store::queue::OutgoingMessage::new("poison"))
        .await
        .unwrap();
    // The test state's queue dead-letters after 3 receives.
    for _ in 0..4 {
        let _ = state
            .queue
            .receive(1, Duration::from_secs(1), Duration::ZERO)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(2));
    }
    let report = rampart_gdpr::retention::run(&state).await.unwrap();
    assert_eq!(report.dead_letter_depth, Some(1));
}

#[tokio::test]
async fn the_sqs_dead_letter_depth_is_read_from_the_queue_attributes() {
    use rampart_store::queue::Queue;
    let Some(ep) = rampart_tests::aws_endpoint() else {
        eprintln!("skipped: no AWS test endpoint");
        return;
    };
    let client = aws_sdk_sqs::Client::new(&rampart_tests::aws_config(&ep).await);
    let id = rampart_platform::crypto::random_id();
    let main = rampart_tests::create_queue(&client, &format!("main-{id}")).await;
    let dlq = rampart_tests::create_queue(&client, &format!("dlq-{id}")).await;
    for _ in 0..2 {
        client
            .send_message()
            .queue_url(&dlq)
            .message_body("poison")
            .send()
            .await
            .unwrap();
    }
    let plain = rampart_store::queue::sqs::SqsQueue::new(client.clone(), &main);
    assert_eq!(plain.dead_letter_depth().await.unwrap(), None);
    let with_dlq =
        rampart_store::queue::sqs::SqsQueue::new(client, &main).with_dead_letter(Some(dlq));
    assert_eq!(with_dlq.dead_letter_depth().await.unwrap(), Some(2));
}
