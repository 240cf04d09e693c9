//! The flows a first deployment must serve, black box through the fronts: what a browser, an
//! instance, a provider or an operator sends, and what they get back.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use super::front::{self, SOURCE_IP_HEADER};
use super::stack::{STRIPE_WEBHOOK_SECRET, Stack, TWILIO_AUTH_TOKEN};
use super::template::scalar;

pub const PASSWORD: &str = "correct horse battery staple";

/// A request through the HTTP API, from `ip`.
pub fn api(s: &Stack, method: Method, path: &str, ip: &str) -> RequestBuilder {
    s.http
        .request(method, format!("{}{path}", s.api))
        .header(SOURCE_IP_HEADER, ip)
}

/// A request through the webhooks function URL, from `ip`.
pub fn url(s: &Stack, method: Method, path: &str, ip: &str) -> RequestBuilder {
    s.http
        .request(method, format!("{}{path}", s.url))
        .header(SOURCE_IP_HEADER, ip)
}

/// What a failed answer says, with the function's side of it.
pub async fn explain(s: &Stack, r: Response) -> String {
    let status = r.status();
    let function = r
        .headers()
        .get("x-harness-function")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let failure = r
        .headers()
        .get("x-harness-failure")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let front = r
        .headers()
        .get("x-harness-front")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.text().await.unwrap_or_default();
    let mut out = format!("{status} {body}");
    if front.as_deref() == Some("no-route") {
        out.push_str(" (API Gateway: no route in template.yaml matches)");
    }
    if let Some(f) = failure {
        out.push_str(&format!("\n  {f}"));
    }
    if let Some(f) = function.and_then(|f| s.functions.get(&f).cloned()) {
        out.push_str(&format!("\n  {} log:\n    {}", f.name, f.tail(8)));
    }
    out
}

/// Insists on `want`: the answer back, or a panic saying what came instead and why.
pub async fn status(s: &Stack, r: Response, want: u16, what: &str) -> Response {
    if r.status().as_u16() == want {
        return r;
    }
    panic!("{what}: expected {want}, got {}", explain(s, r).await)
}

/// Sends and insists on `status`; the JSON body.
pub async fn expect(s: &Stack, req: RequestBuilder, status: u16, what: &str) -> Value {
    let r = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    if r.status().as_u16() != status {
        panic!("{what}: expected {status}, got {}", explain(s, r).await);
    }
    r.json().await.unwrap_or(Value::Null)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &rampart_platform::crypto::random_id()[..10])
}

/// A new account, signed in: (email, access token).
pub async fn sign_up(s: &Stack, ip: &str) -> (String, String) {
    let email = format!("{}@example.com", unique("ada"));
    expect(
        s,
        api(s, Method::POST, "/auth/register", ip)
            .json(&json!({"email": email, "password": PASSWORD})),
        201,
        "POST /auth/register",
    )
    .await;
    let tokens = expect(
        s,
        api(s, Method::POST, "/auth/login", ip)
            .json(&json!({"email": email, "password": PASSWORD, "delivery": "body"})),
        200,
        "POST /auth/login",
    )
    .await;
    let token = scalar(&tokens["access_token"]);
    assert!(!token.is_empty(), "login answered no token: {tokens}");
    (email, token)
}

pub async fn every_function_starts(s: &Stack) {
    let mut tasks = Vec::new();
    for (id, f) in s.functions.iter() {
        let (id, f) = (id.clone(), f.clone());
        tasks.push(tokio::spawn(async move { (id, f.ready().await) }));
    }
    let mut failed = Vec::new();
    for t in tasks {
        let (id, r) = t.await.expect("start task");
        if let Err(e) = r {
            failed.push(format!("{id} {e}"));
        }
    }
    assert!(
        failed.is_empty(),
        "functions that do not start with the environment template.yaml gives them:\n{}",
        failed.join("\n")
    );
}

