//! Embedded queue in the local SQLite file: visibility timeouts, receive counts and a
//! dead-letter queue after the configured number of receives, like an SQS redrive policy.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::Db;
use crate::error::unavailable;
use rampart_platform::clock::SharedClock;
use rampart_platform::crypto::random_id;
use rampart_store::StoreError;
use rampart_store::queue::{OutgoingMessage, Queue, QueueError, ReceivedMessage};

/// SQS FIFO's de-duplication interval.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

pub struct SqliteQueue {
    db: Db,
    clock: SharedClock,
    name: String,
    dead_letter: String,
    max_receives: u32,
}

impl SqliteQueue {
    /// `max_receives`: deliveries before a message moves to `<name>-dlq` (SQS `maxReceiveCount`).
    pub fn new(db: Db, clock: SharedClock, name: &str, max_receives: u32) -> Self {
        Self {
            db,
            clock,
            name: name.to_string(),
            dead_letter: format!("{name}-dlq"),
            max_receives: max_receives.max(1),
        }
    }

    /// The dead-letter queue of this queue, as a queue of its own (to inspect or redrive).
    pub fn dead_letter_queue(&self) -> SqliteQueue {
        SqliteQueue {
            db: self.db.clone(),
            clock: self.clock.clone(),
            name: self.dead_letter.clone(),
            dead_letter: format!("{}-dlq", self.dead_letter),
            max_receives: u32::MAX,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Checks `msg` as SQS would (1 byte to 256 KiB) before anything is written.
    pub(crate) fn outgoing(&self, msg: OutgoingMessage) -> Result<Outgoing, QueueError> {
        if msg.body.is_empty() || msg.body.len() > 256 * 1024 {
            return Err(QueueError::Invalid(
                "message body must be 1 byte to 256 KiB".into(),
            ));
        }
        let attrs = serde_json::to_string(&msg.attributes).unwrap_or_else(|_| "{}".into());
        Ok(Outgoing {
            queue: self.name.clone(),
            msg,
            attrs,
        })
    }

    /// Messages waiting (visible or in flight).
    pub async fn depth(&self) -> Result<u64, QueueError> {
        let name = self.name.clone();
        Ok(self
            .db
            .read(move |c| {
                c.prepare_cached("SELECT count(*) FROM queue_messages WHERE queue = ?1")
                    .and_then(|mut st| st.query_row(params![name], |r| r.get::<_, i64>(0)))
                    .map_err(unavailable)
            })
            .await? as u64)
    }

    async fn receive_once(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let now = self.clock.now_ms();
        let (name, dlq, max_receives) = (
            self.name.clone(),
            self.dead_letter.clone(),
            self.max_receives,
        );
        let vis_ms = visibility.as_millis() as i64;
        Ok(self
            .db
            .write(move |tx| {
                let mut out = Vec::new();
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT id, body, attrs, receive_count FROM queue_messages INDEXED BY queue_order
                             WHERE queue = ?1 AND visible_at <= ?2 ORDER BY sent_at, id LIMIT ?3",
                        )
                        .map_err(unavailable)?;
                    // Read a few extra: rows moved to the dead-letter queue don't fill the batch.
                    let rows = stmt
                        .query_map(params![name, now, (max * 4) as i64], |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, i64>(3)?,
                            ))
                        })
                        .map_err(unavailable)?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(unavailable)?;
                    for (id, body, attrs, count) in rows {
                        if out.len() >= max {
                            break;
                        }
                        if count >= i64::from(max_receives) {
                            // Received maxReceiveCount times and still not deleted: dead-letter it
                            // with a fresh receive count, as an SQS redrive does.
                            tx.prepare_cached("UPDATE queue_messages SET queue = ?1, receive_count = 0, receipt = NULL,
                                 visible_at = ?2 WHERE id = ?3").and_then(|mut st| st.execute(params![dlq, now, id]))
                            .map_err(unavailable)?;
                            continue;
                        }
                        let receipt = format!("{id}.{}", random_id());
                        tx.prepare_cached("UPDATE queue_messages SET receive_count = receive_count + 1, receipt = ?1,
                             visible_at = ?2 WHERE id = ?3").and_then(|mut st| st.execute(params![receipt, now + vis_ms, id]))
                        .map_err(unavailable)?;
                        let attributes: BTreeMap<String, String> = serde_json::from_str(&attrs).unwrap_or_default();
                        out.push(ReceivedMessage {
                            id,
                            body,
                            attributes,
                            receipt,
                            receive_count: (count + 1) as u32,
                        });
                    }
                }
                Ok(out)
            })
            .await?)
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        let out = self.outgoing(msg)?;
        let now = self.clock.now_ms();
        Ok(self.db.write(move |tx| out.insert(tx, now)).await?)
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
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let got = self.receive_once(max, visibility).await?;
            if !got.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(got);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        self.db
            .write(move |c| {
                c.prepare_cached("DELETE FROM queue_messages WHERE receipt = ?1")
                    .and_then(|mut st| st.execute(params![receipt]))
                    .map_err(unavailable)
            })
            .await?;
        Ok(())
    }

    async fn ack_many(&self, receipts: &[String]) -> Result<(), QueueError> {
        let receipts = receipts.to_vec();
        self.db
            .write(move |c| {
                let mut st = c
                    .prepare_cached("DELETE FROM queue_messages WHERE receipt = ?1")
                    .map_err(unavailable)?;
                for receipt in &receipts {
                    st.execute(params![receipt]).map_err(unavailable)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn set_visibility(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        let at = self.clock.now_ms() + visibility.as_millis() as i64;
        let changed = self
            .db
            .write(move |c| {
                c.prepare_cached("UPDATE queue_messages SET visible_at = ?1 WHERE receipt = ?2")
                    .and_then(|mut st| st.execute(params![at, receipt]))
                    .map_err(unavailable)
            })
            .await?;
        if changed == 0 {
            return Err(QueueError::Invalid("receipt is no longer valid".into()));
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), QueueError> {
        self.depth().await.map(|_| ())
    }

    async fn dead_letter_depth(&self) -> Result<Option<u64>, QueueError> {
        self.dead_letter_queue().depth().await.map(Some)
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn in_store(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// A message checked and ready to insert, in a write of its own (`send`) or in the store's
/// (`SqliteStore::put_then_send`).
pub(crate) struct Outgoing {
    queue: String,
    msg: OutgoingMessage,
    attrs: String,
}

impl Outgoing {
    /// Inserts the message inside the caller's write; returns its id (an earlier message's,
    /// when a de-duplication id repeats within five minutes).
    pub(crate) fn insert(&self, tx: &Connection, now: i64) -> Result<String, StoreError> {
        let (name, msg) = (&self.queue, &self.msg);
        let visible_at = now + msg.delay.map_or(0, |d| d.as_millis() as i64);
        if let Some(d) = &msg.dedup_id {
            // Expired de-duplication ids are forgotten as new ones arrive.
            tx.prepare_cached("DELETE FROM queue_dedup WHERE expires_at <= ?1")
                .and_then(|mut st| st.execute(params![now]))
                .map_err(unavailable)?;
            let prior: Option<String> = tx
                .prepare_cached(
                    "SELECT message_id FROM queue_dedup WHERE queue = ?1 AND dedup_id = ?2 AND expires_at > ?3",
                )
                .and_then(|mut st| st.query_row(params![name, d, now], |r| r.get(0)).optional())
                .map_err(unavailable)?;
            if let Some(id) = prior {
                return Ok(id);
            }
        }
        let id = random_id();
        tx.prepare_cached(
            "INSERT INTO queue_messages (id, queue, body, attrs, sent_at, visible_at, dedup_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut st| {
            st.execute(params![
                id,
                name,
                msg.body,
                self.attrs,
                now,
                visible_at,
                msg.dedup_id
            ])
        })
        .map_err(unavailable)?;
        if let Some(d) = &msg.dedup_id {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO queue_dedup (queue, dedup_id, message_id, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![name, d, id, now + DEDUP_WINDOW_MS]))
            .map_err(unavailable)?;
        }
        Ok(id)
    }
}
