//! Queue message dispatch, shared by the Lambda worker (SQS events, partial batch failures) and
//! the local stack's in-process worker loop. A message is `{"kind": ..., "payload": ...}`; a
//! kind with no handler fails, so it ends in the dead-letter queue: visible, not lost. Each
//! message is handled inside its own span (`message_span`), so every line logged for it names
//! the message, its receive count and its job (and, for a provider event, the event).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracing::field::Empty;

use crate::state::AppState;
use rampart_store::Cause;
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
    /// The job could not do its work; `cause` is the error behind it, when there is one.
    #[error("job failed: {what}")]
    Failed {
        what: String,
        #[source]
        cause: Option<Cause>,
    },
    /// A store or queue call failed; `operation` names the step (`claim`, `mark_processed`...).
    #[error("{operation} failed: {what}")]
    Dependency {
        operation: &'static str,
        what: String,
        #[source]
        cause: Option<Cause>,
    },
}

impl JobError {
    /// Failed because of `e`, which stays reachable through `source()`.
    pub fn failed(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Failed {
            what: e.to_string(),
            cause: Some(Box::new(e)),
        }
    }

    /// Failed for a reason of the job's own (no error of another library behind it).
    pub fn refused(what: impl Into<String>) -> Self {
        Self::Failed {
            what: what.into(),
            cause: None,
        }
    }

    /// The step `operation` failed because of `e`.
    pub fn dependency(
        operation: &'static str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Dependency {
            operation,
            what: e.to_string(),
            cause: Some(Box::new(e)),
        }
    }

    /// The step whose dependency call failed, for the log line.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            Self::Dependency { operation, .. } => Some(operation),
            _ => None,
        }
    }
}

/// The span one queue message is handled in: its id and receive count now, its job kind once
/// the body is read, and a provider event's `provider` and `event_id` once its handler knows
/// them (`crate::record_event`). Both workers (Lambda and local) run each message inside it.
pub fn message_span(meta: &JobMeta) -> tracing::Span {
    tracing::info_span!(
        "job",
        message_id = %meta.message_id,
        receive_count = meta.receive_count,
        job = Empty,
        provider = Empty,
        event_id = Empty,
    )
}

/// Logs a failed message (inside its span): the queue retries it, and dead-letters it after its
/// maximum receives.
pub fn log_failure(e: &JobError) {
    tracing::warn!(operation = e.operation(), error = %e, "job failed; the queue will retry it");
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
        tracing::Span::current().record("job", env.kind.as_str());
        let handler = self
            .handlers
            .get(&env.kind)
            .ok_or_else(|| JobError::UnknownKind(env.kind.clone()))?;
        handler.handle(state, &env.payload, meta).await
    }
}

/// Messages the local worker asks for at a time (SQS's most per receive).
const BATCH: usize = 10;

/// Local worker: receives, dispatches, acks what succeeded (one delete for the batch); a failure
/// is retried after a short backoff and dead-lettered by the queue after its maximum receives.
/// Stops when `shutdown` flips to true, after finishing the batch in hand.
///
/// A partial batch means the queue is keeping up: its messages are handled one after the other,
/// in the order they arrived, so what a developer sends by hand is applied in that order. A full
/// batch means a backlog: its messages are handled concurrently, as the several pollers and
/// worker instances SQS and Lambda scale out to would (their writes then share the embedded
/// store's commits, which is what lets one worker keep up with a busy intake). Order across
/// concurrent events is what it is deployed: every effect is forward-only and knows its event.
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
            r = state.queue.receive(BATCH, lease, Duration::from_secs(1)) => r,
            _ = shutdown.changed() => return,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(operation = "receive", error = %e, "worker could not receive");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let handled: Vec<Option<String>> = if batch.len() == BATCH {
            futures_util::future::join_all(batch.iter().map(|m| handle(&state, &dispatcher, m)))
                .await
        } else {
            let mut out = Vec::with_capacity(batch.len());
            for msg in &batch {
                out.push(handle(&state, &dispatcher, msg).await);
            }
            out
        };
        let done: Vec<String> = handled.into_iter().flatten().collect();
        if !done.is_empty()
            && let Err(e) = state.queue.ack_many(&done).await
        {
            tracing::warn!(operation = "ack", error = %e, "ack failed; the messages will be redelivered");
        }
    }
}

/// Dispatches one received message; its receipt when it succeeded (to be acked), else `None`
/// after setting its retry backoff.
async fn handle(
    state: &AppState,
    dispatcher: &Dispatcher,
    msg: &rampart_store::queue::ReceivedMessage,
) -> Option<String> {
    let meta = JobMeta {
        message_id: msg.id.clone(),
        receive_count: msg.receive_count,
    };
    let span = message_span(&meta);
    async {
        match dispatcher.dispatch(state, &msg.body, &meta).await {
            Ok(()) => Some(msg.receipt.clone()),
            Err(e) => {
                log_failure(&e);
                let backoff = Duration::from_secs(1u64 << msg.receive_count.min(6));
                if let Err(e) = state.queue.set_visibility(&msg.receipt, backoff).await {
                    tracing::warn!(operation = "set_visibility", error = %e, "retry backoff not set; the message comes back when its lease ends");
                }
                None
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::JobError;

    #[test]
    fn a_failed_job_keeps_the_error_behind_it_and_names_its_step() {
        let io = std::io::Error::other("connection reset");
        let e = JobError::dependency("claim", io);
        assert_eq!(e.to_string(), "claim failed: connection reset");
        assert_eq!(e.operation(), Some("claim"));
        let source = e.source().expect("the cause is kept");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert!(JobError::refused("not linked yet").source().is_none());
    }
}
