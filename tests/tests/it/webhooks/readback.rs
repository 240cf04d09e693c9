//! What an app reads back of the providers' events, through the operator routes on both
//! backends: DocuSign envelopes and Twilio messages with their history, inbound texts and a
//! number's opt-out state, provider payments, and the event feed, paged with a cursor while
//! new events arrive without missing or repeating one.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_platform::crypto::hmac_sha256;
use rampart_store::SharedStore;
use rampart_tests::{ADMIN_TOKEN, DOCUSIGN_OLD, TestApp, settings, spawn_app_with, state_on};
use serde_json::{Value, json};

use super::{AheadClock, BASE_SETTINGS, processed, stripe_event, twilio_signature};

rampart_tests::on_backends!(super::embedded_fx, super::dynamo_fx;
    envelopes_are_listed_and_read_with_their_history,
    sms_deliveries_inbound_texts_and_opt_outs_are_readable,
    provider_payments_are_listed_and_read_with_their_history,
    the_feed_pages_through_every_event_once_while_new_ones_arrive,
);

pub struct Fx {
    app: TestApp,
    clock: Arc<AheadClock>,
}

async fn fx_on(clock: Arc<AheadClock>, store: SharedStore) -> Fx {
    let mut state = state_on(store, clock.clone());
    state.settings = Arc::new(settings(BASE_SETTINGS));
    Fx {
        app: spawn_app_with(state).await,
        clock,
    }
}

async fn embedded_fx() -> Option<Fx> {
    let clock = Arc::new(AheadClock::default());
    let db = rampart_store_sqlite::Db::in_memory().expect("sqlite");
    let store = Arc::new(rampart_store_sqlite::SqliteStore::new(db, clock.clone()));
    Some(fx_on(clock, store).await)
}

async fn dynamo_fx() -> Option<Fx> {
    let ep = rampart_tests::aws_endpoint()?;
    let clock = Arc::new(AheadClock::default());
    let store = rampart_tests::dynamo_store(&ep, clock.clone()).await;
    Some(fx_on(clock, store).await)
}

async fn admin_get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Posts a signed DocuSign Connect event and waits until the worker processed it.
async fn envelope_event(app: &TestApp, event_id: &str, envelope: &str, event: &str) {
    let generated = chrono_like_now();
    let body = json!({"event": event, "eventId": event_id, "generatedDateTime": generated,
        "data": {"envelopeId": envelope}})
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
    processed(app, "docusign", event_id).await;
}

