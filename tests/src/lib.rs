//! Test support: a spawned local stack on port 0, states on either backend, and access to the
//! AWS-compatible test server (moto) the test command starts.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rampart_http::AppState;
use rampart_platform::clock::{ManualClock, SharedClock};
use rampart_platform::config::Settings;
use rampart_platform::secrets::local::LocalSource;
use rampart_platform::secrets::{HASH_PEPPER, JWT_SIGNING_KEYS, Secrets};
use rampart_store::SharedStore;
use rampart_store::dynamo::DynamoStore;
use rampart_store::queue::SharedQueue;
use rampart_store_sqlite::SqliteQueue;
use rampart_store_sqlite::{Db, SqliteStore};

pub use rampart_local::Running;

pub mod emulator;

/// Settings for tests: `pairs` override the environment-free defaults.
pub fn settings(pairs: &[(&str, &str)]) -> Settings {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut s = Settings::from_lookup(|k| m.get(k).cloned()).expect("test settings");
    if !m.contains_key("APP_ENV") {
        s.app_env = rampart_platform::config::AppEnv::Test;
    }
    s
}

/// Provider secrets the test state holds (two Stripe and DocuSign values: a rotation).
pub const STRIPE_OLD: &str = "whsec_old_stripe_secret";
pub const STRIPE_NEW: &str = "whsec_new_stripe_secret";
pub const SQUARE_KEY: &str = "sq_signature_key_123";
pub const DOCUSIGN_OLD: &str = "docusign-old-key";
pub const DOCUSIGN_NEW: &str = "docusign-new-key";
pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";
pub const TWILIO_TOKEN: &str = "twilio_auth_token_abc";
/// `whsec_` + base64 of 32 bytes.
pub const STANDARD_SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub fn test_secrets(clock: SharedClock) -> Arc<Secrets> {
    let values = BTreeMap::from([
        (
            HASH_PEPPER.to_string(),
            rampart_platform::crypto::random_token(32),
        ),
        (
            JWT_SIGNING_KEYS.to_string(),
            format!("t1:{}", rampart_platform::crypto::random_token(32)),
        ),
        (
            "STRIPE_WEBHOOK_SECRET".to_string(),
            format!("{},{}", STRIPE_OLD, STRIPE_NEW),
        ),
        (
            "SQUARE_WEBHOOK_SIGNATURE_KEY".to_string(),
            SQUARE_KEY.to_string(),
        ),
        (
            "DOCUSIGN_CONNECT_HMAC_KEYS".to_string(),
            format!("{DOCUSIGN_OLD},{DOCUSIGN_NEW}"),
        ),
        ("TWILIO_AUTH_TOKEN".to_string(), TWILIO_TOKEN.to_string()),
        (
            "STANDARD_WEBHOOK_SECRETS".to_string(),
            // `mock`: the mock payment provider's source (orders tests).
            format!("acme={STANDARD_SECRET},mock={STANDARD_SECRET}"),
        ),
        ("STRIPE_API_KEY".to_string(), "sk_test_rampart".to_string()),
        ("ADMIN_API_TOKEN".to_string(), ADMIN_TOKEN.to_string()),
        (
            "LICENSE_SIGNING_KEY".to_string(),
            format!("lic1:{}", rampart_platform::crypto::random_token(32)),
        ),
    ]);
    Arc::new(Secrets::new(
        Box::new(LocalSource::from_map(values)),
        clock,
        Duration::from_secs(300),
    ))
}

/// A state on a private in-memory SQLite store and queue.
pub fn embedded_state(settings: Settings, clock: SharedClock) -> AppState {
    let db = Db::in_memory().expect("sqlite");
    let store: SharedStore = Arc::new(SqliteStore::new(db.clone(), clock.clone()));
    let queue: SharedQueue = Arc::new(SqliteQueue::new(
        db,
        clock.clone(),
        rampart_store_sqlite::LOCAL_QUEUE,
        3,
    ));
    AppState::new(settings, store, queue, test_secrets(clock.clone()), clock)
        .with_registry(rampart_local::registry())
}

pub fn manual_clock() -> Arc<ManualClock> {
    // 2026-01-01T00:00:00Z, a whole minute: window arithmetic in tests stays readable.
    ManualClock::new(1_767_225_600_000)
}

