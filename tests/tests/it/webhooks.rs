//! Webhook intake over HTTP against the spawned local stack (its in-process worker applies the
//! effects): every provider's signature, de-duplication, ordering, owner protection, and a
//! delivery storm with a consumer dying mid-batch.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart::crypto::{hmac_sha256, sha256_hex};
use rampart::store::{Query, keys};
use rampart_tests::{
    DOCUSIGN_NEW, DOCUSIGN_OLD, SQUARE_KEY, STANDARD_SECRET, STRIPE_NEW, STRIPE_OLD, TWILIO_TOKEN,
    TestApp, embedded_state, settings, spawn_app_with,
};
use serde_json::{Value, json};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn app(extra: &[(&str, &str)]) -> TestApp {
    let mut pairs = vec![
        ("PUBLIC_BASE_URL", "https://hooks.example.com"),
        ("QUEUE_MAX_RECEIVES", "5"),
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
    ];
    pairs.extend_from_slice(extra);
    spawn_app_with(embedded_state(settings(&pairs), rampart::clock::system())).await
}

/// Twilio's signature: base64 HMAC-SHA1 of the URL followed by the form parameters sorted by
/// name (none for JSON bodies, whose URL carries `bodySHA256`).
fn twilio_signature(url: &str, form: &[(&str, &str)]) -> String {
    use hmac::{Hmac, Mac};
    let mut sorted = form.to_vec();
    sorted.sort();
    let mut signed = url.to_string();
    for (k, v) in &sorted {
        signed.push_str(k);
        signed.push_str(v);
    }
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    m.update(signed.as_bytes());
    B64.encode(m.finalize().into_bytes())
}

fn stripe_header(body: &str, secret: &str, t: i64) -> String {
    let sig = hex::encode(hmac_sha256(
        secret.as_bytes(),
        format!("{t}.{body}").as_bytes(),
    ));
    format!("t={t},v1={sig}")
}

async fn send_stripe(app: &TestApp, body: &str, header: Option<String>) -> reqwest::Response {
    let mut r = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(h) = header {
        r = r.header("stripe-signature", h);
    }
    r.send().await.unwrap()
}

async fn record(app: &TestApp, provider: &str, id: &str) -> Option<rampart::store::Item> {
    let (pk, sk) = keys::webhook_event(provider, id);
    app.state.store.get(&pk, &sk).await.unwrap()
}

