//! Route rate limits: each bites at its number. (Failed sign-in throttles: `lockout`.)

use std::time::Duration;

use rampart_tests::TestApp;
use serde_json::{Value, json};

use super::{app_with, post};

async fn assert_limited_at(
    app: &TestApp,
    path: &str,
    n: usize,
    body: impl Fn(usize) -> Value,
    ip: &str,
) {
    for i in 0..n {
        let r = post(app, path, body(i), ip).await;
        assert_ne!(
            r.status(),
            429,
            "{path}: request {} of {n} was limited",
            i + 1
        );
        assert!(r.headers().contains_key("ratelimit-policy"), "{path}");
    }
    let r = post(app, path, body(n), ip).await;
    assert_eq!(r.status(), 429, "{path}: request {} must be limited", n + 1);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn each_rate_limit_bites_exactly_at_its_number() {
    let (app, clock) = app_with(&[]).await;
    let creds = |_| json!({"email": "nobody@example.com", "password": "whatever it is"});
    assert_limited_at(&app, "/auth/login", 5, creds, "203.0.113.1").await;
    assert_limited_at(
        &app,
        "/auth/refresh",
        10,
        |_| json!({"refresh_token": "nope"}),
        "203.0.113.2",
    )
    .await;
    assert_limited_at(
        &app,
        "/auth/password/forgot",
        3,
        |_| json!({"email": "x@example.com"}),
        "203.0.113.3",
    )
    .await;
    // Email codes: per mailbox 1 per 60 s...
    assert_limited_at(
        &app,
        "/auth/otp/request",
        1,
        |_| json!({"email": "otp@example.com"}),
        "203.0.113.4",
    )
    .await;
    // ...and 5 per 24 h...
    for _ in 0..4 {
        clock.advance(Duration::from_secs(61));
        assert_eq!(
            post(
                &app,
                "/auth/otp/request",
                json!({"email": "otp@example.com"}),
                "203.0.113.4"
            )
            .await
            .status(),
            202
        );
    }
    clock.advance(Duration::from_secs(61));
    let r = post(
        &app,
        "/auth/otp/request",
        json!({"email": "otp@example.com"}),
        "203.0.113.4",
    )
    .await;
    assert_eq!(r.status(), 429, "the sixth code of the day");
    // ...and per IP 25 per 24 h, whatever the email.
    assert_limited_at(
        &app,
        "/auth/otp/request",
        25,
        |i| json!({"email": format!("u{i}@example.com")}),
        "203.0.113.5",
    )
    .await;
    app.shutdown().await;
}

#[tokio::test]
async fn ten_sign_ins_across_a_minute_boundary_let_five_through() {
    // The test clock starts on a minute boundary: 10 attempts at 59.5 s to 60.4 s straddle it.
    // Clock-aligned windows let 5 through on each side of it; the sliding window 5 in all.
    let (app, clock) = app_with(&[]).await;
    clock.advance(Duration::from_millis(59_500));
    let mut admitted = Vec::new();
    for i in 0..10 {
        // One address, a fresh email per attempt: only the per-IP limit can refuse it.
        let creds = json!({"email": format!("n{i}@example.com"), "password": "whatever it is"});
        let r = post(&app, "/auth/login", creds, "203.0.113.9").await;
        if r.status() != 429 {
            assert_eq!(r.status(), 401);
            admitted.push(i);
        }
        clock.advance(Duration::from_millis(100));
    }
    assert_eq!(admitted, vec![0, 1, 2, 3, 4]);
    // A minute after the first attempt its slot is free again, not before.
    clock.advance(Duration::from_millis(58_000));
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "late@example.com", "password": "x y z w"}),
        "203.0.113.9",
    )
    .await;
    assert_eq!(r.status(), 429, "59 s after the first attempt");
    clock.advance(Duration::from_millis(1_000));
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "later@example.com", "password": "x y z w"}),
        "203.0.113.9",
    )
    .await;
    assert_eq!(r.status(), 401, "a minute after the first attempt");
    app.shutdown().await;
}
