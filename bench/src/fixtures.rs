//! The requests the harness sends: signed Stripe deliveries, wrapped as API Gateway HTTP API v2
//! (function URL) events for the Lambda side, and the in-process router the criterion bench and
//! the harness's in-process row share.

use axum::Router;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The Stripe signing secret the spawned functions and the local stack are given.
pub const STRIPE_SECRET: &str = "whsec_bench_0123456789abcdef0123456789abcdef";

/// A Stripe event of a kind the worker ignores (so the local stack's worker does the claim and
/// the mark, not a billing effect).
pub fn stripe_body(id: &str, now: i64) -> String {
    json!({
        "id": id,
        "object": "event",
        "type": "charge.succeeded",
        "created": now,
        "data": { "object": { "object": "charge", "id": format!("ch_{id}") } },
    })
    .to_string()
}

/// Stripe's `Stripe-Signature` header: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
pub fn stripe_signature(body: &str, secret: &str, t: i64) -> String {
    let mac =
        rampart_platform::crypto::hmac_sha256(secret.as_bytes(), format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex_encode(&mac))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

/// An API Gateway HTTP API v2 event (the function URL shape) for one request.
pub fn apigw_v2(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> String {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .chain([("host".into(), "bench.lambda-url.us-east-1.on.aws".into())])
        .collect();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.lambda-url.us-east-1.on.aws",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "Stripe/1.0"
            },
            "requestId": "bench-req",
            "routeKey": "$default",
            "stage": "$default",
            "time": "30/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1_795_996_800_000_i64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

/// A signed Stripe delivery of event `id` as a function URL event.
pub fn stripe_delivery(id: &str) -> String {
    let now = now();
    let body = stripe_body(id, now);
    let sig = stripe_signature(&body, STRIPE_SECRET, now);
    apigw_v2(
        "POST",
        "/webhooks/stripe",
        &[
            ("content-type", "application/json"),
            ("stripe-signature", &sig),
        ],
        Some(&body),
    )
}

/// webhooks-api's router on a private in-memory embedded store, with the bench's Stripe secret.
pub fn webhooks_router() -> Router {
    let clock = rampart_platform::clock::system();
    let settings = rampart_tests::settings(&[]);
    let mut state = rampart_tests::embedded_state(settings, clock.clone());
    let values = std::collections::BTreeMap::from([
        (
            "STRIPE_WEBHOOK_SECRET".to_string(),
            STRIPE_SECRET.to_string(),
        ),
        (
            "HASH_PEPPER".to_string(),
            rampart_platform::crypto::random_token(32),
        ),
    ]);
    state.secrets = std::sync::Arc::new(rampart_platform::secrets::Secrets::new(
        Box::new(rampart_platform::secrets::local::LocalSource::from_map(
            values,
        )),
        clock,
        std::time::Duration::from_secs(300),
    ));
    webhooks_api::router(state)
}

/// One invocation through the real `lambda_http` adapter, as `lambda_http::run` does it: the
/// event is parsed from JSON, routed, and the response serialised back to JSON.
pub async fn invoke(router: &Router, event: &str) -> Value {
    let req: LambdaRequest = serde_json::from_str(event).expect("an API Gateway v2 event");
    let mut ctx = Context::default();
    ctx.request_id = "bench".into();
    let adapter: Adapter<'_, _, _> = Adapter::from(rampart_http::lambda::handler(router.clone()));
    let resp = adapter
        .oneshot(LambdaEvent::new(req, ctx))
        .await
        .expect("the adapter answers");
    serde_json::to_value(resp).expect("a JSON response")
}
