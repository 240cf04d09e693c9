//! What the worker does with recorded events: Stripe subscriptions and invoices in order, owner
//! accounts spared, events about a customer linked to nobody ignored with the reason, Twilio statuses and
//! opt-outs, and a failing event marked failed with its last error.

use std::time::{Duration, Instant};

use rampart_platform::crypto::sha256_hex;
use rampart_store::{Query, keys};
use serde_json::{Value, json};

use super::{app, me, our_customer, processed, record, stripe_event, twilio_signature};

#[tokio::test]
async fn subscriptions_apply_in_order_and_spare_owner_accounts() {
    let app = app(&[
        ("STRIPE_PRICES", "starter=price_s,pro=price_p"),
        ("OWNER_ACCOUNT_IDS", "boss@example.com"),
    ])
    .await;
    let user = me(&app, "payer@example.com").await;
    let uid = user["id"].as_str().unwrap().to_string();
    our_customer(&app, "cus_1", &uid).await;
    stripe_event(
        &app,
        "evt_co",
        "checkout.session.completed",
        100,
        json!({"client_reference_id": uid, "customer": "cus_1", "subscription": "sub_1"}),
    )
    .await;
    processed(&app, "stripe", "evt_co").await;
    let sub = |price: &str, status: &str| {
        json!({"customer": "cus_1", "status": status,
        "items": {"data": [{"price": {"id": price}, "current_period_end": 1_900_000_000}]}, "cancel_at_period_end": false})
    };
    // The newer event arrives first; the older one must not overwrite it.
    stripe_event(
        &app,
        "evt_new",
        "customer.subscription.updated",
        300,
        sub("price_p", "active"),
    )
    .await;
    assert_eq!(
        processed(&app, "stripe", "evt_new").await.s("outcome"),
        Some("applied")
    );
    stripe_event(
        &app,
        "evt_old",
        "customer.subscription.updated",
        200,
        sub("price_s", "trialing"),
    )
    .await;
    assert_eq!(
        processed(&app, "stripe", "evt_old").await.s("outcome"),
        Some("superseded")
    );
    let after = me(&app, "payer@example.com").await;
    assert_eq!(after["plan"], "pro");
    assert_eq!(after["subscription_status"], "active");
    stripe_event(
        &app,
        "evt_fail",
        "invoice.payment_failed",
        400,
        json!({"customer": "cus_1", "subscription": "sub_1"}),
    )
    .await;
    processed(&app, "stripe", "evt_fail").await;
    assert_eq!(
        me(&app, "payer@example.com").await["subscription_status"],
        "past_due"
    );
    let mails: Vec<Value> = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", "payer@example.com")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m["subject"] == "Your payment did not go through"),
        "dunning mail"
    );
    stripe_event(
        &app,
        "evt_del",
        "customer.subscription.deleted",
        500,
        sub("price_p", "canceled"),
    )
    .await;
    processed(&app, "stripe", "evt_del").await;
    let gone = me(&app, "payer@example.com").await;
    assert_eq!(
        (gone["plan"].as_str(), gone["subscription_status"].as_str()),
        (Some("free"), Some("canceled"))
    );

    // The owner's account is never upgraded by a provider event.
    let boss = me(&app, "boss@example.com").await;
    let bid = boss["id"].as_str().unwrap().to_string();
    stripe_event(
        &app,
        "evt_boss",
        "customer.subscription.created",
        600,
        json!({"customer": "cus_boss", "metadata": {"user_id": bid}, "status": "active",
            "items": {"data": [{"price": {"id": "price_p"}}]}}),
    )
    .await;
    assert_eq!(
        processed(&app, "stripe", "evt_boss").await.s("outcome"),
        Some("owner_blocked")
    );
    assert_eq!(me(&app, "boss@example.com").await["plan"], "free");
    let audit = app
        .state
        .store
        .query(Query::table(format!("audit#{bid}")))
        .await
        .unwrap();
    assert!(
        audit
            .items
            .iter()
            .any(|i| i.s("kind") == Some("owner_blocked"))
    );
    app.shutdown().await;
}

