//! Queue message dispatch, shared by the Lambda worker (SQS events, partial batch failures) and
//! the local stack's in-process worker loop. A message is `{"kind": ..., "payload": ...}`; a
//! kind with no handler fails, so it ends in the dead-letter queue: visible, not lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::state::AppState;
use rampart_store::queue::OutgoingMessage;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub kind: String,
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl Envelope {
    pub fn message(kind: &str, payload: serde_json::Value) -> OutgoingMessage {
        let body = serde_json::to_string(&Envelope {
            kind: kind.into(),
            payload,
        })
        .unwrap_or_default();
        OutgoingMessage::new(body).attribute("kind", kind)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMeta {
    pub message_id: String,
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("no handler for message kind {0:?}")]
    UnknownKind(String),
    #[error("job failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn handle(
        &self,
        state: &AppState,
        payload: &serde_json::Value,
        meta: &JobMeta,
    ) -> Result<(), JobError>;
}

#[derive(Clone, Default)]
pub struct Dispatcher {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl Dispatcher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(mut self, kind: &str, handler: impl JobHandler) -> Self {
        self.handlers.insert(kind.to_string(), Arc::new(handler));
        self
    }

    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    pub async fn dispatch(
        &self,
        state: &AppState,
        body: &str,
        meta: &JobMeta,
    ) -> Result<(), JobError> {
        let env: Envelope =
            serde_json::from_str(body).map_err(|e| JobError::Malformed(e.to_string()))?;
        let handler = self
            .handlers
            .get(&env.kind)
            .ok_or_else(|| JobError::UnknownKind(env.kind.clone()))?;
        handler.handle(state, &env.payload, meta).await
    }
}

/// Local worker: receives, dispatches, acks what succeeded; a failure is retried after a short
/// backoff and dead-lettered by the queue after its maximum receives. Stops when `shutdown`
/// flips to true, after finishing the batch in hand.
pub async fn worker_loop(
    state: AppState,
    dispatcher: Dispatcher,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let lease = state.settings.queue_visibility;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let batch = tokio::select! {
            r = state.queue.receive(10, lease, Duration::from_secs(1)) => r,
            _ = shutdown.changed() => return,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "worker could not receive");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for msg in batch {
            let meta = JobMeta {
                message_id: msg.id.clone(),
                receive_count: msg.receive_count,
            };
            match dispatcher.dispatch(&state, &msg.body, &meta).await {
                Ok(()) => {
                    if let Err(e) = state.queue.ack(&msg.receipt).await {
                        tracing::warn!(message_id = %msg.id, error = %e, "ack failed; the message will be redelivered");
                    }
                }
                Err(e) => {
                    tracing::warn!(message_id = %msg.id, receive_count = msg.receive_count, error = %e, "job failed");
                    let backoff = Duration::from_secs(1u64 << msg.receive_count.min(6));
                    let _ = state.queue.set_visibility(&msg.receipt, backoff).await;
                }
            }
        }
    }
}
