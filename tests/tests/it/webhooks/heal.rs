//! An event whose enqueue failed is queued by the provider's next delivery, seconds later, not
//! by the sweep: a failed send, or a put whose answer was lost, marks the record not queued and
//! the retry that finds the mark queues it. The worker's claim keeps the effect single however
//! many messages arrive, and a redelivery of the message holding a claim retakes it at once. The
//! sweep reports how long the oldest unprocessed event has waited.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::failing::{FailingSends, FailingStore};
use rampart_http::AppState;
use rampart_http::jobs::JobMeta;
use rampart_platform::metrics::{Metric, Registry, counting};
use rampart_store::queue::{ReceivedMessage, SharedQueue};
use rampart_store::{Item, Update, keys};
use rampart_tests::StateFx as Fx;
use rampart_tests::{embedded_state, manual_clock, settings};
use rampart_webhooks::intake::{self, Intake, Verified};
use serde_json::json;

rampart_tests::on_backends!(
    rampart_tests::embedded_state_fx, rampart_tests::dynamo_state_fx;
    a_delivery_after_a_failed_send_queues_the_event_at_once,
    a_delivery_after_a_lost_put_answer_queues_the_event_at_once,
    a_redelivery_of_the_claiming_message_retakes_its_claim_and_another_message_waits,
);

fn verified(fx: &Fx, id: &str, pi: &str) -> Verified {
    let now = rampart_platform::clock::Clock::now_secs(&*fx.clock);
    let payload = json!({
        "id": id, "type": "payment_intent.succeeded", "created": now,
        "data": {"object": {"id": pi, "status": "succeeded"}}
    });
    Verified {
        provider: "stripe".into(),
        event_id: id.into(),
        event_type: "payment_intent.succeeded".into(),
        occurred_at: Some(now),
        payload: payload.to_string().into_bytes(),
    }
}

/// Takes every waiting message (hidden for a minute) and returns them.
async fn take(queue: &SharedQueue) -> Vec<ReceivedMessage> {
    queue
        .receive(10, Duration::from_secs(60), Duration::ZERO)
        .await
        .unwrap()
}

async fn event(state: &AppState, id: &str) -> Item {
    let (pk, sk) = keys::webhook_event("stripe", id);
    state.store.get(&pk, &sk).await.unwrap().expect("recorded")
}

fn meta(msg: &ReceivedMessage) -> JobMeta {
    JobMeta {
        message_id: msg.id.clone(),
        receive_count: msg.receive_count,
    }
}

async fn a_delivery_after_a_failed_send_queues_the_event_at_once(fx: Fx) {
    let mut state = fx.state.clone();
    state.queue = Arc::new(FailingSends {
        inner: fx.state.queue.clone(),
        failing: AtomicUsize::new(1),
    });
    let id = "evt_send_failed";
    let first = intake::record(&state, verified(&fx, id, "pi_send_failed")).await;
    assert!(first.is_err(), "the failed send answers 503: {first:?}");
    let r = event(&state, id).await;
    assert_eq!(r.s("status"), Some("received"));
    assert!(r.n("enqueue_failed_at").is_some(), "marked not queued");
    assert!(take(&state.queue).await.is_empty(), "no message exists");

    // The provider retries a second later: no waiting for the sweep.
    fx.clock.advance(Duration::from_secs(1));
    assert_eq!(
        intake::record(&state, verified(&fx, id, "pi_send_failed"))
            .await
            .unwrap(),
        Intake::Requeued
    );
    let msgs = take(&state.queue).await;
    assert_eq!(msgs.len(), 1);
    let dispatcher = jobs_worker::dispatcher();
    dispatcher
        .dispatch(&state, &msgs[0].body, &meta(&msgs[0]))
        .await
        .unwrap();
    state.queue.ack(&msgs[0].receipt).await.unwrap();
    let r = event(&state, id).await;
    assert_eq!(r.s("status"), Some("processed"));
    assert_eq!(r.s("outcome"), Some("applied"));
    assert_eq!(r.n("attempts"), Some(1));
    assert_eq!(r.s("last_error"), None, "the note goes once processed");

    // Processed: a later delivery is a plain duplicate and sends nothing.
    assert_eq!(
        intake::record(&state, verified(&fx, id, "pi_send_failed"))
            .await
            .unwrap(),
        Intake::Duplicate
    );
    assert!(take(&state.queue).await.is_empty());
}

