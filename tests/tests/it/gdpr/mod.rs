//! GDPR export and erasure over HTTP against the spawned local stack, on both store backends,
//! one file per behaviour area: the registry covers every kind written for a user
//! (`registry`), the export (`export`), erasure as a client sees it (`erasure`), resuming after
//! a crash at each step (`resume`), a legal hold (`hold`), the Stripe side (`stripe`: the customer deleted once,
//! replayed events ignored) and a business customer sharing the user's address (`customer`). Fixtures here: a stack whose store records every key written, and
//! a user seeded through the real routes and webhooks with one item of every kind.

mod customer;
mod erasure;
mod export;
mod hold;
mod registry;
mod resume;
mod stripe;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rampart_store::{Condition, Item, Page, Query, SharedStore, Store, StoreError, Update, Write};
use rampart_tests::{ADMIN_TOKEN, TestApp, spawn_app_with, state_on};
use serde_json::{Value, json};

use crate::billing::stub::{self, Stub};

pub const PW: &str = "correct horse battery staple";
pub const PRO_PRICE: &str = "price_pro_gdpr";

/// Keys written so far (put, update, transaction), in the order first written.
pub type Written = Arc<Mutex<BTreeSet<(String, String)>>>;

/// A store that remembers every key written through it: the registry test looks at each.
pub struct Recording {
    inner: SharedStore,
    written: Written,
}

impl Recording {
    fn note(&self, pk: &str, sk: &str) {
        self.written
            .lock()
            .unwrap()
            .insert((pk.to_string(), sk.to_string()));
    }
}

#[async_trait]
impl Store for Recording {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        self.note(&item.pk, &item.sk);
        self.inner.put(item, cond).await
    }
    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        cond: Option<Condition>,
    ) -> Result<Item, StoreError> {
        self.note(pk, sk);
        self.inner.update(pk, sk, update, cond).await
    }
    async fn delete(
        &self,
        pk: &str,
        sk: &str,
        cond: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        self.inner.delete(pk, sk, cond).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        for w in &writes {
            let (pk, sk) = w.key();
            self.note(pk, sk);
        }
        self.inner.transact(writes).await
    }
    async fn sweep_expired(&self, limit: usize) -> Result<usize, StoreError> {
        self.inner.sweep_expired(limit).await
    }
    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

/// The local stack with a Stripe stand-in (forwarding to localstripe when the test command
/// started it) and a recording store.
pub struct Fx {
    pub app: TestApp,
    pub stub: Stub,
    pub written: Written,
}

pub fn localstripe() -> Option<String> {
    std::env::var("RAMPART_TEST_STRIPE_BASE")
        .ok()
        .filter(|s| !s.is_empty())
}

async fn fx_on(store: SharedStore) -> Fx {
    let written = Written::default();
    let recording: SharedStore = Arc::new(Recording {
        inner: store,
        written: written.clone(),
    });
    let stub = stub::start(localstripe()).await;
    stub.price(PRO_PRICE, true, true);
    let prices = format!("pro={PRO_PRICE}");
    let mut state = state_on(recording, rampart_platform::clock::system());
    state.settings = Arc::new(rampart_tests::settings(&[
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ("STRIPE_PRICES", &prices),
        ("STRIPE_API_BASE", &stub.base),
        ("CHECKOUT_SUCCESS_URL", "https://app.example/billing/done"),
        ("CHECKOUT_CANCEL_URL", "https://app.example/billing/back"),
    ]));
    Fx {
        app: spawn_app_with(state).await,
        stub,
        written,
    }
}

pub async fn embedded_fx() -> Option<Fx> {
    let db = rampart_store_sqlite::Db::in_memory().expect("sqlite");
    let store: SharedStore = Arc::new(rampart_store_sqlite::SqliteStore::new(
        db,
        rampart_platform::clock::system(),
    ));
    Some(fx_on(store).await)
}

pub async fn dynamo_fx() -> Option<Fx> {
    let ep = rampart_tests::aws_endpoint()?;
    let store = rampart_tests::dynamo_store(&ep, rampart_platform::clock::system()).await;
    Some(fx_on(store).await)
}

/// A client address of its own per call: per-IP limits stay out of these tests.
pub fn some_ip() -> String {
    let b = rampart_platform::crypto::random_bytes(2);
    format!("10.11.{}.{}", b[0] % 250 + 1, b[1] % 250 + 1)
}

/// A user seeded with one item of every kind the product writes for a person.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh: String,
    pub order_id: String,
    pub payment_id: String,
    pub esim_id: String,
    pub stripe_customer: String,
    pub customer_instance: String,
}

