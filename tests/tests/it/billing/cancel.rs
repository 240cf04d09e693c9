//! Cancel at period end and resume, against localstripe (customers, plans, subscriptions,
//! `cancel_at_period_end`, delete, and its signed webhooks): the plan stays until the period
//! ends, `customer.subscription.deleted` then moves the user to free; a cancellation can be
//! undone before that; no subscription (and so every owner account) is 409.

use std::time::{Duration, Instant};

use rampart_tests::{STRIPE_NEW, TestApp};
use serde_json::{Value, json};

use super::stub::{self, Stub};
use super::{STRIPE_KEY, get, post, problem, sign_up};

async fn stripe(base: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(STRIPE_KEY);
    if !body.is_null() {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {:?}", r.text().await);
    // `/_config/` answers have no body.
    let bytes = r.bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// Polls the user's subscription view until `done` holds.
async fn until(app: &TestApp, token: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = get(app, "/billing/subscription", token)
            .await
            .json()
            .await
            .unwrap();
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: still {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn subscription_updates(stub: &Stub) -> usize {
    stub.calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.starts_with("/v1/subscriptions/"))
        .count()
}

#[tokio::test]
async fn cancel_keeps_the_plan_until_the_period_ends_and_resume_undoes_it() {
    let Some(ls) = super::localstripe() else {
        return;
    };
    let plan = format!("price_pro_{}", rampart_platform::crypto::random_id());
    stripe(
        &ls,
        reqwest::Method::POST,
        "/v1/plans",
        json!({"id": plan, "amount": 2000, "currency": "usd", "interval": "month",
               "product": {"name": "Pro"}}),
    )
    .await;
    let stub = stub::start(Some(ls.clone())).await;
    stub.price(&plan, true, true);
    let prices = format!("pro={plan}");
    let app = super::app(
        rampart_platform::clock::system(),
        &[("STRIPE_API_BASE", &stub.base), ("STRIPE_PRICES", &prices)],
    )
    .await;
    // localstripe signs its events with our endpoint secret and posts them to our intake.
    stripe(
        &ls,
        reqwest::Method::POST,
        &format!(
            "/_config/webhooks/billing-{}",
            rampart_platform::crypto::random_id()
        ),
        json!({"url": app.url("/webhooks/stripe"), "secret": STRIPE_NEW,
               "events": ["customer.subscription.created", "customer.subscription.deleted"]}),
    )
    .await;
    let (uid, token) = sign_up(&app, "subscriber@example.com").await;

    let r = post(
        &app,
        "/billing/checkout-session",
        &token,
        Some(json!({"tier": "pro"})),
        None,
    )
    .await;
    assert_eq!(r.status(), 201);
    let customer = stub
        .calls()
        .iter()
        .find(|c| c.path == "/v1/checkout/sessions")
        .and_then(|c| c.field("customer").map(str::to_string))
        .unwrap();
    assert!(
        customer.starts_with("cus_"),
        "a localstripe customer: {customer}"
    );

    // The user pays on Stripe's page: Stripe makes the subscription the session asked for.
    let card = stripe(
        &ls,
        reqwest::Method::POST,
        "/v1/tokens",
        json!({"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}),
    )
    .await;
    stripe(
        &ls,
        reqwest::Method::POST,
        &format!("/v1/customers/{customer}/sources"),
        json!({"source": card["id"]}),
    )
    .await;
    let sub = stripe(
        &ls,
        reqwest::Method::POST,
        "/v1/subscriptions",
        json!({"customer": customer, "items": [{"plan": plan}], "metadata": {"user_id": uid}}),
    )
    .await;
    let sub_id = sub["id"].as_str().unwrap().to_string();
    let v = until(&app, &token, "subscription applied", |v| v["plan"] == "pro").await;
    assert_eq!(v["subscription_status"], "active");
    assert_eq!(v["cancel_at_period_end"], false);

    let r = post(&app, "/billing/cancel", &token, None, None).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["plan"].as_str(), v["cancel_at_period_end"].as_bool()),
        (Some("pro"), Some(true))
    );
    let at_stripe = stripe(
        &ls,
        reqwest::Method::GET,
        &format!("/v1/subscriptions/{sub_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(at_stripe["cancel_at_period_end"], true);
    let v: Value = get(&app, "/billing/subscription", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["cancel_at_period_end"], true);
    assert_eq!(v["current_period_end"], at_stripe["current_period_end"]);
    let mails: Vec<Value> = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", "subscriber@example.com")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m["subject"] == "Your subscription is canceled")
    );
    assert_eq!(subscription_updates(&stub), 1);
    // Asking again changes nothing and calls nobody.
    assert_eq!(
        post(&app, "/billing/cancel", &token, None, None)
            .await
            .status(),
        202
    );
    assert_eq!(subscription_updates(&stub), 1);

    let r = post(&app, "/billing/resume", &token, None, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["cancel_at_period_end"],
        false
    );
    let at_stripe = stripe(
        &ls,
        reqwest::Method::GET,
        &format!("/v1/subscriptions/{sub_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(at_stripe["cancel_at_period_end"], false);
    let (status, _, _) = problem(post(&app, "/billing/resume", &token, None, None).await).await;
    assert_eq!(status, 409, "nothing left to undo");

    // Canceled again, and the period ends: Stripe deletes the subscription and says so.
    assert_eq!(
        post(&app, "/billing/cancel", &token, None, None)
            .await
            .status(),
        202
    );
    stripe(
        &ls,
        reqwest::Method::DELETE,
        &format!("/v1/subscriptions/{sub_id}"),
        Value::Null,
    )
    .await;
    let v = until(&app, &token, "deletion applied", |v| v["plan"] == "free").await;
    assert_eq!(v["subscription_status"], "canceled");
    let (status, _, _) = problem(post(&app, "/billing/cancel", &token, None, None).await).await;
    assert_eq!(status, 409, "no subscription left");
    app.shutdown().await;
}

#[tokio::test]
async fn without_a_subscription_cancel_is_409_owners_included() {
    let stub = stub::start(None).await;
    let app = super::app(
        rampart_platform::clock::system(),
        &[
            ("STRIPE_API_BASE", &stub.base),
            ("OWNER_ACCOUNT_IDS", "root@example.com"),
        ],
    )
    .await;
    for email in ["plain@example.com", "root@example.com"] {
        let (_, token) = sign_up(&app, email).await;
        let (status, ty, body) =
            problem(post(&app, "/billing/cancel", &token, None, None).await).await;
        assert_eq!(
            (status, ty.as_str()),
            (409, "urn:rampart:problem:conflict"),
            "{email}"
        );
        assert_eq!(body["detail"], "There is no subscription to cancel.");
    }
    assert!(stub.calls().is_empty());
    app.shutdown().await;
}
