//! `rampart-local send`: every provider's delivery, built and signed by the command, goes
//! through the real intake and worker of a spawned stack and has its effect; and what the
//! command says when it cannot send (no price configured, unknown provider or event).

use rampart_local::send::{self, Ctx, Flags, Sent};
use rampart_store::{keys, load};
use rampart_tests::{TestApp, settings};
use rampart_webhooks::providers::twilio::SmsOptOut;
use serde_json::Value;

use crate::orders::{order, order_reaches, pay, shop_with, sign_up};
use crate::webhooks::{app, me, our_customer, processed};

fn flags(pairs: &[(&str, &str)]) -> Flags {
    pairs
        .iter()
        .fold(Flags::default(), |f, (k, v)| f.with(k, v))
}

async fn try_send(
    app: &TestApp,
    provider: &str,
    event: &str,
    pairs: &[(&str, &str)],
) -> Result<Sent, send::Error> {
    let flags = flags(pairs);
    let ctx = Ctx {
        settings: &app.state.settings,
        secrets: &app.state.secrets,
        flags: &flags,
        now: app.state.clock.now_secs(),
        store: Some(&*app.state.store),
    };
    send::send(provider, event, &ctx, &app.url("")).await
}

/// Sends through the command and waits for the worker: the event's outcome.
async fn send_applied(
    app: &TestApp,
    provider: &str,
    event: &str,
    pairs: &[(&str, &str)],
) -> String {
    let sent = try_send(app, provider, event, pairs).await.unwrap();
    assert_eq!(sent.status, 200, "{provider} {event}: {}", sent.body);
    let record = processed(app, &sent.delivery.provider, &sent.delivery.event_id).await;
    record.s("outcome").unwrap_or_default().to_string()
}

#[tokio::test]
async fn stripe_checkout_and_subscription_from_send_set_the_plan() {
    let app = app(&[("STRIPE_PRICES", "pro=price_pro_local")]).await;
    let user = me(&app, "sent@example.com").await;
    let uid = user["id"].as_str().unwrap();
    our_customer(&app, &format!("cus_local_{uid}"), uid).await;
    let user_flag = [("user", uid)];
    let checkout = send_applied(&app, "stripe", "checkout.session.completed", &user_flag).await;
    assert_eq!(checkout, "applied");
    // One second later: subscription events order by `created` after the checkout.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let sub = send_applied(&app, "stripe", "customer.subscription.created", &user_flag).await;
    assert_eq!(sub, "applied");
    let stored = rampart_tests::stored_billing(&app.state, uid).await;
    assert_eq!(stored.plan, "pro", "the configured price maps to its tier");
    app.shutdown().await;
}

#[tokio::test]
async fn a_subscription_event_without_a_configured_price_says_how_to_set_one() {
    let app = app(&[]).await;
    let err = try_send(&app, "stripe", "customer.subscription.created", &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("STRIPE_PRICES=") && err.contains("--price"),
        "{err}"
    );
    // With --price it sends.
    let sent = try_send(
        &app,
        "stripe",
        "customer.subscription.created",
        &[("price", "price_x")],
    )
    .await
    .unwrap();
    assert_eq!(sent.status, 200, "{}", sent.body);
    app.shutdown().await;
}

