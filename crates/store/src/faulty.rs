//! `Faulty`: a `Store` that fails some calls on purpose (see `rampart_platform::faults`). A fault after
//! the write performs the real call first and then reports it failed, exactly as a lost
//! DynamoDB response does, so callers must already cope with "it may have happened".

use std::sync::Arc;

use async_trait::async_trait;

use super::{Condition, Item, Page, Query, SharedStore, Store, StoreError, Update, Write};
use rampart_platform::faults::Faults;

pub struct FaultyStore {
    inner: SharedStore,
    faults: Arc<Faults>,
}

impl FaultyStore {
    pub fn new(inner: SharedStore, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

async fn faulty<T, F>(faults: &Faults, writes: bool, call: F) -> Result<T, StoreError>
where
    F: std::future::Future<Output = Result<T, StoreError>>,
{
    faults.run(writes, call, StoreError::unavailable).await
}

#[async_trait]
impl Store for FaultyStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        faulty(&self.faults, false, self.inner.get(pk, sk)).await
    }
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError> {
        faulty(&self.faults, true, self.inner.put(item, cond)).await
    }
    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        cond: Option<Condition>,
    ) -> Result<Item, StoreError> {
        faulty(&self.faults, true, self.inner.update(pk, sk, update, cond)).await
    }
    async fn delete(
        &self,
        pk: &str,
        sk: &str,
        cond: Option<Condition>,
    ) -> Result<Option<Item>, StoreError> {
        faulty(&self.faults, true, self.inner.delete(pk, sk, cond)).await
    }
    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        faulty(&self.faults, false, self.inner.query(query)).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        faulty(&self.faults, true, self.inner.transact(writes)).await
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
