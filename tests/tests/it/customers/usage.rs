//! Usage reporting over HTTP: idempotent by (customer, event id), counted once under a burst of
//! identical reports, bounded in time and quantity, limited per customer, and summarised per
//! metric per day for the calling customer only.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{event, stack, stack_at_manual_clock};

#[tokio::test]
async fn a_repeated_report_answers_the_first_result_and_counts_nothing() {
    let s = stack().await;
    let c = s.create_customer("usage@acme.example", "pro").await;
    let now = s.now();
    let first = s
        .report(&c.api_key, &event("evt-1", "api_calls", 7, now))
        .await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().contains_key("ratelimit-policy"));
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["event_id"], "evt-1");
    assert_eq!(first["quantity"], 7);

    let again = s
        .report(&c.api_key, &event("evt-1", "api_calls", 7, now))
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        first,
        "the first result"
    );

    let other_body = s
        .report(&c.api_key, &event("evt-1", "api_calls", 8, now))
        .await;
    assert_eq!(other_body.status(), 422, "same id, another body");

    let (_, summary) = s
        .get_json(s.with_key(Method::GET, "/usage/summary", &c.api_key))
        .await;
    assert_eq!(summary["totals"], json!({ "api_calls": 7 }));
    s.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_identical_reports_are_counted_once() {
    let s = stack().await;
    let c = s.create_customer("burst@acme.example", "pro").await;
    let body = event("burst-1", "builds", 5, s.now());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let req = s.with_key(Method::POST, "/usage", &c.api_key).json(&body);
            tokio::spawn(req.send())
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status().as_u16());
    }
    let count = |code| statuses.iter().filter(|s| **s == code).count();
    assert_eq!(count(202), 1, "exactly one first receipt: {statuses:?}");
    assert_eq!(count(200), 59, "the rest of the hour's 60 are repeats");
    assert_eq!(count(429), 40, "past 60 per hour per customer");

    let (_, summary) = s
        .get_json(s.with_key(Method::GET, "/usage/summary", &c.api_key))
        .await;
    assert_eq!(summary["totals"], json!({ "builds": 5 }));
    assert_eq!(summary["usage"].as_array().unwrap().len(), 1);
    s.app.shutdown().await;
}

#[tokio::test]
async fn reports_outside_the_time_window_or_quantity_bounds_are_refused() {
    let s = stack().await;
    let c = s.create_customer("bounds@acme.example", "pro").await;
    let now = s.now();
    let cases = [
        (
            event("late", "api_calls", 1, now - 7 * 86_400 - 60),
            "/occurred_at",
        ),
        (event("early", "api_calls", 1, now + 6 * 60), "/occurred_at"),
        (event("zero", "api_calls", 0, now), "/quantity"),
        (event("huge", "api_calls", 1_000_001, now), "/quantity"),
        (event("bad metric", "API calls", 1, now), "/event_id"),
    ];
    for (body, pointer) in cases {
        let r = s.report(&c.api_key, &body).await;
        assert_eq!(r.status(), 422, "{body}");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
    }
    let r = s
        .report(
            &c.api_key,
            &json!({ "event_id": "x", "metric": "m", "quantity": 1 }),
        )
        .await;
    assert_eq!(r.status(), 422, "occurred_at is required");
    let edge = s
        .report(&c.api_key, &event("edge", "api_calls", 1_000_000, now))
        .await;
    assert_eq!(edge.status(), 202, "the largest quantity is accepted");
    let (_, summary) = s
        .get_json(s.with_key(Method::GET, "/usage/summary", &c.api_key))
        .await;
    assert_eq!(
        summary["totals"],
        json!({ "api_calls": 1_000_000 }),
        "nothing else counted"
    );
    s.app.shutdown().await;
}

#[tokio::test]
async fn the_summary_totals_each_metric_per_day_within_the_range() {
    let s = stack_at_manual_clock().await;
    let clock = s.clock.clone().unwrap();
    let c = s.create_customer("days@acme.example", "pro").await;
    // 2026-01-01 (the manual clock's start) and the next day.
    let day1 = s.now();
    s.report(&c.api_key, &event("a", "api_calls", 2, day1))
        .await;
    s.report(&c.api_key, &event("b", "api_calls", 3, day1 + 60))
        .await;
    s.report(&c.api_key, &event("c", "builds", 1, day1 + 120))
        .await;
    clock.advance(Duration::from_secs(86_400));
    s.report(&c.api_key, &event("d", "api_calls", 10, s.now()))
        .await;
    // Reported today, happened yesterday: it counts on the day it happened.
    s.report(&c.api_key, &event("e", "builds", 4, s.now() - 86_400))
        .await;

    let (status, summary) = s
        .get_json(s.with_key(
            Method::GET,
            "/usage/summary?from=2026-01-01&to=2026-01-02",
            &c.api_key,
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        summary["usage"],
        json!([
            { "date": "2026-01-01", "metric": "api_calls", "quantity": 5 },
            { "date": "2026-01-01", "metric": "builds", "quantity": 5 },
            { "date": "2026-01-02", "metric": "api_calls", "quantity": 10 },
        ])
    );
    assert_eq!(summary["totals"], json!({ "api_calls": 15, "builds": 5 }));

    let (_, only_day2) = s
        .get_json(s.with_key(Method::GET, "/usage/summary?from=2026-01-02", &c.api_key))
        .await;
    assert_eq!(only_day2["totals"], json!({ "api_calls": 10 }));

    for bad in [
        "from=2026-01-03&to=2026-01-01",
        "from=2025-01-01&to=2026-01-01",
        "to=yesterday",
    ] {
        let r = s
            .with_key(Method::GET, &format!("/usage/summary?{bad}"), &c.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad}");
    }
    s.app.shutdown().await;
}

#[tokio::test]
async fn a_customer_never_reads_another_customers_usage() {
    let s = stack().await;
    let a = s.create_customer("a@acme.example", "pro").await;
    let b = s.create_customer("b@other.example", "free").await;
    let now = s.now();
    s.report(&a.api_key, &event("shared-id", "api_calls", 9, now))
        .await;
    let r = s
        .report(&b.api_key, &event("shared-id", "api_calls", 1, now))
        .await;
    assert_eq!(r.status(), 202, "event ids are per customer");

    let (_, a_summary) = s
        .get_json(s.with_key(Method::GET, "/usage/summary", &a.api_key))
        .await;
    let (_, b_summary) = s
        .get_json(s.with_key(Method::GET, "/usage/summary", &b.api_key))
        .await;
    assert_eq!(a_summary["totals"], json!({ "api_calls": 9 }));
    assert_eq!(b_summary["totals"], json!({ "api_calls": 1 }));
    // No parameter selects a customer: the key decides, and a parameter that tries is refused.
    let (status, b_again) = s
        .get_json(s.with_key(
            Method::GET,
            &format!("/usage/summary?customer_id={}", a.id),
            &b.api_key,
        ))
        .await;
    assert_eq!(status, 400, "{b_again}");
    assert!(
        b_again["detail"]
            .as_str()
            .unwrap()
            .contains("`customer_id`"),
        "{b_again}"
    );
    assert!(b_again.get("totals").is_none(), "{b_again}");
    s.app.shutdown().await;
}
