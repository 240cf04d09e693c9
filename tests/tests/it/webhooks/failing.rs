//! A queue whose first sends fail (the intake's put landed, its send did not) and a store whose
//! next put answer is lost or whose first updates fail: what the heal and trail tests deliver
//! against. Everything else is forwarded as it is.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rampart_store::queue::{OutgoingMessage, Queue, QueueError, ReceivedMessage, SharedQueue};
use rampart_store::{Condition, Item, Page, Query, SharedStore, Store, StoreError, Update, Write};

/// Takes one from `n` if it is above zero: whether this call is one of the failing ones.
fn spend(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// The first `failing` sends fail (the intake's put landed, its send did not).
pub struct FailingSends {
    pub inner: SharedQueue,
    pub failing: AtomicUsize,
}

#[async_trait]
impl Queue for FailingSends {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        if spend(&self.failing) {
            return Err(QueueError::unavailable("connection reset"));
        }
        self.inner.send(msg).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.receive(max, visibility, wait).await
    }
    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.ack(receipt).await
    }
    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.inner.set_visibility(receipt, visibility).await
    }
    async fn health(&self) -> Result<(), QueueError> {
        self.inner.health().await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

/// The next put lands and its answer is lost (a timeout after the write), once, when armed;
/// the first `failing_updates` updates fail (a new event's intake makes none, so the first is
/// the worker's claim).
pub struct FailingStore {
    inner: SharedStore,
    lose_put_answer: AtomicBool,
    failing_updates: AtomicUsize,
}

impl FailingStore {
    pub fn losing_next_put_answer(inner: SharedStore) -> Self {
        Self {
            inner,
            lose_put_answer: AtomicBool::new(true),
            failing_updates: AtomicUsize::new(0),
        }
    }

    pub fn failing_updates(inner: SharedStore, failing: usize) -> Self {
        Self {
            inner,
            lose_put_answer: AtomicBool::new(false),
            failing_updates: AtomicUsize::new(failing),
        }
    }
}

#[async_trait]
impl Store for FailingStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        let landed = self.inner.put(item, cond).await;
        if self.lose_put_answer.swap(false, Ordering::SeqCst) {
            landed?;
            return Err(StoreError::unavailable("timeout after the write"));
        }
        landed
    }
    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        cond: Option<Condition>,
    ) -> Result<Item, StoreError> {
        if spend(&self.failing_updates) {
            return Err(StoreError::unavailable("throttled"));
        }
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
