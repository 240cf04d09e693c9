//! Webhook state: one ordering of a user's billing state across subscription and
//! invoice events (provider time, then progress within the second), so interleavings end in
//! the newest state and late payment failures mail nobody; events of providers that sign no
//! time are `stale` once older than the deduplication window allows (Square `created_at`,
//! DocuSign `generatedDateTime`, a Twilio message SID's first delivery); Twilio STOP/START
//! apply in `DateSent` order.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_platform::crypto::hmac_sha256;
use rampart_store::{keys, load};
use rampart_tests::{DOCUSIGN_OLD, SQUARE_KEY, TestApp, embedded_state, settings, spawn_app_with};
use rampart_webhooks::providers::twilio::SmsOptOut;
use serde_json::{Value, json};

use super::{
    AheadClock, BASE_SETTINGS, app, day_of, me, now, our_customer, processed, record, stripe_event,
    twilio_signature,
};

const DAY: i64 = 86_400;

/// An event (id, type, created, object), the outcome it must have, and the user's (plan,
/// status) after it.
type Step = (
    &'static str,
    &'static str,
    i64,
    Value,
    &'static str,
    (&'static str, &'static str),
);

async fn dunning_mails(app: &TestApp, to: &str) -> usize {
    let mails: Vec<Value> = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    mails
        .iter()
        .filter(|m| m["subject"] == "Your payment did not go through")
        .count()
}

async fn outcome(app: &TestApp, provider: &str, id: &str) -> String {
    let r = processed(app, provider, id).await;
    r.s("outcome").unwrap_or_default().to_string()
}

#[tokio::test]
async fn invoice_and_subscription_interleavings_end_in_the_newest_state() {
    let app = app(&[("STRIPE_PRICES", "pro=price_p")]).await;
    let email = "interleave@example.com";
    let uid = me(&app, email).await["id"].as_str().unwrap().to_string();
    our_customer(&app, "cus_il", &uid).await;
    let sub = |status: &str| {
        json!({"id": "sub_il", "customer": "cus_il", "status": status,
            "items": {"data": [{"price": {"id": "price_p"}, "current_period_end": 1_900_000_000}]}})
    };
    let inv =
        |status: &str| json!({"customer": "cus_il", "subscription": "sub_il", "status": status});
    let state = |v: Value| {
        (
            v["plan"].as_str().unwrap().to_string(),
            v["subscription_status"].as_str().unwrap().to_string(),
        )
    };
    let steps: &[Step] = &[
        // Created and updated in the same second: the update is not dropped.
        (
            "e1",
            "customer.subscription.created",
            100,
            sub("incomplete"),
            "applied",
            ("free", "incomplete"),
        ),
        (
            "e2",
            "customer.subscription.updated",
            100,
            sub("active"),
            "applied",
            ("pro", "active"),
        ),
        // An older invoice never overwrites a newer subscription status.
        (
            "e3",
            "invoice.payment_failed",
            90,
            inv("open"),
            "superseded",
            ("pro", "active"),
        ),
        (
            "e4",
            "invoice.payment_failed",
            200,
            inv("open"),
            "applied",
            ("pro", "past_due"),
        ),
        (
            "e5",
            "customer.subscription.updated",
            250,
            sub("active"),
            "applied",
            ("pro", "active"),
        ),
        (
            "e6",
            "invoice.paid",
            240,
            inv("paid"),
            "superseded",
            ("pro", "active"),
        ),
        (
            "e7",
            "customer.subscription.deleted",
            300,
            sub("canceled"),
            "applied",
            ("free", "canceled"),
        ),
        // A failure of the same second as the deletion, and one after it: nobody is mailed.
        (
            "e8",
            "invoice.payment_failed",
            300,
            inv("open"),
            "superseded",
            ("free", "canceled"),
        ),
        (
            "e9",
            "invoice.payment_failed",
            310,
            inv("open"),
            "superseded",
            ("free", "canceled"),
        ),
    ];
    for (id, ty, at, object, expected, after) in steps {
        stripe_event(&app, id, ty, *at, object.clone()).await;
        assert_eq!(
            outcome(&app, "stripe", id).await,
            *expected,
            "{id} {ty}@{at}"
        );
        let now = state(me(&app, email).await);
        assert_eq!((now.0.as_str(), now.1.as_str()), *after, "after {id}");
    }
    assert_eq!(
        dunning_mails(&app, email).await,
        1,
        "only e4 was mailed about"
    );
    app.shutdown().await;
}

fn rfc3339_days_ago(days: i64) -> String {
    format!("{}T12:00:00Z", day_of(now() - days * DAY))
}

