//! Customer instances: operators create customers and issue, rotate and revoke their
//! API keys; instances report usage and fetch offline-verifiable licenses. Over HTTP on the
//! local stack, and the store parts on both backends.
//!
//! Shared fixtures live here; each behaviour area has its own file.

mod admin;
mod deletion;
mod keys;
mod license;
mod scopes;
mod store;
mod usage;

use std::sync::Arc;

use rampart_billing::customers::record::{Customer, CustomerEmail};
use rampart_http::AppState;
use rampart_platform::clock::{ManualClock, SharedClock};
use rampart_platform::crypto::keyed_hash;
use rampart_store::SharedStore;
use rampart_store::dynamo::DynamoStore;
use rampart_store::load;
use rampart_store::queue::SharedQueue;
use rampart_store_sqlite::SqliteQueue;
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{ADMIN_TOKEN, TestApp, settings, spawn_app_with, test_secrets};
use serde_json::{Value, json};

/// The local stack on a store whose every row the test can read, behind a trusted loopback
/// proxy so `X-Forwarded-For` picks the client IP.
pub struct Stack {
    pub app: TestApp,
    pub raw: Raw,
    pub clock: Option<Arc<ManualClock>>,
}

/// The store under a stack, as a thief with a copy of the table would read it.
pub enum Raw {
    Sqlite(Db),
    Dynamo(aws_sdk_dynamodb::Client, String),
}

pub async fn stack_on(clock: SharedClock, manual: Option<Arc<ManualClock>>) -> Stack {
    stack_with(&[], clock, manual).await
}

pub async fn stack_with(
    extra: &[(&str, &str)],
    clock: SharedClock,
    manual: Option<Arc<ManualClock>>,
) -> Stack {
    let db = Db::in_memory().expect("sqlite");
    let store: SharedStore = Arc::new(SqliteStore::new(db.clone(), clock.clone()));
    stack_over(store, Raw::Sqlite(db), extra, clock, manual).await
}

async fn stack_over(
    store: SharedStore,
    raw: Raw,
    extra: &[(&str, &str)],
    clock: SharedClock,
    manual: Option<Arc<ManualClock>>,
) -> Stack {
    let db = Db::in_memory().expect("sqlite");
    let queue: SharedQueue = Arc::new(SqliteQueue::new(db, clock.clone(), "q", 3));
    let state = AppState::new(
        settings(&[&[("TRUSTED_PROXIES", "127.0.0.0/8")], extra].concat()),
        store,
        queue,
        test_secrets(clock.clone()),
        clock,
    );
    Stack {
        app: spawn_app_with(state).await,
        raw,
        clock: manual,
    }
}

/// On a manual clock over the embedded store (`on_backends!`'s local fixture).
pub async fn embedded_stack() -> Option<Stack> {
    Some(stack_at_manual_clock().await)
}

/// On a manual clock over a fresh DynamoDB (moto) table, or `None` without a test endpoint.
pub async fn dynamo_stack() -> Option<Stack> {
    let ep = rampart_tests::aws_endpoint()?;
    let clock = rampart_tests::manual_clock();
    let shared: SharedClock = clock.clone();
    let (client, table) = rampart_tests::dynamo_table(&ep).await;
    let store: SharedStore = Arc::new(DynamoStore::new(client.clone(), &table, shared.clone()));
    Some(stack_over(store, Raw::Dynamo(client, table), &[], shared, Some(clock)).await)
}

pub async fn stack() -> Stack {
    stack_on(rampart_platform::clock::system(), None).await
}

/// On a manual clock (rotation windows, event times).
pub async fn stack_at_manual_clock() -> Stack {
    let clock = rampart_tests::manual_clock();
    let shared: SharedClock = clock.clone();
    stack_on(shared, Some(clock)).await
}

/// Every stored row as text: what a thief with a copy of the table would read.
pub async fn table_dump(db: &Db) -> String {
    db.read(|c| {
        let mut stmt = c
            .prepare("SELECT pk || ' ' || sk || ' ' || attrs FROM items")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        Ok(rows.join("\n"))
    })
    .await
    .expect("dump")
}

