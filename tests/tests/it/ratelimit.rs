//! Rate limits on both backends: exact admission under concurrency, windows, sliding
//! windows that never hold more than the limit, hashed keys; and the headers over HTTP.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rampart_http::ratelimit::{self, KeyPart, Rule, Subject};
use rampart_platform::clock::Clock;
use rampart_store::keys;
use rampart_tests::{embedded_state, settings};

use rampart_tests::StateFx as Fx;

rampart_tests::on_backends!(
    rampart_tests::embedded_state_fx, rampart_tests::dynamo_state_fx;
    two_hundred_at_once_admit_exactly_ten,
    window_resets,
    sliding_window_admits_at_most_the_limit_in_any_minute,
    sliding_window_under_concurrency_admits_exactly_the_limit,
    subjects_are_hashed_and_separate,
);

fn ip_subject(ip: &str) -> Subject {
    Subject {
        ip: Some(ip.parse().unwrap()),
        ..Subject::default()
    }
}

async fn two_hundred_at_once_admit_exactly_ten(fx: Fx) {
    let rule = Rule::new("burst", 10, Duration::from_secs(60), &[KeyPart::Ip]);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (state, rule) = (fx.state.clone(), rule.clone());
        tasks.push(tokio::spawn(async move {
            ratelimit::check(&state, &rule, &ip_subject("198.51.100.1"))
                .await
                .unwrap()
                .allowed
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    assert_eq!(admitted, 10);
}

async fn window_resets(fx: Fx) {
    let rule = Rule::new("w", 2, Duration::from_secs(60), &[KeyPart::Ip]);
    let s = ip_subject("198.51.100.2");
    let d1 = ratelimit::check(&fx.state, &rule, &s).await.unwrap();
    assert!(d1.allowed);
    assert_eq!(d1.remaining, 1);
    assert_eq!(
        d1.reset_secs, 60,
        "the test clock starts on a minute boundary"
    );
    assert!(
        ratelimit::check(&fx.state, &rule, &s)
            .await
            .unwrap()
            .allowed
    );
    fx.clock.advance(Duration::from_secs(59));
    let denied = ratelimit::check(&fx.state, &rule, &s).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    assert_eq!(denied.reset_secs, 1);
    fx.clock.advance(Duration::from_secs(1));
    assert!(
        ratelimit::check(&fx.state, &rule, &s)
            .await
            .unwrap()
            .allowed
    );
}

/// Attempts at `attempts` (ms since `origin` on the test clock, ascending, not in the past):
/// those `rule` admitted.
async fn admitted_at(fx: &Fx, rule: &Rule, s: &Subject, origin: i64, attempts: &[i64]) -> Vec<i64> {
    let mut admitted = Vec::new();
    for &at in attempts {
        let now = fx.clock.now_ms() - origin;
        fx.clock.advance(Duration::from_millis((at - now) as u64));
        if ratelimit::check(&fx.state, rule, s).await.unwrap().allowed {
            admitted.push(at);
        }
    }
    admitted
}

/// The most admitted hits any span of `window_ms` holds.
fn busiest_window(admitted: &[i64], window_ms: i64) -> usize {
    admitted
        .iter()
        .map(|t| {
            admitted
                .iter()
                .filter(|u| **u >= *t && **u < t + window_ms)
                .count()
        })
        .max()
        .unwrap_or(0)
}

async fn sliding_window_admits_at_most_the_limit_in_any_minute(fx: Fx) {
    // The test clock starts on a minute boundary: attempts at 59.5 s to 60.4 s straddle it.
    let origin = fx.clock.now_ms();
    let rule = Rule::new("slide", 5, Duration::from_secs(60), &[KeyPart::Ip]).sliding();
    let burst: Vec<i64> = (0..10).map(|i| 59_500 + i * 100).collect();
    let admitted = admitted_at(&fx, &rule, &ip_subject("198.51.100.3"), origin, &burst).await;
    assert_eq!(
        admitted,
        burst[..5].to_vec(),
        "fixed windows would admit 5 more after the boundary"
    );

    // One every 6 s from 2:33 to 3:27: a two-counter estimate (the previous minute's count
    // weighted by its overlap) lets a 6th in at 3:15.
    let other = ip_subject("198.51.100.13");
    let spread: Vec<i64> = (0..10).map(|i| 153_000 + i * 6_000).collect();
    let admitted = admitted_at(&fx, &rule, &other, origin, &spread).await;
    assert_eq!(admitted.len(), 5, "admitted at {admitted:?}");
    assert_eq!(
        busiest_window(&admitted, 60_000),
        5,
        "admitted at {admitted:?}"
    );

    // Once the first hit is a minute old, its slot is free again.
    let later = admitted_at(&fx, &rule, &other, origin, &[213_001]).await;
    assert_eq!(later, vec![213_001]);
}

async fn sliding_window_under_concurrency_admits_exactly_the_limit(fx: Fx) {
    let rule = Rule::new("slide_burst", 10, Duration::from_secs(60), &[KeyPart::Ip]).sliding();
    let mut tasks = Vec::new();
    for _ in 0..60 {
        let (state, rule) = (fx.state.clone(), rule.clone());
        tasks.push(tokio::spawn(async move {
            ratelimit::check(&state, &rule, &ip_subject("198.51.100.23"))
                .await
                .unwrap()
                .allowed
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    assert_eq!(admitted, 10);
}

async fn subjects_are_hashed_and_separate(fx: Fx) {
    let rule = Rule::new(
        "otp",
        1,
        Duration::from_secs(60),
        &[KeyPart::Email, KeyPart::Ip],
    );
    let a = Subject {
        email: Some("Alice@Example.com".into()),
        ip: Some("198.51.100.4".parse().unwrap()),
        ..Subject::default()
    };
    let a_lower = Subject {
        email: Some("alice@example.com".into()),
        ..a.clone()
    };
    let b = Subject {
        email: Some("bob@example.com".into()),
        ..a.clone()
    };
    assert!(
        ratelimit::check(&fx.state, &rule, &a)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        !ratelimit::check(&fx.state, &rule, &a_lower)
            .await
            .unwrap()
            .allowed,
        "emails are case-folded"
    );
    assert!(
        ratelimit::check(&fx.state, &rule, &b)
            .await
            .unwrap()
            .allowed,
        "another subject has its own count"
    );
    // The counter sits under a keyed hash, never the raw email or IP.
    let pepper = fx.state.hash_pepper().await.unwrap();
    let hash = rampart_platform::crypto::keyed_hash(
        &pepper,
        "ratelimit:otp",
        "alice@example.com\u{1f}198.51.100.4",
    );
    let now = fx.clock.now_secs();
    let (pk, sk) = keys::rate_limit("otp", &hash, now - now % 60);
    assert!(!pk.contains("alice") && !pk.contains("198.51"));
    assert_eq!(
        fx.state
            .store
            .get(&pk, &sk)
            .await
            .unwrap()
            .unwrap()
            .n("count"),
        Some(1)
    );
}

#[tokio::test]
async fn limited_routes_carry_headers_and_429_has_retry_after() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let routes = ratelimit::protect(
        Router::new().route("/limited", get(|| async { "ok" })),
        &state,
        vec![Rule::new(
            "demo",
            3,
            Duration::from_secs(60),
            &[KeyPart::Ip],
        )],
    );
    let addr =
        rampart_tests::serve_router(rampart_http::finish(routes, &state, Default::default())).await;
    let c = reqwest::Client::new();
    for remaining in [2, 1, 0] {
        let r = c
            .get(format!("http://{addr}/limited"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["ratelimit-policy"], "\"demo\";q=3;w=60");
        let rl = r.headers()["ratelimit"].to_str().unwrap().to_string();
        assert!(
            rl.starts_with(&format!("\"demo\";r={remaining};t=")),
            "{rl}"
        );
    }
    let r = c
        .get(format!("http://{addr}/limited"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert!(r.headers()["ratelimit"].to_str().unwrap().contains("r=0"));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert_eq!(body["type"], "urn:rampart:problem:rate-limited");
    // Unknown paths are not counted against the rule.
    assert_eq!(
        c.get(format!("http://{addr}/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
