//! `POST /orders` with one Idempotency-Key, 50 times at once, while 10% of every store and queue
//! call fails (throttles, timeouts before the write, timeouts after it landed), on both
//! backends: every answer is the order (201, fresh or replayed), 409 while another request
//! holds the key, or 503 problem+json with `Retry-After`, never a 500; once the refused ones
//! are retried, every answer names the same order and exactly one order and one eSIM exist.

use std::sync::Arc;
use std::time::Duration;

use rampart_http::AppState;
use rampart_platform::clock::{ManualClock, SharedClock};
use rampart_platform::faults::Faults;
use rampart_store::SharedStore;
use rampart_store::faulty::FaultyStore;
use rampart_store::queue::SharedQueue;
use rampart_store::queue::faulty::FaultyQueue;
use rampart_store_sqlite::SqliteQueue;
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{TestApp, spawn_app_with, test_secrets};
use serde_json::{Value, json};

use super::{Customer, get, json_of, sign_up};

pub struct FaultyShop {
    app: TestApp,
    clock: Arc<ManualClock>,
    faults: Arc<Faults>,
}

/// The shop over `store` and `queue`, both behind the dice (off until the test turns them on).
async fn faulty_shop(
    store: SharedStore,
    queue: SharedQueue,
    clock: Arc<ManualClock>,
) -> FaultyShop {
    let faults = Arc::new(Faults::new(0.0, 20_261_130, Duration::ZERO));
    let shared: SharedClock = clock.clone();
    // The retries a client makes under faults are real calls, and enough of them pass the free
    // tier's 100 a day; what is tested here is idempotency, so the quota is lifted.
    let unmetered = [(
        "TIERS",
        r#"{"free": {"api_calls_per_day": null}, "starter": {"api_calls_per_day": null},
            "pro": {"api_calls_per_day": null}, "enterprise": {"api_calls_per_day": null}}"#,
    )];
    let state = AppState::new(
        super::shop_settings(&unmetered),
        Arc::new(FaultyStore::new(store, faults.clone())),
        Arc::new(FaultyQueue::new(queue, faults.clone())),
        test_secrets(shared.clone()),
        shared,
    );
    FaultyShop {
        app: spawn_app_with(state).await,
        clock,
        faults,
    }
}

pub async fn embedded_faulty_shop() -> Option<FaultyShop> {
    let clock = rampart_tests::manual_clock();
    let shared: SharedClock = clock.clone();
    let db = Db::in_memory().expect("sqlite");
    let store: SharedStore = Arc::new(SqliteStore::new(db.clone(), shared.clone()));
    let queue: SharedQueue = Arc::new(SqliteQueue::new(
        db,
        shared,
        rampart_store_sqlite::LOCAL_QUEUE,
        50,
    ));
    Some(faulty_shop(store, queue, clock).await)
}

pub async fn dynamo_faulty_shop() -> Option<FaultyShop> {
    let ep = rampart_tests::aws_endpoint()?;
    let clock = rampart_tests::manual_clock();
    let store = rampart_tests::dynamo_store(&ep, clock.clone()).await;
    let queue = crate::webhooks::sqs_queue(&ep, None).await;
    Some(faulty_shop(store, queue, clock).await)
}

rampart_tests::on_backends!(
    super::embedded_faulty_shop, super::dynamo_faulty_shop;
    fifty_identical_orders_under_faults_make_one_order_and_every_answer_agrees,
);

/// What one `POST /orders` answered, as a client sees it.
#[derive(Debug)]
enum Answer {
    /// 201: the order's id, and whether it was a replay.
    Order { id: String, replayed: bool },
    /// 409: another request holds the key; retry.
    Busy,
    /// 503 with `Retry-After`: a dependency failed; retry.
    Unavailable,
}

/// `n` identical requests at once.
async fn wave(app: &TestApp, who: &Customer, body: &Value, n: usize) -> Vec<Answer> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/orders"))
                .bearer_auth(&who.token)
                .header("idempotency-key", "fifty-under-faults")
                .json(body);
            tokio::spawn(async move { answer(request.send().await.unwrap()).await })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let problem = || {
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{status}: {text}"
        );
        serde_json::from_str::<Value>(&text).unwrap()
    };
    match status {
        201 => Answer::Order {
            id: serde_json::from_str::<Value>(&text).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
            replayed: headers.get("idempotent-replayed").is_some(),
        },
        409 => {
            assert_eq!(problem()["status"], 409);
            Answer::Busy
        }
        503 => {
            assert_eq!(problem()["type"], "urn:rampart:problem:unavailable");
            let retry: u64 = headers
                .get("retry-after")
                .unwrap_or_else(|| panic!("503 without Retry-After: {text}"))
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry), "Retry-After {retry}");
            Answer::Unavailable
        }
        other => panic!("a client must never see {other} here: {text}"),
    }
}

async fn fifty_identical_orders_under_faults_make_one_order_and_every_answer_agrees(
    fx: FaultyShop,
) {
    let app = &fx.app;
    let alice = sign_up(app, "alice@example.com").await;
    let body = json!({"sku": "eu-5gb-30d", "quantity": 1});
    fx.faults.set_rate(0.1);
    let mut answers = wave(app, &alice, &body, 50).await;
    assert!(fx.faults.injected() > 0, "the dice never rolled a fault");
    let refused = answers
        .iter()
        .filter(|a| matches!(a, Answer::Unavailable))
        .count();
    eprintln!(
        "first wave: {refused} answered 503, {} faults injected",
        fx.faults.injected()
    );
    assert!(
        refused > 0,
        "no fault reached a client: the test proves nothing"
    );
    // Retry what was refused, as a client following Retry-After would, still under faults. A
    // claim whose holder lost its answer (the claim landed, the reply did not) keeps the key
    // busy until its deadline: time moves past it between rounds.
    for _ in 0..10 {
        let pending: Vec<usize> = (0..answers.len())
            .filter(|&i| !matches!(answers[i], Answer::Order { .. }))
            .collect();
        if pending.is_empty() {
            break;
        }
        fx.clock
            .advance(rampart_http::idempotency::IN_PROGRESS_DEADLINE + Duration::from_secs(1));
        let retried = wave(app, &alice, &body, pending.len()).await;
        for (i, a) in pending.into_iter().zip(retried) {
            answers[i] = a;
        }
    }
    fx.faults.set_rate(0.0);
    let ids: Vec<&str> = answers
        .iter()
        .map(|a| match a {
            Answer::Order { id, .. } => id.as_str(),
            other => panic!("still refused after ten rounds of retries: {other:?}"),
        })
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every answer names one order: {ids:?}"
    );
    let fresh = answers
        .iter()
        .filter(|a| {
            matches!(
                a,
                Answer::Order {
                    replayed: false,
                    ..
                }
            )
        })
        .count();
    assert!(
        fresh <= 1,
        "{fresh} requests created an order (one, or none when the creator's answer was lost)"
    );
    let orders = json_of(get(app, &alice, "/orders").await).await;
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1, "{orders}");
    assert_eq!(orders["orders"][0]["id"], ids[0]);
    let esims = json_of(get(app, &alice, "/esims").await).await;
    assert_eq!(esims["esims"].as_array().unwrap().len(), 1, "{esims}");
    assert_eq!(esims["esims"][0]["order_id"], ids[0]);
    fx.app.shutdown().await;
}
