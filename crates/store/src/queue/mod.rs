//! The `Queue` trait: at-least-once delivery with visibility timeouts and a dead-letter queue,
//! over SQS in AWS and an embedded SQLite twin locally.

pub mod faulty;
pub mod sqs;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    pub delay: Option<Duration>,
    /// Messages with the same id sent within five minutes are delivered once (SQS FIFO
    /// semantics; the SQS backend forwards it only to FIFO queues, which require it).
    pub dedup_id: Option<String>,
}

impl OutgoingMessage {
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
    pub fn attribute(mut self, k: &str, v: &str) -> Self {
        self.attributes.insert(k.into(), v.into());
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }
    pub fn dedup_id(mut self, id: impl Into<String>) -> Self {
        self.dedup_id = Some(id.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub id: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    /// Handle for ack/extend; only valid for this delivery.
    pub receipt: String,
    /// How many times this message has been delivered, this delivery included.
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Like `StoreError::Unavailable`: words for the log line, the queue's own error as `source()`.
    #[error("queue unavailable: {what}")]
    Unavailable {
        what: String,
        #[source]
        cause: Option<crate::Cause>,
    },
    #[error("invalid queue request: {0}")]
    Invalid(String),
}

impl From<QueueError> for rampart_platform::error::ApiError {
    fn from(e: QueueError) -> Self {
        rampart_platform::error::ApiError::Unavailable(e.to_string())
    }
}

impl QueueError {
    pub fn unavailable(what: impl Into<String>) -> Self {
        Self::Unavailable {
            what: what.into(),
            cause: None,
        }
    }

    pub fn unavailable_from(
        what: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            what: what.into(),
            cause: Some(Box::new(cause)),
        }
    }
}

/// The embedded queue lives in the store: its failures are the store's.
impl From<crate::StoreError> for QueueError {
    fn from(e: crate::StoreError) -> Self {
        QueueError::unavailable_from(e.to_string(), e)
    }
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Returns the message id.
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError>;
    /// Up to `max` (1..=10) messages, hidden from other consumers for `visibility`. Waits up to
    /// `wait` for the first one (long polling).
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;
    /// Deletes the message: it was handled.
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;
    /// Deletes every message of `receipts`: a batch was handled. One after the other unless the
    /// backend has a cheaper way (the embedded queue deletes them in one write).
    async fn ack_many(&self, receipts: &[String]) -> Result<(), QueueError> {
        for receipt in receipts {
            self.ack(receipt).await?;
        }
        Ok(())
    }
    /// Changes how long the message stays hidden: zero makes it visible again now (a nack),
    /// longer extends the lease of a consumer still working on it.
    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError>;
    async fn health(&self) -> Result<(), QueueError>;
    /// Messages waiting in the dead-letter queue, where this backend knows it.
    async fn dead_letter_depth(&self) -> Result<Option<u64>, QueueError> {
        Ok(None)
    }
    fn backend(&self) -> &'static str;
    /// This queue, when it lives in a store's database and that store may send its messages in
    /// the store's own transaction (`Store::put_then_send`). None for SQS and for wrappers.
    fn in_store(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

pub type SharedQueue = Arc<dyn Queue>;

/// SQS takes whole seconds; round up so a lease is never shorter than asked.
pub(crate) fn whole_secs(d: Duration) -> i32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.min(43_200) as i32
}