pub async fn register_and_log_in(s: &Stack) {
    let ip = "198.51.100.11";
    let (email, token) = sign_up(s, ip).await;
    let me = expect(
        s,
        api(s, Method::GET, "/auth/me", ip).bearer_auth(&token),
        200,
        "GET /auth/me",
    )
    .await;
    assert_eq!(me["email"], email);
    // A browser sign-in: production cookies (COOKIE_SECURE) come back through the front.
    let r = api(s, Method::POST, "/auth/login", ip)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("cookie login");
    let r = status(s, r, 200, "POST /auth/login (cookies)").await;
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-access_token=") && c.contains("Secure")),
        "production cookies: {cookies:?}"
    );
    assert!(
        r.headers().contains_key("strict-transport-security"),
        "production answers carry HSTS"
    );
}

pub async fn openapi_json(s: &Stack) {
    let r = api(s, Method::GET, "/openapi.json", "198.51.100.12")
        .send()
        .await
        .expect("GET /openapi.json");
    let r = status(s, r, 200, "GET /openapi.json").await;
    let served: Value = r.json().await.expect("JSON");
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(super::template::repo().join("openapi.json")).expect("read"),
    )
    .expect("openapi.json");
    assert!(
        served == committed,
        "GET /openapi.json is not the committed contract"
    );
}

