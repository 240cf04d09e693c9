//! The Stripe client's transport rules against a loopback server that misbehaves on purpose:
//! a 5xx or a dropped connection is retried with the same Idempotency-Key, a 4xx never is, a
//! Stripe that never answers ends in 503 within the deadline, and a payment intent (the orders
//! flow) goes through the same owner check.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use rampart_stripe::{Account, PaymentIntentRequest, StripeClient, StripeError};
use serde_json::json;

#[derive(Clone, Default)]
struct Flaky {
    /// Answers to give, in order (the last repeats): a status code, 0 for "never answer".
    script: Arc<Vec<u16>>,
    keys: Arc<Mutex<Vec<Option<String>>>>,
    hits: Arc<AtomicUsize>,
}

async fn intents(State(f): State<Flaky>, headers: HeaderMap) -> axum::response::Response {
    let n = f.hits.fetch_add(1, Ordering::SeqCst);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    f.keys.lock().unwrap().push(key);
    let status = f.script[n.min(f.script.len() - 1)];
    if status == 0 {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let status = StatusCode::from_u16(status.max(200)).unwrap();
    if status.is_success() {
        let body = json!({"id": "pi_1", "object": "payment_intent", "status": "requires_payment_method",
            "client_secret": "pi_1_secret_x"});
        return (status, axum::Json(body)).into_response();
    }
    let body = json!({"error": {"type": "api_error", "code": "boom"}});
    (status, axum::Json(body)).into_response()
}

async fn client(script: &[u16], owners: &str) -> (StripeClient, Flaky) {
    let flaky = Flaky {
        script: Arc::new(script.to_vec()),
        ..Flaky::default()
    };
    let router = Router::new()
        .route("/v1/payment_intents", post(intents))
        .with_state(flaky.clone());
    let addr = rampart_tests::serve_router(router).await;
    let base = format!("http://{addr}");
    let state = super::state(
        rampart_platform::clock::system(),
        &[("STRIPE_API_BASE", &base), ("OWNER_ACCOUNT_IDS", owners)],
    )
    .await;
    let c = StripeClient::new(&state).with_attempt_timeout(Duration::from_millis(300));
    (c, flaky)
}

fn payer(id: &str) -> Account {
    Account {
        user_id: id.into(),
        email: Some(format!("{id}@example.com")),
    }
}

const INTENT: PaymentIntentRequest<'static> = PaymentIntentRequest {
    amount: 1500,
    currency: "EUR",
    metadata: &[("order_id", "ord_1")],
};

#[tokio::test]
async fn a_5xx_is_retried_with_the_same_key_and_then_succeeds() {
    let (c, f) = client(&[500, 502, 200], "").await;
    let g = c.for_account(&payer("u1"), "pay").await.unwrap();
    let pi = g
        .create_payment_intent(&INTENT, "rampart-intent-pay_1")
        .await
        .unwrap();
    assert_eq!(pi.id, "pi_1");
    let keys = f.keys.lock().unwrap().clone();
    assert_eq!(keys, vec![Some("rampart-intent-pay_1".to_string()); 3]);
}

#[tokio::test]
async fn a_4xx_is_never_retried() {
    let (c, f) = client(&[400, 200], "").await;
    let g = c.for_account(&payer("u1"), "pay").await.unwrap();
    let e = g.create_payment_intent(&INTENT, "k").await.unwrap_err();
    assert!(
        matches!(e, StripeError::Refused { status: 400, .. }),
        "{e:?}"
    );
    assert_eq!(f.hits.load(Ordering::SeqCst), 1);
    let api: rampart_platform::ApiError = e.into();
    assert_eq!(api.status(), 502);
}

#[tokio::test]
async fn a_stripe_that_never_answers_is_unavailable_within_the_deadline() {
    let (c, f) = client(&[0], "").await;
    let g = c.for_account(&payer("u1"), "pay").await.unwrap();
    let started = Instant::now();
    let e = g.create_payment_intent(&INTENT, "k").await.unwrap_err();
    assert!(matches!(e, StripeError::Unavailable { .. }), "{e:?}");
    // The stub answers 200 after 30 s: an error at all means the client gave up first. The
    // bound stays far from the deadline itself so a loaded machine cannot fail it.
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f.hits.load(Ordering::SeqCst), 3, "three attempts, one key");
    let api: rampart_platform::ApiError = e.into();
    assert_eq!(api.status(), 503);
}

#[tokio::test]
async fn a_payment_for_an_owner_never_leaves_the_process() {
    let (c, f) = client(&[200], "owner@example.com").await;
    let e = c.for_account(&payer("owner"), "pay").await.err().unwrap();
    assert!(matches!(e, StripeError::OwnerExempt));
    assert_eq!(f.hits.load(Ordering::SeqCst), 0);
}