#[tokio::test]
async fn events_about_an_unlinked_customer_are_ignored_at_once_and_same_second_deletes_win() {
    let app = app(&[("STRIPE_PRICES", "pro=price_p")]).await;
    let user = me(&app, "early@example.com").await;
    let uid = user["id"].as_str().unwrap().to_string();
    let sub = json!({"customer": "cus_early", "status": "active",
        "items": {"data": [{"price": {"id": "price_p"}}]}});
    // A customer linked to nobody (our checkout links its customer before any session exists,
    // so this is a customer of someone else's integration): ignored at once, the reason on the
    // record, never retried into the dead letters.
    stripe_event(
        &app,
        "evt_sub_first",
        "customer.subscription.created",
        100,
        sub.clone(),
    )
    .await;
    let r = processed(&app, "stripe", "evt_sub_first").await;
    assert_eq!(r.s("outcome"), Some("ignored"));
    assert_eq!(r.n("attempts"), Some(1));
    assert!(
        r.s("outcome_reason")
            .is_some_and(|w| w.contains("cus_early") && w.contains("linked to no user")),
        "{r:?}"
    );
    assert_eq!(me(&app, "early@example.com").await["plan"], "free");
    // Once linked, the customer's next event applies.
    our_customer(&app, "cus_early", &uid).await;
    stripe_event(
        &app,
        "evt_sub_linked",
        "customer.subscription.created",
        101,
        sub.clone(),
    )
    .await;
    let r = processed(&app, "stripe", "evt_sub_linked").await;
    assert_eq!(r.s("outcome"), Some("applied"));
    assert_eq!(me(&app, "early@example.com").await["plan"], "pro");
    // An update and a deletion in the same second: the deletion wins.
    stripe_event(
        &app,
        "evt_upd_same",
        "customer.subscription.updated",
        500,
        sub.clone(),
    )
    .await;
    processed(&app, "stripe", "evt_upd_same").await;
    stripe_event(
        &app,
        "evt_del_same",
        "customer.subscription.deleted",
        500,
        sub,
    )
    .await;
    assert_eq!(
        processed(&app, "stripe", "evt_del_same").await.s("outcome"),
        Some("applied")
    );
    assert_eq!(me(&app, "early@example.com").await["plan"], "free");
    app.shutdown().await;
}

#[tokio::test]
async fn twilio_json_callbacks_and_stop_keywords_apply() {
    let app = app(&[]).await;
    let body = json!({"MessageSid": "SMJ", "MessageStatus": "sent"}).to_string();
    let path = format!(
        "/webhooks/twilio/status?bodySHA256={}",
        sha256_hex(body.as_bytes())
    );
    let r = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/json")
        .header(
            "x-twilio-signature",
            twilio_signature(&format!("https://hooks.example.com{path}"), &[]),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        processed(&app, "twilio", "SMJ:sent").await.s("outcome"),
        Some("applied")
    );
    let sms = app
        .state
        .store
        .get("sms#SMJ", "status")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sms.s("status"), Some("sent"));
    let rec = record(&app, "twilio", "SMJ:sent").await.unwrap();
    assert!(
        rec.b("payload").is_none(),
        "Twilio payloads (numbers, texts) are dropped after processing"
    );

    // Inbound STOP from a number: opted out, stored under a hash of the number.
    let form = [
        ("MessageSid", "SMIN"),
        ("From", "+15551234567"),
        ("Body", "stop "),
    ];
    let r = app
        .client
        .post(app.url("/webhooks/twilio/inbound"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            twilio_signature("https://hooks.example.com/webhooks/twilio/inbound", &form),
        )
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        processed(&app, "twilio", "SMIN:inbound").await.s("outcome"),
        Some("applied")
    );
    let pepper = app.state.hash_pepper().await.unwrap();
    let key = format!(
        "sms_optout#{}",
        rampart_platform::crypto::keyed_hash(&pepper, "phone", "+15551234567")
    );
    let state = app.state.store.get(&key, "state").await.unwrap().unwrap();
    assert_eq!(state.bool("opted_out"), Some(true));
    app.shutdown().await;
}

#[tokio::test]
async fn a_failing_event_is_marked_failed_with_its_last_error() {
    let app = app(&[("QUEUE_MAX_RECEIVES", "2")]).await;
    // A Stripe event whose payload the worker cannot read: fails on every attempt.
    let (pk, sk) = keys::webhook_event("stripe", "evt_bad");
    let item = rampart_store::Item::new(&pk, &sk)
        .with("type", "webhook_event")
        .with("provider", "stripe")
        .with("event_id", "evt_bad")
        .with("status", "received")
        .with("payload", b"not json".to_vec())
        .with("received_at", 0);
    app.state.store.put(item, None).await.unwrap();
    rampart_webhooks::intake::enqueue(&app.state, "stripe", "evt_bad")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = record(&app, "stripe", "evt_bad").await.unwrap();
        if r.s("status") == Some("failed") {
            assert!(
                r.s("last_error").unwrap().contains("malformed"),
                "{:?}",
                r.s("last_error")
            );
            break;
        }
        assert!(Instant::now() < deadline, "never marked failed: {r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.shutdown().await;
}
