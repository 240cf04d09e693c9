//! The store parts of customers, keys and usage on both backends (embedded SQLite and DynamoDB
//! through moto): the flows called directly, the table read raw where it matters.

use std::sync::Arc;
use std::time::Duration;

use rampart_auth::operator::Admin;
use rampart_billing::customers::admin::{self, NewCustomer, RotateOptions};
use rampart_billing::customers::auth::{Caller, Denied, authenticate};
use rampart_billing::customers::record::{ApiKey, UsageCounter};
use rampart_billing::customers::usage::{self, Outcome, Report};
use rampart_http::AppState;
use rampart_platform::clock::{Clock, ManualClock, SharedClock};
use rampart_platform::error::ApiError;
use rampart_store::dynamo::DynamoStore;
use rampart_store::{SharedStore, keys, load};
use rampart_store_sqlite::{Db, SqliteStore};
use rampart_tests::{aws_endpoint, dynamo_table, manual_clock, state_on};
use serde_json::json;

pub struct Fx {
    state: AppState,
    clock: Arc<ManualClock>,
    raw: Raw,
}

enum Raw {
    Sqlite(Db),
    Dynamo(aws_sdk_dynamodb::Client, String),
}

async fn embedded_fx() -> Option<Fx> {
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    let db = Db::in_memory().expect("sqlite");
    let store: SharedStore = Arc::new(SqliteStore::new(db.clone(), shared.clone()));
    Some(Fx {
        state: state_on(store, shared),
        clock,
        raw: Raw::Sqlite(db),
    })
}

async fn dynamo_fx() -> Option<Fx> {
    let ep = aws_endpoint()?;
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    let (client, table) = dynamo_table(&ep).await;
    let store: SharedStore = Arc::new(DynamoStore::new(client.clone(), &table, shared.clone()));
    Some(Fx {
        state: state_on(store, shared),
        clock,
        raw: Raw::Dynamo(client, table),
    })
}

rampart_tests::on_backends!(
    super::embedded_fx, super::dynamo_fx;
    keys_are_stored_only_as_their_keyed_hash,
    a_taken_email_is_refused_and_nothing_is_written,
    customers_list_newest_first_on_the_index,
    rotation_overlap_expiry_and_revocation_take_effect_at_once,
    last_use_is_written_at_most_once_a_minute,
    a_hundred_concurrent_identical_events_count_once,
    a_reused_event_id_with_another_body_counts_nothing,
    a_late_retry_of_an_accepted_event_is_still_a_repeat,
    usage_is_kept_per_customer,
);

impl Fx {
    /// Every stored item as text.
    async fn dump(&self) -> String {
        match &self.raw {
            Raw::Sqlite(db) => super::table_dump(db).await,
            Raw::Dynamo(client, table) => {
                let out = client.scan().table_name(table).send().await.unwrap();
                format!("{:?}", out.items())
            }
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    async fn auth(&self, key: &str) -> Result<Caller, Denied> {
        authenticate(&self.state, Some(key)).await.unwrap()
    }

    async fn create(&self, email: &str) -> (String, String) {
        let req = NewCustomer {
            email: email.into(),
            company_name: "Acme".into(),
            tier: "pro".into(),
        };
        let (customer, issued) = admin::create(&self.state, &operator(), &req).await.unwrap();
        (customer.id, issued.secret)
    }

    async fn report(&self, customer: &str, id: &str, quantity: i64) -> Result<Outcome, ApiError> {
        let r = Report {
            event_id: id.into(),
            metric: "api_calls".into(),
            quantity,
            occurred_at: self.now(),
        };
        usage::report(&self.state, customer, &r).await
    }

    async fn total(&self, customer: &str) -> serde_json::Value {
        let range = usage::range(None, None, self.now()).unwrap();
        usage::summary(&self.state, customer, range).await.unwrap()["totals"].clone()
    }
}

fn operator() -> Admin {
    Admin {
        who: "operator:test".into(),
        ip: None,
        limits: Default::default(),
    }
}

async fn keys_are_stored_only_as_their_keyed_hash(fx: Fx) {
    let (id, key) = fx.create("hash@acme.example").await;
    let caller = fx.auth(&key).await.expect("the key works");
    assert_eq!(caller.customer_id, id);
    let secret = key.rsplit('_').next().unwrap();
    let dump = fx.dump().await;
    assert!(dump.contains(&id), "the dump sees the customer");
    assert!(!dump.contains(secret), "the secret is in the table");
    let stored: ApiKey = load(&*fx.state.store, &keys::api_key(&id, &caller.key_id))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.secret_hash, key);
    assert_eq!(stored.secret_hash.len(), 43, "HMAC-SHA256, base64url");
}

async fn a_taken_email_is_refused_and_nothing_is_written(fx: Fx) {
    fx.create("taken@acme.example").await;
    let before = fx.dump().await;
    let again = NewCustomer {
        email: "TAKEN@acme.example".into(),
        company_name: "Copycat".into(),
        tier: "free".into(),
    };
    let e = admin::create(&fx.state, &operator(), &again)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 409);
    let after = fx.dump().await;
    assert!(!after.contains("Copycat"), "no customer half-written");
    // Only the refusal's audit event may have been added; no customer or key.
    assert_eq!(
        before.matches("api_key").count(),
        after.matches("api_key").count()
    );
}

