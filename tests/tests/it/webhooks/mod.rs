//! Webhooks over HTTP against the spawned local stack (its in-process worker applies the
//! effects), one file per behaviour area: intake and verification (`intake`), the worker's
//! effects (`effects`), the gaps the billing flows found (`gaps`), one ordering of billing
//! state and stale replays (`state`), operator routes (`operators`), crash recovery and the
//! delivery storm (`storm`, `under_faults`), a failed enqueue healed by the next delivery
//! (`heal`), one event followed through the logs (`trail`), and a provider registered from
//! outside the crate (`extension`).
//! The fixtures they share are here.

mod effects;
mod extension;
mod failing;
mod gaps;
mod heal;
mod intake;
mod operators;
mod readback;
mod state;
mod storm;
mod trail;
mod under_faults;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_platform::clock::{Clock, SystemClock};
use rampart_platform::crypto::hmac_sha256;
use rampart_store::keys;
use rampart_store::queue::SharedQueue;
use rampart_store::queue::sqs::SqsQueue;
use rampart_tests::{
    STRIPE_NEW, TWILIO_TOKEN, TestApp, aws_config, embedded_state, settings, spawn_app_with,
};
use serde_json::{Value, json};

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `YYYY-MM-DD` of a Unix time.
pub fn day_of(secs: i64) -> String {
    rampart_billing::customers::date::format_day(rampart_billing::customers::date::day_number(secs))
}

pub fn today() -> String {
    day_of(now())
}

/// The link our API writes when it creates a user's Stripe customer (`billing::checkout`),
/// for tests that start from "the user went through our checkout".
pub async fn our_customer(app: &TestApp, customer: &str, user_id: &str) {
    let link = rampart_billing::link::CustomerLink {
        customer_id: customer.into(),
        user_id: user_id.into(),
    };
    app.state.store.put((&link).into(), None).await.unwrap();
}

pub async fn app(extra: &[(&str, &str)]) -> TestApp {
    let mut pairs = BASE_SETTINGS.to_vec();
    pairs.extend_from_slice(extra);
    spawn_app_with(embedded_state(
        settings(&pairs),
        rampart_platform::clock::system(),
    ))
    .await
}

/// Twilio's signature: base64 HMAC-SHA1 of the URL followed by the form parameters sorted by
/// name (none for JSON bodies, whose URL carries `bodySHA256`).
pub fn twilio_signature(url: &str, form: &[(&str, &str)]) -> String {
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

pub fn stripe_header(body: &str, secret: &str, t: i64) -> String {
    let sig = hex::encode(hmac_sha256(
        secret.as_bytes(),
        format!("{t}.{body}").as_bytes(),
    ));
    format!("t={t},v1={sig}")
}

pub async fn send_stripe(app: &TestApp, body: &str, header: Option<String>) -> reqwest::Response {
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

pub async fn record(app: &TestApp, provider: &str, id: &str) -> Option<rampart_store::Item> {
    let (pk, sk) = keys::webhook_event(provider, id);
    app.state.store.get(&pk, &sk).await.unwrap()
}

/// Waits for the in-process worker to finish an event.
pub async fn processed(app: &TestApp, provider: &str, id: &str) -> rampart_store::Item {
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

pub async fn assert_rejected(r: reqwest::Response, why: &str) {
    assert_eq!(r.status(), 400, "{why}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["detail"], "The webhook could not be verified.",
        "{why}: says nothing about which part failed"
    );
}

pub async fn stripe_event(app: &TestApp, id: &str, ty: &str, created: i64, object: Value) {
    let body =
        json!({"id": id, "type": ty, "created": created, "data": {"object": object}}).to_string();
    let r = send_stripe(app, &body, Some(stripe_header(&body, STRIPE_NEW, now()))).await;
    assert_eq!(r.status(), 200);
}

pub fn rand_octet() -> u8 {
    rampart_platform::crypto::random_bytes(1)[0] % 250 + 1
}

pub async fn me(app: &TestApp, email: &str) -> Value {
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

/// The settings every webhook test starts from.
pub const BASE_SETTINGS: &[(&str, &str)] = &[
    ("PUBLIC_BASE_URL", "https://hooks.example.com"),
    ("QUEUE_MAX_RECEIVES", "5"),
    ("TRUSTED_PROXIES", "127.0.0.0/8"),
];

/// The system clock pushed forward on demand: the stack runs in real time (queue leases, moto)
/// and a test can still jump past a grace period.
#[derive(Debug, Default)]
pub struct AheadClock(AtomicI64);

impl AheadClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for AheadClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0.load(Ordering::SeqCst)
    }
}

/// A fresh SQS queue on the test endpoint (moto), no dead-letter queue.
pub async fn sqs_queue(endpoint: &str, client: Option<aws_sdk_sqs::Client>) -> SharedQueue {
    let client = match client {
        Some(c) => c,
        None => aws_sdk_sqs::Client::new(&aws_config(endpoint).await),
    };
    let name = format!("wh-{}", rampart_platform::crypto::random_id());
    let url = rampart_tests::create_queue(&client, &name).await;
    Arc::new(SqsQueue::new(client, url))
}
