//! The webhook storm with 10% of every store and queue call failing (throttles, timeouts
//! before and after the write) and a consumer dying mid-batch, on both backends: every
//! delivery is answered 200 or 503 (providers retry 5xx), never a 500; within 30 seconds of the
//! storm's end, without the sweep and without the clock moving, every event is processed, each
//! effect in place once; exactly the 50 events exist, and the sweep finds nothing left to do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rampart_http::AppState;
use rampart_platform::clock::SharedClock;
use rampart_platform::faults::Faults;
use rampart_store::faulty::FaultyStore;
use rampart_store::queue::SharedQueue;
use rampart_store::queue::faulty::FaultyQueue;
use rampart_store::{Query, SharedStore};
use rampart_store_sqlite::SqliteQueue;
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{
    STRIPE_NEW, TestApp, aws_endpoint, dynamo_store, settings, spawn_app_with, test_secrets,
};
use serde_json::json;

use super::{AheadClock, BASE_SETTINGS, now, processed, record, stripe_header};

pub struct FaultyFx {
    app: TestApp,
    clock: Arc<AheadClock>,
    faults: Arc<Faults>,
}

async fn faulty_fx(store: SharedStore, queue: SharedQueue, clock: Arc<AheadClock>) -> FaultyFx {
    let faults = Arc::new(Faults::new(0.1, 20_261_129, Duration::ZERO));
    let store: SharedStore = Arc::new(FaultyStore::new(store, faults.clone()));
    let queue: SharedQueue = Arc::new(FaultyQueue::new(queue, faults.clone()));
    // Receives enough that a message the faults bounce around never dead-letters here. The
    // local cron first runs one interval after start: a day, so no sweep runs during the test.
    let mut pairs = BASE_SETTINGS.to_vec();
    pairs.push(("QUEUE_MAX_RECEIVES", "50"));
    pairs.push(("CRON_INTERVAL_SECS", "86400"));
    let shared: SharedClock = clock.clone();
    let state = AppState::new(
        settings(&pairs),
        store,
        queue,
        test_secrets(shared.clone()),
        shared,
    );
    FaultyFx {
        app: spawn_app_with(state).await,
        clock,
        faults,
    }
}

pub async fn embedded_faulty() -> Option<FaultyFx> {
    let clock = Arc::new(AheadClock::default());
    let shared: SharedClock = clock.clone();
    let db = Db::in_memory().expect("sqlite");
    let store: SharedStore = Arc::new(SqliteStore::new(db.clone(), shared.clone()));
    let queue: SharedQueue = Arc::new(SqliteQueue::new(db, shared, "payments", 50));
    Some(faulty_fx(store, queue, clock).await)
}

pub async fn aws_faulty() -> Option<FaultyFx> {
    let ep = aws_endpoint()?;
    let clock = Arc::new(AheadClock::default());
    let store = dynamo_store(&ep, clock.clone()).await;
    let queue = super::sqs_queue(&ep, None).await;
    Some(faulty_fx(store, queue, clock).await)
}

rampart_tests::on_backends!(
    super::embedded_faulty, super::aws_faulty;
    a_storm_under_ten_percent_faults_loses_nothing_and_doubles_nothing,
);