async fn a_delivery_after_a_lost_put_answer_queues_the_event_at_once(fx: Fx) {
    let mut state = fx.state.clone();
    state.store = Arc::new(FailingStore::losing_next_put_answer(fx.state.store.clone()));
    let id = "evt_put_answer_lost";
    let first = intake::record(&state, verified(&fx, id, "pi_put_answer_lost")).await;
    assert!(first.is_err(), "a lost answer is a 503: {first:?}");
    let r = event(&state, id).await;
    assert_eq!(r.s("status"), Some("received"), "the put landed");
    assert!(
        r.n("enqueue_failed_at").is_some(),
        "and was marked not queued"
    );
    assert!(take(&state.queue).await.is_empty());
    fx.clock.advance(Duration::from_secs(1));
    assert_eq!(
        intake::record(&state, verified(&fx, id, "pi_put_answer_lost"))
            .await
            .unwrap(),
        Intake::Requeued
    );
    assert_eq!(take(&state.queue).await.len(), 1);
}

async fn a_redelivery_of_the_claiming_message_retakes_its_claim_and_another_message_waits(fx: Fx) {
    let state = &fx.state;
    let id = "evt_claim_retaken";
    intake::record(state, verified(&fx, id, "pi_claim_retaken"))
        .await
        .unwrap();
    let msg = take(&state.queue).await.pop().expect("queued");
    // A worker took the claim and died before writing the result (or its result write
    // failed): the record says `processing`, claimed by this message, seconds ago.
    let (pk, sk) = keys::webhook_event("stripe", id);
    let now = rampart_platform::clock::Clock::now_ms(&*fx.clock);
    let claim = Update::new()
        .set("status", "processing")
        .set("claimed_at", now)
        .set("claimed_by", msg.id.as_str())
        .add("attempts", 1);
    state.store.update(&pk, &sk, claim, None).await.unwrap();
    fx.clock.advance(Duration::from_secs(2));
    let dispatcher = jobs_worker::dispatcher();
    // Another message for the same event (a delivery's heal) must wait for the lease.
    let other = JobMeta {
        message_id: "another-message".into(),
        receive_count: 1,
    };
    assert!(
        dispatcher.dispatch(state, &msg.body, &other).await.is_err(),
        "another message waits while the claim is fresh"
    );
    // The same message, redelivered, retakes the claim at once and finishes the event.
    let again = JobMeta {
        message_id: msg.id.clone(),
        receive_count: 2,
    };
    dispatcher.dispatch(state, &msg.body, &again).await.unwrap();
    let r = event(state, id).await;
    assert_eq!(r.s("status"), Some("processed"));
    assert_eq!(r.s("outcome"), Some("applied"));
    assert_eq!(r.n("attempts"), Some(2), "claimed twice, applied once");
    let payment = state
        .store
        .get("payment#stripe#pi_claim_retaken", "status")
        .await
        .unwrap()
        .expect("the effect landed");
    assert_eq!(payment.s("status"), Some("succeeded"));
    assert_eq!(payment.s("set_by"), Some("stripe#evt_claim_retaken"));
    // The other message, retried, finds the event processed and is done.
    dispatcher.dispatch(state, &msg.body, &other).await.unwrap();
}

/// Runs a scenario on a current-thread runtime whose counts go to a registry of its own.
fn counted<F: Future<Output = ()>>(scenario: impl FnOnce() -> F) -> Registry {
    let registry = Registry::new("cleanup-cron");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    counting(&registry, || rt.block_on(scenario()));
    registry
}

#[test]
fn the_sweep_reports_how_long_the_oldest_unprocessed_event_has_waited() {
    let counts = counted(|| async {
        let clock = manual_clock();
        let state = embedded_state(settings(&[]), clock.clone());
        let fx = Fx {
            state: state.clone(),
            clock: clock.clone(),
        };
        // One event processed long ago, one still queued (its message in the queue, a
        // backlog), one recorded a minute later and still waiting too.
        intake::record(&state, verified(&fx, "evt_done", "pi_done"))
            .await
            .unwrap();
        let done = take(&state.queue).await.pop().unwrap();
        jobs_worker::dispatcher()
            .dispatch(&state, &done.body, &meta(&done))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(60));
        intake::record(&state, verified(&fx, "evt_old", "pi_old"))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(60));
        intake::record(&state, verified(&fx, "evt_new", "pi_new"))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(30));
        rampart_gdpr::retention::run(&state).await.unwrap();
    });
    assert_eq!(
        counts.value(Metric::WebhookOldestUnprocessedSecs, &[]),
        90,
        "evt_old has waited 90 s; the processed one does not count"
    );
}
