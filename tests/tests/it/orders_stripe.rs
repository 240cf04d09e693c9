//! The Stripe provider against localstripe (started by the test command), behind a counting
//! loopback proxy that can fail a call before or after it reaches "Stripe". localstripe does
//! not deduplicate by Idempotency-Key, so "one intent under retries" is shown on our side: every
//! attempt carries the same key, one payment with one intent is stored, and a call that never
//! reached Stripe is not repeated.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rampart_tests::{STRIPE_NEW, TestApp};
use serde_json::{Value, json};

use super::{assert_problem, get, json_of, order, order_reaches, post, shop_with, sign_up};

/// localstripe's address, or `None` (skipped) when the test command did not start it.
fn stripe_base() -> Option<String> {
    let base = std::env::var("RAMPART_TEST_STRIPE_BASE")
        .ok()
        .filter(|s| !s.is_empty());
    if base.is_none() {
        if std::env::var("RAMPART_REQUIRE_AWS").is_ok_and(|v| v == "1") {
            panic!(
                "RAMPART_REQUIRE_AWS=1 but RAMPART_TEST_STRIPE_BASE is not set: localstripe is not running"
            );
        }
        eprintln!("skipped: RAMPART_TEST_STRIPE_BASE is not set (scripts/test starts localstripe)");
    }
    base
}

/// One call that reached the proxy.
#[derive(Debug, Clone)]
struct Hit {
    idempotency_key: Option<String>,
    body: String,
}

struct Proxy {
    upstream: String,
    /// Answer 500 without forwarding (Stripe never saw the call).
    fail_before: AtomicU32,
    /// Forward, then answer 500 (Stripe made the intent; its answer was lost).
    fail_after: AtomicU32,
    hits: Mutex<Vec<Hit>>,
}

async fn relay(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    p.hits.lock().unwrap().push(Hit {
        idempotency_key: header("idempotency-key"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let failure = || {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": {"type": "api_error"}})),
        )
            .into_response()
    };
    let take = |n: &AtomicU32| {
        n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
            .is_ok()
    };
    if take(&p.fail_before) {
        return failure();
    }
    let mut req = reqwest::Client::new().request(method, format!("{}{}", p.upstream, uri));
    for name in [
        "authorization",
        "idempotency-key",
        "content-type",
        "stripe-version",
    ] {
        if let Some(v) = header(name) {
            req = req.header(name, v);
        }
    }
    let resp = req.body(body).send().await.unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let text = resp.text().await.unwrap();
    if take(&p.fail_after) {
        return failure();
    }
    (status, [("content-type", "application/json")], text).into_response()
}

async fn proxy(upstream: &str) -> (Arc<Proxy>, String) {
    let p = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_string(),
        fail_before: AtomicU32::new(0),
        fail_after: AtomicU32::new(0),
        hits: Mutex::new(Vec::new()),
    });
    let addr =
        rampart_tests::serve_router(Router::new().fallback(relay).with_state(p.clone())).await;
    (p, format!("http://{addr}"))
}

