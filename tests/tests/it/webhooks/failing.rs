//! A queue whose first sends fail, as when the intake's put landed and its send did not: what
//! the heal and trail tests deliver against.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rampart_store::queue::{OutgoingMessage, Queue, QueueError, ReceivedMessage, SharedQueue};

/// The first `failing` sends fail (the intake's put landed, its send did not).
pub struct FailingSends {
    pub inner: SharedQueue,
    pub failing: AtomicUsize,
}

#[async_trait]
impl Queue for FailingSends {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        let fail = self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
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
