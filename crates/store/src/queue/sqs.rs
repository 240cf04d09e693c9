//! SQS backend. Dead-lettering is the queue's own redrive policy (template.yaml), so the
//! receive count SQS reports is all this side needs.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};

use super::{OutgoingMessage, Queue, QueueError, ReceivedMessage, whole_secs};

pub struct SqsQueue {
    client: Client,
    url: String,
    fifo: bool,
    dead_letter_url: Option<String>,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        let url = url.into();
        Self {
            fifo: url.ends_with(".fifo"),
            client,
            url,
            dead_letter_url: None,
        }
    }

    /// The queue's dead-letter queue, whose depth the cron reports.
    pub fn with_dead_letter(mut self, url: Option<String>) -> Self {
        self.dead_letter_url = url;
        self
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> QueueError {
    let what = format!("sqs: {}", DisplayErrorContext(&e));
    QueueError::unavailable_from(what, e)
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        let mut attrs = HashMap::new();
        for (k, v) in &msg.attributes {
            let av = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| QueueError::Invalid(e.to_string()))?;
            attrs.insert(k.clone(), av);
        }
        let mut req = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(msg.body)
            .set_message_attributes((!attrs.is_empty()).then_some(attrs));
        if self.fifo {
            // FIFO queues take no per-message delay; ordering is per group, one group here.
            req = req
                .message_group_id("rampart")
                .set_message_deduplication_id(msg.dedup_id);
        } else if let Some(d) = msg.delay {
            req = req.delay_seconds(whole_secs(d).min(900));
        }
        let out = req.send().await.map_err(unavailable)?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        if !(1..=10).contains(&max) {
            return Err(QueueError::Invalid(
                "receive between 1 and 10 messages".into(),
            ));
        }
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max as i32)
            .visibility_timeout(whole_secs(visibility))
            .wait_time_seconds(whole_secs(wait).min(20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .messages()
            .iter()
            .map(|m| {
                let attributes: BTreeMap<String, String> = m
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .filter_map(|(k, v)| {
                                v.string_value().map(|s| (k.clone(), s.to_string()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1);
                ReceivedMessage {
                    id: m.message_id().unwrap_or_default().to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                    attributes,
                    receipt: m.receipt_handle().unwrap_or_default().to_string(),
                    receive_count,
                }
            })
            .collect())
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_secs(visibility))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn dead_letter_depth(&self) -> Result<Option<u64>, QueueError> {
        let Some(url) = &self.dead_letter_url else {
            return Ok(None);
        };
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(unavailable)?;
        let attrs = out.attributes.unwrap_or_default();
        let n = |k: QueueAttributeName| {
            attrs
                .get(&k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(Some(
            n(QueueAttributeName::ApproximateNumberOfMessages)
                + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    async fn health(&self) -> Result<(), QueueError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqs"
    }
}