/// Calls that reached localstripe whose form body mentions `needle` (an order or user id).
async fn stripe_calls(base: &str, needle: &str) -> Vec<Value> {
    let all: Vec<Value> = reqwest::get(format!("{base}/_config/calls"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all.into_iter()
        .filter(|c| c["body"].as_str().is_some_and(|b| b.contains(needle)))
        .collect()
}

async fn intent_at_stripe(base: &str, id: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}/v1/payment_intents/{id}"))
        .bearer_auth("sk_test_rampart")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

async fn stripe_pay(
    app: &TestApp,
    who: &super::Customer,
    order_id: &str,
    key: &str,
) -> reqwest::Response {
    post(
        app,
        who,
        "/payments",
        Some(key),
        &json!({"order_id": order_id, "provider": "stripe"}),
    )
    .await
}

#[tokio::test]
async fn a_stripe_intent_is_created_once_however_the_call_is_retried() {
    let Some(base) = stripe_base() else { return };
    let (proxy, url) = proxy(&base).await;
    let shop = shop_with(&[("STRIPE_API_BASE", &url)]).await;
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let o = order(app, &alice, "eu-5gb-30d", 1).await;
    let order_id = s(&o["id"]);

    // Stripe fails every attempt of the call (the client tries three times with one key):
    // 503 with Retry-After, nothing stored, the key released.
    proxy.fail_before.store(3, Ordering::SeqCst);
    let r = stripe_pay(app, &alice, order_id, "s1").await;
    assert!(r.headers().get("retry-after").is_some());
    assert_problem(r, 503, "payment-provider-unavailable").await;
    let shown = json_of(get(app, &alice, &format!("/orders/{order_id}")).await).await;
    assert_eq!(
        shown["payment"],
        Value::Null,
        "no payment after the failure"
    );

    let r = stripe_pay(app, &alice, order_id, "s1").await;
    assert_eq!(r.status(), 201, "the same key runs again");
    let p = json_of(r).await;
    assert_eq!(p["provider"], "stripe");
    assert_eq!(p["status"], "requires_action");
    let intent = s(&p["intent_id"]);
    assert!(intent.starts_with("pi_"));
    assert!(s(&p["client_secret"]).starts_with(intent));
    let replay = stripe_pay(app, &alice, order_id, "s1").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay).await, p);
    let second = stripe_pay(app, &alice, order_id, "s2").await;
    assert_eq!(second.status(), 200);
    assert_eq!(json_of(second).await["id"], p["id"]);

    let key = format!("rampart-intent-{}", s(&p["id"]));
    let hits = proxy.hits.lock().unwrap().clone();
    let mine: Vec<&Hit> = hits.iter().filter(|h| h.body.contains(order_id)).collect();
    assert_eq!(
        mine.len(),
        4,
        "three failed attempts and the client's retry; the replay and the second payment call nothing"
    );
    assert!(
        mine.iter()
            .all(|h| h.idempotency_key.as_deref() == Some(key.as_str()))
    );
    let reached = stripe_calls(&base, order_id).await;
    assert_eq!(reached.len(), 1, "one create call reached Stripe");
    assert_eq!(reached[0]["idempotency_key"], key.as_str());
    let at_stripe = intent_at_stripe(&base, intent).await;
    assert_eq!(at_stripe["metadata"]["order_id"], order_id);
    assert_eq!(at_stripe["metadata"]["user_id"], alice.id.as_str());
    assert_eq!(at_stripe["metadata"]["payment_id"], p["id"]);
    assert_eq!(
        (at_stripe["amount"].as_i64(), s(&at_stripe["currency"])),
        (Some(1500), "eur")
    );

    // Stripe made the intent but its answer was lost: the client's next attempt sends the same
    // key, which Stripe answers with that first intent (localstripe, which ignores the key,
    // makes another; either way one payment with one intent is stored here), and the client
    // sees one 201.
    let o2 = order(app, &alice, "eu-1gb-7d", 1).await;
    let o2_id = s(&o2["id"]);
    proxy.fail_after.store(1, Ordering::SeqCst);
    let r = stripe_pay(app, &alice, o2_id, "lost").await;
    assert_eq!(r.status(), 201);
    let p2 = json_of(r).await;
    let reached = stripe_calls(&base, o2_id).await;
    assert_eq!(reached.len(), 2);
    let key2 = format!("rampart-intent-{}", s(&p2["id"]));
    assert!(
        reached
            .iter()
            .all(|c| c["idempotency_key"] == key2.as_str()),
        "{reached:?}"
    );
    let shown = json_of(get(app, &alice, &format!("/orders/{o2_id}")).await).await;
    assert_eq!(shown["payment"]["id"], p2["id"]);
    shop.app.shutdown().await;
}

