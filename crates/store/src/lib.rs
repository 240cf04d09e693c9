//! The `Store` trait: one narrow, typed interface over the single table, with a DynamoDB backend
//! and an embedded SQLite twin that implement exactly the same semantics.
//!
//! Conditions are values, not expression strings, so both backends can honour them identically.
//! Every read treats an item whose `expires_at` has passed as absent, because DynamoDB's TTL
//! deletes lazily (up to days later).

mod condition;
pub mod dynamo;
pub mod faulty;
mod item;
pub mod keys;
mod query;
pub mod queue;
pub mod record;
pub mod tx;
mod validate;
mod value;
mod write;

use async_trait::async_trait;

pub use condition::{CmpOp, Condition};
pub use item::Item;
pub use keys::Key;
pub use query::{Page, Partition, Query, cursor_after};
pub use record::{Record, load, query_all};
pub use tx::{Tx, TxError};
pub use value::Value;
pub use write::{Update, Write};

/// What a backend of the `Store` trait needs beyond the trait's own types: the request checks
/// every backend applies before touching its storage (so both refuse exactly the same input), and
/// the paging cursor's key.
pub mod backend {
    pub use super::query::CursorKey;
    pub use super::validate::{
        validate_cond, validate_item, validate_query, validate_transaction, validate_update,
    };
    pub use super::{
        Condition, EXPIRES_AT, GSI1PK, GSI1SK, Item, Page, Partition, Query, Store, StoreError,
        TxFailure, Update, Value, Write,
    };
}

/// Attribute DynamoDB's TTL is configured on (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";
/// Partition and sort key of the one global secondary index (time-ordered listing).
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
pub const GSI1: &str = "gsi1";
/// DynamoDB's TransactWriteItems limit.
pub const MAX_TRANSACTION_WRITES: usize = 100;

/// Why one write of a transaction failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxFailure {
    ConditionFailed,
    /// Another transaction touched the same item; retrying may succeed.
    Conflict,
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("condition failed")]
    ConditionFailed { existing: Option<Box<Item>> },
    #[error("transaction canceled: write {index} failed ({reason:?})")]
    TransactionCanceled {
        index: usize,
        reason: TxFailure,
        existing: Option<Box<Item>>,
    },
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// The backend did not answer or failed; `what` says so in words (log lines print errors
    /// with `Display`, so it carries the backend's own message too) and `cause` keeps the
    /// backend's error for code that inspects it (`source()`).
    #[error("store unavailable: {what}")]
    Unavailable {
        what: String,
        #[source]
        cause: Option<Cause>,
    },
}

/// The error behind another, kept as its `source()`.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

impl StoreError {
    /// Unavailable, with no error of another library behind it (a corrupt item, a stopped
    /// worker, an injected fault).
    pub fn unavailable(what: impl Into<String>) -> Self {
        Self::Unavailable {
            what: what.into(),
            cause: None,
        }
    }

    /// Unavailable because of `cause`, which stays reachable through `source()`.
    pub fn unavailable_from(
        what: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            what: what.into(),
            cause: Some(Box::new(cause)),
        }
    }

    pub fn is_condition_failed(&self) -> bool {
        matches!(self, Self::ConditionFailed { .. })
    }

    /// The stored item a failed condition was evaluated against, expired or not.
    pub fn existing(&self) -> Option<&Item> {
        match self {
            Self::ConditionFailed { existing } | Self::TransactionCanceled { existing, .. } => {
                existing.as_deref()
            }
            _ => None,
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The item, or `None` when absent or expired.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;
    async fn put(&self, item: Item, cond: Option<Condition>) -> Result<(), StoreError>;
    /// Applies the update (creating the item if needed) and returns the item as written.
    async fn update(
        &self,
        pk: &str,
        sk: &str,
        update: Update,
        cond: Option<Condition>,
    ) -> Result<Item, StoreError>;
    /// Returns the item that was deleted, if there was one.
    async fn delete(
        &self,
        pk: &str,
        sk: &str,
        cond: Option<Condition>,
    ) -> Result<Option<Item>, StoreError>;
    async fn query(&self, query: Query) -> Result<Page, StoreError>;
    /// All writes or none. On failure says which write failed and why.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Physically removes expired items. DynamoDB's TTL does this itself, so there it is a no-op.
    async fn sweep_expired(&self, limit: usize) -> Result<usize, StoreError>;
    async fn health(&self) -> Result<(), StoreError>;
    fn backend(&self) -> &'static str;

    /// Puts `item` under `cond`, then sends `msg` on `queue`: a record and the job that acts on
    /// it. DynamoDB and SQS share no transaction, so by default these are the two calls, and a
    /// `Send` error means the item is stored and no message went out. A backend whose queue
    /// lives in its own database may do both in one commit, which only removes that window.
    async fn put_then_send(
        &self,
        item: Item,
        cond: Option<Condition>,
        queue: &dyn queue::Queue,
        msg: queue::OutgoingMessage,
    ) -> Result<(), PutThenSend> {
        put_then_send_apart(self, item, cond, queue, msg).await
    }
}

/// `Store::put_then_send` as two calls: the put, then the send.
pub async fn put_then_send_apart<S: Store + ?Sized>(
    store: &S,
    item: Item,
    cond: Option<Condition>,
    queue: &dyn queue::Queue,
    msg: queue::OutgoingMessage,
) -> Result<(), PutThenSend> {
    store.put(item, cond).await.map_err(PutThenSend::Put)?;
    queue.send(msg).await.map(drop).map_err(PutThenSend::Send)
}

/// Which half of `Store::put_then_send` failed.
#[derive(Debug, thiserror::Error)]
pub enum PutThenSend {
    /// Nothing was stored and nothing sent (a failed condition hands back the stored item).
    #[error(transparent)]
    Put(StoreError),
    /// The item is stored; the message was not sent.
    #[error(transparent)]
    Send(queue::QueueError),
}

pub type SharedStore = std::sync::Arc<dyn Store>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_dynamodb_semantics_on_missing_and_mistyped_attributes() {
        let item = Item::new("p", "s").with("n", 5).with("s", "x");
        assert!(Condition::lt("n", 6).eval(Some(&item), 0));
        assert!(!Condition::lt("missing", 6).eval(Some(&item), 0));
        assert!(Condition::lt("missing", 6).not().eval(Some(&item), 0));
        assert!(!Condition::lt("s", 6).eval(Some(&item), 0));
        assert!(!Condition::eq("n", 5).eval(None, 0));
        assert!(Condition::NotExists.eval(None, 0));
    }

    #[test]
    fn expired_items_count_as_absent() {
        let item = Item::new("p", "s").with(EXPIRES_AT, 100);
        assert!(Condition::Exists.eval(Some(&item), 99));
        assert!(Condition::NotExists.eval(Some(&item), 100));
        assert!(Condition::Expired.eval(Some(&item), 100));
        assert!(!Condition::Expired.eval(Some(&item), 99));
    }

    #[test]
    fn updates_reject_duplicates_and_keys() {
        assert!(Update::new().set("a", 1).add("a", 1).validate().is_err());
        assert!(Update::new().set("pk", 1).validate().is_err());
        assert!(Update::new().validate().is_err());
    }
}