async fn a_storm_under_ten_percent_faults_loses_nothing_and_doubles_nothing(fx: FaultyFx) {
    let app = &fx.app;
    let bodies: Vec<String> = (0..50)
        .map(|i| {
            json!({"id": format!("evt_fault_{i}"), "type": "payment_intent.succeeded", "created": now(),
                "data": {"object": {"id": format!("pi_fault_{i}"), "status": "succeeded"}}})
            .to_string()
        })
        .collect();
    // A consumer that takes a batch and dies holding it, once, mid-storm. It races the local
    // stack's worker for messages, so it keeps trying until it wins one or the storm is over (a
    // fixed number of tries could lose every race on a loaded machine).
    let queue = app.state.queue.clone();
    let storm_over = Arc::new(AtomicBool::new(false));
    let killed = {
        let storm_over = storm_over.clone();
        tokio::spawn(async move {
            while !storm_over.load(Ordering::SeqCst) {
                if let Ok(batch) = queue
                    .receive(10, Duration::from_secs(1), Duration::from_millis(100))
                    .await
                    && !batch.is_empty()
                {
                    return batch.len(); // dropped without ack
                }
            }
            0
        })
    };
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
            let mut answers = Vec::new();
            // A provider retries a 5xx (bounded here so a bug cannot hang the test).
            for _ in 0..60 {
                let status = client
                    .post(&url)
                    .header("stripe-signature", stripe_header(&body, STRIPE_NEW, now()))
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                answers.push(status);
                if status < 500 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answers
        }));
    }
    let mut retried = 0;
    for t in tasks {
        let answers = t.await.unwrap();
        assert!(
            answers.iter().all(|s| *s == 200 || *s == 503),
            "only 200 or 503, never a 500 or a 4xx: {answers:?}"
        );
        assert_eq!(answers.last(), Some(&200), "the retries got through");
        retried += usize::from(answers.len() > 1);
    }
    storm_over.store(true, Ordering::SeqCst);
    let storm_end = Instant::now();
    assert!(
        killed.await.unwrap() > 0,
        "the consumer died holding messages"
    );
    assert!(fx.faults.injected() > 0, "faults were injected");
    assert!(retried > 0, "some deliveries met a fault and were retried");

    // The storm is over; the dependencies recover. Whatever a fault left behind (a send that
    // failed, a put whose answer was lost, a claim whose result write failed, a receive whose
    // answer was lost) was queued by the provider's retry or comes back with the queue's
    // redelivery: every event is processed within 30 s, without the sweep or the clock.
    fx.faults.set_rate(0.0);
    let ids: Vec<String> = (0..50).map(|i| format!("evt_fault_{i}")).collect();
    let late = unprocessed_by(app, &ids, storm_end + Duration::from_secs(30)).await;
    assert!(
        late.is_empty(),
        "not processed 30 s after the storm: {late:#?}"
    );
    for i in 0..50 {
        let r = record(app, "stripe", &format!("evt_fault_{i}"))
            .await
            .unwrap();
        assert_eq!(r.s("outcome"), Some("applied"), "evt_fault_{i}");
        // Applied once: the forward-only payment record was set by this event, and only a
        // write that moves it forward lands (a re-run finds its own status and writes nothing).
        let p = app
            .state
            .store
            .get(&format!("payment#stripe#pi_fault_{i}"), "status")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            p.s("set_by"),
            Some(format!("stripe#evt_fault_{i}").as_str())
        );
    }

    // Past every lease and grace period, the sweep finds nothing left to rescue.
    fx.clock.advance(Duration::from_secs(31 * 60));
    let report = rampart_gdpr::retention::run(&app.state).await.unwrap();
    assert_eq!(
        report.webhooks_requeued, 0,
        "nothing was left for the sweep"
    );
    for i in 0..50 {
        let r = processed(app, "stripe", &format!("evt_fault_{i}")).await;
        assert_eq!(r.s("outcome"), Some("applied"), "evt_fault_{i}");
    }
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
            .get(&format!("payment#stripe#pi_fault_{i}"), "status")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.s("status"), Some("succeeded"));
    }
    fx.app.shutdown().await;
}

/// The events of `ids` not processed by `deadline` (polling), each with what its record says.
async fn unprocessed_by(app: &TestApp, ids: &[String], deadline: Instant) -> Vec<String> {
    loop {
        let mut waiting = Vec::new();
        for id in ids {
            let r = record(app, "stripe", id).await;
            if r.as_ref().and_then(|r| r.s("status")) != Some("processed") {
                waiting.push((id, r));
            }
        }
        if waiting.is_empty() {
            return Vec::new();
        }
        if Instant::now() >= deadline {
            return waiting
                .into_iter()
                .map(|(id, r)| {
                    let r = r.as_ref();
                    let s = |a| r.and_then(|r| r.s(a)).unwrap_or("-").to_string();
                    let n = |a| r.and_then(|r| r.n(a)).map_or("-".into(), |n| n.to_string());
                    format!(
                        "{id}: status {} attempts {} enqueue_failed_at {} claimed_by {} last_error {}",
                        s("status"),
                        n("attempts"),
                        n("enqueue_failed_at"),
                        s("claimed_by"),
                        s("last_error"),
                    )
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
