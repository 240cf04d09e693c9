//! The SQS event source mapping as the template declares it (`AWS::Lambda::EventSourceMapping`):
//! Lambda's poller receives up to `BatchSize` messages, waiting up to
//! `MaximumBatchingWindowInSeconds` to fill a batch, with the function's own role (so the
//! worker's statements must allow it), invokes the function with the SQS event, and with
//! `ReportBatchItemFailures` deletes the records the response does not name; a function error
//! or timeout leaves the whole batch. A response naming a record that is not in the batch
//! fails the whole batch (AWS Lambda Developer Guide, "Handling errors for an SQS event source
//! in Lambda": reporting batch item failures). Redelivery and dead-lettering are SQS's own
//! (moto applies the queue's RedrivePolicy).
//!
//! One liberty: a record handed back becomes visible again after the queue's visibility timeout
//! (180 s); the harness stands in for that wait by shortening the visibility of exactly those
//! records, as the test's own operator, outside the worker's role.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use bytes::Bytes;
use serde_json::{Value, json};

use super::lambda::Function;
use super::template::REGION;

#[derive(Default)]
pub struct Stats {
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub deleted: AtomicU64,
    pub handed_back: AtomicU64,
    pub failed_invocations: AtomicU64,
}

pub struct Mapping {
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: i32,
    pub window: Duration,
    pub report_failures: bool,
    /// The worker's credentials (its role), through the authorizing proxy.
    pub client: aws_sdk_sqs::Client,
    /// The test's own operator, for the visibility fast-forward.
    pub admin: aws_sdk_sqs::Client,
    pub function: Arc<Function>,
    pub stats: Arc<Stats>,
    pub stop: Arc<AtomicBool>,
}

fn record(m: &aws_sdk_sqs::types::Message, arn: &str) -> Value {
    let attrs: serde_json::Map<String, Value> = m
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "messageId": m.message_id(),
        "receiptHandle": m.receipt_handle(),
        "body": m.body(),
        "attributes": attrs,
        "messageAttributes": {},
        "md5OfBody": m.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    })
}

impl Mapping {
    /// Creating the mapping reads the queue's attributes with the function's role, as Lambda
    /// does when the mapping is created; then polls until stopped.
    pub async fn run(self) {
        if let Err(e) = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
        {
            eprintln!("event source mapping: the worker's role cannot read the queue: {e:?}");
        }
        while !self.stop.load(Ordering::Relaxed) {
            let mut batch = Vec::new();
            let opened = Instant::now();
            while batch.len() < self.batch_size as usize && !self.stop.load(Ordering::Relaxed) {
                let want = self.batch_size - batch.len() as i32;
                let got = self
                    .client
                    .receive_message()
                    .queue_url(&self.queue_url)
                    .max_number_of_messages(want.min(10))
                    .wait_time_seconds(1)
                    .message_system_attribute_names(MessageSystemAttributeName::All)
                    .send()
                    .await;
                match got {
                    Ok(out) => batch.extend(out.messages.unwrap_or_default()),
                    Err(e) => {
                        eprintln!("event source mapping: receive failed: {e:?}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                if !batch.is_empty() && opened.elapsed() >= self.window {
                    break;
                }
                if batch.is_empty() {
                    break;
                }
            }
            if batch.is_empty() {
                continue;
            }
            self.deliver(batch).await;
        }
    }

    async fn deliver(&self, batch: Vec<aws_sdk_sqs::types::Message>) {
        let event = json!({
            "Records": batch.iter().map(|m| record(m, &self.queue_arn)).collect::<Vec<_>>()
        });
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats
            .records
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let ids: Vec<String> = batch
            .iter()
            .filter_map(|m| m.message_id().map(str::to_string))
            .collect();
        let failed: Vec<String> = match self.function.invoke(Bytes::from(event.to_string())).await {
            Ok(body) if self.report_failures => {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let named: Vec<String> = v["batchItemFailures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_string())
                    .collect();
                if named.iter().all(|n| ids.contains(n)) {
                    named
                } else {
                    eprintln!(
                        "event source mapping: the response names records not in the batch: {v}"
                    );
                    ids.clone()
                }
            }
            Ok(_) => Vec::new(),
            Err(e) => {
                self.stats
                    .failed_invocations
                    .fetch_add(1, Ordering::Relaxed);
                eprintln!("event source mapping: {} failed: {e}", self.function.name);
                ids.clone()
            }
        };
        for m in &batch {
            let id = m.message_id().unwrap_or_default();
            let receipt = m.receipt_handle().unwrap_or_default();
            if failed.iter().any(|f| f == id) {
                self.stats.handed_back.fetch_add(1, Ordering::Relaxed);
                let _ = self
                    .admin
                    .change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(receipt)
                    .visibility_timeout(1)
                    .send()
                    .await;
            } else {
                match self
                    .client
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                {
                    Ok(_) => {
                        self.stats.deleted.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("event source mapping: delete failed: {e:?}"),
                }
            }
        }
    }
}
