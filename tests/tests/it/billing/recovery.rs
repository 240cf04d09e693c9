//! A recovered payment: after `invoice.payment_failed` put the user `past_due` (and mailed them
//! a link to the app's billing page, where the Billing Portal updates the card), Stripe's
//! `invoice.payment_succeeded` or `invoice.paid` for the retried invoice restores `active`, in
//! the one per-user ordering (a late failure older than the recovery changes nothing). Signed
//! webhooks in Stripe's shapes, after a checkout through the real route (the stub), on both
//! backends. A one-off invoice (no subscription) changes none of it.

use rampart_tests::TestApp;
use serde_json::{Value, json};

use super::StubFx as Fx;
use super::stub::Stub;
use super::{PRO_PRICE, get, mails, post, sign_up, stripe_event};

const BILLING_PAGE: &str = "https://app.example/account/billing";

async fn embedded() -> Option<Fx> {
    super::with_stub(false, &[("BILLING_PAGE_URL", BILLING_PAGE)]).await
}

async fn dynamo() -> Option<Fx> {
    super::with_stub(true, &[("BILLING_PAGE_URL", BILLING_PAGE)]).await
}

rampart_tests::on_backends!(super::embedded, super::dynamo;
    a_payment_that_succeeds_after_a_failure_makes_the_subscription_active_again,
    a_failed_one_off_invoice_leaves_the_subscription_and_mails_nobody,
);

/// Checks out `tier` through the route and returns the Stripe customer our API created.
pub async fn checked_out(app: &TestApp, stub: &Stub, token: &str) -> String {
    let r = post(
        app,
        "/billing/checkout-session",
        token,
        Some(json!({"tier": "pro"})),
        None,
    )
    .await;
    assert_eq!(r.status(), 201);
    stub.calls()
        .iter()
        .rev()
        .find(|c| c.path == "/v1/checkout/sessions")
        .and_then(|c| c.field("customer").map(str::to_string))
        .unwrap()
}

pub fn subscription(id: &str, customer: &str, uid: &str, price: &str, now: i64) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "metadata": {"user_id": uid},
        "cancel_at_period_end": false,
        "items": {"data": [{"id": format!("si_{id}"), "price": {"id": price}, "current_period_end": now + 30 * 86_400}]},
    })
}

fn invoice(customer: &str, sub: &str, status: &str) -> Value {
    json!({"id": format!("in_{}", rampart_platform::crypto::random_id()), "object": "invoice",
           "customer": customer, "subscription": sub, "status": status, "billing_reason": "subscription_cycle"})
}

async fn status(app: &TestApp, token: &str) -> (String, String) {
    let v: Value = get(app, "/billing/subscription", token)
        .await
        .json()
        .await
        .unwrap();
    (
        v["plan"].as_str().unwrap().into(),
        v["subscription_status"].as_str().unwrap().into(),
    )
}

async fn a_payment_that_succeeds_after_a_failure_makes_the_subscription_active_again(fx: Fx) {
    let app = &fx.app;
    let email = "renewing@example.com";
    let (uid, token) = sign_up(app, email).await;
    let customer = checked_out(app, &fx.stub, &token).await;
    let t = app.state.clock.now_secs();
    let sub = "sub_renewing";
    let created = subscription(sub, &customer, &uid, PRO_PRICE, t);
    let r = stripe_event(app, "customer.subscription.created", t, created).await;
    assert_eq!(r["outcome"], "applied");
    assert_eq!(status(app, &token).await, ("pro".into(), "active".into()));

    let r = stripe_event(
        app,
        "invoice.payment_failed",
        t + 1,
        invoice(&customer, sub, "open"),
    )
    .await;
    assert_eq!(r["outcome"], "applied");
    assert_eq!(status(app, &token).await, ("pro".into(), "past_due".into()));
    let sent = mails(app, email).await;
    let dunning = sent
        .iter()
        .find(|m| m["subject"] == "Your payment did not go through")
        .expect("the payment-failed mail");
    assert!(
        dunning["body"].as_str().unwrap().contains(BILLING_PAGE),
        "links the app's billing page: {dunning}"
    );

    // Stripe's retry charged the updated card.
    let paid = invoice(&customer, sub, "paid");
    let r = stripe_event(app, "invoice.payment_succeeded", t + 2, paid).await;
    assert_eq!(r["outcome"], "applied");
    assert_eq!(status(app, &token).await, ("pro".into(), "active".into()));

    // Again, recovered through `invoice.paid` this time.
    let r = stripe_event(
        app,
        "invoice.payment_failed",
        t + 3,
        invoice(&customer, sub, "open"),
    )
    .await;
    assert_eq!(r["outcome"], "applied");
    assert_eq!(status(app, &token).await.1, "past_due");
    let r = stripe_event(app, "invoice.paid", t + 4, invoice(&customer, sub, "paid")).await;
    assert_eq!(r["outcome"], "applied");
    assert_eq!(status(app, &token).await, ("pro".into(), "active".into()));

    // A failure older than the recovery arrives late: it changes nothing.
    let r = stripe_event(
        app,
        "invoice.payment_failed",
        t + 3,
        invoice(&customer, sub, "open"),
    )
    .await;
    assert_eq!(r["outcome"], "superseded");
    assert_eq!(status(app, &token).await.1, "active");
    fx.app.shutdown().await;
}

/// A one-off invoice bills something else than the subscription: its failure leaves a paying
/// subscriber `active` and sends no dunning mail; the event ends `ignored` with the reason.
async fn a_failed_one_off_invoice_leaves_the_subscription_and_mails_nobody(fx: Fx) {
    let app = &fx.app;
    let email = "one-off@example.com";
    let (uid, token) = sign_up(app, email).await;
    let customer = checked_out(app, &fx.stub, &token).await;
    let t = app.state.clock.now_secs();
    let created = subscription("sub_one_off", &customer, &uid, PRO_PRICE, t);
    let r = stripe_event(app, "customer.subscription.created", t, created).await;
    assert_eq!(r["outcome"], "applied");
    let mails_before = mails(app, email).await.len();

    let mut one_off = invoice(&customer, "", "open");
    one_off["subscription"] = Value::Null;
    one_off["billing_reason"] = json!("manual");
    let r = stripe_event(app, "invoice.payment_failed", t + 1, one_off.clone()).await;
    assert_eq!(r["outcome"], "ignored");
    let item = crate::webhooks::processed(app, "stripe", r["id"].as_str().unwrap()).await;
    let reason = item.s("outcome_reason").unwrap_or_default();
    assert!(reason.contains("one-off invoice"), "{reason:?}");
    one_off["status"] = json!("paid");
    let r = stripe_event(app, "invoice.paid", t + 2, one_off).await;
    assert_eq!(r["outcome"], "ignored");

    assert_eq!(status(app, &token).await, ("pro".into(), "active".into()));
    let sent = mails(app, email).await;
    assert_eq!(sent.len(), mails_before, "nobody is mailed: {sent:?}");
    fx.app.shutdown().await;
}
