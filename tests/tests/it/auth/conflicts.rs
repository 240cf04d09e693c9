//! DynamoDB TransactionConflict (another transaction touched the same item at that moment) on
//! sign-in and refresh: retried once, then a 503 with Retry-After; never a 401, never a
//! revocation. The conflicts are injected by a store that cancels the next transactions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use rampart_platform::clock::SharedClock;
use rampart_store::{
    Condition, Item, Page, Query, SharedStore, Store, StoreError, TxFailure, Update, Write,
};
use rampart_tests::{TestApp, embedded_state, manual_clock, settings, spawn_app_with};
use serde_json::{Value, json};

use super::{PW, login_body, me_bearer, post, register};

/// The embedded store, except that the next `conflicts` transactions are canceled as DynamoDB
/// cancels one that collided with another (nothing written).
struct Colliding {
    inner: SharedStore,
    conflicts: Arc<AtomicU32>,
}

#[async_trait]
impl Store for Colliding {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, cond).await
    }
    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        cond: Option<Condition>,
    ) -> Result<Item, StoreError> {
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
        let take = |n: u32| n.checked_sub(1);
        if self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, take)
            .is_ok()
        {
            return Err(StoreError::TransactionCanceled {
                index: 0,
                reason: TxFailure::Conflict,
                existing: None,
            });
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

async fn colliding_app() -> (TestApp, Arc<AtomicU32>) {
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    let mut state = embedded_state(settings(&[("TRUSTED_PROXIES", "127.0.0.0/8")]), shared);
    let conflicts = Arc::new(AtomicU32::new(0));
    state.store = Arc::new(Colliding {
        inner: state.store.clone(),
        conflicts: conflicts.clone(),
    });
    (spawn_app_with(state).await, conflicts)
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    post(
        app,
        "/auth/refresh",
        json!({"refresh_token": token}),
        "198.51.100.40",
    )
    .await
}

#[tokio::test]
async fn a_refresh_that_conflicts_once_is_retried_and_succeeds() {
    let (app, conflicts) = colliding_app().await;
    register(&app, "cy@example.com").await;
    let (_, token) = login_body(&app, "cy@example.com", "198.51.100.40").await;
    conflicts.store(1, Ordering::SeqCst);
    let r = refresh(&app, &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(conflicts.load(Ordering::SeqCst), 0, "it did conflict");
    app.shutdown().await;
}

#[tokio::test]
async fn a_refresh_that_conflicts_twice_answers_503_and_revokes_nothing() {
    let (app, conflicts) = colliding_app().await;
    register(&app, "di@example.com").await;
    let (access, token) = login_body(&app, "di@example.com", "198.51.100.41").await;
    conflicts.store(2, Ordering::SeqCst);
    let r = refresh(&app, &token).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "urn:rampart:problem:unavailable");
    assert_eq!(me_bearer(&app, &access).await.status(), 200, "not revoked");
    let again = refresh(&app, &token).await;
    assert_eq!(again.status(), 200, "the same token still works");
    app.shutdown().await;
}

#[tokio::test]
async fn a_login_that_conflicts_is_retried_once_then_answers_503() {
    let (app, conflicts) = colliding_app().await;
    register(&app, "ed@example.com").await;
    let login = || {
        post(
            &app,
            "/auth/login",
            json!({"email": "ed@example.com", "password": PW}),
            "198.51.100.42",
        )
    };
    conflicts.store(1, Ordering::SeqCst);
    assert_eq!(login().await.status(), 200, "retried once");
    conflicts.store(2, Ordering::SeqCst);
    let r = login().await;
    assert_eq!(r.status(), 503, "never a 401");
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(login().await.status(), 200);
    app.shutdown().await;
}