/// Waits for the in-process worker to finish an event.
async fn processed(app: &TestApp, provider: &str, id: &str) -> rampart::store::Item {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        if let Some(r) = record(app, provider, id).await
            && r.s("status") == Some("processed")
        {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{provider}/{id} was not processed in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn assert_rejected(r: reqwest::Response, why: &str) {
    assert_eq!(r.status(), 400, "{why}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["detail"], "The webhook could not be verified.",
        "{why}: says nothing about which part failed"
    );
}

#[tokio::test]
async fn stripe_signatures_rotation_and_staleness() {
    let app = app(&[]).await;
    let body = json!({"id": "evt_sig", "type": "some.unknown.type", "created": now(), "data": {"object": {}}}).to_string();
    let t = now();
    assert_rejected(
        send_stripe(&app, &body, Some(stripe_header(&body, "whsec_wrong", t))).await,
        "wrong secret",
    )
    .await;
    let tampered = body.replace("evt_sig", "evt_sig2");
    assert_rejected(
        send_stripe(&app, &tampered, Some(stripe_header(&body, STRIPE_NEW, t))).await,
        "tampered",
    )
    .await;
    assert_rejected(send_stripe(&app, &body, None).await, "missing header").await;
    assert_rejected(
        send_stripe(&app, &body, Some(stripe_header(&body, STRIPE_NEW, t - 301))).await,
        "stale",
    )
    .await;
    assert_rejected(
        send_stripe(&app, &body, Some(stripe_header(&body, STRIPE_NEW, t + 301))).await,
        "future",
    )
    .await;
    let v0 = stripe_header(&body, STRIPE_NEW, t).replace("v1=", "v0=");
    assert_rejected(send_stripe(&app, &body, Some(v0)).await, "v0 only").await;
    assert!(
        record(&app, "stripe", "evt_sig").await.is_none(),
        "nothing recorded from a rejected delivery"
    );
    // Old and new secrets both verify during a rotation.
    assert_eq!(
        send_stripe(&app, &body, Some(stripe_header(&body, STRIPE_OLD, t)))
            .await
            .status(),
        200
    );
    let body2 = body.replace("evt_sig", "evt_sig_new");
    assert_eq!(
        send_stripe(&app, &body2, Some(stripe_header(&body2, STRIPE_NEW, t)))
            .await
            .status(),
        200
    );
    let r = processed(&app, "stripe", "evt_sig").await;
    assert_eq!(
        r.s("outcome"),
        Some("ignored"),
        "unknown event types are ignored"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn duplicates_change_nothing() {
    let app = app(&[]).await;
    let body = json!({"id": "evt_dup", "type": "payment_intent.succeeded", "created": now(),
        "data": {"object": {"id": "pi_dup", "status": "succeeded"}}})
    .to_string();
    for _ in 0..3 {
        let h = stripe_header(&body, STRIPE_NEW, now());
        assert_eq!(send_stripe(&app, &body, Some(h)).await.status(), 200);
    }
    let r = processed(&app, "stripe", "evt_dup").await;
    assert_eq!(r.n("attempts"), Some(1), "processed once");
    assert_eq!(r.s("outcome"), Some("applied"));
    let payment = app
        .state
        .store
        .get("payment#stripe#pi_dup", "status")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payment.s("status"), Some("succeeded"));
    app.shutdown().await;
}

#[tokio::test]
async fn square_docusign_twilio_and_standard_webhooks() {
    let app = app(&[]).await;
    // Square signs the registered notification URL + body.
    let body = json!({"event_id": "sq_evt_1", "type": "payment.updated",
        "data": {"object": {"payment": {"id": "sq_pay_1", "status": "COMPLETED"}}}})
    .to_string();
    let url = "https://hooks.example.com/webhooks/square";
    let sig = B64.encode(hmac_sha256(
        SQUARE_KEY.as_bytes(),
        format!("{url}{body}").as_bytes(),
    ));
    let send = |sig: &str, body: &str| {
        app.client
            .post(app.url("/webhooks/square"))
            .header("x-square-hmacsha256-signature", sig.to_string())
            .body(body.to_string())
            .send()
    };
    assert_rejected(send("AAAA", &body).await.unwrap(), "square wrong").await;
    assert_rejected(
        send(&sig, &body.replace("COMPLETED", "FAILED"))
            .await
            .unwrap(),
        "square tampered",
    )
    .await;
    assert_eq!(send(&sig, &body).await.unwrap().status(), 200);
    assert_eq!(
        processed(&app, "square", "sq_evt_1").await.s("outcome"),
        Some("applied")
    );
    let pay = app
        .state
        .store
        .get("payment#square#sq_pay_1", "status")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pay.s("status"), Some("succeeded"));

    // DocuSign: any signature header matching any key (old or new).
    let dbody = json!({"event": "envelope-completed", "generatedDateTime": "2026-11-24T10:00:00Z",
        "data": {"envelopeId": "env-1"}})
    .to_string();
    let dsig = |k: &str| B64.encode(hmac_sha256(k.as_bytes(), dbody.as_bytes()));
    let r = app
        .client
        .post(app.url("/webhooks/docusign"))
        .header("x-docusign-signature-1", dsig("not-a-key"))
        .header("x-docusign-signature-2", dsig(DOCUSIGN_OLD))
        .body(dbody.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.url("/webhooks/docusign"))
        .body(dbody.clone())
        .send()
        .await
        .unwrap();
    assert_rejected(r, "docusign missing header").await;
    let id = "env-1:envelope-completed:2026-11-24T10:00:00Z";
    assert_eq!(
        processed(&app, "docusign", id).await.s("outcome"),
        Some("applied")
    );
    let env = app
        .state
        .store
        .get("envelope#env-1", "status")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(env.s("status"), Some("completed"));
    let _ = DOCUSIGN_NEW;

    // Twilio: HMAC-SHA1 of the public URL + sorted form parameters.
    let form = [
        ("MessageSid", "SM1"),
        ("MessageStatus", "delivered"),
        ("To", "+15550001111"),
    ];
    let tsig = twilio_signature("https://hooks.example.com/webhooks/twilio/status", &form);
    let encoded = serde_urlencoded::to_string(form).unwrap();
    let r = app
        .client
        .post(app.url("/webhooks/twilio/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", tsig.clone())
        .body(encoded.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.url("/webhooks/twilio/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", tsig)
        .body(encoded.replace("delivered", "failed"))
        .send()
        .await
        .unwrap();
    assert_rejected(r, "twilio tampered").await;
    assert_eq!(
        processed(&app, "twilio", "SM1:delivered")
            .await
            .s("outcome"),
        Some("applied")
    );
    let sms = app
        .state
        .store
        .get("sms#SM1", "status")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sms.s("status"), Some("delivered"));

    // Standard Webhooks, secret per source.
    let sbody = json!({"type": "invoice.created", "data": {}}).to_string();
    let ts = now();
    let key = B64
        .decode(STANDARD_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let ssig = format!(
        "v1,{}",
        B64.encode(hmac_sha256(&key, format!("msg_1.{ts}.{sbody}").as_bytes()))
    );
    let send_std = |source: &str, ts: i64| {
        app.client
            .post(app.url(&format!("/webhooks/standard/{source}")))
            .header("webhook-id", "msg_1")
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", ssig.clone())
            .body(sbody.clone())
            .send()
    };
    assert_eq!(send_std("acme", ts).await.unwrap().status(), 200);
    assert_rejected(
        send_std("acme", ts + 1).await.unwrap(),
        "standard: timestamp is signed",
    )
    .await;
    assert_eq!(
        send_std("nobody", ts).await.unwrap().status(),
        400,
        "unknown source: same answer as a bad signature"
    );
    assert_eq!(
        processed(&app, "standard:acme", "msg_1").await.s("outcome"),
        Some("ignored")
    );
    let r = app
        .client
        .post(app.url("/webhooks/paypal"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "unknown provider");
    let _ = sha256_hex(b"");
    app.shutdown().await;
}

async fn stripe_event(app: &TestApp, id: &str, ty: &str, created: i64, object: Value) {
    let body =
        json!({"id": id, "type": ty, "created": created, "data": {"object": object}}).to_string();
    let r = send_stripe(app, &body, Some(stripe_header(&body, STRIPE_NEW, now()))).await;
    assert_eq!(r.status(), 200);
}

fn rand_octet() -> u8 {
    rampart::crypto::random_bytes(1)[0] % 250 + 1
}

async fn me(app: &TestApp, email: &str) -> Value {
    let pw = "correct horse battery staple";
    app.client
        .post(app.url("/auth/register"))
        .json(&json!({"email": email, "password": pw}))
        .send()
        .await
        .unwrap();
    let r: Value = app
        .client
        .post(app.url("/auth/login"))
        // A fresh client address per login keeps the 5/min login limit out of this test.
        .header(
            "x-forwarded-for",
            format!("10.1.{}.{}", rand_octet(), rand_octet()),
        )
        .json(&json!({"email": email, "password": pw, "delivery": "body"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.client
        .get(app.url("/auth/me"))
        .bearer_auth(r["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn subscriptions_apply_in_order_and_spare_owner_accounts() {
    let app = app(&[
        ("STRIPE_PRICES", "starter=price_s,pro=price_p"),
        ("OWNER_ACCOUNT_IDS", "boss@example.com"),
    ])
    .await;
    let user = me(&app, "payer@example.com").await;
    let uid = user["id"].as_str().unwrap().to_string();
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
        json!({"customer": "cus_1"}),
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
async fn webhook_rate_limit_per_ip() {
    let app = app(&[("WEBHOOK_RATE_LIMIT", "3/m")]).await;
    for _ in 0..3 {
        assert_eq!(send_stripe(&app, "{}", None).await.status(), 400);
    }
    let r = send_stripe(&app, "{}", None).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    app.shutdown().await;
}

#[tokio::test]
async fn storm_of_duplicates_with_a_dying_consumer_processes_each_event_once() {
    // Enough receives that the saboteur below cannot push a message into the dead-letter queue.
    let app = app(&[
        ("WEBHOOK_RATE_LIMIT", "100000/m"),
        ("QUEUE_MAX_RECEIVES", "20"),
    ])
    .await;
    let bodies: Vec<String> = (0..50)
        .map(|i| {
            json!({"id": format!("evt_storm_{i}"), "type": "payment_intent.succeeded", "created": now(),
                "data": {"object": {"id": format!("pi_storm_{i}"), "status": "succeeded"}}})
            .to_string()
        })
        .collect();
    // A consumer that takes messages and dies holding them, now and then, during the storm.
    let queue = app.state.queue.clone();
    let saboteur = tokio::spawn(async move {
        let mut stolen = 0;
        for _ in 0..8 {
            if let Ok(batch) = queue
                .receive(10, Duration::from_secs(1), Duration::from_millis(100))
                .await
            {
                stolen += batch.len(); // dropped without ack: the consumer "crashed"
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        stolen
    });
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = Vec::new();
    for n in 0..500 {
        let (client, url, body, sem) = (
            app.client.clone(),
            app.url("/webhooks/stripe"),
            bodies[n % 50].clone(),
            sem.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let sig = stripe_header(&body, STRIPE_NEW, now());
            client
                .post(url)
                .header("stripe-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let stolen = saboteur.await.unwrap();
    assert!(
        stolen > 0,
        "the dying consumer must actually have held messages"
    );
    for i in 0..50 {
        let r = processed(&app, "stripe", &format!("evt_storm_{i}")).await;
        assert_eq!(r.s("outcome"), Some("applied"));
    }
    let page = app
        .state
        .store
        .query(Query::table("whevt#stripe").limit(1000))
        .await
        .unwrap();
    assert_eq!(
        page.items.len(),
        50,
        "exactly 50 records for 500 deliveries"
    );
    for i in 0..50 {
        let p = app
            .state
            .store
            .get(&format!("payment#stripe#pi_storm_{i}"), "status")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.s("status"), Some("succeeded"));
    }
    app.shutdown().await;
}

#[tokio::test]
async fn the_cron_queues_a_record_a_crash_left_unqueued() {
    let clock = rampart_tests::manual_clock();
    let state = embedded_state(settings(&[]), clock.clone());
    // Recorded, then the process died before enqueueing (status still `received`).
    let item = rampart::store::Item::new("whevt#stripe", "evt#evt_lost")
        .with("type", "webhook_event")
        .with("provider", "stripe")
        .with("event_id", "evt_lost")
        .with("status", "received")
        .with("received_at", rampart::clock::Clock::now_ms(&*clock))
        .with("gsi1pk", "whevt")
        .with("gsi1sk", "x");
    state.store.put(item, None).await.unwrap();
    clock.advance(Duration::from_secs(61));
    let report = rampart::retention::run(&state).await.unwrap();
    assert_eq!(report.webhooks_requeued, 1);
    let msgs = state
        .queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].body.contains("evt_lost"));
    let r = state
        .store
        .get("whevt#stripe", "evt#evt_lost")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.s("status"), Some("queued"));
    // Its message is then lost (say, dead-lettered unseen): after the retry cycle it is queued again.
    state.queue.ack(&msgs[0].receipt).await.unwrap();
    assert_eq!(
        rampart::retention::run(&state)
            .await
            .unwrap()
            .webhooks_requeued,
        0,
        "not yet"
    );
    clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(
        rampart::retention::run(&state)
            .await
            .unwrap()
            .webhooks_requeued,
        1
    );
}

#[tokio::test]
async fn operators_list_inspect_and_replay_events() {
    let app = app(&[]).await;
    for i in 0..3 {
        let body = json!({"id": format!("evt_op_{i}"), "type": "payment_intent.processing", "created": now(),
            "data": {"object": {"id": format!("pi_op_{i}"), "status": "processing"}}})
        .to_string();
        assert_eq!(
            send_stripe(&app, &body, Some(stripe_header(&body, STRIPE_NEW, now())))
                .await
                .status(),
            200
        );
        processed(&app, "stripe", &format!("evt_op_{i}")).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let admin = |path: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(rampart_tests::ADMIN_TOKEN)
    };
    assert_eq!(
        app.client
            .get(app.url("/admin/webhook-events"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let wrong = app
        .client
        .get(app.url("/admin/webhook-events"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let list: Value = admin("/admin/webhook-events?provider=stripe&status=processed&limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["evt_op_2", "evt_op_1"], "newest first, paged");
    let cursor = list["cursor"].as_str().unwrap();
    let next: Value = admin(&format!(
        "/admin/webhook-events?provider=stripe&limit=2&cursor={cursor}"
    ))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(next["events"][0]["event_id"], "evt_op_0");
    let none: Value = admin("/admin/webhook-events?status=failed")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(none["events"].as_array().unwrap().is_empty());

    let one: Value = admin("/admin/webhook-events/stripe/evt_op_1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["status"], "processed");
    assert_eq!(one["outcome"], "applied");
    assert_eq!(one["attempts"], 1);
    assert!(one.get("payload").is_none(), "payload only on request");
    let with: Value = admin("/admin/webhook-events/stripe/evt_op_1?include_payload=true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(with["payload"].as_str().unwrap().contains("pi_op_1"));
    assert_eq!(
        admin("/admin/webhook-events/stripe/nope")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let r = app
        .client
        .post(app.url("/admin/webhook-events/stripe/evt_op_1/replay"))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after: Value = admin("/admin/webhook-events/stripe/evt_op_1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["attempts"], 1,
        "a replay of a processed event applies nothing again"
    );
    assert_eq!(
        app.state
            .queue
            .receive(10, Duration::from_secs(1), Duration::ZERO)
            .await
            .unwrap()
            .len(),
        0,
        "and leaves nothing queued"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_failing_event_is_marked_failed_with_its_last_error() {
    let app = app(&[("QUEUE_MAX_RECEIVES", "2")]).await;
    // A Stripe event whose payload the worker cannot read: fails on every attempt.
    let (pk, sk) = keys::webhook_event("stripe", "evt_bad");
    let item = rampart::store::Item::new(&pk, &sk)
        .with("type", "webhook_event")
        .with("provider", "stripe")
        .with("event_id", "evt_bad")
        .with("status", "received")
        .with("payload", b"not json".to_vec())
        .with("received_at", 0);
    app.state.store.put(item, None).await.unwrap();
    rampart::webhooks::intake::enqueue(&app.state, "stripe", "evt_bad")
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

#[tokio::test]
async fn oversized_deliveries_are_refused_before_reading() {
    let app = app(&[]).await;
    let big = "x".repeat(300 * 1024);
    let r = send_stripe(&app, &big, Some(stripe_header(&big, STRIPE_NEW, now()))).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    app.shutdown().await;
}

#[tokio::test]
async fn early_subscription_events_wait_for_checkout_and_same_second_deletes_win() {
    let app = app(&[("STRIPE_PRICES", "pro=price_p")]).await;
    let user = me(&app, "early@example.com").await;
    let uid = user["id"].as_str().unwrap().to_string();
    let sub = json!({"customer": "cus_early", "status": "active",
        "items": {"data": [{"price": {"id": "price_p"}}]}});
    // Stripe sends the subscription before the checkout that links the customer.
    stripe_event(
        &app,
        "evt_sub_first",
        "customer.subscription.created",
        100,
        sub.clone(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = record(&app, "stripe", "evt_sub_first").await.unwrap();
    assert_ne!(
        waiting.s("status"),
        Some("processed"),
        "not silently ignored"
    );
    stripe_event(
        &app,
        "evt_co_late",
        "checkout.session.completed",
        101,
        json!({"client_reference_id": uid, "customer": "cus_early"}),
    )
    .await;
    let r = processed(&app, "stripe", "evt_sub_first").await;
    assert_eq!(
        r.s("outcome"),
        Some("applied"),
        "applied on a retry once the customer is linked"
    );
    assert!(r.n("attempts").unwrap() >= 2);
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
        rampart::crypto::keyed_hash(&pepper, "phone", "+15551234567")
    );
    let state = app.state.store.get(&key, "state").await.unwrap().unwrap();
    assert_eq!(state.bool("opted_out"), Some(true));
    app.shutdown().await;
}

#[tokio::test]
async fn filtered_operator_listing_pages_through_everything_once() {
    let clock = rampart_tests::manual_clock();
    let state = embedded_state(settings(&[]), clock.clone());
    for i in 0..9 {
        let provider = if i % 3 == 0 { "square" } else { "stripe" };
        let v = rampart::webhooks::intake::Verified {
            provider: provider.into(),
            event_id: format!("e{i}"),
            event_type: "t".into(),
            payload: b"{}".to_vec(),
        };
        rampart::webhooks::intake::record(&state, v).await.unwrap();
        clock.advance(Duration::from_millis(10));
    }
    let filter = rampart::webhooks::admin::Filter {
        provider: Some("stripe".into()),
        status: None,
    };
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let (events, next) = rampart::webhooks::admin::list(&state, &filter, cursor, 2)
            .await
            .unwrap();
        assert!(events.len() <= 2);
        seen.extend(
            events
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().to_string()),
        );
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec!["e8", "e7", "e5", "e4", "e2", "e1"],
        "newest first, none skipped or repeated"
    );
}