pub async fn post_json(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut r = app
        .client
        .post(app.url(path))
        .header("x-forwarded-for", some_ip())
        .json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

pub async fn get_as(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Signs in with the password: (access token, refresh token), or the failed response.
pub async fn login(app: &TestApp, email: &str) -> Result<(String, String), reqwest::Response> {
    let r = post_json(
        app,
        "/auth/login",
        None,
        json!({"email": email, "password": PW, "delivery": "body"}),
    )
    .await;
    if r.status() != 200 {
        return Err(r);
    }
    let v: Value = r.json().await.unwrap();
    Ok((
        v["access_token"].as_str().unwrap().into(),
        v["refresh_token"].as_str().unwrap().into(),
    ))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Registers `email` and gives it everything a user can have: sessions, codes, a reset link,
/// a failed sign-in, an order paid through the mock provider's webhook (order, payment, eSIM,
/// idempotency record), a Stripe customer from a checkout, and a customer instance created by
/// an operator with the same address.
pub async fn seed(fx: &Fx, email: &str) -> Seeded {
    let app = &fx.app;
    let r = post_json(
        app,
        "/auth/register",
        None,
        json!({"email": email, "password": PW}),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let id = s(&r.json::<Value>().await.unwrap()["id"]);
    let (token, refresh) = login(app, email).await.expect("login");
    let wrong = json!({"email": email, "password": "not the password at all", "delivery": "body"});
    assert_eq!(
        post_json(app, "/auth/login", None, wrong).await.status(),
        401
    );
    let r = post_json(app, "/auth/otp/request", None, json!({"email": email})).await;
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let r = post_json(app, "/auth/password/forgot", None, json!({"email": email})).await;
    assert!(r.status().is_success(), "{:?}", r.text().await);

    let who = crate::orders::Customer {
        id: id.clone(),
        token: token.clone(),
    };
    let o = crate::orders::order(app, &who, "eu-5gb-30d", 1).await;
    let r = crate::orders::pay(app, &who, &s(&o["id"]), "mock").await;
    assert_eq!(r.status(), 201);
    let p: Value = r.json().await.unwrap();
    let r = app
        .client
        .post(app.url(&format!("/_local/payments/{}/succeed", s(&p["intent_id"]))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    crate::orders::order_reaches(app, &who, &s(&o["id"]), "PAID").await;

    let r = post_json(
        app,
        "/billing/checkout-session",
        Some(&token),
        json!({"tier": "pro"}),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let stripe_customer = rampart_tests::stored_billing(&app.state, &id)
        .await
        .stripe_customer_id
        .expect("a Stripe customer");

    let r = app
        .client
        .post(app.url("/admin/customers"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-forwarded-for", some_ip())
        .json(&json!({"email": email, "company_name": "Acme GmbH", "tier": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let c: Value = r.json().await.unwrap();
    Seeded {
        id,
        email: email.into(),
        token,
        refresh,
        order_id: s(&o["id"]),
        payment_id: s(&p["id"]),
        esim_id: s(&o["esim"]["id"]),
        stripe_customer,
        customer_instance: s(&c["customer"]["id"]),
    }
}

/// `POST /account/delete` with the password.
pub async fn delete_account(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    post_json(
        app,
        "/account/delete",
        Some(token),
        json!({"confirm": "DELETE", "password": password}),
    )
    .await
}

/// The operator's view of an erasure.
pub async fn admin_view(app: &TestApp, id: &str) -> Value {
    let r = app
        .client
        .get(app.url(&format!("/admin/erasures/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-forwarded-for", some_ip())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    r.json().await.unwrap()
}

/// Waits until `done` holds for the operator's view of the erasure.
pub async fn until_view(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = admin_view(app, id).await;
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "erasure {id} still {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every item of a partition.
pub async fn partition(app: &TestApp, pk: &str) -> Vec<Item> {
    let page = app
        .state
        .store
        .query(Query::table(pk).limit(1000))
        .await
        .unwrap();
    page.items
}

/// Whether any key or string attribute of the item mentions one of `needles`.
pub fn mentions(item: &Item, needles: &[&str]) -> bool {
    let strings = item
        .attrs
        .values()
        .filter_map(|v| match v {
            rampart_store::Value::S(s) => Some(s.as_str()),
            _ => None,
        })
        .chain([item.pk.as_str(), item.sk.as_str()]);
    strings
        .into_iter()
        .any(|s| needles.iter().any(|n| !n.is_empty() && s.contains(n)))
}