async fn stripe_delivery(s: &Stack, ip: &str, event: &Value) -> Response {
    let body = event.to_string();
    let t = chrono_now();
    let sig = rampart_webhooks::providers::stripe::sign(STRIPE_WEBHOOK_SECRET, t, body.as_bytes());
    url(s, Method::POST, "/webhooks/stripe", ip)
        .header("content-type", "application/json")
        .header("stripe-signature", sig)
        .body(body)
        .send()
        .await
        .expect("POST /webhooks/stripe")
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

/// Polls `check` until it holds or `limit` passes; the last value it saw.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> Result<Value, Value>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (bool, Value)>,
{
    let began = Instant::now();
    loop {
        let (ok, v) = check().await;
        if ok {
            return Ok(v);
        }
        if began.elapsed() > limit {
            return Err(v);
        }
        // Slow enough that polling a user's resources stays inside the free tier's daily quota.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn worker_state(s: &Stack) -> String {
    let stats: Vec<String> = s
        .mapping_stats
        .iter()
        .map(|st| {
            use std::sync::atomic::Ordering::Relaxed;
            format!(
                "batches {} records {} deleted {} handed back {} failed invocations {}",
                st.batches.load(Relaxed),
                st.records.load(Relaxed),
                st.deleted.load(Relaxed),
                st.handed_back.load(Relaxed),
                st.failed_invocations.load(Relaxed)
            )
        })
        .collect();
    format!(
        "event source mapping: {}\n  jobs-worker log:\n    {}",
        stats.join("; "),
        s.function("jobs-worker").tail(10)
    )
}

pub async fn order_paid_through_stripe(s: &Stack) {
    let ip = "198.51.100.13";
    let (_, token) = sign_up(s, ip).await;
    let catalog = expect(s, api(s, Method::GET, "/catalog", ip), 200, "GET /catalog").await;
    let sku = scalar(&catalog[0]["sku"]);
    let order = expect(
        s,
        api(s, Method::POST, "/orders", ip)
            .bearer_auth(&token)
            .header("idempotency-key", unique("order"))
            .json(&json!({"sku": sku, "quantity": 1})),
        201,
        "POST /orders",
    )
    .await;
    let (order_id, esim) = (scalar(&order["id"]), scalar(&order["esim"]["id"]));
    // Production takes real money only: the mock provider is refused.
    let refused = expect(
        s,
        api(s, Method::POST, "/payments", ip)
            .bearer_auth(&token)
            .header("idempotency-key", unique("pay"))
            .json(&json!({"order_id": order_id, "provider": "mock"})),
        422,
        "POST /payments with the mock provider",
    )
    .await;
    assert!(refused.to_string().contains("/provider"), "{refused}");
    let payment = expect(
        s,
        api(s, Method::POST, "/payments", ip)
            .bearer_auth(&token)
            .header("idempotency-key", unique("pay"))
            .json(&json!({"order_id": order_id, "provider": "stripe"})),
        201,
        "POST /payments with Stripe (localstripe over TLS)",
    )
    .await;
    let intent = scalar(&payment["intent_id"]);
    assert!(intent.starts_with("pi_"), "{payment}");
    // The customer pays; Stripe signs the event and posts it to the function URL.
    let event_id = unique("evt_deployed");
    let event = json!({
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": chrono_now(),
        "data": {"object": {"id": intent, "object": "payment_intent", "status": "succeeded"}},
    });
    let r = stripe_delivery(s, ip, &event).await;
    status(s, r, 200, "a signed Stripe delivery to the function URL").await;
    let paid = eventually(Duration::from_secs(45), || async {
        let r = api(s, Method::GET, &format!("/orders/{order_id}"), ip)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET /orders/{id}");
        let v: Value = r.json().await.unwrap_or(Value::Null);
        (v["status"] == "PAID", v)
    })
    .await;
    if let Err(last) = paid {
        panic!(
            "the order never became PAID through intake, queue and worker: {last}\n  {}",
            worker_state(s)
        );
    }
    let esim = expect(
        s,
        api(s, Method::POST, &format!("/esims/{esim}/activate"), ip).bearer_auth(&token),
        200,
        "POST /esims/{id}/activate",
    )
    .await;
    assert_eq!(esim["status"], "READY", "{esim}");
    // The operator sees the event processed.
    let seen = expect(
        s,
        api(
            s,
            Method::GET,
            &format!("/admin/webhook-events/stripe/{event_id}"),
            ip,
        )
        .bearer_auth(&s.admin_token),
        200,
        "GET /admin/webhook-events/stripe/{id}",
    )
    .await;
    assert_eq!(seen["status"], "processed", "{seen}");
    // The provider's payment reads back with the order it paid and its history.
    let payment_state = expect(
        s,
        api(
            s,
            Method::GET,
            &format!("/admin/provider-payments/stripe/{intent}"),
            ip,
        )
        .bearer_auth(&s.admin_token),
        200,
        "GET /admin/provider-payments/stripe/{id}",
    )
    .await;
    assert_eq!(payment_state["status"], "succeeded", "{payment_state}");
    assert_eq!(
        payment_state["order_id"],
        order_id.as_str(),
        "{payment_state}"
    );
    assert_eq!(
        payment_state["history"][0]["event_id"],
        event_id.as_str(),
        "{payment_state}"
    );
    // Replaying a processed event queues it again and changes nothing.
    expect(
        s,
        api(
            s,
            Method::POST,
            &format!("/admin/webhook-events/stripe/{event_id}/replay"),
            ip,
        )
        .bearer_auth(&s.admin_token),
        202,
        "POST /admin/webhook-events/stripe/{id}/replay",
    )
    .await;
}

pub async fn operator_routes_not_on_the_function_url(s: &Stack) {
    let ip = "198.51.100.14";
    expect(
        s,
        api(s, Method::GET, "/admin/webhook-events", ip).bearer_auth(&s.admin_token),
        200,
        "GET /admin/webhook-events through the HTTP API",
    )
    .await;
    let r = url(s, Method::GET, "/admin/webhook-events", ip)
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .expect("function URL");
    status(
        s,
        r,
        404,
        "GET /admin/webhook-events on the public function URL (operator routes must not answer there)",
    )
    .await;
    expect(
        s,
        url(s, Method::GET, "/webhooks/health", ip),
        200,
        "GET /webhooks/health on the function URL",
    )
    .await;
}

/// Twilio's signature: base64 HMAC-SHA1 over the full URL and the sorted form parameters.
fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_AUTH_TOKEN.as_bytes()).expect("key");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

pub async fn twilio_signs_the_function_url(s: &Stack) {
    let ip = "198.51.100.15";
    let sid = format!("SM{}", rampart_platform::crypto::random_id());
    let params = [
        ("MessageSid", sid.as_str()),
        ("MessageStatus", "delivered"),
        ("To", "+15005550006"),
        ("From", "+15005550001"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
    ];
    let body = serde_urlencoded::to_string(params).expect("form");
    // PublicBaseUrl is empty on a first deploy: the function URL itself is what Twilio calls.
    let called = format!("https://{}/webhooks/twilio/status", front::url_domain());
    let r = url(s, Method::POST, "/webhooks/twilio/status", ip)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", twilio_signature(&called, &params))
        .body(body.clone())
        .send()
        .await
        .expect("twilio");
    status(s, r, 200, "a Twilio callback signed over the function URL").await;
    let r = url(s, Method::POST, "/webhooks/twilio/status", ip)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            twilio_signature("https://elsewhere.example/webhooks/twilio/status", &params),
        )
        .body(body)
        .send()
        .await
        .expect("twilio");
    status(s, r, 400, "a Twilio callback signed over another URL").await;
}

pub async fn licenses(s: &Stack) {
    let ip = "198.51.100.16";
    let created = expect(
        s,
        api(s, Method::POST, "/admin/customers", ip)
            .bearer_auth(&s.admin_token)
            .json(&json!({"email": format!("{}@acme.example", unique("ops")), "company_name": "Acme GmbH", "tier": "starter"})),
        201,
        "POST /admin/customers",
    )
    .await;
    let key = scalar(&created["api_key"]);
    let license = expect(
        s,
        api(s, Method::GET, "/licenses/current", ip).header("x-api-key", &key),
        200,
        "GET /licenses/current",
    )
    .await;
    let token = scalar(&license["license"]);
    let claims: Value = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("not a JWT: {license}"));
    assert_eq!(
        claims["iss"].as_str(),
        s.template.params.get("LicenseIssuer").map(String::as_str),
        "licenses name the LicenseIssuer parameter"
    );
    expect(
        s,
        api(s, Method::GET, "/licenses/jwks.json", ip),
        200,
        "GET /licenses/jwks.json",
    )
    .await;
    // The instance reports usage and reads its totals; the operator lists customers.
    let event = json!({"event_id": unique("run"), "metric": "builds", "quantity": 3, "occurred_at": chrono_now()});
    expect(
        s,
        api(s, Method::POST, "/usage", ip)
            .header("x-api-key", &key)
            .json(&event),
        202,
        "POST /usage",
    )
    .await;
    let summary = expect(
        s,
        api(s, Method::GET, "/usage/summary", ip).header("x-api-key", &key),
        200,
        "GET /usage/summary",
    )
    .await;
    assert!(summary.to_string().contains("builds"), "{summary}");
    expect(
        s,
        api(s, Method::GET, "/admin/customers", ip).bearer_auth(&s.admin_token),
        200,
        "GET /admin/customers",
    )
    .await;
}