/// Now, as DocuSign writes `generatedDateTime` (RFC 3339, UTC).
fn chrono_like_now() -> String {
    let secs = super::now();
    let day = super::day_of(secs);
    let s = secs % 86_400;
    format!("{day}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

async fn twilio(app: &TestApp, path: &str, form: &[(&str, &str)]) {
    let url = format!("https://hooks.example.com{path}");
    let r = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", twilio_signature(&url, form))
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn types(history: &Value) -> Vec<(String, String)> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn envelopes_are_listed_and_read_with_their_history(fx: Fx) {
    let app = &fx.app;
    envelope_event(app, "ds-1", "env-a", "envelope-sent").await;
    envelope_event(app, "ds-2", "env-b", "envelope-sent").await;
    envelope_event(app, "ds-3", "env-a", "envelope-completed").await;
    // Delivered arrives after completed: it changes nothing, and the history says so.
    envelope_event(app, "ds-4", "env-a", "envelope-delivered").await;

    let (status, list) = admin_get(app, "/admin/envelopes").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["env-a", "env-b"], "most recently changed first");
    let (_, completed) = admin_get(app, "/admin/envelopes?status=completed").await;
    assert_eq!(completed["data"].as_array().unwrap().len(), 1);
    assert_eq!(completed["data"][0]["id"], "env-a");
    assert_eq!(completed["data"][0]["provider"], "docusign");

    let (status, one) = admin_get(app, "/admin/envelopes/env-a").await;
    assert_eq!(status, 200);
    assert_eq!(one["status"], "completed");
    let mut history = types(&one["history"]);
    history.sort();
    assert_eq!(
        history,
        [
            ("envelope-completed".into(), "applied".into()),
            ("envelope-delivered".into(), "superseded".into()),
            ("envelope-sent".into(), "applied".into()),
        ]
    );
    assert!(
        one["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["subject"] == json!({"kind": "envelope", "id": "env-a"}))
    );
    let (status, missing) = admin_get(app, "/admin/envelopes/env-none").await;
    assert_eq!(status, 404);
    assert_eq!(missing["detail"], "No such envelope.");
    // Operators only.
    let r = app
        .client
        .get(app.url("/admin/envelopes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    fx.app.shutdown().await;
}

async fn sms_deliveries_inbound_texts_and_opt_outs_are_readable(fx: Fx) {
    let app = &fx.app;
    let status = "/webhooks/twilio/status";
    twilio(
        app,
        status,
        &[("MessageSid", "SM1"), ("MessageStatus", "sent")],
    )
    .await;
    processed(app, "twilio", "SM1:sent").await;
    twilio(
        app,
        status,
        &[("MessageSid", "SM1"), ("MessageStatus", "delivered")],
    )
    .await;
    processed(app, "twilio", "SM1:delivered").await;
    let inbound = "/webhooks/twilio/inbound";
    let (alice, bob) = ("+15550001111", "+15550002222");
    let text = "Is the contract ready?";
    twilio(
        app,
        inbound,
        &[
            ("MessageSid", "SMin1"),
            ("From", alice),
            ("To", bob),
            ("Body", text),
        ],
    )
    .await;
    processed(app, "twilio", "SMin1:inbound").await;
    twilio(
        app,
        inbound,
        &[("MessageSid", "SMin2"), ("From", alice), ("Body", "STOP")],
    )
    .await;
    processed(app, "twilio", "SMin2:inbound").await;
    twilio(
        app,
        inbound,
        &[("MessageSid", "SMin3"), ("From", bob), ("Body", "hi")],
    )
    .await;
    processed(app, "twilio", "SMin3:inbound").await;

    let (code, msg) = admin_get(app, "/admin/sms/messages/SM1").await;
    assert_eq!(code, 200, "{msg}");
    assert_eq!(
        (msg["provider"].as_str(), msg["status"].as_str()),
        (Some("twilio"), Some("delivered"))
    );
    assert_eq!(msg["history"].as_array().unwrap().len(), 2);
    let (_, delivered) = admin_get(app, "/admin/sms/messages?status=delivered").await;
    assert_eq!(delivered["data"][0]["id"], "SM1");

    // Every text is kept, not only the keywords; newest first, filtered by sender.
    let (code, from_alice) = admin_get(app, "/admin/sms/inbound?from=%2B15550001111").await;
    assert_eq!(code, 200, "{from_alice}");
    let bodies: Vec<&str> = from_alice["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["STOP", text]);
    assert_eq!(from_alice["data"][1]["to"], bob);
    let (_, all) = admin_get(app, "/admin/sms/inbound?limit=2").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let cursor = all["cursor"].as_str().expect("a second page").to_string();
    let (_, rest) = admin_get(app, &format!("/admin/sms/inbound?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["cursor"].is_null());

    let (code, out) = admin_get(app, "/admin/sms/opt-outs/%2B15550001111").await;
    assert_eq!(code, 200);
    assert_eq!(out["opted_out"], true);
    assert!(out["changed_at"].is_i64());
    let (_, never) = admin_get(app, "/admin/sms/opt-outs/%2B15550002222").await;
    assert_eq!(
        (never["opted_out"].as_bool(), never["changed_at"].is_null()),
        (Some(false), true)
    );
    let (code, bad) = admin_get(app, "/admin/sms/opt-outs/5550001111").await;
    assert_eq!(code, 422, "{bad}");
    assert_eq!(bad["errors"][0]["pointer"], "/phone", "{bad}");
    fx.app.shutdown().await;
}

async fn provider_payments_are_listed_and_read_with_their_history(fx: Fx) {
    let app = &fx.app;
    let now = super::now();
    let intent = json!({"id": "pi_read", "object": "payment_intent", "status": "processing"});
    stripe_event(
        app,
        "evt_p1",
        "payment_intent.processing",
        now - 1,
        intent.clone(),
    )
    .await;
    processed(app, "stripe", "evt_p1").await;
    stripe_event(app, "evt_p2", "payment_intent.succeeded", now, intent).await;
    processed(app, "stripe", "evt_p2").await;

    let (code, list) = admin_get(app, "/admin/provider-payments?status=succeeded").await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["data"][0]["provider"], "stripe");
    assert_eq!(list["data"][0]["id"], "pi_read");
    let (code, one) = admin_get(app, "/admin/provider-payments/stripe/pi_read").await;
    assert_eq!(code, 200, "{one}");
    assert_eq!(one["status"], "succeeded");
    assert_eq!(
        types(&one["history"]),
        [
            ("payment_intent.processing".into(), "applied".into()),
            ("payment_intent.succeeded".into(), "applied".into()),
        ],
        "in Stripe's order"
    );
    let (code, _) = admin_get(app, "/admin/provider-payments/square/pi_read").await;
    assert_eq!(code, 404);
    fx.app.shutdown().await;
}

async fn page(app: &TestApp, after: Option<&str>, limit: usize) -> Value {
    let mut path = format!("/admin/provider-events?limit={limit}&provider=docusign");
    if let Some(c) = after {
        path.push_str(&format!("&after={c}"));
    }
    let (code, body) = admin_get(app, &path).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// Reads the feed from `cursor` until it has nothing settled left, collecting event ids.
async fn drain(app: &TestApp, cursor: &mut Option<String>, seen: &mut Vec<String>) {
    loop {
        let p = page(app, cursor.as_deref(), 3).await;
        for e in p["data"].as_array().unwrap() {
            seen.push(e["event_id"].as_str().unwrap().to_string());
        }
        if let Some(c) = p["cursor"].as_str() {
            *cursor = Some(c.to_string());
        }
        if p["has_more"] != true {
            return;
        }
    }
}

async fn the_feed_pages_through_every_event_once_while_new_ones_arrive(fx: Fx) {
    let app = &fx.app;
    for i in 0..5 {
        envelope_event(
            app,
            &format!("feed-{i}"),
            &format!("env-f{i}"),
            "envelope-sent",
        )
        .await;
    }
    // Processed just now: not settled yet, so not shown (an entry still being written with an
    // earlier time could otherwise land behind the cursor).
    let early = page(app, None, 3).await;
    assert_eq!(early["data"].as_array().unwrap().len(), 0, "{early}");
    fx.clock.advance(Duration::from_secs(31));

    let mut cursor = None;
    let mut seen = Vec::new();
    let first = page(app, None, 3).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    assert_eq!(first["has_more"], true);
    let entry = &first["data"][0];
    assert_eq!(entry["provider"], "docusign");
    assert_eq!(entry["type"], "envelope-sent");
    assert_eq!(entry["outcome"], "applied");
    assert_eq!(entry["subject"]["kind"], "envelope");
    for e in first["data"].as_array().unwrap() {
        seen.push(e["event_id"].as_str().unwrap().to_string());
    }
    cursor = first["cursor"].as_str().map(str::to_string).or(cursor);

    // New events arrive between two pages.
    for i in 5..9 {
        envelope_event(
            app,
            &format!("feed-{i}"),
            &format!("env-f{i}"),
            "envelope-sent",
        )
        .await;
    }
    drain(app, &mut cursor, &mut seen).await;
    assert_eq!(seen.len(), 5, "the rest of the settled ones only: {seen:?}");
    // Polling again with the cursor: nothing new has settled, the cursor stands.
    let idle = page(app, cursor.as_deref(), 3).await;
    assert_eq!(idle["data"].as_array().unwrap().len(), 0);
    assert_eq!(idle["cursor"].as_str(), cursor.as_deref());

    fx.clock.advance(Duration::from_secs(31));
    drain(app, &mut cursor, &mut seen).await;
    let expected: Vec<String> = (0..9).map(|i| format!("feed-{i}")).collect();
    assert_eq!(seen, expected, "every event once, in processing order");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());

    let (code, bad) = admin_get(app, "/admin/provider-events?outcome=done").await;
    assert_eq!(code, 400, "{bad}");
    let (code, _) = admin_get(app, "/admin/provider-events?after=not-a-cursor").await;
    assert_eq!(code, 400);
    fx.app.shutdown().await;
}

#[test]
fn inbound_texts_and_feed_entries_are_registered_and_retained() {
    let registry = rampart_local::registry();
    for kind in ["sms_inbound", "provider_event"] {
        assert!(
            registry.find(kind).is_some(),
            "{kind} not in the GDPR registry"
        );
        assert!(
            registry.retained_kind(kind).is_some(),
            "{kind} under no retention policy"
        );
    }
}
