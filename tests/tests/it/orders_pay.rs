//! Payments through the mock provider, settled by its signed webhook through the real intake
//! route and worker; activation; one payment per order; events applied once; owner accounts;
//! and what another user cannot reach.

use std::time::{Duration, Instant};

use rampart_store::{Query, keys};
use rampart_tests::{ADMIN_TOKEN, STANDARD_SECRET, TestApp};
use rampart_webhooks::providers::standard::mock_payment::{self as mock, Settle};
use rampart_webhooks::providers::standard::sign;
use serde_json::{Value, json};

use super::{
    Customer, Shop, assert_problem, get, is_uuid_v4, json_of, luhn_valid, order, order_reaches,
    pay, post, sign_up,
};

rampart_tests::on_backends!(
    crate::orders::embedded_shop, crate::orders::dynamo_shop;
    a_mock_payment_confirmed_by_its_webhook_pays_the_order_and_the_esim_activates_once,
    a_declined_payment_leaves_the_order_payable_and_a_new_key_starts_a_new_attempt,
    another_users_orders_payments_and_esims_are_not_found,
    an_order_has_one_payment_however_often_it_is_paid,
    payment_events_apply_once_and_a_late_failure_is_superseded,
    owners_may_order_but_are_never_charged,
    an_operator_reads_a_provider_payment_with_the_order_it_paid,
);