pub async fn billing_reads(s: &Stack) {
    let ip = "198.51.100.19";
    let (_, token) = sign_up(s, ip).await;
    for path in [
        "/billing/subscription",
        "/billing/usage",
        "/billing/entitlements",
    ] {
        expect(
            s,
            api(s, Method::GET, path, ip).bearer_auth(&token),
            200,
            &format!("GET {path}"),
        )
        .await;
    }
    let tiers = expect(
        s,
        api(s, Method::GET, "/billing/tiers", ip),
        200,
        "GET /billing/tiers",
    )
    .await;
    assert!(tiers.to_string().contains("pro"), "{tiers}");
}

pub async fn legal_holds(s: &Stack) {
    let ip = "198.51.100.20";
    let (_, token) = sign_up(s, ip).await;
    let me = expect(
        s,
        api(s, Method::GET, "/auth/me", ip).bearer_auth(&token),
        200,
        "GET /auth/me",
    )
    .await;
    let hold = expect(
        s,
        api(s, Method::POST, "/admin/legal-holds", ip)
            .bearer_auth(&s.admin_token)
            .json(
                &json!({"subject": {"user_id": me["id"]}, "reason": "litigation deployed-shape"}),
            ),
        201,
        "POST /admin/legal-holds",
    )
    .await;
    let listed = expect(
        s,
        api(s, Method::GET, "/admin/legal-holds", ip).bearer_auth(&s.admin_token),
        200,
        "GET /admin/legal-holds",
    )
    .await;
    assert!(
        listed.to_string().contains(&scalar(&hold["id"])),
        "{listed}"
    );
    expect(
        s,
        api(
            s,
            Method::DELETE,
            &format!("/admin/legal-holds/{}", scalar(&hold["id"])),
            ip,
        )
        .bearer_auth(&s.admin_token),
        204,
        "DELETE /admin/legal-holds/{id}",
    )
    .await;
}