/// A created customer as the operator saw it once.
pub struct Created {
    pub id: String,
    pub api_key: String,
    pub key_id: String,
    pub body: Value,
}

impl Stack {
    /// Every stored item as text.
    pub async fn dump(&self) -> String {
        match &self.raw {
            Raw::Sqlite(db) => table_dump(db).await,
            Raw::Dynamo(client, table) => {
                let out = client.scan().table_name(table).send().await.unwrap();
                format!("{:?}", out.items())
            }
        }
    }

    /// The audit events about one customer, as stored.
    pub async fn audit_of(&self, customer_id: &str) -> String {
        let page = self
            .app
            .state
            .store
            .query(rampart_store::Query::table(format!("audit#customer:{customer_id}")).limit(100))
            .await
            .unwrap();
        format!("{:?}", page.items)
    }

    /// The details of the audit events of one kind about one customer.
    pub async fn audit_details(&self, customer_id: &str, kind: &str) -> Vec<Value> {
        let page = self
            .app
            .state
            .store
            .query(rampart_store::Query::table(format!("audit#customer:{customer_id}")).limit(100))
            .await
            .unwrap();
        page.items
            .iter()
            .filter(|i| i.s("kind") == Some(kind))
            .map(|i| serde_json::from_str(i.s("detail").unwrap()).unwrap())
            .collect()
    }

    pub fn customer_path(&self, id: &str) -> String {
        format!("/admin/customers/{id}")
    }

    pub async fn patch(&self, id: &str, body: &Value) -> (u16, Value) {
        self.get_json(
            self.admin(reqwest::Method::PATCH, &self.customer_path(id))
                .json(body),
        )
        .await
    }

    pub async fn stored(&self, id: &str) -> Customer {
        load(&*self.app.state.store, &rampart_store::keys::customer(id))
            .await
            .unwrap()
            .expect("the customer record stays")
    }

    /// Who the address lookup says holds `email`.
    pub async fn holder(&self, email: &str) -> Option<String> {
        let pepper = self.app.state.hash_pepper().await.unwrap();
        let hash = keyed_hash(&pepper, "customer_email", email);
        load::<CustomerEmail>(
            &*self.app.state.store,
            &rampart_store::keys::customer_email(&hash),
        )
        .await
        .unwrap()
        .map(|c| c.customer_id)
    }

    pub fn now(&self) -> i64 {
        self.app.state.clock.now_secs()
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("x-forwarded-for", "198.51.100.1")
    }

    pub fn with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .header("x-api-key", key)
            .header("x-forwarded-for", "198.51.100.2")
    }

    pub async fn create_customer(&self, email: &str, tier: &str) -> Created {
        let r = self
            .admin(reqwest::Method::POST, "/admin/customers")
            .json(&json!({ "email": email, "company_name": "Acme GmbH", "tier": tier }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let body: Value = r.json().await.unwrap();
        Created {
            id: body["customer"]["id"].as_str().unwrap().to_string(),
            api_key: body["api_key"].as_str().unwrap().to_string(),
            key_id: body["key"]["id"].as_str().unwrap().to_string(),
            body,
        }
    }

    /// Reports one event with `key`.
    pub async fn report(&self, key: &str, event: &Value) -> reqwest::Response {
        self.with_key(reqwest::Method::POST, "/usage", key)
            .json(event)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// A usage event happening now.
pub fn event(id: &str, metric: &str, quantity: i64, occurred_at: i64) -> Value {
    json!({ "event_id": id, "metric": metric, "quantity": quantity, "occurred_at": occurred_at })
}

/// The 401 every refused key gets, whatever the reason.
pub fn assert_refused_key(status: u16, body: &Value) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "urn:rampart:problem:unauthorized");
    assert_eq!(body["detail"], "A valid API key is required.");
}