async fn customers_list_newest_first_on_the_index(fx: Fx) {
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(fx.create(&format!("l{i}@acme.example")).await.0);
        fx.clock.advance(Duration::from_secs(1));
    }
    let (page, cursor) = admin::list(&fx.state, &operator(), None, 2).await.unwrap();
    let got: Vec<&str> = page.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let (rest, _) = admin::list(&fx.state, &operator(), cursor, 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, ids[0]);
}

async fn rotation_overlap_expiry_and_revocation_take_effect_at_once(fx: Fx) {
    let (id, old) = fx.create("rot@acme.example").await;
    let opts = RotateOptions {
        expires_in_secs: Some(600),
        ..RotateOptions::default()
    };
    let rotated = admin::rotate(&fx.state, &operator(), &id, &opts)
        .await
        .unwrap();
    let new = rotated.issued.secret.clone();
    assert!(fx.auth(&old).await.is_ok(), "inside the overlap");
    assert!(fx.auth(&new).await.is_ok());
    fx.clock.advance(Duration::from_secs(600));
    assert_eq!(fx.auth(&old).await.unwrap_err(), Denied::Expired);
    assert!(fx.auth(&new).await.is_ok());

    let new_id = rotated.issued.key.key_id.clone();
    let revoked = admin::revoke(&fx.state, &operator(), &id, &new_id)
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(fx.now()));
    assert_eq!(fx.auth(&new).await.unwrap_err(), Denied::Revoked);

    let (_, keys) = admin::get(&fx.state, &operator(), &id).await.unwrap();
    assert_eq!(keys.len(), 2);
    let e = admin::revoke(
        &fx.state,
        &operator(),
        &id,
        &format!("{id}{}", "f".repeat(16)),
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), 404);
}

async fn last_use_is_written_at_most_once_a_minute(fx: Fx) {
    let (id, key) = fx.create("touch@acme.example").await;
    let key_id = fx.auth(&key).await.unwrap().key_id;
    let last_used = || async {
        load::<ApiKey>(&*fx.state.store, &keys::api_key(&id, &key_id))
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    let first = fx.now();
    assert_eq!(last_used().await, Some(first));
    fx.clock.advance(Duration::from_secs(59));
    fx.auth(&key).await.unwrap();
    assert_eq!(last_used().await, Some(first), "no write within the minute");
    fx.clock.advance(Duration::from_secs(1));
    fx.auth(&key).await.unwrap();
    assert_eq!(last_used().await, Some(first + 60));
}

async fn a_hundred_concurrent_identical_events_count_once(fx: Fx) {
    let (id, _) = fx.create("burst@acme.example").await;
    let report = Report {
        event_id: "same".into(),
        metric: "api_calls".into(),
        quantity: 7,
        occurred_at: fx.now(),
    };
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (state, id, report) = (fx.state.clone(), id.clone(), report.clone());
            tokio::spawn(async move { usage::report(&state, &id, &report).await })
        })
        .collect();
    let (mut recorded, mut replayed) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(Outcome::Recorded(_)) => recorded += 1,
            Ok(Outcome::Replayed(e)) => {
                assert_eq!(e.quantity, 7);
                replayed += 1;
            }
            Err(e) => panic!("a concurrent repeat failed: {e:?}"),
        }
    }
    assert_eq!((recorded, replayed), (1, 99));
    let day = rampart_billing::customers::date::format_day(
        rampart_billing::customers::date::day_number(fx.now()),
    );
    let counter: UsageCounter = load(
        &*fx.state.store,
        &keys::usage_counter(&id, &day, "api_calls"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(counter.quantity, 7, "counted once");
}

async fn a_reused_event_id_with_another_body_counts_nothing(fx: Fx) {
    let (id, _) = fx.create("reuse@acme.example").await;
    assert!(matches!(
        fx.report(&id, "e", 3).await,
        Ok(Outcome::Recorded(_))
    ));
    let e = fx.report(&id, "e", 4).await.unwrap_err();
    assert_eq!(e.status(), 422);
    assert_eq!(fx.total(&id).await, json!({ "api_calls": 3 }));
}

async fn a_late_retry_of_an_accepted_event_is_still_a_repeat(fx: Fx) {
    let (id, _) = fx.create("late@acme.example").await;
    let report = Report {
        event_id: "old".into(),
        metric: "api_calls".into(),
        quantity: 2,
        occurred_at: fx.now(),
    };
    usage::report(&fx.state, &id, &report).await.unwrap();
    fx.clock.advance(Duration::from_secs(8 * 86_400));
    let again = usage::report(&fx.state, &id, &report).await.unwrap();
    assert!(matches!(again, Outcome::Replayed(_)), "{again:?}");
    let mut fresh = report.clone();
    fresh.event_id = "never-seen".into();
    let e = usage::report(&fx.state, &id, &fresh).await.unwrap_err();
    assert_eq!(e.status(), 422, "a new event that old is refused");
}

async fn usage_is_kept_per_customer(fx: Fx) {
    let (a, _) = fx.create("a@acme.example").await;
    let (b, _) = fx.create("b@acme.example").await;
    assert!(matches!(
        fx.report(&a, "x", 5).await,
        Ok(Outcome::Recorded(_))
    ));
    assert!(matches!(
        fx.report(&b, "x", 1).await,
        Ok(Outcome::Recorded(_))
    ));
    assert_eq!(fx.total(&a).await, json!({ "api_calls": 5 }));
    assert_eq!(fx.total(&b).await, json!({ "api_calls": 1 }));
}
