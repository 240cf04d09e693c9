//! Refunds: Stripe's `charge.refunded` (signed, in Stripe's documented charge shape) for an
//! order paid through the Stripe provider (its intent made at localstripe) moves the order
//! `PAID → REFUNDED` when all of it is refunded, records a partial refund on a `PAID` order,
//! keeps a refunded order's eSIM from being activated and marks an activated one for
//! revocation; the same refund again, or an older total arriving late, changes nothing; a refund
//! that overtakes its payment's success waits for it instead of being dropped. On both
//! backends. And Square's `refund.*`: a completed refund moves Square's own payment record.

use rampart_tests::{STRIPE_NEW, TestApp};
use serde_json::{Value, json};

use super::{Customer, Shop, assert_problem, get, json_of, order, order_reaches, post, sign_up};

fn localstripe() -> Option<String> {
    crate::billing::localstripe()
}

async fn embedded() -> Option<Shop> {
    let base = localstripe()?;
    super::embedded_shop_with(&[("STRIPE_API_BASE", &base)]).await
}

async fn dynamo() -> Option<Shop> {
    let base = localstripe()?;
    super::dynamo_shop_with(&[("STRIPE_API_BASE", &base)]).await
}

rampart_tests::on_backends!(super::embedded, super::dynamo;
    a_full_refund_makes_the_order_refunded_and_marks_its_activated_esim_for_revocation,
    a_partial_refund_is_recorded_on_a_paid_order_and_refunds_apply_in_any_order,
    a_refund_that_arrives_before_its_payments_success_is_applied_once_the_success_is,
);

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// Signs and posts a Stripe event; the event id.
async fn stripe_event(app: &TestApp, ty: &str, object: Value) -> String {
    let id = format!("evt_{}", rampart_platform::crypto::random_id());
    let t = app.state.clock.now_secs();
    let body = json!({"id": id, "object": "event", "type": ty, "created": t,
                      "data": {"object": object}})
    .to_string();
    let sig = hex::encode(rampart_platform::crypto::hmac_sha256(
        STRIPE_NEW.as_bytes(),
        format!("{t}.{body}").as_bytes(),
    ));
    let r = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("stripe-signature", format!("t={t},v1={sig}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    id
}

async fn outcome(app: &TestApp, id: &str) -> String {
    let r = crate::webhooks::processed(app, "stripe", id).await;
    r.s("outcome").unwrap_or_default().to_string()
}

/// An order paid through Stripe (intent at localstripe, confirmed by its signed event):
/// (order, payment).
async fn paid_order(app: &TestApp, who: &Customer) -> (Value, Value) {
    let o = order(app, who, "eu-1gb-7d", 1).await;
    let key = rampart_platform::crypto::random_id();
    let r = post(
        app,
        who,
        "/payments",
        Some(&key),
        &json!({"order_id": o["id"], "provider": "stripe"}),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let p = json_of(r).await;
    let intent = json!({"object": "payment_intent", "id": p["intent_id"], "status": "succeeded"});
    stripe_event(app, "payment_intent.succeeded", intent).await;
    order_reaches(app, who, s(&o["id"]), "PAID").await;
    (o, p)
}

/// Stripe's `charge` of an intent with `refunded` of `amount` refunded so far.
fn charge(p: &Value, refunded: i64) -> Value {
    let amount = p["amount"].as_i64().unwrap();
    json!({
        "id": format!("ch_{}", rampart_platform::crypto::random_id()),
        "object": "charge",
        "payment_intent": p["intent_id"],
        "amount": amount,
        "amount_refunded": refunded,
        "currency": "eur",
        "paid": true,
        "refunded": refunded >= amount,
        "status": "succeeded",
    })
}

async fn a_full_refund_makes_the_order_refunded_and_marks_its_activated_esim_for_revocation(
    shop: Shop,
) {
    let app = &shop.app;
    let alice = sign_up(app, "refunded@example.com").await;
    let (o, p) = paid_order(app, &alice).await;
    let activate = format!("/esims/{}/activate", s(&o["esim"]["id"]));
    let esim = json_of(post(app, &alice, &activate, None, &json!({})).await).await;
    assert_eq!(esim["status"], "READY");
    let amount = p["amount"].as_i64().unwrap();

    let id = stripe_event(app, "charge.refunded", charge(&p, amount)).await;
    assert_eq!(outcome(app, &id).await, "applied");
    let refunded = order_reaches(app, &alice, s(&o["id"]), "REFUNDED").await;
    assert_eq!(refunded["refunded_amount"], amount);
    let pay = json_of(get(app, &alice, &format!("/payments/{}", s(&p["id"]))).await).await;
    assert_eq!(pay["refunded_amount"], amount);
    // What the shop sees: the profile marked for revocation, and never handed out again.
    let listed = json_of(get(app, &alice, "/esims").await).await;
    assert!(
        listed["esims"][0]["revoke_requested_at"].is_i64(),
        "{listed}"
    );
    assert_problem(
        post(app, &alice, &activate, None, &json!({})).await,
        409,
        "order-refunded",
    )
    .await;
    // Stripe sends it again: nothing moves twice.
    let id = stripe_event(app, "charge.refunded", charge(&p, amount)).await;
    assert_eq!(outcome(app, &id).await, "superseded");

    // A refunded order whose eSIM was never activated: it never will be.
    let (o2, p2) = paid_order(app, &alice).await;
    let id = stripe_event(app, "charge.refunded", charge(&p2, amount)).await;
    assert_eq!(outcome(app, &id).await, "applied");
    order_reaches(app, &alice, s(&o2["id"]), "REFUNDED").await;
    let path = format!("/esims/{}/activate", s(&o2["esim"]["id"]));
    assert_problem(
        post(app, &alice, &path, None, &json!({})).await,
        409,
        "order-refunded",
    )
    .await;
    shop.app.shutdown().await;
}

async fn a_partial_refund_is_recorded_on_a_paid_order_and_refunds_apply_in_any_order(shop: Shop) {
    let app = &shop.app;
    let bob = sign_up(app, "partly@example.com").await;
    let (o, p) = paid_order(app, &bob).await;
    let amount = p["amount"].as_i64().unwrap();
    let part = amount / 4;
    let id = stripe_event(app, "charge.refunded", charge(&p, part)).await;
    assert_eq!(outcome(app, &id).await, "applied");
    let shown = json_of(get(app, &bob, &format!("/orders/{}", s(&o["id"]))).await).await;
    assert_eq!(shown["status"], "PAID", "a partial refund keeps the order");
    assert_eq!(shown["refunded_amount"], part);
    let activate = format!("/esims/{}/activate", s(&o["esim"]["id"]));
    assert_eq!(
        post(app, &bob, &activate, None, &json!({})).await.status(),
        200,
        "still the customer's to use"
    );
    // The rest, then the first total again (arriving late): the larger total stands.
    let id = stripe_event(app, "charge.refunded", charge(&p, amount)).await;
    assert_eq!(outcome(app, &id).await, "applied");
    let id = stripe_event(app, "charge.refunded", charge(&p, part)).await;
    assert_eq!(outcome(app, &id).await, "superseded");
    let done = order_reaches(app, &bob, s(&o["id"]), "REFUNDED").await;
    assert_eq!(done["refunded_amount"], amount);
    shop.app.shutdown().await;
}

async fn a_refund_that_arrives_before_its_payments_success_is_applied_once_the_success_is(
    shop: Shop,
) {
    let app = &shop.app;
    let bob = sign_up(app, "early-refund@example.com").await;
    let o = order(app, &bob, "eu-1gb-7d", 1).await;
    let key = rampart_platform::crypto::random_id();
    let body = json!({"order_id": o["id"], "provider": "stripe"});
    let r = post(app, &bob, "/payments", Some(&key), &body).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let p = json_of(r).await;
    let amount = p["amount"].as_i64().unwrap();

    // Stripe does not order its events: the refund comes first, and a worker tries it.
    let refund = stripe_event(app, "charge.refunded", charge(&p, amount)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let rec = crate::webhooks::record(app, "stripe", &refund)
            .await
            .unwrap();
        if rec.n("attempts").unwrap_or(0) >= 1 {
            assert_ne!(rec.s("status"), Some("processed"), "nothing to refund yet");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refund was never tried"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let intent = json!({"object": "payment_intent", "id": p["intent_id"], "status": "succeeded"});
    stripe_event(app, "payment_intent.succeeded", intent).await;
    // The refund's retry finds the payment succeeded: the order ends refunded, never paid
    // with its money given back.
    assert_eq!(outcome(app, &refund).await, "applied");
    let refunded = order_reaches(app, &bob, s(&o["id"]), "REFUNDED").await;
    assert_eq!(refunded["refunded_amount"], amount);
    let activate = format!("/esims/{}/activate", s(&o["esim"]["id"]));
    assert_problem(
        post(app, &bob, &activate, None, &json!({})).await,
        409,
        "order-refunded",
    )
    .await;
    shop.app.shutdown().await;
}
