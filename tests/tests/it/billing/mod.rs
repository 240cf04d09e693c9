//! billing-api over HTTP against the spawned local stack, one file per behaviour area: the tier
//! table (`tiers`), the daily quota (`quota`), checkout and the owner rule (`checkout`, against
//! the Stripe stub), cancel/resume (`cancel`, against localstripe), the Stripe client's
//! retry rules (`stripe_client`) and billing after a take-back or reset (`takeback`). Fixtures
//! here.

mod cancel;
mod change;
mod checkout;
mod migrate;
mod owner;
mod quota;
mod recovery;
mod stripe_client;
pub mod stub;
mod takeback;
mod tiers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rampart_http::AppState;
use rampart_platform::clock::SharedClock;
use rampart_platform::secrets::Secrets;
use rampart_platform::secrets::local::LocalSource;
use rampart_tests::{STRIPE_NEW, TestApp, embedded_state, settings, spawn_app_with};
use serde_json::{Value, json};

pub const PW: &str = "correct horse battery staple";
pub const STARTER_PRICE: &str = "price_starter_test";
pub const PRO_PRICE: &str = "price_pro_test";
pub const STRIPE_KEY: &str = "sk_test_rampart_billing";

/// A state whose secrets also hold a Stripe API key.
pub async fn state(clock: SharedClock, extra: &[(&str, &str)]) -> AppState {
    let prices = format!("starter={STARTER_PRICE},pro={PRO_PRICE}");
    let mut pairs = vec![
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ("STRIPE_PRICES", prices.as_str()),
        ("CHECKOUT_SUCCESS_URL", "https://app.example/billing/done"),
        ("CHECKOUT_CANCEL_URL", "https://app.example/billing/back"),
    ];
    pairs.extend_from_slice(extra);
    let mut state = embedded_state(settings(&pairs), clock.clone());
    let mut values: BTreeMap<String, String> =
        state.secrets.snapshot().await.unwrap().current.clone();
    values.insert("STRIPE_API_KEY".into(), STRIPE_KEY.into());
    state.secrets = Arc::new(Secrets::new(
        Box::new(LocalSource::from_map(values)),
        clock,
        Duration::from_secs(300),
    ));
    state
}

pub async fn app(clock: SharedClock, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with(state(clock, extra).await).await
}

/// `app` on a fresh DynamoDB table (moto), its mail outbox in the same table; `None` when no
/// test endpoint is configured.
pub async fn dynamo_app(clock: SharedClock, extra: &[(&str, &str)]) -> Option<TestApp> {
    let endpoint = rampart_tests::aws_endpoint()?;
    let mut state = state(clock.clone(), extra).await;
    let store = rampart_tests::dynamo_store(&endpoint, clock.clone()).await;
    state.store = store.clone();
    state.mailer = Arc::new(rampart_http::mail::Outbox::new(store, clock, false));
    Some(spawn_app_with(state).await)
}

/// The app (on the embedded store, or on DynamoDB through moto when `dynamo`) talking to a fresh
/// Stripe stub that knows both prices; `None` when DynamoDB is asked for and no endpoint is set.
/// A stack whose Stripe calls go to the loopback stub, and the stub (for its recorded calls).
pub struct StubFx {
    pub app: TestApp,
    pub stub: stub::Stub,
}

pub async fn with_stub(dynamo: bool, extra: &[(&str, &str)]) -> Option<StubFx> {
    let stub = stub::start(None).await;
    stub.price(PRO_PRICE, true, true);
    stub.price(STARTER_PRICE, true, true);
    let mut pairs = vec![("STRIPE_API_BASE", stub.base.as_str())];
    pairs.extend_from_slice(extra);
    let clock: SharedClock = rampart_platform::clock::system();
    let app = if dynamo {
        dynamo_app(clock, &pairs).await?
    } else {
        app(clock, &pairs).await
    };
    Some(StubFx { app, stub })
}

/// A Stripe event as the worker recorded it (status, outcome, its reason), once processed.
pub async fn event_record(app: &TestApp, id: &str) -> Value {
    crate::webhooks::processed(app, "stripe", id).await;
    let r = app
        .client
        .get(app.url(&format!("/admin/webhook-events/stripe/{id}")))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Mails sent to `to`, newest first (the local outbox).
pub async fn mails(app: &TestApp, to: &str) -> Vec<Value> {
    app.client
        .get(app.url("/_local/outbox"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A client address of its own per call: the per-IP login limit stays out of these tests.
fn some_ip() -> String {
    let b = rampart_platform::crypto::random_bytes(2);
    format!("10.9.{}.{}", b[0] % 250 + 1, b[1] % 250 + 1)
}

/// Registers and signs in: (user id, access token).
pub async fn sign_up(app: &TestApp, email: &str) -> (String, String) {
    let r = app
        .client
        .post(app.url("/auth/register"))
        .header("x-forwarded-for", some_ip())
        .json(&json!({"email": email, "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", some_ip())
        .json(&json!({"email": email, "password": PW, "delivery": "body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    (id, token)
}

pub async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

pub async fn post(
    app: &TestApp,
    path: &str,
    token: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> reqwest::Response {
    let mut r = app.client.post(app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    if let Some(k) = idempotency_key {
        r = r.header("idempotency-key", k);
    }
    r.send().await.unwrap()
}

/// A problem's `type` and the response status.
pub async fn problem(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (
        status,
        body["type"].as_str().unwrap_or_default().into(),
        body,
    )
}

/// Signs and posts a Stripe event at the app's own clock, and waits for the worker.
pub async fn stripe_event(app: &TestApp, ty: &str, created: i64, object: Value) -> Value {
    let id = format!("evt_{}", rampart_platform::crypto::random_id());
    let body =
        json!({"id": id, "type": ty, "created": created, "data": {"object": object}}).to_string();
    let t = app.state.clock.now_secs();
    let sig = hex::encode(rampart_platform::crypto::hmac_sha256(
        STRIPE_NEW.as_bytes(),
        format!("{t}.{body}").as_bytes(),
    ));
    let r = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", format!("t={t},v1={sig}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let item = crate::webhooks::processed(app, "stripe", &id).await;
    json!({"id": id, "outcome": item.s("outcome")})
}

/// Puts a user on a paid tier the way Stripe does: a subscription event naming them.
pub async fn subscribe(app: &TestApp, user_id: &str, price: &str, sub_id: &str) {
    let now = app.state.clock.now_secs();
    let object = json!({
        "id": sub_id,
        "object": "subscription",
        "customer": format!("cus_for_{user_id}"),
        "status": "active",
        "metadata": {"user_id": user_id},
        "cancel_at_period_end": false,
        "items": {"data": [{"price": {"id": price}, "current_period_end": now + 30 * 86_400}]},
    });
    let r = stripe_event(app, "customer.subscription.created", now, object).await;
    assert_eq!(r["outcome"], "applied");
}

/// localstripe's address, or `None` (skipped) when the test command did not start it.
pub fn localstripe() -> Option<String> {
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