#[tokio::test]
async fn owners_are_refused_before_any_call_reaches_stripe() {
    let Some(base) = stripe_base() else { return };
    let (proxy, url) = proxy(&base).await;
    let shop = shop_with(&[("STRIPE_API_BASE", &url)]).await;
    let app = &shop.app;
    let owner = sign_up(app, "Owner@Example.com").await;
    let o = order(app, &owner, "eu-1gb-7d", 1).await;
    for key in ["o1", "o1", "o2"] {
        assert_problem(
            stripe_pay(app, &owner, s(&o["id"]), key).await,
            403,
            "owner-exempt",
        )
        .await;
    }
    assert!(
        proxy.hits.lock().unwrap().is_empty(),
        "no call left the process"
    );
    assert!(stripe_calls(&base, &owner.id).await.is_empty());
    // The counting works: a customer's payment is seen at both.
    let alice = sign_up(app, "alice@example.com").await;
    let a = order(app, &alice, "eu-1gb-7d", 1).await;
    assert_eq!(
        stripe_pay(app, &alice, s(&a["id"]), "a1").await.status(),
        201
    );
    assert_eq!(proxy.hits.lock().unwrap().len(), 1);
    assert_eq!(stripe_calls(&base, &alice.id).await.len(), 1);
    shop.app.shutdown().await;
}

fn stripe_header(body: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sig = hex::encode(rampart_platform::crypto::hmac_sha256(
        STRIPE_NEW.as_bytes(),
        format!("{t}.{body}").as_bytes(),
    ));
    format!("t={t},v1={sig}")
}

async fn stripe_event(app: &TestApp, ty: &str, intent: &str, status: &str) {
    let body = json!({
        "id": format!("evt_{}", rampart_platform::crypto::random_id()),
        "type": ty,
        "created": app.state.clock.now_secs(),
        "data": {"object": {"object": "payment_intent", "id": intent, "status": status}},
    })
    .to_string();
    let r = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("stripe-signature", stripe_header(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn stripe_payment_events_move_the_order_once() {
    let Some(base) = stripe_base() else { return };
    let shop = shop_with(&[("STRIPE_API_BASE", &base)]).await;
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let o = order(app, &alice, "eu-1gb-7d", 1).await;
    let p = json_of(stripe_pay(app, &alice, s(&o["id"]), "k").await).await;
    let intent = s(&p["intent_id"]);
    stripe_event(app, "payment_intent.processing", intent, "processing").await;
    stripe_event(app, "payment_intent.succeeded", intent, "succeeded").await;
    let paid = order_reaches(app, &alice, s(&o["id"]), "PAID").await;
    assert_eq!(paid["payment"]["status"], "succeeded");
    // Stripe puts a failed intent back to requires_payment_method; the type says it failed.
    stripe_event(
        app,
        "payment_intent.payment_failed",
        intent,
        "requires_payment_method",
    )
    .await;
    let other = order(app, &alice, "eu-1gb-7d", 1).await;
    let q = json_of(stripe_pay(app, &alice, s(&other["id"]), "k2").await).await;
    stripe_event(
        app,
        "payment_intent.payment_failed",
        s(&q["intent_id"]),
        "requires_payment_method",
    )
    .await;
    order_reaches(app, &alice, s(&other["id"]), "FAILED").await;
    let third = order(app, &alice, "eu-1gb-7d", 1).await;
    let c = json_of(stripe_pay(app, &alice, s(&third["id"]), "k3").await).await;
    stripe_event(
        app,
        "payment_intent.canceled",
        s(&c["intent_id"]),
        "canceled",
    )
    .await;
    let canceled = order_reaches(app, &alice, s(&third["id"]), "CANCELED").await;
    assert_eq!(canceled["payment"]["status"], "canceled");
    let still = json_of(get(app, &alice, &format!("/orders/{}", s(&o["id"]))).await).await;
    assert_eq!(still["status"], "PAID", "a late failure is superseded");
    let esim = post(
        app,
        &alice,
        &format!("/esims/{}/activate", s(&o["esim"]["id"])),
        None,
        &json!({}),
    )
    .await;
    assert_eq!(json_of(esim).await["status"], "READY");
    shop.app.shutdown().await;
}
