//! Intake: every provider's signature scheme, de-duplication, what a delivery costs in AWS
//! calls, and who the per-IP limit applies to (only deliveries that fail verification).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_platform::crypto::{hmac_sha256, sha256_hex};
use rampart_store::SharedStore;
use rampart_store::dynamo::DynamoStore;
use rampart_tests::{
    DOCUSIGN_NEW, DOCUSIGN_OLD, SQUARE_KEY, STANDARD_SECRET, STRIPE_NEW, STRIPE_OLD, aws_config,
    aws_endpoint, dynamo_table, serve_router, settings, test_secrets,
};
use serde_json::{Value, json};

use super::{
    BASE_SETTINGS, app, assert_rejected, now, processed, record, send_stripe, sqs_queue,
    stripe_header, twilio_signature,
};

#[tokio::test]
async fn stripe_deliveries_verify_with_either_rotated_secret_only_while_fresh() {
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
async fn duplicate_deliveries_change_nothing() {
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
async fn square_docusign_twilio_and_standard_webhooks_verify_and_apply() {
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
    // Today's date: an event's own time older than the deduplication window is refused.
    let generated = format!("{}T00:00:00Z", super::today());
    let dbody = json!({"event": "envelope-completed", "generatedDateTime": generated,
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
    let id = format!("env-1:envelope-completed:{generated}");
    assert_eq!(
        processed(&app, "docusign", &id).await.s("outcome"),
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
    let unknown = send_std("nobody", ts).await.unwrap();
    assert_eq!(unknown.status(), 404, "unknown source: not found");
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
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

#[tokio::test]
async fn deliveries_failing_verification_are_rate_limited_per_ip() {
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
async fn oversized_deliveries_are_refused_before_reading() {
    let app = app(&[]).await;
    let big = "x".repeat(300 * 1024);
    let r = send_stripe(&app, &big, Some(stripe_header(&big, STRIPE_NEW, now()))).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    app.shutdown().await;
}

#[tokio::test]
async fn verified_deliveries_are_never_rate_limited_and_garbage_still_is() {
    let app = app(&[("WEBHOOK_RATE_LIMIT", "3/m")]).await;
    let signed = |id: &str| {
        let body = json!({"id": id, "type": "some.unknown.type", "created": now(),
            "data": {"object": {}}})
        .to_string();
        let header = stripe_header(&body, STRIPE_NEW, now());
        (body, header)
    };
    // A provider's burst from one address, well past the limit, duplicates included.
    for i in 0..10 {
        let (body, header) = signed(&format!("evt_burst_{}", i % 7));
        let r = send_stripe(&app, &body, Some(header)).await;
        assert_eq!(r.status(), 200, "delivery {i} of a verified burst");
    }
    // Signed but unreadable counts like a bad signature.
    let no_id = json!({"type": "x"}).to_string();
    let r = send_stripe(&app, &no_id, Some(stripe_header(&no_id, STRIPE_NEW, now()))).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["detail"], "The event could not be read.");
    for _ in 0..2 {
        assert_eq!(send_stripe(&app, "{}", None).await.status(), 400);
    }
    let r = send_stripe(&app, "{}", None).await;
    assert_eq!(r.status(), 429, "the fourth failure from this address");
    assert!(r.headers().contains_key("retry-after"));
    let (body, header) = signed("evt_after_garbage");
    let r = send_stripe(&app, &body, Some(header)).await;
    assert_eq!(
        r.status(),
        200,
        "a verified delivery from that address still passes"
    );
    app.shutdown().await;
}

/// Counts every request an AWS SDK client puts on the wire (retries included).
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<AtomicUsize>);

impl CallCounter {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "call-counter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_new_event_costs_two_aws_calls_and_a_duplicate_one() {
    let Some(ep) = aws_endpoint() else {
        eprintln!("skipped: no AWS test endpoint");
        return;
    };
    let (ddb_calls, sqs_calls) = (CallCounter::default(), CallCounter::default());
    let cfg = aws_config(&ep).await;
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&cfg)
            .interceptor(ddb_calls.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&cfg)
            .interceptor(sqs_calls.clone())
            .build(),
    );
    let (_, table) = dynamo_table(&ep).await;
    let clock = rampart_platform::clock::system();
    // The real DynamoDB and SQS backends, only counted.
    let store: SharedStore = Arc::new(DynamoStore::new(ddb, table, clock.clone()));
    let queue = sqs_queue(&ep, Some(sqs)).await;
    let secrets = test_secrets(clock.clone());
    let state = rampart_http::AppState::new(settings(BASE_SETTINGS), store, queue, secrets, clock);
    let addr = serve_router(webhooks_api::router(state)).await;
    let client = reqwest::Client::new();
    let deliver = |body: String, signature: Option<String>| {
        let mut r = client
            .post(format!("http://{addr}/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = signature {
            r = r.header("stripe-signature", s);
        }
        r.send()
    };
    let calls_for = async |body: &str, signature: Option<String>, status: u16| {
        let before = (ddb_calls.get(), sqs_calls.get());
        let r = deliver(body.to_string(), signature).await.unwrap();
        assert_eq!(r.status(), status);
        (ddb_calls.get() - before.0, sqs_calls.get() - before.1)
    };
    let body = json!({"id": "evt_calls", "type": "invoice.paid", "created": now(),
        "data": {"object": {"customer": "cus_calls"}}})
    .to_string();
    let sig = || Some(stripe_header(&body, STRIPE_NEW, now()));
    assert_eq!(
        calls_for(&body, sig(), 200).await,
        (1, 1),
        "a new event: one conditional put, one queue send (DynamoDB, SQS)"
    );
    assert_eq!(
        calls_for(&body, sig(), 200).await,
        (1, 0),
        "a duplicate: one failed conditional put"
    );
    let forged = Some(stripe_header(&body, "whsec_forged", now()));
    assert_eq!(
        calls_for(&body, forged, 400).await,
        (1, 0),
        "a refused delivery: one rate-limit count"
    );
}
