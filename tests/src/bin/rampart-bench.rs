//! Benchmarks with numbers in the output (`scripts/bench`):
//! - embedded backend: conditional puts/s, rate-limit checks/s, idempotency claim+complete/s;
//! - DynamoDB (moto, when `RAMPART_TEST_AWS_ENDPOINT` is set): SDK calls per idempotency claim,
//!   replay and rate-limit check, counted by an SDK interceptor, and their latency against moto.
//!
//! Timings on a shared 2-core machine are noisy: compare ratios within one run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use rampart_http::idempotency::{self, Claim, StoredResponse};
use rampart_http::ratelimit::{self, KeyPart, Rule, Subject};
use rampart_store::dynamo::DynamoStore;
use rampart_store::{Condition, Item, SharedStore};
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{aws_config, aws_endpoint, dynamo_table, settings, state_on};

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

fn rate(label: &str, n: usize, elapsed: Duration) {
    let per_sec = n as f64 / elapsed.as_secs_f64();
    let us = elapsed.as_secs_f64() * 1e6 / n as f64;
    println!("{label:<58} {per_sec:>10.0} ops/s  {us:>9.1} µs/op  (n={n})");
}

async fn embedded(path: Option<&std::path::Path>) {
    let clock = rampart_platform::clock::system();
    let db = match path {
        Some(p) => Db::open(p).expect("db file"),
        None => Db::in_memory().expect("db"),
    };
    let label = if path.is_some() {
        "file (WAL)"
    } else {
        "in-memory"
    };
    let store: SharedStore = Arc::new(SqliteStore::new(db, clock.clone()));
    let state = state_on(store.clone(), clock.clone());

    let n = 5_000;
    let t = Instant::now();
    for i in 0..n {
        store
            .put(
                Item::new("bench", format!("k{i}")).with("v", i as i64),
                Some(Condition::NotExists),
            )
            .await
            .expect("put");
    }
    rate(
        &format!("sqlite {label}: conditional put (new key)"),
        n,
        t.elapsed(),
    );

    let t = Instant::now();
    let mut failed = 0;
    for _ in 0..n {
        if store
            .put(Item::new("bench", "k0"), Some(Condition::NotExists))
            .await
            .is_err()
        {
            failed += 1;
        }
    }
    assert_eq!(failed, n);
    rate(
        &format!("sqlite {label}: conditional put (condition fails)"),
        n,
        t.elapsed(),
    );

    let rule = Rule::new("bench", u32::MAX, Duration::from_secs(3600), &[KeyPart::Ip]);
    let subject = Subject {
        ip: Some("198.51.100.1".parse().expect("ip")),
        ..Subject::default()
    };
    let t = Instant::now();
    for _ in 0..n {
        ratelimit::check(&state, &rule, &subject)
            .await
            .expect("check");
    }
    rate(
        &format!("sqlite {label}: rate-limit check, 1 task"),
        n,
        t.elapsed(),
    );

    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (state, rule, subject) = (state.clone(), rule.clone(), subject.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..n / 8 {
                ratelimit::check(&state, &rule, &subject)
                    .await
                    .expect("check");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    rate(
        &format!("sqlite {label}: rate-limit check, 8 tasks one key"),
        n / 8 * 8,
        t.elapsed(),
    );

    let resp = StoredResponse {
        status: 201,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"id":"order_1","total":1200}"#.to_vec(),
    };
    let n = 2_000;
    let t = Instant::now();
    for i in 0..n {
        let c = idempotency::claim(
            &store,
            clock.now_secs(),
            Duration::from_secs(86_400),
            "u",
            &format!("k{i}"),
            "h",
        )
        .await
        .expect("claim");
        if let Claim::Acquired(g) = c {
            idempotency::complete(&store, &g, &resp)
                .await
                .expect("complete");
        }
    }
    rate(
        &format!("sqlite {label}: idempotency claim + complete"),
        n,
        t.elapsed(),
    );
    let t = Instant::now();
    for i in 0..n {
        let c = idempotency::claim(
            &store,
            clock.now_secs(),
            Duration::from_secs(86_400),
            "u",
            &format!("k{i}"),
            "h",
        )
        .await
        .expect("claim");
        assert!(matches!(c, Claim::Replay(_)));
    }
    rate(
        &format!("sqlite {label}: idempotency replay"),
        n,
        t.elapsed(),
    );
}

async fn dynamodb(endpoint: &str) {
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
    let state = state_on(store.clone(), clock.clone());
    let calls = || counter.0.load(Ordering::SeqCst);
    let resp = StoredResponse {
        status: 201,
        headers: vec![],
        body: b"{}".to_vec(),
    };
    let n = 200;

    let (before, t) = (calls(), Instant::now());
    for i in 0..n {
        let c = idempotency::claim(
            &store,
            clock.now_secs(),
            Duration::from_secs(86_400),
            "u",
            &format!("k{i}"),
            "h",
        )
        .await
        .expect("claim");
        let Claim::Acquired(g) = c else {
            panic!("fresh key")
        };
        idempotency::complete(&store, &g, &resp)
            .await
            .expect("complete");
    }
    let (el, used) = (t.elapsed(), calls() - before);
    rate(
        "dynamodb(moto): idempotency first request (claim + complete)",
        n,
        el,
    );
    println!(
        "    SDK calls per first request: {:.2} (claim put + completion update)",
        used as f64 / n as f64
    );

    let (before, t) = (calls(), Instant::now());
    for i in 0..n {
        let c = idempotency::claim(
            &store,
            clock.now_secs(),
            Duration::from_secs(86_400),
            "u",
            &format!("k{i}"),
            "h",
        )
        .await
        .expect("claim");
        assert!(matches!(c, Claim::Replay(_)));
    }
    let (el, used) = (t.elapsed(), calls() - before);
    rate("dynamodb(moto): idempotency replay", n, el);
    println!(
        "    SDK calls per replay: {:.2} (the failed conditional put returns the stored response)",
        used as f64 / n as f64
    );

    let subject = Subject {
        ip: Some("198.51.100.1".parse().expect("ip")),
        ..Subject::default()
    };
    for (label, rule) in [
        (
            "fixed window",
            Rule::new("b1", u32::MAX, Duration::from_secs(3600), &[KeyPart::Ip]),
        ),
        (
            "sliding window",
            Rule::new("b2", u32::MAX, Duration::from_secs(3600), &[KeyPart::Ip]).sliding(),
        ),
    ] {
        let (before, t) = (calls(), Instant::now());
        for _ in 0..n {
            ratelimit::check(&state, &rule, &subject)
                .await
                .expect("check");
        }
        let (el, used) = (t.elapsed(), calls() - before);
        rate(&format!("dynamodb(moto): rate-limit check, {label}"), n, el);
        println!("    SDK calls per check: {:.2}", used as f64 / n as f64);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn latency(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<58} p50 {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms  (n={})",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.95)),
        ms(*samples.last().expect("samples")),
        samples.len()
    );
}

/// Login (argon2id m=19 MiB, t=2) and `/auth/me` (JWT check + one session read) over loopback
/// HTTP against the local stack on the embedded store, one request at a time.
async fn auth_latency() {
    let state = rampart_tests::embedded_state(
        settings(&[("TRUSTED_PROXIES", "127.0.0.0/8")]),
        rampart_platform::clock::system(),
    );
    let app = rampart_tests::spawn_app_with(state).await;
    let pw = "correct horse battery staple";
    let r = app
        .client
        .post(app.url("/auth/register"))
        .json(&serde_json::json!({"email": "bench@example.com", "password": pw}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201);
    let mut logins = Vec::new();
    let mut token = String::new();
    for i in 0..40 {
        // A fresh client address each time keeps the 5/min login limit out of the measurement.
        let t = Instant::now();
        let r = app
            .client
            .post(app.url("/auth/login"))
            .header("x-forwarded-for", format!("10.9.{}.{}", i / 250, i % 250 + 1))
            .json(&serde_json::json!({"email": "bench@example.com", "password": pw, "delivery": "body"}))
            .send()
            .await
            .expect("login");
        let body: serde_json::Value = r.json().await.expect("json");
        logins.push(t.elapsed());
        token = body["access_token"].as_str().expect("token").to_string();
    }
    latency("local stack: POST /auth/login (argon2id verify)", logins);
    let mut mes = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        let r = app
            .client
            .get(app.url("/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("me");
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
        mes.push(t.elapsed());
    }
    latency("local stack: GET /auth/me (Bearer)", mes);
    app.shutdown().await;
}

/// Webhook intake over loopback HTTP on the local stack: distinct signed Stripe events,
/// 16 requests in flight.
async fn intake_throughput() {
    let state = rampart_tests::embedded_state(
        settings(&[("WEBHOOK_RATE_LIMIT", "1000000/m")]),
        rampart_platform::clock::system(),
    );
    let app = rampart_tests::spawn_app_with(state).await;
    let n = 2000;
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, url, sem) = (app.client.clone(), app.url("/webhooks/stripe"), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.expect("permit");
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
            let body = format!(r#"{{"id":"evt_bench_{i}","type":"bench.event","created":{now},"data":{{"object":{{}}}}}}"#);
            let sig = hex::encode(rampart_platform::crypto::hmac_sha256(
                rampart_tests::STRIPE_NEW.as_bytes(),
                format!("{now}.{body}").as_bytes(),
            ));
            let r = client
                .post(url)
                .header("stripe-signature", format!("t={now},v1={sig}"))
                .body(body)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200);
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    rate(
        "local stack: POST /webhooks/stripe (verify+record+enqueue), 16 in flight",
        n,
        t.elapsed(),
    );
    app.shutdown().await;
}

/// SDK calls one intake makes against DynamoDB and SQS (moto).
async fn intake_calls(endpoint: &str) {
    let (_, table) = dynamo_table(endpoint).await;
    let ddb_calls = CallCounter::default();
    let sqs_calls = CallCounter::default();
    let cfg = aws_config(endpoint).await;
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&cfg)
            .interceptor(ddb_calls.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&cfg)
            .interceptor(sqs_calls.clone())
            .build(),
    );
    let name = format!("bench-{}", rampart_platform::crypto::random_id());
    let url = rampart_tests::create_queue(&sqs, &name).await;
    let clock = rampart_platform::clock::system();
    let store: SharedStore = Arc::new(DynamoStore::new(ddb, table, clock.clone()));
    let mut state = state_on(store, clock);
    state.queue = Arc::new(rampart_store::queue::sqs::SqsQueue::new(sqs, url));
    let (d0, s0) = (
        ddb_calls.0.load(Ordering::SeqCst),
        sqs_calls.0.load(Ordering::SeqCst),
    );
    let n = 100;
    let t = Instant::now();
    for i in 0..n {
        let v = rampart_webhooks::intake::Verified {
            provider: "stripe".into(),
            event_id: format!("evt_calls_{i}"),
            event_type: "bench.event".into(),
            occurred_at: None,
            payload: b"{}".to_vec(),
        };
        rampart_webhooks::intake::record(&state, v)
            .await
            .expect("intake");
    }
    rate(
        "dynamodb+sqs (moto): webhook intake record+enqueue",
        n,
        t.elapsed(),
    );
    println!(
        "    SDK calls per new event: {:.2} DynamoDB (conditional put) + {:.2} SQS (send)",
        (ddb_calls.0.load(Ordering::SeqCst) - d0) as f64 / n as f64,
        (sqs_calls.0.load(Ordering::SeqCst) - s0) as f64 / n as f64
    );
    let (d0, s0) = (
        ddb_calls.0.load(Ordering::SeqCst),
        sqs_calls.0.load(Ordering::SeqCst),
    );
    for i in 0..n {
        let v = rampart_webhooks::intake::Verified {
            provider: "stripe".into(),
            event_id: format!("evt_calls_{i}"),
            event_type: "bench.event".into(),
            occurred_at: None,
            payload: b"{}".to_vec(),
        };
        rampart_webhooks::intake::record(&state, v)
            .await
            .expect("intake");
    }
    println!(
        "    SDK calls per duplicate: {:.2} DynamoDB + {:.2} SQS",
        (ddb_calls.0.load(Ordering::SeqCst) - d0) as f64 / n as f64,
        (sqs_calls.0.load(Ordering::SeqCst) - s0) as f64 / n as f64
    );
}

#[tokio::main]
async fn main() {
    println!("== webhook intake (local stack, embedded store) ==");
    intake_throughput().await;
    println!("== auth latency (local stack, embedded store) ==");
    auth_latency().await;
    println!("== embedded backend (SQLite) ==");
    embedded(None).await;
    let dir = std::env::temp_dir().join(format!(
        "rampart-bench-{}",
        rampart_platform::crypto::random_id()
    ));
    embedded(Some(&dir.join("bench.db"))).await;
    let _ = std::fs::remove_dir_all(&dir);
    match aws_endpoint() {
        Some(ep) => {
            println!("== DynamoDB backend against moto at {ep} ==");
            dynamodb(&ep).await;
            intake_calls(&ep).await;
        }
        None => println!(
            "(DynamoDB part skipped: RAMPART_TEST_AWS_ENDPOINT is not set; scripts/bench sets it)"
        ),
    }
}