pub async fn gdpr_export_and_erasure(s: &Stack) {
    let ip = "198.51.100.17";
    let (email, token) = sign_up(s, ip).await;
    let r = api(s, Method::GET, "/account/export", ip)
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    let r = status(s, r, 200, "GET /account/export").await;
    let export: Value = r.json().await.expect("the export is JSON");
    assert_eq!(export["profile"]["email"], email, "{export}");
    let erasure = expect(
        s,
        api(s, Method::POST, "/account/delete", ip)
            .bearer_auth(&token)
            .json(&json!({"confirm": "DELETE", "password": PASSWORD})),
        202,
        "POST /account/delete",
    )
    .await;
    let id = scalar(&erasure["erasure_id"]);
    let view = expect(
        s,
        api(s, Method::GET, &format!("/admin/erasures/{id}"), ip).bearer_auth(&s.admin_token),
        200,
        "GET /admin/erasures/{id}",
    )
    .await;
    assert!(
        !view.to_string().contains(&email),
        "no PII in the view: {view}"
    );
    let r = api(s, Method::GET, "/auth/me", ip)
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    status(s, r, 401, "GET /auth/me with an erased account's token").await;
}

pub async fn retention(s: &Stack) {
    let ip = "198.51.100.18";
    let report = expect(
        s,
        api(s, Method::POST, "/admin/retention/run", ip)
            .bearer_auth(&s.admin_token)
            .json(&json!({"dry_run": true})),
        200,
        "POST /admin/retention/run (dry run)",
    )
    .await;
    assert_eq!(report["dry_run"], true, "{report}");
    // EventBridge Scheduler hands each schedule's Input to the cron as the event.
    let cron = s.by_binary("cleanup-cron");
    assert!(!cron.schedules.is_empty(), "the cron has no schedule");
    let f = s.function("cleanup-cron");
    for sched in &cron.schedules {
        let out = s
            .invoke_async("cleanup-cron", &sched.input)
            .await
            .unwrap_or_else(|e| panic!("schedule {} ({}): {e}", sched.name, sched.input));
        let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        assert!(v.is_object(), "schedule {}: {v}", sched.name);
        assert_eq!(
            v["incomplete"], false,
            "schedule {} ran out of time: {v}",
            sched.name
        );
    }
    // The operator's manual preview (docs/deploy.md): `aws lambda invoke ... {"dry_run": true}`.
    let out = f
        .invoke(Bytes::from(r#"{"dry_run": true}"#))
        .await
        .unwrap_or_else(|e| panic!("a dry-run invoke: {e}"));
    let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
    assert_eq!(v["dry_run"], true, "{v}");
}

pub async fn dead_letters(s: &Stack) {
    let worker = s.by_binary("jobs-worker");
    let (queue, dlq) = (s.queue_url("JobsQueue"), s.queue_url("JobsDeadLetterQueue"));
    let sqs = s.sqs();
    let depth = |url: String| {
        let sqs = sqs.clone();
        async move {
            let out = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                )
                .send()
                .await
                .expect("queue attributes");
            out.attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                })
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    let before = depth(dlq.clone()).await;
    sqs.send_message()
        .queue_url(&queue)
        .message_body("{\"kind\": \"no.such.job\"}")
        .send()
        .await
        .expect("send a poison job");
    let max = worker
        .env
        .get("QUEUE_MAX_RECEIVES")
        .cloned()
        .unwrap_or_default();
    let landed = eventually(Duration::from_secs(60), || async {
        let n = depth(dlq.clone()).await;
        (n > before, json!(n))
    })
    .await;
    if landed.is_err() {
        panic!(
            "a job the worker always fails never reached the dead-letter queue (QUEUE_MAX_RECEIVES {max:?}):\n  {}",
            worker_state(s)
        );
    }
}

/// The granted permissions no scenario used, per function.
pub fn unused_grants(s: &Stack) -> String {
    let mut out = String::from("granted but never used by these flows:");
    for p in s.proxy.principals() {
        let unused = p.usage.lock().expect("usage").unused(&p.statements);
        out.push_str(&format!("\n  {}:", p.function));
        if unused.is_empty() {
            out.push_str(" (all used)");
        }
        for u in unused {
            out.push_str(&format!("\n    {u}"));
        }
    }
    out
}