/// The local stack's "customer completed/failed the payment" command.
async fn settle(app: &TestApp, intent: &str, action: &str) -> Value {
    let r = app
        .client
        .post(app.url(&format!("/_local/payments/{intent}/{action}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    json_of(r).await
}

/// The intake record of a webhook event once the worker finished it: (outcome, attempts).
async fn processed_event(app: &TestApp, provider: &str, id: &str) -> (String, i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (pk, sk) = keys::webhook_event(provider, id);
    loop {
        if let Some(r) = app.state.store.get(&pk, &sk).await.unwrap()
            && r.s("status") == Some("processed")
        {
            return (
                r.s("outcome").unwrap_or_default().to_string(),
                r.n("attempts").unwrap_or_default(),
            );
        }
        assert!(Instant::now() < deadline, "{provider}/{id} never processed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A mock event signed with the test secret, sent as `webhook_id` (a provider redelivering
/// sends the same id).
async fn send_mock_event(app: &TestApp, webhook_id: &str, intent: &str, settle: Settle) {
    let now = app.state.clock.now_ms() / 1000;
    let body = mock::event(intent, settle, now).to_string();
    let sig = sign(STANDARD_SECRET, webhook_id, now, body.as_bytes()).unwrap();
    let r = app
        .client
        .post(app.url("/webhooks/standard/mock"))
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn ordered_and_pending_payment(app: &TestApp, who: &Customer) -> (Value, Value) {
    let o = order(app, who, "eu-5gb-30d", 1).await;
    let r = pay(app, who, o["id"].as_str().unwrap(), "mock").await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    (o, json_of(r).await)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

async fn a_mock_payment_confirmed_by_its_webhook_pays_the_order_and_the_esim_activates_once(
    shop: Shop,
) {
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let o = order(app, &alice, "eu-5gb-30d", 1).await;
    let esim_path = format!("/esims/{}/activate", s(&o["esim"]["id"]));
    let early = post(app, &alice, &esim_path, None, &json!({})).await;
    assert_problem(early, 409, "order-not-paid").await;

    let r = pay(app, &alice, s(&o["id"]), "mock").await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let p = json_of(r).await;
    assert_eq!(location, format!("/payments/{}", s(&p["id"])));
    assert_eq!(p["status"], "requires_action");
    assert_eq!(p["order_id"], o["id"]);
    assert_eq!(p["provider"], "mock");
    assert_eq!(
        (p["amount"].as_i64(), s(&p["currency"])),
        (Some(1500), "EUR")
    );
    assert!(s(&p["intent_id"]).starts_with("pi_mock_"));
    assert!(s(&p["client_secret"]).starts_with(s(&p["intent_id"])));
    let shown = json_of(get(app, &alice, &format!("/orders/{}", s(&o["id"]))).await).await;
    assert_eq!(
        shown["payment"],
        json!({"id": p["id"], "provider": "mock", "status": "requires_action"})
    );

    let sent = settle(app, s(&p["intent_id"]), "succeed").await;
    assert_eq!(sent["type"], "payment.succeeded");
    let (outcome, _) = processed_event(app, "standard:mock", s(&sent["webhook_id"])).await;
    assert_eq!(outcome, "applied", "through intake and the worker");
    let paid = order_reaches(app, &alice, s(&o["id"]), "PAID").await;
    assert_eq!(paid["payment"]["status"], "succeeded");
    let payment = json_of(get(app, &alice, &format!("/payments/{}", s(&p["id"]))).await).await;
    assert_eq!(payment["status"], "succeeded");

    let first = post(app, &alice, &esim_path, None, &json!({})).await;
    assert_eq!(first.status(), 200);
    let esim = json_of(first).await;
    assert_eq!(esim["status"], "READY");
    let code = s(&esim["activation_code"]);
    assert!(is_uuid_v4(code), "{code}");
    let iccid = s(&esim["iccid"]);
    assert_eq!(iccid.len(), 19);
    assert!(iccid.starts_with("89") && iccid.bytes().all(|b| b.is_ascii_digit()));
    assert!(luhn_valid(iccid), "{iccid}");
    let again = json_of(post(app, &alice, &esim_path, None, &json!({})).await).await;
    assert_eq!(again, esim, "a repeat returns the same code and ICCID");
    let listed = json_of(get(app, &alice, "/esims").await).await;
    assert_eq!(listed["esims"][0], esim);
    let shown = json_of(get(app, &alice, &format!("/orders/{}", s(&o["id"]))).await).await;
    assert_eq!(shown["esim"]["status"], "READY");
}

async fn a_declined_payment_leaves_the_order_payable_and_a_new_key_starts_a_new_attempt(
    shop: Shop,
) {
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let (o, first) = ordered_and_pending_payment(app, &alice).await;
    let order_path = format!("/orders/{}", s(&o["id"]));
    let sent = settle(app, s(&first["intent_id"]), "fail").await;
    assert_eq!(sent["type"], "payment.failed");
    let (outcome, _) = processed_event(app, "standard:mock", s(&sent["webhook_id"])).await;
    assert_eq!(outcome, "applied");
    let declined = json_of(get(app, &alice, &order_path).await).await;
    assert_eq!(declined["status"], "CREATED", "still payable");
    assert_eq!(declined["payment"]["status"], "failed");
    assert_eq!(
        declined["payable_until"].as_i64().unwrap(),
        declined["created_at"].as_i64().unwrap() + 86_400
    );
    let path = format!("/esims/{}/activate", s(&o["esim"]["id"]));
    assert_problem(
        post(app, &alice, &path, None, &json!({})).await,
        409,
        "order-not-paid",
    )
    .await;

    // Another card: a new Idempotency-Key starts a new attempt with its own intent.
    let second = json_of(pay(app, &alice, s(&o["id"]), "mock").await).await;
    assert_ne!(second["id"], first["id"]);
    assert_ne!(second["intent_id"], first["intent_id"]);
    assert_eq!(second["status"], "requires_action");
    // While it can still succeed, a further request answers with it: never a third intent.
    let again = pay(app, &alice, s(&o["id"]), "mock").await;
    assert_eq!(again.status(), 200);
    assert_eq!(json_of(again).await["id"], second["id"]);
    settle(app, s(&second["intent_id"]), "succeed").await;
    let paid = order_reaches(app, &alice, s(&o["id"]), "PAID").await;
    assert_eq!(paid["payment"]["id"], second["id"]);
    assert_eq!(
        post(app, &alice, &path, None, &json!({})).await.status(),
        200,
        "activates once paid"
    );

    // The first attempt confirmed after all (its old page, another card): the money is
    // recorded on that payment as owed back, never a second order or activation.
    let late = settle(app, s(&first["intent_id"]), "succeed").await;
    let (outcome, _) = processed_event(app, "standard:mock", s(&late["webhook_id"])).await;
    assert_eq!(outcome, "applied");
    let shown = json_of(get(app, &alice, &format!("/payments/{}", s(&first["id"]))).await).await;
    assert_eq!(shown["status"], "succeeded");
    assert_eq!(shown["duplicate_of"], second["id"]);
    let still = json_of(get(app, &alice, &order_path).await).await;
    assert_eq!(still["status"], "PAID");
    assert_eq!(still["payment"]["id"], second["id"]);
    let audit = app
        .state
        .store
        .query(Query::table(format!("audit#{}", alice.id)))
        .await
        .unwrap();
    let dup = audit
        .items
        .iter()
        .find(|i| i.s("kind") == Some("duplicate_charge"))
        .expect("the refund instruction is audited");
    assert!(
        format!("{dup:?}").contains(s(&first["intent_id"])),
        "{dup:?}"
    );
    // A paid order is not paid again.
    let r = pay(app, &alice, s(&o["id"]), "mock").await;
    assert_problem(r, 409, "order-not-payable").await;
    let r = app
        .client
        .post(app.url("/_local/payments/pi_mock_000000000000000000000000/succeed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "unknown intent");
}

async fn another_users_orders_payments_and_esims_are_not_found(shop: Shop) {
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let mallory = sign_up(app, "mallory@example.com").await;
    let (o, p) = ordered_and_pending_payment(app, &alice).await;
    settle(app, s(&p["intent_id"]), "succeed").await;
    order_reaches(app, &alice, s(&o["id"]), "PAID").await;

    let order_path = format!("/orders/{}", s(&o["id"]));
    let payment_path = format!("/payments/{}", s(&p["id"]));
    let esim_path = format!("/esims/{}/activate", s(&o["esim"]["id"]));
    assert_problem(get(app, &mallory, &order_path).await, 404, "not-found").await;
    assert_problem(get(app, &mallory, &payment_path).await, 404, "not-found").await;
    assert_problem(
        post(app, &mallory, &esim_path, None, &json!({})).await,
        404,
        "not-found",
    )
    .await;
    let r = pay(app, &mallory, s(&o["id"]), "mock").await;
    assert_problem(r, 404, "not-found").await;
    let mine = json_of(get(app, &mallory, "/orders").await).await;
    assert_eq!(mine["orders"], json!([]));
    assert_eq!(
        json_of(get(app, &mallory, "/esims").await).await["esims"],
        json!([])
    );
    // The owner still sees and activates their own, untouched by the attempts.
    assert_eq!(get(app, &alice, &order_path).await.status(), 200);
    assert_eq!(get(app, &alice, &payment_path).await.status(), 200);
    let esim = json_of(post(app, &alice, &esim_path, None, &json!({})).await).await;
    assert_eq!(esim["status"], "READY");
}

async fn an_order_has_one_payment_however_often_it_is_paid(shop: Shop) {
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let o = order(app, &alice, "world-3gb-15d", 1).await;
    let body = json!({"order_id": o["id"], "provider": "mock"});
    // Six racing requests, each with its own key (the limit is 10 payments a minute).
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (client, url, token, body) = (
            app.client.clone(),
            app.url("/payments"),
            alice.token.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", format!("race-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, p) => {
                created += 1;
                ids.push(p["id"].clone());
            }
            (200, p) => ids.push(p["id"].clone()),
            (409, _) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 1, "one payment was created");
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "every answer names it: {ids:?}"
    );
    let second = post(app, &alice, "/payments", Some("later"), &body).await;
    assert_eq!(
        second.status(),
        200,
        "a second payment returns the live one"
    );
    let second = json_of(second).await;
    assert_eq!(second["id"], ids[0]);
    let replay = post(app, &alice, "/payments", Some("later"), &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay).await, second);
    let other = json!({"order_id": o["id"], "provider": "stripe"});
    assert_eq!(
        post(app, &alice, "/payments", Some("later"), &other)
            .await
            .status(),
        422
    );
    // Stored state: one payment and one intent link for the order.
    let (pk, _) = keys::user(&alice.id);
    let page = app
        .state
        .store
        .query(Query::table(pk).prefix("payment#"))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(second["amount"], 2000);
}

async fn payment_events_apply_once_and_a_late_failure_is_superseded(shop: Shop) {
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let (o, p) = ordered_and_pending_payment(app, &alice).await;
    let intent = s(&p["intent_id"]);
    for _ in 0..3 {
        send_mock_event(app, "msg_paid_once", intent, Settle::Succeed).await;
    }
    let once = processed_event(app, "standard:mock", "msg_paid_once").await;
    assert_eq!(
        once,
        ("applied".to_string(), 1),
        "delivered three times, processed once"
    );
    order_reaches(app, &alice, s(&o["id"]), "PAID").await;

    // An operator replays the processed event: the worker finds it processed, nothing moves.
    let r = app
        .client
        .post(app.url("/admin/webhook-events/standard:mock/msg_paid_once/replay"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // The same success as a new event (a provider retry with a fresh id): superseded.
    send_mock_event(app, "msg_paid_twice", intent, Settle::Succeed).await;
    let (outcome, _) = processed_event(app, "standard:mock", "msg_paid_twice").await;
    assert_eq!(outcome, "superseded");
    send_mock_event(app, "msg_late_fail", intent, Settle::Fail).await;
    let (outcome, _) = processed_event(app, "standard:mock", "msg_late_fail").await;
    assert_eq!(
        outcome, "superseded",
        "a late failure never undoes a payment"
    );
    let o = json_of(get(app, &alice, &format!("/orders/{}", s(&o["id"]))).await).await;
    assert_eq!(o["status"], "PAID");
    assert_eq!(o["payment"]["status"], "succeeded");
    let payment = json_of(get(app, &alice, &format!("/payments/{}", s(&p["id"]))).await).await;
    assert_eq!(payment["status"], "succeeded");
}

async fn owners_may_order_but_are_never_charged(shop: Shop) {
    let app = &shop.app;
    let owner = sign_up(app, "owner@example.com").await;
    let o = order(app, &owner, "eu-1gb-7d", 1).await;
    let body = json!({"order_id": o["id"], "provider": "mock"});
    for _ in 0..2 {
        let r = post(app, &owner, "/payments", Some("owner-pay"), &body).await;
        assert_problem(r, 403, "owner-exempt").await;
    }
    let shown = json_of(get(app, &owner, &format!("/orders/{}", s(&o["id"]))).await).await;
    assert_eq!(shown["payment"], Value::Null);
    assert_eq!(shown["status"], "CREATED");
    let (pk, _) = keys::audit(&owner.id, 0, "");
    let audit = app.state.store.query(Query::table(pk)).await.unwrap();
    let refusals = audit
        .items
        .iter()
        .filter(|i| i.s("kind") == Some("payment_owner_exempt"))
        .count();
    assert_eq!(refusals, 2, "each refusal is audited");
    let (pk, _) = keys::user(&owner.id);
    let payments = app
        .state
        .store
        .query(Query::table(pk).prefix("payment#"))
        .await
        .unwrap();
    assert!(payments.items.is_empty());
}

#[tokio::test]
async fn payments_and_activations_have_their_own_limits() {
    let shop = super::shop_with(&[]).await;
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let o = order(app, &alice, "eu-1gb-7d", 1).await;
    for i in 0..10 {
        let r = pay(app, &alice, s(&o["id"]), "mock").await;
        assert!(r.status() == 201 || r.status() == 200, "payment {i}");
    }
    let r = pay(app, &alice, s(&o["id"]), "mock").await;
    assert!(r.headers().get("retry-after").is_some());
    assert_problem(r, 429, "rate-limited").await;
    let path = format!("/esims/esim_{}/activate", "0".repeat(32));
    for _ in 0..10 {
        assert_eq!(
            post(app, &alice, &path, None, &json!({})).await.status(),
            404
        );
    }
    assert_problem(
        post(app, &alice, &path, None, &json!({})).await,
        429,
        "rate-limited",
    )
    .await;
    // Orders have their own budget.
    order(app, &alice, "eu-1gb-7d", 1).await;
    shop.app.shutdown().await;
}

#[tokio::test]
async fn payment_bodies_are_checked_before_any_lookup() {
    let shop = super::shop_with(&[]).await;
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let o = order(app, &alice, "eu-1gb-7d", 1).await;
    let r = post(
        app,
        &alice,
        "/payments",
        None,
        &json!({"order_id": o["id"], "provider": "mock"}),
    )
    .await;
    assert_problem(r, 400, "idempotency-key-missing").await;
    for (body, pointer) in [
        (
            json!({"order_id": "ord_../../x", "provider": "mock"}),
            "/order_id",
        ),
        (
            json!({"order_id": o["id"], "provider": "paypal"}),
            "/provider",
        ),
        // A missing member is named (the JSON errors' rule).
        (json!({"order_id": o["id"]}), "/provider"),
        (
            json!({"order_id": o["id"], "provider": "mock", "amount": 1}),
            "/amount",
        ),
    ] {
        let r = post(app, &alice, "/payments", Some("k"), &body).await;
        let p = assert_problem(r, 422, "unprocessable").await;
        assert_eq!(p["errors"][0]["pointer"], pointer, "{body}");
    }
    let unknown = json!({"order_id": format!("ord_{}", "0".repeat(32)), "provider": "mock"});
    assert_problem(
        post(app, &alice, "/payments", Some("k"), &unknown).await,
        404,
        "not-found",
    )
    .await;
    shop.app.shutdown().await;

    // Production takes real money only.
    let shop = super::shop_with(&[("APP_ENV", "production")]).await;
    let app = &shop.app;
    let bob = sign_up(app, "bob@example.com").await;
    let o = order(app, &bob, "eu-1gb-7d", 1).await;
    let r = pay(app, &bob, s(&o["id"]), "mock").await;
    let p = assert_problem(r, 422, "unprocessable").await;
    assert_eq!(p["errors"][0]["pointer"], "/provider");
    shop.app.shutdown().await;
}

#[tokio::test]
async fn the_lambda_routers_do_not_mount_the_local_payment_command() {
    let state = rampart_tests::embedded_state(
        rampart_tests::settings(&[]),
        rampart_platform::clock::system(),
    );
    let path = format!("/_local/payments/pi_mock_{}/succeed", "0".repeat(24));
    for router in [
        orders_api::router(state.clone()),
        webhooks_api::router(state.clone()),
    ] {
        let addr = rampart_tests::serve_router(router).await;
        let r = reqwest::Client::new()
            .post(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
}

async fn an_operator_reads_a_provider_payment_with_the_order_it_paid(shop: Shop) {
    let app = &shop.app;
    let alice = sign_up(app, "paula@example.com").await;
    let o = order(app, &alice, "eu-5gb-30d", 1).await;
    let p = json_of(pay(app, &alice, s(&o["id"]), "mock").await).await;
    let intent = s(&p["intent_id"]);
    let sent = settle(app, intent, "succeed").await;
    processed_event(app, "standard:mock", s(&sent["webhook_id"])).await;

    let r = app
        .client
        .get(app.url(&format!("/admin/provider-payments/standard:mock/{intent}")))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = json_of(r).await;
    assert_eq!(seen["status"], "succeeded");
    assert_eq!(seen["order_id"], o["id"], "the order it paid");
    assert_eq!(seen["payment_id"], p["id"]);
    assert_eq!(seen["history"][0]["type"], "payment.succeeded");
    assert_eq!(seen["history"][0]["outcome"], "applied");
    // The list shows it too, with its order.
    let r = app
        .client
        .get(app.url("/admin/provider-payments?status=succeeded"))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let list = json_of(r).await;
    let mine = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == intent)
        .expect("listed");
    assert_eq!(mine["order_id"], o["id"]);
}
