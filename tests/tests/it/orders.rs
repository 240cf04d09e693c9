//! The eSIM shop over HTTP against the spawned local stack (its in-process worker applies the
//! payment events), on both store backends: orders and their idempotency, payments through the
//! mock provider and Stripe (localstripe), activation, and what another user cannot reach.

#[path = "orders_create.rs"]
mod create;
#[path = "orders_faults.rs"]
mod faults;
#[path = "orders_pay.rs"]
mod pay;
#[path = "orders_stripe.rs"]
mod stripe;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_platform::clock::{ManualClock, SharedClock};
use rampart_tests::{TestApp, embedded_state, settings, spawn_app_with, state_on};
use reqwest::Response;
use serde_json::{Value, json};

const PW: &str = "correct horse battery staple";

/// The local stack of one test and its clock (manual when the test moves time).
pub struct Shop {
    pub app: TestApp,
    pub clock: Option<Arc<ManualClock>>,
}

/// Settings every shop test runs with; `extra` adds or overrides.
fn shop_settings(extra: &[(&str, &str)]) -> rampart_platform::config::Settings {
    let mut pairs = vec![
        // Logins come from made-up client addresses (the login limit is per IP).
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ("OWNER_ACCOUNT_IDS", "owner@example.com"),
    ];
    pairs.extend_from_slice(extra);
    settings(&pairs)
}

async fn embedded(clock: Option<Arc<ManualClock>>, extra: &[(&str, &str)]) -> Shop {
    let shared: SharedClock = match &clock {
        Some(c) => c.clone(),
        None => rampart_platform::clock::system(),
    };
    let app = spawn_app_with(embedded_state(shop_settings(extra), shared)).await;
    Shop { app, clock }
}

async fn dynamo(clock: Option<Arc<ManualClock>>, extra: &[(&str, &str)]) -> Option<Shop> {
    let ep = rampart_tests::aws_endpoint()?;
    let shared: SharedClock = match &clock {
        Some(c) => c.clone(),
        None => rampart_platform::clock::system(),
    };
    let store = rampart_tests::dynamo_store(&ep, shared.clone()).await;
    let mut state = state_on(store, shared);
    state.settings = Arc::new(shop_settings(extra));
    Some(Shop {
        app: spawn_app_with(state).await,
        clock,
    })
}

pub async fn embedded_shop() -> Option<Shop> {
    Some(embedded(None, &[]).await)
}

pub async fn dynamo_shop() -> Option<Shop> {
    dynamo(None, &[]).await
}

pub async fn embedded_shop_manual() -> Option<Shop> {
    Some(embedded(Some(rampart_tests::manual_clock()), &[]).await)
}

pub async fn dynamo_shop_manual() -> Option<Shop> {
    dynamo(Some(rampart_tests::manual_clock()), &[]).await
}

/// The stack with extra settings, on the embedded store and the system clock.
pub async fn shop_with(extra: &[(&str, &str)]) -> Shop {
    embedded(None, extra).await
}

/// A signed-in customer.
pub struct Customer {
    pub id: String,
    pub token: String,
}

fn rand_octet() -> u8 {
    rampart_platform::crypto::random_bytes(1)[0] % 250 + 1
}

pub async fn sign_up(app: &TestApp, email: &str) -> Customer {
    let r = app
        .client
        .post(app.url("/auth/register"))
        .header(
            "x-forwarded-for",
            format!("10.7.{}.{}", rand_octet(), rand_octet()),
        )
        .json(&json!({"email": email, "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .client
        .post(app.url("/auth/login"))
        .header(
            "x-forwarded-for",
            format!("10.8.{}.{}", rand_octet(), rand_octet()),
        )
        .json(&json!({"email": email, "password": PW, "delivery": "body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    Customer { id, token }
}

/// `POST path` as `who`, with an Idempotency-Key when given.
pub async fn post(
    app: &TestApp,
    who: &Customer,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> Response {
    let mut r = app
        .client
        .post(app.url(path))
        .bearer_auth(&who.token)
        .json(body);
    if let Some(k) = key {
        r = r.header("idempotency-key", k);
    }
    r.send().await.unwrap()
}

pub async fn get(app: &TestApp, who: &Customer, path: &str) -> Response {
    app.client
        .get(app.url(path))
        .bearer_auth(&who.token)
        .send()
        .await
        .unwrap()
}

pub async fn json_of(r: Response) -> Value {
    r.json().await.unwrap()
}

/// Asserts the status and the problem `type` of an error answer.
pub async fn assert_problem(r: Response, status: u16, slug: &str) -> Value {
    assert_eq!(r.status(), status, "expected {slug}");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body = json_of(r).await;
    assert_eq!(
        body["type"],
        format!("urn:rampart:problem:{slug}"),
        "{body}"
    );
    body
}

/// A new order of `sku` × `quantity`; returns its body.
pub async fn order(app: &TestApp, who: &Customer, sku: &str, quantity: u32) -> Value {
    let key = rampart_platform::crypto::random_id();
    let r = post(
        app,
        who,
        "/orders",
        Some(&key),
        &json!({"sku": sku, "quantity": quantity}),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    json_of(r).await
}

/// A payment for `order_id` through `provider`, under a fresh key; returns the response.
pub async fn pay(app: &TestApp, who: &Customer, order_id: &str, provider: &str) -> Response {
    let key = rampart_platform::crypto::random_id();
    post(
        app,
        who,
        "/payments",
        Some(&key),
        &json!({"order_id": order_id, "provider": provider}),
    )
    .await
}

/// Waits until the order reaches `status` (the worker applies payment events asynchronously).
pub async fn order_reaches(app: &TestApp, who: &Customer, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = json_of(get(app, who, &format!("/orders/{id}")).await).await;
        if o["status"] == status {
            return o;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} never became {status}: {o}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// ISO/IEC 7812 Luhn check over a digit string (written here independently of the code).
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap();
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// A version 4, RFC 9562 variant UUID in its hyphenated lowercase form.
pub fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    lens == [8, 4, 4, 4, 12]
        && s.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && parts[2].starts_with('4')
        && parts[3].starts_with(['8', '9', 'a', 'b'])
}

#[test]
fn the_checkers_themselves_tell_good_from_bad() {
    assert!(luhn_valid("79927398713"));
    assert!(!luhn_valid("79927398710"));
    assert!(is_uuid_v4("123e4567-e89b-42d3-a456-426614174000"));
    assert!(!is_uuid_v4("123e4567-e89b-12d3-a456-426614174000"));
    assert!(!is_uuid_v4("123e4567-e89b-42d3-c456-426614174000"));
}