/// The local stack on a free loopback port, on a private in-memory store.
/// Billing's part of the account `uid` as stored (panics when there is no such account).
pub async fn stored_billing(
    state: &AppState,
    uid: &str,
) -> rampart_billing::account::BillingAccount {
    rampart_billing::account::Billed::load(state, uid)
        .await
        .unwrap()
        .expect("the account exists")
        .billing
}

pub async fn spawn_app_with(state: AppState) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let state = state.with_registry(rampart_local::registry());
    let running = rampart_local::start(state.clone(), listener)
        .await
        .expect("start");
    TestApp {
        addr: running.addr,
        state,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        running: Some(running),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(embedded_state(
        settings(&[]),
        rampart_platform::clock::system(),
    ))
    .await
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    running: Option<Running>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Serves any router (with whatever layers the caller put on it) on a loopback port.
pub async fn serve_router(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    addr
}

/// The moto endpoint the test command started, or `None` (the AWS-backed tests then skip,
/// unless `RAMPART_REQUIRE_AWS=1`, which the test command sets, makes that a failure).
pub fn aws_endpoint() -> Option<String> {
    let ep = std::env::var("RAMPART_TEST_AWS_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty());
    if ep.is_none() && std::env::var("RAMPART_REQUIRE_AWS").is_ok_and(|v| v == "1") {
        panic!(
            "RAMPART_REQUIRE_AWS=1 but RAMPART_TEST_AWS_ENDPOINT is not set: moto server is not running"
        );
    }
    ep
}

pub async fn aws_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(rampart_platform::aws_http::client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

/// A queue named `name` on the test endpoint (moto), created if absent: its URL.
pub async fn create_queue(client: &aws_sdk_sqs::Client, name: &str) -> String {
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create the queue")
        .queue_url
        .expect("a queue url")
}

/// A fresh table with the production key schema and GSI, unique to the caller.
pub async fn dynamo_table(endpoint: &str) -> (aws_sdk_dynamodb::Client, String) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let cfg = aws_config(endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let name = format!("t-{}", rampart_platform::crypto::random_id());
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attr")
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key")
    };
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("gsi1pk"))
        .attribute_definitions(attr("gsi1sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .key_schema(key("gsi1pk", KeyType::Hash))
                .key_schema(key("gsi1sk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("gsi"),
        )
        .send()
        .await
        .expect("create table");
    (client, name)
}

pub async fn dynamo_store(endpoint: &str, clock: SharedClock) -> SharedStore {
    let (client, table) = dynamo_table(endpoint).await;
    Arc::new(DynamoStore::new(client, table, clock))
}

/// A state around any store, with an in-memory queue and test secrets.
pub fn state_on(store: SharedStore, clock: SharedClock) -> AppState {
    let queue: SharedQueue = Arc::new(SqliteQueue::new(
        Db::in_memory().expect("db"),
        clock.clone(),
        "q",
        3,
    ));
    AppState::new(
        settings(&[]),
        store,
        queue,
        test_secrets(clock.clone()),
        clock,
    )
    .with_registry(rampart_local::registry())
}

/// A state whose store is a fresh DynamoDB (moto) table.
pub async fn dynamo_state(endpoint: &str, clock: SharedClock) -> AppState {
    state_on(dynamo_store(endpoint, clock.clone()).await, clock)
}

/// A state on a manual clock, for suites that run on both backends.
pub struct StateFx {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
}

pub async fn embedded_state_fx() -> Option<StateFx> {
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    Some(StateFx {
        state: embedded_state(settings(&[]), shared),
        clock,
    })
}

pub async fn dynamo_state_fx() -> Option<StateFx> {
    let ep = aws_endpoint()?;
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    Some(StateFx {
        state: dynamo_state(&ep, shared).await,
        clock,
    })
}

/// One test per backend for each listed async fn: `on_backends!(local_fixture, aws_fixture; a, b)`.
/// Fixtures are paths to async fns returning `Option<Fx>` (from the tests' own modules use
/// `super::name`; the generated modules sit one level down); an AWS fixture returns
/// `None` when no test endpoint is configured, and the test says it skipped.
#[macro_export]
macro_rules! on_backends {
    ($local:path, $aws:path; $($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let fx = $local().await.expect("embedded fixture");
                    super::$name(fx).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(fx) = $aws().await else {
                        eprintln!("skipped: no AWS test endpoint");
                        return;
                    };
                    super::$name(fx).await;
                }
            )*
        }
    };
}
