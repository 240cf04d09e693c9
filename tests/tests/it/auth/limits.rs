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
