//! `Faulty`: a `Queue` that fails some calls on purpose (see `rampart_platform::faults`). A lost answer
//! to `send` means the message may be queued although the caller saw an error; a lost answer
//! to `ack` means the message comes back although its effect was applied: both happen with
//! SQS, and the flows above must absorb them.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{OutgoingMessage, Queue, QueueError, ReceivedMessage, SharedQueue};
use rampart_platform::faults::Faults;

pub struct FaultyQueue {
    inner: SharedQueue,
    faults: Arc<Faults>,
}

impl FaultyQueue {
    pub fn new(inner: SharedQueue, faults: Arc<Faults>) -> Self {
        Self { inner, faults }
    }
}

async fn faulty<T, F>(faults: &Faults, writes: bool, call: F) -> Result<T, QueueError>
where
    F: std::future::Future<Output = Result<T, QueueError>>,
{
    faults.run(writes, call, QueueError::unavailable).await
}

#[async_trait]
impl Queue for FaultyQueue {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        faulty(&self.faults, true, self.inner.send(msg)).await
    }
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        // A lost receive answer leaves the messages hidden until their lease ends: the same as
        // a consumer that died holding them.
        faulty(
            &self.faults,
            true,
            self.inner.receive(max, visibility, wait),
        )
        .await
    }
    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        faulty(&self.faults, true, self.inner.ack(receipt)).await
    }
    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        faulty(
            &self.faults,
            true,
            self.inner.set_visibility(receipt, visibility),
        )
        .await
    }
    async fn health(&self) -> Result<(), QueueError> {
        self.inner.health().await
    }
    async fn dead_letter_depth(&self) -> Result<Option<u64>, QueueError> {
        self.inner.dead_letter_depth().await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}