#[tokio::test]
async fn square_payment_events_from_send_move_the_payment_forward() {
    let app = app(&[]).await;
    let id = [("intent", "sqpay_local_1")];
    assert_eq!(
        send_applied(&app, "square", "payment.created", &id).await,
        "applied"
    );
    assert_eq!(
        send_applied(&app, "square", "payment.updated", &id).await,
        "applied"
    );
    let late = [("intent", "sqpay_local_1"), ("status", "APPROVED")];
    assert_eq!(
        send_applied(&app, "square", "payment.updated", &late).await,
        "superseded",
        "COMPLETED does not move back to APPROVED"
    );
    // Square's refund of it: a pending one changes nothing, a completed one moves Square's
    // payment past COMPLETED for good.
    let refund = [("intent", "sqpay_local_1")];
    assert_eq!(
        send_applied(&app, "square", "refund.created", &refund).await,
        "ignored"
    );
    assert_eq!(
        send_applied(&app, "square", "refund.updated", &refund).await,
        "applied"
    );
    let status = app
        .state
        .store
        .get(
            &keys::provider_payment_status("square", "sqpay_local_1").0,
            &keys::provider_payment_status("square", "sqpay_local_1").1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.s("status"), Some("refunded"));
    assert_eq!(
        send_applied(&app, "square", "payment.updated", &id).await,
        "superseded",
        "a refunded payment does not move back to COMPLETED"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn docusign_envelope_events_from_send_move_the_envelope_forward() {
    let app = app(&[]).await;
    let env = [("envelope", "5f0d8c6e-1b5e-4c8e-9a0e-3f1d2c4b5a69")];
    for event in ["envelope-sent", "envelope-delivered", "envelope-completed"] {
        assert_eq!(
            send_applied(&app, "docusign", event, &env).await,
            "applied",
            "{event}"
        );
    }
    assert_eq!(
        send_applied(&app, "docusign", "envelope-voided", &env).await,
        "superseded",
        "a completed envelope stays completed"
    );
    let other = [("envelope", "0b7a3c1e-2d4f-4a6b-8c9d-1e2f3a4b5c6d")];
    let declined = send_applied(&app, "docusign", "envelope-declined", &other).await;
    assert_eq!(declined, "applied");
    app.shutdown().await;
}

async fn opted_out(app: &TestApp, phone: &str) -> Option<bool> {
    let pepper = app.state.hash_pepper().await.unwrap();
    let hash = rampart_platform::crypto::keyed_hash(&pepper, "phone", phone);
    let s: Option<SmsOptOut> = load(&*app.state.store, &keys::sms_optout(&hash))
        .await
        .unwrap();
    s.map(|s| s.opted_out)
}

#[tokio::test]
async fn twilio_status_callbacks_and_stop_start_from_send_apply() {
    let app = app(&[]).await;
    let sid = [("sid", "SM0123456789abcdef0123456789abcdef")];
    for event in ["status-queued", "status-sent", "status-delivered"] {
        assert_eq!(
            send_applied(&app, "twilio", event, &sid).await,
            "applied",
            "{event}"
        );
    }
    let other = [("sid", "SMfedcba9876543210fedcba9876543210")];
    assert_eq!(
        send_applied(&app, "twilio", "status-undelivered", &other).await,
        "applied"
    );
    assert_eq!(
        send_applied(&app, "twilio", "status-failed", &other).await,
        "superseded"
    );

    let phone = "+15005550199";
    let from = [("from", phone)];
    assert_eq!(
        send_applied(&app, "twilio", "inbound-stop", &from).await,
        "applied"
    );
    assert_eq!(opted_out(&app, phone).await, Some(true));
    assert_eq!(
        send_applied(&app, "twilio", "inbound-start", &from).await,
        "applied"
    );
    assert_eq!(opted_out(&app, phone).await, Some(false));
    app.shutdown().await;
}

#[tokio::test]
async fn standard_webhooks_from_send_reach_any_configured_source() {
    let app = app(&[]).await;
    // `acme` is the one source besides the mock provider's: the default.
    let sent = try_send(
        &app,
        "standard",
        "invoice.created",
        &[("data", r#"{"n":1}"#)],
    )
    .await
    .unwrap();
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.delivery.provider, "standard:acme");
    let record = processed(&app, "standard:acme", &sent.delivery.event_id).await;
    assert_eq!(
        record.s("outcome"),
        Some("ignored"),
        "no effects are defined"
    );
    let payload: Value = serde_json::from_str(&sent.delivery.body).unwrap();
    assert_eq!(payload["type"], "invoice.created");
    assert_eq!(payload["data"]["n"], 1);

    let err = try_send(&app, "standard", "x", &[("source", "nope")])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("acme") && err.contains("mock"),
        "names the sources: {err}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_mock_payment_event_from_send_pays_the_order() {
    let shop = shop_with(&[]).await;
    let app = &shop.app;
    let alice = sign_up(app, "mock-sent@example.com").await;
    let o = order(app, &alice, "eu-5gb-30d", 1).await;
    let r = pay(app, &alice, o["id"].as_str().unwrap(), "mock").await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    let intent = p["intent_id"].as_str().unwrap();
    let outcome = send_applied(app, "mock", "payment.succeeded", &[("intent", intent)]).await;
    assert_eq!(outcome, "applied");
    let paid = order_reaches(app, &alice, o["id"].as_str().unwrap(), "PAID").await;
    assert_eq!(paid["payment"]["status"], "succeeded");
    shop.app.shutdown().await;
}

#[tokio::test]
async fn send_refuses_what_it_cannot_build_and_lists_what_it_can() {
    let app = app(&[]).await;
    for (provider, event, pairs, says) in [
        ("paypal", "x", vec![], "unknown provider"),
        ("docusign", "envelope-lost", vec![], "envelope-completed"),
        ("square", "payment.created", vec![("user", "u")], "--user"),
        ("mock", "payment.succeeded", vec![], "--intent"),
    ] {
        let err = try_send(&app, provider, event, &pairs).await.unwrap_err();
        assert!(err.to_string().contains(says), "{provider} {event}: {err}");
    }
    let list = send::list();
    for spec in send::PROVIDERS {
        assert!(list.contains(spec.name));
        for event in spec.events {
            assert!(list.contains(event), "{event}");
        }
    }
    for event in [
        "payment.created",
        "envelope-voided",
        "inbound-stop",
        "status-delivered",
    ] {
        assert!(list.contains(event), "{event}");
    }
    app.shutdown().await;
}

#[test]
fn send_goes_to_loopback_when_the_stack_binds_a_wildcard_address() {
    let wildcard = settings(&[("BIND_ADDR", "0.0.0.0:4567")]);
    assert_eq!(
        send::base_url(&Flags::default(), &wildcard),
        "http://127.0.0.1:4567"
    );
    let v6 = settings(&[("BIND_ADDR", "[::]:4567")]);
    assert_eq!(send::base_url(&Flags::default(), &v6), "http://[::1]:4567");
    let given = flags(&[("url", "http://10.0.0.5:3000")]);
    assert_eq!(send::base_url(&given, &wildcard), "http://10.0.0.5:3000");
}

#[tokio::test]
async fn stripe_events_from_send_name_the_users_linked_customer_unless_told_another() {
    let app = app(&[("STRIPE_PRICES", "pro=price_pro_local")]).await;
    let user = me(&app, "linked@example.com").await;
    let uid = user["id"].as_str().unwrap().to_string();
    let named = |sent: &Sent| -> String {
        let body: Value = serde_json::from_str(&sent.delivery.body).unwrap();
        body["data"]["object"]["customer"].as_str().unwrap().into()
    };
    let user_flag = [("user", uid.as_str())];
    let sent = try_send(&app, "stripe", "invoice.payment_failed", &user_flag)
        .await
        .unwrap();
    assert_eq!(
        named(&sent),
        format!("cus_local_{uid}"),
        "nothing linked yet"
    );

    // The customer our checkout (or an operator) linked to the user.
    our_customer(&app, "cus_theirs", &uid).await;
    let (pk, sk) = keys::user(&uid);
    // Billing's attribute, seeded as billing stores it (its name is private to billing).
    let linked = rampart_store::Update::new().set("stripe_customer_id", "cus_theirs");
    app.state
        .store
        .update(&pk, &sk, linked, None)
        .await
        .unwrap();
    let sent = try_send(&app, "stripe", "customer.subscription.created", &user_flag)
        .await
        .unwrap();
    assert_eq!(named(&sent), "cus_theirs");
    assert_eq!(
        processed(&app, "stripe", &sent.delivery.event_id)
            .await
            .s("outcome"),
        Some("applied")
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let outcome = send_applied(&app, "stripe", "invoice.payment_failed", &user_flag).await;
    assert_eq!(outcome, "applied");
    let stored = rampart_tests::stored_billing(&app.state, &uid).await;
    assert_eq!(stored.subscription_status, "past_due");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let outcome = send_applied(&app, "stripe", "invoice.payment_succeeded", &user_flag).await;
    assert_eq!(outcome, "applied");
    let stored = rampart_tests::stored_billing(&app.state, &uid).await;
    assert_eq!(stored.subscription_status, "active");

    let given = [("user", uid.as_str()), ("customer", "cus_given")];
    let sent = try_send(&app, "stripe", "invoice.paid", &given)
        .await
        .unwrap();
    assert_eq!(named(&sent), "cus_given");
    app.shutdown().await;
}

#[test]
fn send_list_names_only_routes_that_exist() {
    let contract: Value =
        serde_json::from_str(&std::fs::read_to_string("../openapi.json").unwrap()).unwrap();
    let paths: Vec<&String> = contract["paths"].as_object().unwrap().keys().collect();
    let matches = |method: &str, path: &str| {
        paths.iter().any(|template| {
            let t: Vec<&str> = template.split('/').collect();
            let p: Vec<&str> = path.split('/').collect();
            t.len() == p.len()
                && t.iter()
                    .zip(&p)
                    .all(|(a, b)| a == b || (a.starts_with('{') && b.starts_with('{')))
                && contract["paths"][template.as_str()]
                    .get(method.to_lowercase())
                    .is_some()
        })
    };
    let list = send::list();
    let mut named = 0;
    for word in ["GET ", "POST ", "PUT ", "PATCH ", "DELETE "] {
        for (at, _) in list.match_indices(word) {
            let path: String = list[at + word.len()..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ')' | ',' | ';'))
                .collect();
            if !path.starts_with('/') {
                continue;
            }
            named += 1;
            assert!(
                matches(word.trim(), &path),
                "`send --list` names {word}{path}, which no route serves"
            );
        }
    }
    assert!(
        named > 0,
        "the list names the routes its ids come from:\n{list}"
    );
}
