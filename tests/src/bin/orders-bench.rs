//! The shop's numbers (`cargo run --profile bench-fast -p rampart-tests --bin orders-bench`, with
//! the peers of `scripts/peers.sh` for the DynamoDB part):
//! - `POST /orders` latency (p50/p99) over loopback HTTP on the local stack, embedded store, one
//!   request at a time, new orders and replays;
//! - DynamoDB calls per `POST /orders` (new and replay) through the same stack on a moto table,
//!   counted by an SDK interceptor, next to `GET /auth/me` (the authentication every shop
//!   request pays).
//!
//! Timings on a shared 2-core machine are noisy: compare within one run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use rampart_http::AppState;
use rampart_store::SharedStore;
use rampart_store::dynamo::DynamoStore;
use rampart_tests::{TestApp, aws_config, aws_endpoint, dynamo_table, settings, state_on};
use serde_json::{Value, json};

/// Orders per user stay under the 30/min limit.
const PER_USER: usize = 25;

#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<AtomicUsize>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "call-counter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn latency(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{label:<52} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  (n={})",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(*samples.last().expect("samples")),
        samples.len()
    );
}

/// Registers and signs in `bench<n>@example.com` from its own client address (the auth routes
/// limit per IP).
async fn token(app: &TestApp, n: usize) -> String {
    let pw = "correct horse battery staple";
    let email = format!("bench{n}@example.com");
    let ip = format!("10.6.{}.{}", n / 250, n % 250 + 1);
    let r = app
        .client
        .post(app.url("/auth/register"))
        .header("x-forwarded-for", &ip)
        .json(&json!({"email": email, "password": pw}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201);
    let body: Value = app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", &ip)
        .json(&json!({"email": email, "password": pw, "delivery": "body"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    body["access_token"].as_str().expect("token").to_string()
}

/// One `POST /orders`; returns its latency and whether it was a replay.
async fn post_order(app: &TestApp, token: &str, key: &str) -> (Duration, bool) {
    let t = Instant::now();
    let r = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({"sku": "eu-5gb-30d", "quantity": 1}))
        .send()
        .await
        .expect("order");
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let replayed = r.headers().get("idempotent-replayed").is_some();
    let _ = r.bytes().await;
    (t.elapsed(), replayed)
}

async fn spawn(state: AppState) -> TestApp {
    rampart_tests::spawn_app_with(state).await
}

async fn local_latency(users: usize) {
    let state = rampart_tests::embedded_state(
        settings(&[("TRUSTED_PROXIES", "127.0.0.0/8")]),
        rampart_platform::clock::system(),
    );
    let app = spawn(state).await;
    let mut fresh = Vec::new();
    let mut replays = Vec::new();
    for u in 0..users {
        let token = token(&app, u).await;
        for i in 0..PER_USER {
            let (d, replayed) = post_order(&app, &token, &format!("k{i}")).await;
            assert!(!replayed);
            fresh.push(d);
        }
        for i in 0..PER_USER {
            let (d, replayed) = post_order(&app, &token, &format!("k{i}")).await;
            assert!(replayed);
            replays.push(d);
        }
    }
    latency("local stack: POST /orders, new order", fresh);
    latency("local stack: POST /orders, replay", replays);
    app.shutdown().await;
}

async fn dynamodb_calls(endpoint: &str) {
    let (_, table) = dynamo_table(endpoint).await;
    let counter = CallCounter::default();
    let cfg = aws_config(endpoint).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&cfg)
            .interceptor(counter.clone())
            .build(),
    );
    let clock = rampart_platform::clock::system();
    let store: SharedStore = Arc::new(DynamoStore::new(client, table, clock.clone()));
    let mut state = state_on(store, clock);
    state.settings = Arc::new(settings(&[("TRUSTED_PROXIES", "127.0.0.0/8")]));
    let app = spawn(state).await;
    let token = token(&app, 999).await;
    let calls = || counter.0.load(Ordering::SeqCst);
    let n = 20;
    let per = |before: usize| (calls() - before) as f64 / n as f64;

    let before = calls();
    for _ in 0..n {
        let r = app
            .client
            .get(app.url("/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("me");
        assert_eq!(r.status(), 200);
    }
    let auth = per(before);
    let (before, t) = (calls(), Instant::now());
    for i in 0..n {
        post_order(&app, &token, &format!("d{i}")).await;
    }
    let (new, new_time) = (per(before), t.elapsed());
    let (before, t) = (calls(), Instant::now());
    for i in 0..n {
        assert!(post_order(&app, &token, &format!("d{i}")).await.1);
    }
    let (replay, replay_time) = (per(before), t.elapsed());
    println!("DynamoDB calls per request through the local stack on moto (n={n} each):");
    println!("    GET /auth/me (authentication only)            {auth:.2}");
    println!(
        "    POST /orders, new order                       {new:.2}  ({:.1} ms/request against moto)",
        ms(new_time) / n as f64
    );
    println!(
        "    POST /orders, replay                          {replay:.2}  ({:.1} ms/request against moto)",
        ms(replay_time) / n as f64
    );
    app.shutdown().await;
}

#[tokio::main]
async fn main() {
    println!("== POST /orders latency (local stack, embedded store) ==");
    local_latency(8).await;
    match aws_endpoint() {
        Some(ep) => {
            println!("== DynamoDB calls (moto at {ep}) ==");
            dynamodb_calls(&ep).await;
        }
        None => println!(
            "(DynamoDB part skipped: RAMPART_TEST_AWS_ENDPOINT is not set; scripts/peers.sh sets it)"
        ),
    }
}
