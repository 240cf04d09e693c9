//! Nothing is lost and nothing waits for the sweep: a storm of duplicate deliveries while a
//! consumer dies holding messages and the intake's sends fail after its put, on both backends
//! (the provider's retry queues what the failed send left); a delivery that finds its event
//! unqueued or overdue queues it, a plain duplicate does not; and the cron's sweep, which
//! queues what a crash left unqueued without queueing fresh events twice.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rampart_http::AppState;
use rampart_platform::clock::SharedClock;
use rampart_store::queue::{OutgoingMessage, Queue, QueueError, ReceivedMessage, SharedQueue};
use rampart_store::{Query, SharedStore};
use rampart_store_sqlite::SqliteQueue;
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{
    STRIPE_NEW, TestApp, aws_endpoint, dynamo_store, embedded_state, manual_clock, settings,
    spawn_app_with, test_secrets,
};
use rampart_webhooks::heal::OVERDUE_MS;
use rampart_webhooks::intake::{self, Intake, Verified};
use serde_json::json;

use super::{AheadClock, BASE_SETTINGS, now, processed, record, sqs_queue, stripe_header};

/// A queue whose sends fail while `dying` is set, one in `EVERY`: the intake's put landed and
/// its send failed (it answers 503 and the provider retries).
struct DyingSends {
    inner: SharedQueue,
    dying: AtomicBool,
    sends: AtomicUsize,
    /// The events a send failed for.
    lost: Mutex<BTreeSet<String>>,
}

impl DyingSends {
    const EVERY: usize = 4;
}