async fn square(app: &TestApp, event_id: &str, payment: &str, created_at: &str) {
    let body = json!({"event_id": event_id, "type": "payment.updated", "created_at": created_at,
        "data": {"object": {"payment": {"id": payment, "status": "COMPLETED"}}}})
    .to_string();
    let url = "https://hooks.example.com/webhooks/square";
    let sig = B64.encode(hmac_sha256(
        SQUARE_KEY.as_bytes(),
        format!("{url}{body}").as_bytes(),
    ));
    let r = app
        .client
        .post(app.url("/webhooks/square"))
        .header("x-square-hmacsha256-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "answered 200 so Square stops retrying");
}

#[tokio::test]
async fn a_200_day_old_signed_square_event_is_stale_and_changes_nothing() {
    let app = app(&[]).await;
    square(&app, "sq_old", "sq_pay_old", &rfc3339_days_ago(200)).await;
    let r = record(&app, "square", "sq_old").await.unwrap();
    assert_eq!(
        (r.s("status"), r.s("outcome")),
        (Some("processed"), Some("stale"))
    );
    assert!(r.b("payload").is_none(), "a stale payload is not kept");
    let pay = app
        .state
        .store
        .get("payment#square#sq_pay_old", "status")
        .await
        .unwrap();
    assert!(pay.is_none(), "never applied");
    // Inside the window it still applies.
    square(&app, "sq_recent", "sq_pay_recent", &rfc3339_days_ago(178)).await;
    assert_eq!(outcome(&app, "square", "sq_recent").await, "applied");
    app.shutdown().await;
}

#[tokio::test]
async fn a_200_day_old_docusign_event_is_stale() {
    let app = app(&[]).await;
    let generated = rfc3339_days_ago(200);
    let body = json!({"event": "envelope-completed", "generatedDateTime": generated,
        "data": {"envelopeId": "env-old"}})
    .to_string();
    let sig = B64.encode(hmac_sha256(DOCUSIGN_OLD.as_bytes(), body.as_bytes()));
    let r = app
        .client
        .post(app.url("/webhooks/docusign"))
        .header("x-docusign-signature-1", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = format!("env-old:envelope-completed:{generated}");
    assert_eq!(
        record(&app, "docusign", &id).await.unwrap().s("outcome"),
        Some("stale")
    );
    assert!(
        app.state
            .store
            .get("envelope#env-old", "status")
            .await
            .unwrap()
            .is_none()
    );
    app.shutdown().await;
}

const PHONE: &str = "+15557654321";

async fn inbound(app: &TestApp, sid: &str, body: &str, date_sent: Option<&str>) {
    let mut form = vec![("MessageSid", sid), ("From", PHONE), ("Body", body)];
    if let Some(d) = date_sent {
        form.push(("DateSent", d));
    }
    let r = app
        .client
        .post(app.url("/webhooks/twilio/inbound"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            twilio_signature("https://hooks.example.com/webhooks/twilio/inbound", &form),
        )
        .body(serde_urlencoded::to_string(&form).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn opted_out(app: &TestApp) -> Option<bool> {
    let pepper = app.state.hash_pepper().await.unwrap();
    let hash = rampart_platform::crypto::keyed_hash(&pepper, "phone", PHONE);
    let state: Option<SmsOptOut> = load(&*app.state.store, &keys::sms_optout(&hash))
        .await
        .unwrap();
    state.map(|s| s.opted_out)
}

#[tokio::test]
async fn stop_and_start_apply_in_the_order_they_were_sent() {
    let app = app(&[]).await;
    // START sent after STOP, but delivered first.
    inbound(
        &app,
        "SMstart",
        "START",
        Some("Thu, 01 Jan 2026 10:00:05 +0000"),
    )
    .await;
    assert_eq!(outcome(&app, "twilio", "SMstart:inbound").await, "applied");
    inbound(
        &app,
        "SMstop",
        "STOP",
        Some("Thu, 01 Jan 2026 10:00:00 +0000"),
    )
    .await;
    assert_eq!(
        outcome(&app, "twilio", "SMstop:inbound").await,
        "superseded"
    );
    assert_eq!(
        opted_out(&app).await,
        Some(false),
        "the later-sent START stands"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_twilio_delivery_replayed_after_its_record_expired_is_stale() {
    let clock = Arc::new(AheadClock::default());
    let shared: rampart_platform::clock::SharedClock = clock.clone();
    let state = embedded_state(settings(BASE_SETTINGS), shared);
    let app = spawn_app_with(state).await;
    inbound(&app, "SMyes", "START", None).await;
    assert_eq!(outcome(&app, "twilio", "SMyes:inbound").await, "applied");
    // The STOP comes later: on the test's clock, not however long the scheduler slept.
    clock.advance(Duration::from_secs(1));
    inbound(&app, "SMno", "STOP", None).await;
    assert_eq!(outcome(&app, "twilio", "SMno:inbound").await, "applied");
    assert_eq!(opted_out(&app).await, Some(true));
    // 200 days on, the deduplication record of the START is gone; a captured copy comes back.
    clock.advance(Duration::from_secs(200 * DAY as u64));
    inbound(&app, "SMyes", "START", None).await;
    let r = record(&app, "twilio", "SMyes:inbound").await.unwrap();
    assert_eq!(
        (r.s("status"), r.s("outcome")),
        (Some("processed"), Some("stale"))
    );
    assert_eq!(
        opted_out(&app).await,
        Some(true),
        "the number stays opted out"
    );
    app.shutdown().await;
}