#[async_trait]
impl Queue for DyingSends {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        let n = self.sends.fetch_add(1, Ordering::SeqCst);
        if self.dying.load(Ordering::SeqCst) && n.is_multiple_of(Self::EVERY) {
            let body: serde_json::Value = serde_json::from_str(&msg.body).unwrap();
            let id = body["payload"]["event_id"].as_str().unwrap().to_string();
            self.lost.lock().unwrap().insert(id);
            return Err(QueueError::unavailable("send failed after the put"));
        }
        self.inner.send(msg).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.receive(max, visibility, wait).await
    }
    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.ack(receipt).await
    }
    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.inner.set_visibility(receipt, visibility).await
    }
    async fn health(&self) -> Result<(), QueueError> {
        self.inner.health().await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

pub struct StormFx {
    app: TestApp,
    intake: Arc<DyingSends>,
}

async fn storm_fx(store: SharedStore, queue: SharedQueue, clock: Arc<AheadClock>) -> StormFx {
    let intake = Arc::new(DyingSends {
        inner: queue,
        dying: AtomicBool::new(true),
        sends: AtomicUsize::new(0),
        lost: Mutex::default(),
    });
    // Enough receives that the saboteur below cannot push a message into the dead-letter queue.
    // The local cron first runs one interval after start: a day, so no sweep rescues anything.
    let mut pairs = BASE_SETTINGS.to_vec();
    pairs.push(("QUEUE_MAX_RECEIVES", "20"));
    pairs.push(("CRON_INTERVAL_SECS", "86400"));
    let shared: SharedClock = clock.clone();
    let state = AppState::new(
        settings(&pairs),
        store,
        intake.clone(),
        test_secrets(shared.clone()),
        shared,
    );
    StormFx {
        app: spawn_app_with(state).await,
        intake,
    }
}

pub async fn embedded_storm() -> Option<StormFx> {
    let clock = Arc::new(AheadClock::default());
    let shared: SharedClock = clock.clone();
    let db = Db::in_memory().expect("sqlite");
    let store: SharedStore = Arc::new(SqliteStore::new(db.clone(), shared.clone()));
    let queue: SharedQueue = Arc::new(SqliteQueue::new(db, shared, "payments", 20));
    Some(storm_fx(store, queue, clock).await)
}

pub async fn aws_storm() -> Option<StormFx> {
    let ep = aws_endpoint()?;
    let clock = Arc::new(AheadClock::default());
    let store = dynamo_store(&ep, clock.clone()).await;
    let queue = sqs_queue(&ep, None).await;
    Some(storm_fx(store, queue, clock).await)
}

rampart_tests::on_backends!(
    super::embedded_storm, super::aws_storm;
    storm_of_duplicates_with_dying_consumers_and_failing_sends_processes_each_event_once,
);

async fn storm_of_duplicates_with_dying_consumers_and_failing_sends_processes_each_event_once(
    fx: StormFx,
) {
    let app = &fx.app;
    let bodies: Vec<String> = (0..50)
        .map(|i| {
            json!({"id": format!("evt_storm_{i}"), "type": "payment_intent.succeeded", "created": now(),
                "data": {"object": {"id": format!("pi_storm_{i}"), "status": "succeeded"}}})
            .to_string()
        })
        .collect();
    // A consumer that takes messages and dies holding them, now and then, during the storm.
    let queue = app.state.queue.clone();
    let saboteur = tokio::spawn(async move {
        let mut stolen = 0;
        for _ in 0..8 {
            if let Ok(batch) = queue
                .receive(10, Duration::from_secs(1), Duration::from_millis(100))
                .await
            {
                stolen += batch.len(); // dropped without ack: the consumer "crashed"
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        stolen
    });
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = Vec::new();
    for n in 0..500 {
        let (client, url, body, sem) = (
            app.client.clone(),
            app.url("/webhooks/stripe"),
            bodies[n % 50].clone(),
            sem.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            // Like a provider: a delivery that got no answer (the intake died) is sent again.
            loop {
                let sig = stripe_header(&body, STRIPE_NEW, now());
                let status = client
                    .post(&url)
                    .header("stripe-signature", sig)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                if status != 503 {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let stolen = saboteur.await.unwrap();
    assert!(
        stolen > 0,
        "the dying consumer must actually have held messages"
    );
    fx.intake.dying.store(false, Ordering::SeqCst);
    let lost = fx.intake.lost.lock().unwrap().clone();
    assert!(
        !lost.is_empty(),
        "some of the intake's sends must actually have failed"
    );
    // Every event is processed without the sweep and without the clock moving: those whose
    // send failed were queued by the provider's retry, which found the not-queued mark.
    for i in 0..50 {
        let r = processed(app, "stripe", &format!("evt_storm_{i}")).await;
        assert_eq!(r.s("outcome"), Some("applied"));
        assert_eq!(r.n("attempts"), Some(1), "applied once");
    }
    for id in &lost {
        let r = record(app, "stripe", id).await.unwrap();
        assert!(
            r.n("enqueue_failed_at").is_some(),
            "{id}: its failed send was marked on the record"
        );
    }
    let report = rampart_gdpr::retention::run(&app.state).await.unwrap();
    assert_eq!(
        report.webhooks_requeued, 0,
        "nothing was left for the sweep"
    );
    let page = app
        .state
        .store
        .query(Query::table("whevt#stripe").limit(1000))
        .await
        .unwrap();
    assert_eq!(
        page.items.len(),
        50,
        "exactly 50 records for 500 deliveries"
    );
    for i in 0..50 {
        let p = app
            .state
            .store
            .get(&format!("payment#stripe#pi_storm_{i}"), "status")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.s("status"), Some("succeeded"));
    }
    fx.app.shutdown().await;
}

#[tokio::test]
async fn the_cron_queues_a_record_a_crash_left_unqueued() {
    let clock = rampart_tests::manual_clock();
    let state = embedded_state(settings(&[]), clock.clone());
    // Recorded, then the process died before enqueueing (status still `received`).
    let item = rampart_store::Item::new("whevt#stripe", "evt#evt_lost")
        .with("type", "webhook_event")
        .with("provider", "stripe")
        .with("event_id", "evt_lost")
        .with("status", "received")
        .with(
            "received_at",
            rampart_platform::clock::Clock::now_ms(&*clock),
        )
        .with("gsi1pk", "whevt")
        .with("gsi1sk", "x");
    state.store.put(item, None).await.unwrap();
    // Its message may still be on its way: left alone until overdue.
    clock.advance(Duration::from_secs(60));
    let report = rampart_gdpr::retention::run(&state).await.unwrap();
    assert_eq!(report.webhooks_requeued, 0, "not overdue yet");
    clock.advance(Duration::from_millis(OVERDUE_MS as u64));
    let report = rampart_gdpr::retention::run(&state).await.unwrap();
    assert_eq!(report.webhooks_requeued, 1);
    let msgs = state
        .queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].body.contains("evt_lost"));
    let r = state
        .store
        .get("whevt#stripe", "evt#evt_lost")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.s("status"), Some("queued"));
    // Its message is then lost (say, dead-lettered unseen): after the retry cycle it is queued again.
    state.queue.ack(&msgs[0].receipt).await.unwrap();
    assert_eq!(
        rampart_gdpr::retention::run(&state)
            .await
            .unwrap()
            .webhooks_requeued,
        0,
        "not yet"
    );
    clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(
        rampart_gdpr::retention::run(&state)
            .await
            .unwrap()
            .webhooks_requeued,
        1
    );
}

fn verified(id: &str) -> Verified {
    Verified {
        provider: "stripe".into(),
        event_id: id.into(),
        event_type: "invoice.paid".into(),
        occurred_at: None,
        payload: b"{}".to_vec(),
    }
}

/// Messages waiting in the queue, left there.
async fn waiting(queue: &SharedQueue) -> usize {
    let msgs = queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    for m in &msgs {
        queue
            .set_visibility(&m.receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    msgs.len()
}

#[tokio::test]
async fn a_fresh_event_is_queued_once_and_neither_duplicates_nor_the_cron_queue_it_again() {
    let clock = manual_clock();
    let state = embedded_state(settings(&[]), clock.clone());
    assert_eq!(
        intake::record(&state, verified("evt_fresh")).await.unwrap(),
        Intake::New
    );
    assert_eq!(waiting(&state.queue).await, 1);
    // Its message is still waiting for a worker (a backlog): a redelivery and the sweep
    // within the grace period leave it alone.
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        intake::record(&state, verified("evt_fresh")).await.unwrap(),
        Intake::Duplicate
    );
    let report = rampart_gdpr::retention::run(&state).await.unwrap();
    assert_eq!(report.webhooks_requeued, 0);
    assert_eq!(waiting(&state.queue).await, 1, "one message, not two");
}

#[tokio::test]
async fn a_redelivery_of_an_event_a_crash_left_unqueued_queues_it_once_overdue() {
    let clock = manual_clock();
    let state = embedded_state(settings(&[]), clock.clone());
    intake::record(&state, verified("evt_crashed"))
        .await
        .unwrap();
    // The process died before the send: the message never existed, nothing marked the record.
    let lost = state
        .queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    state.queue.ack(&lost[0].receipt).await.unwrap();
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        intake::record(&state, verified("evt_crashed"))
            .await
            .unwrap(),
        Intake::Duplicate,
        "indistinguishable from an event whose message is on its way"
    );
    clock.advance(Duration::from_millis(OVERDUE_MS as u64));
    assert_eq!(
        intake::record(&state, verified("evt_crashed"))
            .await
            .unwrap(),
        Intake::Requeued
    );
    assert_eq!(waiting(&state.queue).await, 1);
}
